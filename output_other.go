//go:build !linux

package watchedfile

import (
	"io/fs"
	"os"
)

// Elsewhere the Writer writes through os.File, under the write lock.

// iovMax bounds how many records one batch holds.
const iovMax = 1024

// iovecs is unused here.
type iovecs struct{}

// directFd is -1: every file is written through os.File.
func directFd(*os.File, fs.FileInfo) int { return -1 }

// write writes p, and counts what it wrote; os.File completes a write the
// kernel cut short.
func (o *output) write(p []byte) (int, error) {
	n, err := o.f.Write(p)
	o.written += uint64(n)
	return n, err
}

// writev writes the records of ws one after the other, and counts what it
// wrote.
func (o *output) writev(ws []*waiter) (int, error) {
	n, err := o.writeEach(ws)
	o.written += uint64(n)
	return n, err
}
