//go:build !linux

package watchedfile

import "os"

// Elsewhere the Writer writes through os.File, under wmu.

// iovMax bounds how many records one batch holds.
const iovMax = 1024

// iovecs is unused here.
type iovecs struct{}

// sysfd is unused here.
func sysfd(*os.File) int { return -1 }

// writeFull writes p; os.File completes a write the kernel cut short.
func writeFull(f *os.File, _ int, p []byte) (int, error) { return f.Write(p) }

// writev writes the records of ws one after the other, and returns the
// bytes written until the first failure.
func (w *Writer) writev(ws []*waiter) (int, error) {
	total := 0
	for _, wt := range ws {
		n, err := w.file.Write(wt.p)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
