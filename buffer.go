package watchedfile

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// This file is the buffer of [WithBuffer]: records copied into memory and
// written to the current file in large writes.

// buffer holds records waiting to be written. Its capacity is fixed when the
// Writer opens; len(b) is the bytes waiting, and n says it to Stats, which
// must not wait for mu (a flush may hang in write(2)). Lock order: mu before
// Writer.wmu.
type buffer struct {
	n  atomic.Int64
	mu sync.Mutex
	b  []byte
}

func newBuffer(size int) *buffer {
	return &buffer{b: make([]byte, 0, size)}
}

// writeBuffered is Write with a buffer: p is copied in whole, after the
// buffer is flushed if p would not fit.
func (w *Writer) writeBuffered(p []byte) (int, error) {
	b := w.buf
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.flags.Load()&flagClosed != 0 { // Close has flushed for the last time
		w.writeErrors.Add(1)
		return 0, fmt.Errorf("watchedfile: write %s: %w", w.path, os.ErrClosed)
	}
	if len(b.b)+len(p) > cap(b.b) {
		if err := w.flushLocked(); err != nil && len(b.b)+len(p) > cap(b.b) {
			w.writeErrors.Add(1) // the record is not taken: memory stays bounded
			return 0, err
		}
	}
	if len(p) > cap(b.b) { // the buffer is empty: write it directly
		w.wmu.Lock()
		n, err := w.writeLocked(p)
		w.unlock()
		return n, err
	}
	b.b = append(b.b, p...)
	b.n.Store(int64(len(b.b)))
	w.records.Add(1)
	w.bytes.Add(uint64(len(p)))
	return len(p), nil
}

// flushLocked writes what is buffered to the current file, and keeps what
// the kernel did not take. Called with buf.mu held.
func (w *Writer) flushLocked() error {
	b := w.buf
	if len(b.b) == 0 {
		return nil
	}
	// A short write is completed, so n < len(b.b) only with an error.
	w.wmu.Lock()
	var n int
	err := w.beforeWrite()
	if err == nil {
		n, err = writeFull(w.file, w.fd, b.b)
	}
	w.unlock()
	b.b = b.b[:copy(b.b, b.b[n:])]
	b.n.Store(int64(len(b.b)))
	if err != nil {
		w.flushErrors.Add(1)
		return fmt.Errorf("watchedfile: flush: %w", err)
	}
	return nil
}

// flush writes what is buffered, if the Writer is not closed (Close flushes
// for the last time).
func (w *Writer) flush() error {
	w.buf.mu.Lock()
	defer w.buf.mu.Unlock()
	if w.flags.Load()&flagClosed != 0 {
		return nil
	}
	return w.flushLocked()
}

// buffered returns the bytes waiting in the buffer.
func (w *Writer) buffered() int {
	if w.buf == nil {
		return 0
	}
	return int(w.buf.n.Load())
}
