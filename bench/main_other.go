//go:build !linux

// Command bench compares log writers by cost and by what survives rotation.
// It measures with Linux facilities (strace, /proc, inotify, other uids) and
// runs on Linux only; elsewhere it says so and exits.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench: the comparison runs on Linux only")
	os.Exit(2)
}
