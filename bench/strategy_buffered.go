//go:build linux

package main

import (
	"bufio"
	"errors"
	"os"
	"sync"
)

// bufferedStrategy is the ceiling: a 64 KiB bufio.Writer over the raw file
// behind a mutex. It writes in big chunks and follows nothing; records still
// in the buffer are lost if the process dies.
func bufferedStrategy() strategy {
	return strategy{
		name:      "buffered",
		desc:      "bufio.Writer (64 KiB) over the raw file, behind a mutex (the ceiling)",
		reference: true,
		open: func(path string) (sink, error) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				return nil, err
			}
			return &bufferedSink{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
		},
	}
}

type bufferedSink struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
}

func (b *bufferedSink) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *bufferedSink) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return errors.Join(b.w.Flush(), b.f.Close())
}
