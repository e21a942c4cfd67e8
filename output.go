package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
)

// This file is how records reach the file: one (the hot path), a batch
// (group commit), and the rest of a record that a failed write cut short,
// which must go to the same file before anything else.

// output is the file the Writer writes to. Guarded by the write lock, but
// for the atomics.
type output struct {
	f    *os.File    // nil only after dropFile
	fd   int         // f's descriptor, written directly (see directFd); -1: write through f
	info fs.FileInfo // of f
	iov  iovecs
	held []byte // the rest of a cut record; see hold

	// Bytes written to the file, and at how many the file wants a look at
	// its size (WithRotation's MaxSize; noLook without): see sizeLookDue.
	written, lookAt uint64
	lookEvery       uint64

	cur      atomic.Pointer[os.File] // f, for Close to cut a write that hangs
	heldSize atomic.Int64            // len(held), for Stats
	sizeLook atomic.Bool             // the goroutine is to look at the file's size (writer_rotate.go)
}

// noLook is output.lookAt when the Writer never looks at the file's size.
const noLook = ^uint64(0)

// set makes f, just opened, the file written to, and asks for a look at its
// size at the next write, if the Writer looks at sizes at all: another
// process may have filled it.
func (o *output) set(f *os.File, info fs.FileInfo) {
	o.f, o.fd, o.info = f, directFd(f, info), info
	o.cur.Store(f)
	o.lookAt = noLook
	if o.lookEvery != 0 {
		o.lookAt = o.written
	}
}

// sizeLookDue reports, once per lookEvery bytes written, that the file's
// size is worth a look, and sets when the next one is.
func (o *output) sizeLookDue() bool {
	if o.written < o.lookAt {
		return false
	}
	o.lookAt = o.written + o.lookEvery
	return true
}

// writeLocked writes p to the current file as one record. Called with the
// lock held.
func (w *Writer) writeLocked(p []byte) (int, error) {
	if w.flags.Load() != 0 {
		if err := w.beforeWrite(); err != nil {
			w.stats.tally.count(0, 0, 1)
			return 0, err
		}
	}
	n, err := w.out.write(p)
	if err != nil {
		w.stats.tally.count(0, 0, 1)
		return w.cut(p, n, err)
	}
	w.stats.tally.count(1, n, 0)
	return n, nil
}

// beforeWrite is what a write of new records does first when flags is set:
// refuse after Close, else readyToWrite. Called with the lock held.
func (w *Writer) beforeWrite() error {
	if w.flags.Load()&flagClosed != 0 {
		return w.errClosed("write")
	}
	return w.readyToWrite()
}

// readyToWrite readies the file for a write: it publishes the counts Stats waits
// for, writes the rest of a cut record, and looks at the path after an
// event (switching files if it names another). Called with the lock held.
func (w *Writer) readyToWrite() error {
	if w.flags.Load()&flagStats != 0 {
		w.flags.And(^uint32(flagStats))
		w.stats.tally.publish()
	}
	if err := w.writeHeld(); err != nil {
		return err
	}
	w.checkAfterEvent()
	if w.out.f == nil {
		return w.errNoFile("write")
	}
	return nil
}

// writeBatch writes the records of ws, in order, with as few writev(2) calls
// as the bounds allow, and sets each waiter's result: a record the kernel
// took whole succeeded; a record it cut is held (see cut); those after it
// failed. Called with the lock held.
func (w *Writer) writeBatch(ws []*waiter) {
	if err := w.beforeWrite(); err != nil {
		for _, wt := range ws {
			wt.n, wt.err = 0, err
		}
		w.stats.tally.count(0, 0, len(ws))
		return
	}
	for len(ws) > 0 {
		k, size := 1, len(ws[0].p)
		for k < len(ws) && k < iovMax && size+len(ws[k].p) <= maxBatchBytes {
			size += len(ws[k].p)
			k++
		}
		chunk := ws[:k]
		ws = ws[k:]
		n, err := w.out.writev(chunk)
		ok, okBytes := 0, 0
		for _, wt := range chunk {
			switch l := len(wt.p); {
			case n >= l:
				wt.n, wt.err = l, nil
				ok++
				okBytes += l
			case n > 0:
				wt.n, wt.err = w.cut(wt.p, n, err)
			default:
				wt.n, wt.err = 0, w.pathError("write", err)
			}
			n -= len(wt.p)
		}
		w.stats.tally.count(ok, okBytes, len(chunk)-ok)
		if ok < len(chunk) {
			for _, wt := range ws { // nothing more goes after a cut record
				wt.n, wt.err = 0, w.pathError("write", err)
			}
			w.stats.tally.count(0, 0, len(ws))
			return
		}
	}
	if w.out.sizeLookDue() {
		w.out.sizeLook.Store(true) // the Write that wrote the batch looks, once it has let go
	}
}

// maxBatchBytes bounds one writev(2); iovMax (per OS) bounds its records.
const maxBatchBytes = 1 << 20

// cut handles a write of p that failed with err after n bytes. A record cut
// in the middle is not left for its caller to complete, which could only
// send the rest to whatever file is current then: the Writer holds the rest
// and answers len(p), with the error. Called with the lock held.
func (w *Writer) cut(p []byte, n int, err error) (int, error) {
	err = w.pathError("write", err)
	if n <= 0 || n >= len(p) {
		return max(n, 0), err
	}
	w.hold(p[n:])
	return len(p), fmt.Errorf("%w (the rest of the record, %d of %d bytes, is held and written first once the file takes writes again)",
		err, len(p)-n, len(p))
}

// hold keeps rest to be written to the current file before anything else,
// and before any switch of files. Called with the lock held.
func (w *Writer) hold(rest []byte) {
	w.out.held = append(w.out.held, rest...)
	w.out.heldSize.Store(int64(len(w.out.held)))
	w.flags.Or(flagHeld)
}

// writeHeld writes the rest of a cut record, if any, to the file its head is
// in. Called with the lock held.
func (w *Writer) writeHeld() error {
	if len(w.out.held) == 0 || w.out.f == nil {
		return nil
	}
	n, err := w.out.write(w.out.held)
	w.out.held = w.out.held[:copy(w.out.held, w.out.held[n:])]
	if err != nil {
		w.out.heldSize.Store(int64(len(w.out.held)))
		return w.pathError("write", err)
	}
	w.dropHeld()
	if w.follow.pending.Load() {
		w.flags.Or(flagEvent) // the switch it held up: look now
	}
	return nil
}

// dropHeld forgets the held rest: written, or lost with its file.
func (w *Writer) dropHeld() {
	w.out.held = nil
	w.out.heldSize.Store(0)
	w.flags.And(^uint32(flagHeld))
}

// writeEach writes the records of ws one after the other through the file,
// and returns the bytes written until the first failure: a batch where
// writev(2) is not used.
func (o *output) writeEach(ws []*waiter) (int, error) {
	total := 0
	for _, wt := range ws {
		n, err := o.f.Write(wt.p)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// pathError wraps the failure err of op on the Writer's file with its path.
func (w *Writer) pathError(op string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) { // from os.File: it names the file, not the path
		err = pe.Err
	}
	if w.flags.Load()&flagClosed != 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		err = os.ErrClosed // Close cut a write that hung
	}
	return fmt.Errorf("watchedfile: %w", &fs.PathError{Op: op, Path: w.path, Err: err})
}
