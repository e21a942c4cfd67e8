package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// This file decides on a switch of files and makes it, and is the Writer's
// goroutine.
//
// An event's way: the watcher (inotify_linux.go) reads it and flags the
// Writer (flag): one atomic Or, and a wake-up of the goroutine. Whoever
// takes the write lock first, the next Write (checkNow, from prepare) or
// the goroutine (run), looks at the path (look) and switches (switchFile):
// opens the new file, makes it the one written to, closes the old one. All
// of it under the lock, so no record is written to a file being closed and
// every record whose Write begins after the event goes to the new file. The
// goroutine then watches the new file (startWatching, watch.go), outside
// the lock: records wait for the switch, not for the watch.
//
// The goroutine also does what no Write can: it switches a Writer that
// writes nothing, retries a failed open on a backoff, waits out the create
// delay, stats the path once per check interval (what inotify cannot see),
// polls when there is no watcher, flushes the buffer on its interval, and
// retries the held rest of a cut record. Close stops it (done) and waits
// for it (exited) before it takes the lock for the last time.

// switchState is what the Writer knows of the path. Guarded by the lock.
type switchState struct {
	pending      bool          // the path names another file than the open one, or none
	missingSince time.Time     // when the path was first found empty; zero if it is not
	retry        time.Duration // the next backoff
	next         time.Time     // when the goroutine looks next
	rewatch      bool          // switched: the goroutine must watch the new file
	lost         error         // why the Writer has no file (see dropFile); nil while it has one

	// deletePending is the system's (see open_windows.go); a test stands
	// in for it where the system never reports a pending delete (wine).
	deletePending func(*os.File) bool
}

// flag tells the Writer that its file or the path may have changed: the next
// Write, or the goroutine if it is first, looks before writing. It never
// blocks; the watcher calls it as it reads the event.
func (w *Writer) flag() {
	w.flags.Or(flagEvent)
	w.notify()
}

// notify wakes the goroutine; it never blocks, and wake-ups coalesce.
func (w *Writer) notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run is the Writer's goroutine.
func (w *Writer) run() {
	defer close(w.exited)
	timer := time.NewTimer(w.cfg.interval())
	defer timer.Stop()
	var flush <-chan time.Time // nil without a buffer: never ready
	if w.buf != nil {
		ticker := time.NewTicker(w.cfg.flushInterval)
		defer ticker.Stop()
		flush = ticker.C
	}
	for {
		select {
		case <-w.done:
			return
		case <-flush:
			if err := w.flush(); err != nil {
				w.report(err)
			}
			continue
		case <-w.wake:
		case <-timer.C:
		}
		now := time.Now()
		w.lock.lock()
		w.writeHeld() // its failures are the Writes' to return
		if w.flags.Load()&flagEvent != 0 || !now.Before(w.sw.next) {
			w.check(now)
		}
		if !w.sw.pending {
			w.attrib(false)
		}
		next := w.sw.next
		if w.rot != nil && w.rot.Every > 0 {
			w.rotateIfDue(w.rot.now())
			next = minTime(next, now.Add(w.rot.due.Sub(w.rot.now())))
		}
		f, rewatch := w.out.f, w.sw.rewatch
		w.sw.rewatch = false
		w.lock.unlock()
		if rewatch {
			// After the swap, not before: the swap is what records wait for.
			w.startWatching(f)
			w.flag() // look again: the path may have changed before the watch
		} else if err := w.watchErr(); err != nil {
			w.lostWatcher(err)
			w.startWatching(f) // a new instance, if one can be had
		}
		timer.Reset(max(next.Sub(now), 0))
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// checkNow is check for a write that found the event flag set. Called with
// the lock held.
func (w *Writer) checkNow() {
	if w.flags.Load()&flagEvent == 0 {
		return
	}
	w.check(time.Now())
	if w.sw.pending || w.sw.rewatch {
		w.notify() // the goroutine watches the new file, or retries in time
	}
}

// pathState says what the path names, compared with the open file.
type pathState int

const (
	pathSame    pathState = iota // the open file
	pathOther                    // another file: switch to it
	pathMissing                  // nothing: wait for its creator, then create
)

// look compares the path with the open file. deleted reports that records
// written now are lost to any reader: the open file has no name left (rm, or
// a rename over it) or, on Windows, is delete pending; or the Writer has no
// file (see dropFile). Called with the lock held.
func (w *Writer) look() (state pathState, deleted bool) {
	deleted = w.out.f == nil || unlinked(w.out.f)
	fi, err := os.Stat(w.path)
	switch {
	case err == nil && os.SameFile(fi, w.out.info):
		return pathSame, deleted
	case err == nil:
		return pathOther, deleted
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return pathMissing, deleted
	default:
		// The path cannot be looked at (a directory lost its search
		// permission, say, or on Windows a name delete pending): try
		// to open it, which reports why.
		return pathOther, deleted
	}
}

// check looks at the path and switches files when it names another one; it
// sets when to look next, and reports a failure. Called with the lock held.
func (w *Writer) check(now time.Time) {
	w.flags.And(^uint32(flagEvent)) // an event from now on flags again
	s := &w.sw
	state, deleted := w.look()
	if state == pathSame && !deleted {
		w.settle()
		s.next = now.Add(w.cfg.interval())
		return
	}
	if !s.pending {
		s.pending = true
		w.pending.Store(true)
	}
	if !deleted {
		// Until the switch, hear of owner and mode changes in the
		// directory too: logrotate's new file cannot be opened by
		// another user until its fchown, which only IN_ATTRIB tells.
		w.attrib(true)
	}
	if len(w.out.held) > 0 {
		if !deleted { // the rest of a cut record goes to this file first
			s.backoff(now, s.retry, w.cfg.retryMax)
			return
		}
		w.dropHeld() // lost with the file
	}
	wait := s.retry
	switch {
	case state != pathMissing:
		if !s.missingSince.IsZero() {
			// The awaited file appeared: retry it quickly (logrotate
			// fixes its owner just after creating it), whatever the
			// wait grew the backoff to.
			s.missingSince = time.Time{}
			s.retry, wait = w.cfg.retryMin, w.cfg.retryMin
		}
	case s.missingSince.IsZero():
		s.missingSince = now
	}
	// A file renamed away is replaced by whoever rotated it; give them
	// time. A deleted file loses every record written to it: replace it now.
	if state == pathMissing && !deleted {
		if left := s.missingSince.Add(w.cfg.createDelay).Sub(now); left > 0 {
			s.backoff(now, min(wait, left), w.cfg.retryMax)
			return
		}
	}
	if err := w.reopen(state == pathMissing || deleted); err != nil {
		w.reopenFailed(err)
		w.report(err)
		s.backoff(now, wait, w.cfg.retryMax)
		return
	}
	s.next = now.Add(w.cfg.interval())
}

// backoff sets the next look d from now and doubles the retry, up to most.
func (s *switchState) backoff(now time.Time, d, most time.Duration) {
	s.next = now.Add(d)
	s.retry = min(2*s.retry, most)
}

// switchFile opens the path and, if it names another file than the open one,
// makes it the file that writes go to and closes the old one. Called with
// the lock held: no write is under way.
func (w *Writer) switchFile(create bool) error {
	f, info, err := w.open(create)
	if err != nil {
		return fmt.Errorf("watchedfile: reopen: %w", err)
	}
	if w.out.f != nil && os.SameFile(info, w.out.info) {
		f.Close()
		w.settle()
		return nil
	}
	w.use(f, info)
	return nil
}

// use makes f, just opened, the file that writes go to, and closes the old
// one. Called with the lock held.
func (w *Writer) use(f *os.File, info fs.FileInfo) {
	old := w.out.f
	w.out.set(f, info)
	w.lookAtSize()
	w.reopens.Add(1)
	w.sw.rewatch = true
	w.settle()
	w.notify() // the goroutine watches f
	if old == nil {
		// The Writer had none (see dropFile): writes may go on.
		w.sw.lost = nil
		w.flags.And(^uint32(flagNoFile))
		return
	}
	old.Close()
}

// reopen is switchFile, and if that fails while the open file is delete
// pending, it closes the file and creates one again. Windows keeps a deleted
// file's name until its last handle closes, unless POSIX delete semantics
// apply, and nothing can be created at that name meanwhile: the Writer's own
// handle may be that last one. What is written to the file is lost anyway.
// Called with the lock held.
func (w *Writer) reopen(create bool) error {
	err := w.switchFile(create)
	if err != nil && w.out.f != nil && w.sw.deletePending(w.out.f) {
		w.dropFile()
		err = w.switchFile(true)
	}
	return err
}

// dropFile closes the open file and leaves the Writer without one: writes
// fail, with the reason no new file could be created, until a switch gives
// it one. Called with the lock held.
func (w *Writer) dropFile() {
	w.out.f.Close()
	w.out.f, w.out.fd = nil, -1
	w.out.cur.Store(nil)
	w.dropHeld()
	w.flags.Or(flagNoFile) // writes take the slow path, which says why they fail
}

// errNoFile is the error of op (a write or sync) while the Writer has no
// file. Called with the lock held.
func (w *Writer) errNoFile(op string) error {
	return fmt.Errorf("watchedfile: %s %s: the deleted file is closed and no new one could be created yet: %w",
		op, w.path, w.sw.lost)
}

// settle records that the open file is the one at the path.
func (w *Writer) settle() {
	w.sw.pending = false
	w.sw.missingSince = time.Time{}
	w.sw.retry = w.cfg.retryMin
	w.pending.Store(false)
	w.stats.setErr(nil)
}

// reopenFailed counts a failed reopen and keeps its error for Stats and, if
// the Writer has no file, for the writes that fail meanwhile. Called with the
// lock held.
func (w *Writer) reopenFailed(err error) {
	if w.out.f == nil {
		w.sw.lost = err
	}
	w.failedReopens.Add(1)
	w.stats.setErr(err)
}
