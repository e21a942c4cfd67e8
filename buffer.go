package watchedfile

import (
	"fmt"
	"os"
	"sync"
)

// This file is the buffer of [WithBuffer]: records copied into memory and
// written to the current file in large writes.

// buffer holds records waiting to be written. Its capacity is fixed when the
// Writer opens; len(b) is the bytes waiting. Lock order: Writer.mu before mu.
type buffer struct {
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
	if w.closed.Load() { // Close has flushed or is about to: nothing after it
		return 0, w.writeFailed(os.ErrClosed)
	}
	if len(b.b)+len(p) > cap(b.b) {
		if err := w.flushLocked(); err != nil && len(b.b)+len(p) > cap(b.b) {
			w.writeErrors.Add(1) // the record is not taken: memory stays bounded
			return 0, err
		}
	}
	if len(p) > cap(b.b) { // the buffer is empty: write it directly
		n, err := w.writeFile(p)
		if err != nil {
			return n, w.writeFailed(err)
		}
	} else {
		b.b = append(b.b, p...)
	}
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
	// os.File.Write completes a short write, so n < len(b.b) only with an
	// error; writeFile retries with the new file when a switch closed the
	// one it loaded, before any byte was written.
	n, err := w.writeFile(b.b)
	b.b = b.b[:copy(b.b, b.b[n:])]
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
	if w.closed.Load() {
		return nil
	}
	return w.flushLocked()
}

// buffered returns the bytes waiting in the buffer.
func (w *Writer) buffered() int {
	if w.buf == nil {
		return 0
	}
	w.buf.mu.Lock()
	defer w.buf.mu.Unlock()
	return len(w.buf.b)
}
