package watchedfile

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// This file is the buffer of [WithBuffer]: records copied into memory and
// written to the current file in large writes.

// buffer holds records waiting to be written. Its capacity is fixed when the
// Writer opens; len(b) is the bytes waiting, and n says it to Stats, which
// must not wait for mu (a flush may hang in write(2)). Lock order: mu before
// the Writer's write lock.
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
		w.stats.taken.failed.Add(1)
		return 0, w.errClosed("write")
	}
	if len(b.b)+len(p) > cap(b.b) {
		if err := w.flushLocked(); err != nil && len(b.b)+len(p) > cap(b.b) {
			w.stats.taken.failed.Add(1) // the record is not taken: memory stays bounded
			return 0, err
		}
	}
	if len(p) > cap(b.b) { // the buffer is empty: write it directly
		w.lock.lock()
		n, err := w.writeLocked(p)
		if w.out.sizeLookDue() {
			w.lookAtSize()
		}
		w.lock.lead()
		return n, err
	}
	b.b = append(b.b, p...)
	b.n.Store(int64(len(b.b)))
	w.stats.taken.records.Add(1)
	w.stats.taken.bytes.Add(uint64(len(p)))
	return len(p), nil
}

// flushLocked writes what is buffered to the current file. If the write
// fails, the buffer keeps it all; if it fails after a part, the rest is held
// for the same file (see Writer.hold), since a record may be cut there.
// Called with buf.mu held.
func (w *Writer) flushLocked() error {
	b := w.buf
	if len(b.b) == 0 {
		return nil
	}
	w.lock.lock()
	err := w.readyToWrite()
	if err == nil {
		err = w.writeBuffer()
	}
	w.lock.unlock()
	if err != nil {
		w.stats.flushErrors.Add(1)
		return fmt.Errorf("watchedfile: flush: %w", err)
	}
	return nil
}

// writeBuffer writes the buffer to the open file, holding the rest of a
// write cut short. Called with buf.mu and the lock held.
func (w *Writer) writeBuffer() error {
	b := w.buf
	n, err := w.out.write(b.b)
	if err != nil && n > 0 {
		w.hold(b.b[n:])
		n = len(b.b)
	}
	b.b = b.b[:copy(b.b, b.b[n:])]
	b.n.Store(int64(len(b.b)))
	if err != nil {
		return w.pathError("write", err)
	}
	if w.out.sizeLookDue() {
		w.lookAtSize()
	}
	return nil
}

// flushLast is Close's flush: to the open file, without a look at the path.
// Called with buf.mu and the lock held.
func (w *Writer) flushLast() error {
	if w.buf == nil || len(w.buf.b) == 0 {
		return nil
	}
	err := w.errNoFile("flush")
	if w.out.f != nil {
		err = w.writeBuffer()
	}
	if err != nil {
		w.stats.flushErrors.Add(1)
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

// buffered returns the bytes taken and not yet written: those in the
// buffer, and the held rest of a cut record.
func (w *Writer) buffered() int {
	n := w.out.heldSize.Load()
	if w.buf != nil {
		n += w.buf.n.Load()
	}
	return int(n)
}
