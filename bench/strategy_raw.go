//go:build linux

package main

import "os"

// rawStrategy is the floor for unbuffered writes: an *os.File opened with
// O_APPEND, one write(2) per record, nothing followed.
func rawStrategy() strategy {
	return strategy{
		name: "raw",
		desc: "*os.File with O_APPEND, one write(2) per record (the floor)",
		open: func(path string) (sink, error) {
			return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		},
	}
}
