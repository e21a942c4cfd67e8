package watchedfile

import (
	"errors"
	"io/fs"
	"os"
	"time"
)

// This file is the Writer's side of its own rotation (WithRotation, the
// rotator in rotator.go): when to ask the rotator, and the switch to the
// file it makes. The rotator does its work without the write lock (flock,
// listing, the new file, its header and fsync, the link), while other
// goroutines' records go on to the current file; the lock is taken only to
// switch, as for any rotation.
//
// Who asks: the Write that has written a slice of bytes since the last look
// at the file's size, after it let go of the lock and before it returns,
// so that its caller's next record goes to the new file; for a batch of
// group commit or a flush of the buffer, the Writer's goroutine; and the
// goroutine, at the schedule's boundaries and when the path names no file.

// rotateIfFull looks at the size of cur, the file a Write wrote to, and
// rotates it if it holds MaxSize, waiting for a rotation of this process's
// under way (it may have made the new file already) unless that one is
// calling its Header (which may be writing through the Writer: this very
// Write): then the goroutine looks once it is done. Called by Write
// without the write lock.
func (w *Writer) rotateIfFull(cur fs.FileInfo) {
	if !w.rot.rotate(cur, rotateHow{bySize: true, wait: true}, w.switchToRotated) {
		w.lookAtSize()
	}
}

// rotateIfBatchFull is rotateIfFull for a Write of group commit: a batch
// of records that filled a slice of bytes asks for a look at the size
// (writeBatch), and the Write that led it, or the one whose record it
// carried, looks, once it has let go of the lock.
func (w *Writer) rotateIfBatchFull() {
	if !w.out.sizeLook.Load() || !w.out.sizeLook.Swap(false) {
		return
	}
	w.lock.lock()
	cur := w.out.info
	w.lock.unlock()
	w.rotateIfFull(cur)
}

// lookAtSize asks the goroutine to look at the file's size.
func (w *Writer) lookAtSize() {
	w.out.sizeLook.Store(true)
	w.life.wake()
}

// rotateIfDue is the goroutine's turn at the rotation: it makes the file
// the path must name when a switch found none (follower.create), looks at
// the size when asked, and at the schedule, and switches to the new file.
// It returns when it wants a look next. It never waits for a rotation of
// this process's under way, but for the file of a Writer that has none
// (dropFile, on Windows). Called by the goroutine, without the write lock.
func (w *Writer) rotateIfDue() (next time.Time) {
	if w.follow.create.Swap(false) { // asked again by the next look if it fails
		w.createRotated()
	}
	w.lock.lock()
	cur := w.out.info
	w.lock.unlock()
	bySize := w.out.sizeLook.Swap(false)
	if !bySize && !w.rot.scheduleDue() {
		return w.nextLook()
	}
	if !w.rot.rotate(cur, rotateHow{bySize: bySize, bySchedule: true}, w.switchToRotated) {
		// A rotation of this process's is under way (a Write's, whose
		// Header takes its time): look again once it may be done.
		if bySize {
			w.out.sizeLook.Store(true)
		}
		return time.Now().Add(w.cfg.retryMin)
	}
	return w.nextLook()
}

// nextLook is when the goroutine looks at the schedule next, on the
// system's clock.
func (w *Writer) nextLook() time.Time {
	if due := w.rot.nextLook(); !due.IsZero() {
		return time.Now().Add(due.Sub(w.rot.now()))
	}
	return time.Now().Add(time.Hour) // no schedule
}

// switchToRotated switches to f, the rotator's new file, unless Close has
// begun meanwhile (a Write's rotation may outlast it). The rotator calls it
// before it makes another.
func (w *Writer) switchToRotated(f *os.File, info fs.FileInfo) {
	w.lock.lock()
	defer w.lock.unlock()
	if w.flags.Load()&flagClosed != 0 {
		f.Close() // the link names it: the next Writer of the path opens it
		return
	}
	w.switchTo(f, info)
}

// createRotated has the rotator make the file the path names none of (a
// dated file and the link), and switches to it: for the goroutine, after a
// switch found the path empty, and for Reopen. Without the write lock. While
// another process holds the rotation lock it is making the file: the
// goroutine's next look finds it.
func (w *Writer) createRotated() error {
	w.lock.lock()
	noFile := w.out.f == nil
	w.lock.unlock()
	_, _, err := w.rot.create(noFile, w.openPath, w.switchToRotated)
	switch {
	case errors.Is(err, errLockBusy):
		w.follow.create.Store(true) // the goroutine's next look, on its backoff, tries again
		return nil
	case err != nil:
		w.lock.lock()
		w.reopenFailed(err)
		w.lock.unlock()
		w.report(err)
		return err
	}
	return nil
}
