package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// This file decides on a switch of files and makes it.
//
// An event's way: the watcher (inotify_linux.go) reads it and calls
// pathChanged: one atomic Or on the Writer's flags, and a wake-up of its
// goroutine. Whoever takes the write lock first, the next Write
// (checkAfterEvent, from readyToWrite, output.go) or the goroutine (run,
// life.go), compares the path with the open file (comparePath) and switches
// (lookAndSwitch, switchFile): opens the
// new file, makes it the one written to (switchTo), closes the old one. All
// of it under the lock, so no record is written to a file being closed and
// every record whose Write begins after the event goes to the new file. The
// goroutine then watches the new file (startWatching, watch.go), outside
// the lock: records wait for the switch, not for the watch. With
// WithRotation, a file that must be made (the path names none) is made by
// the rotator, on the goroutine, outside the lock (writer_rotate.go).

// follower is what the Writer knows of the path, and how it hears of
// changes. Guarded by the write lock, but for pending, which Stats reads.
type follower struct {
	pending      atomic.Bool   // the path names another file than the open one, or none
	missingSince time.Time     // when the path was first found empty; zero if it is not
	retry        time.Duration // the next backoff
	next         time.Time     // when the goroutine looks next
	rewatch      bool          // switched: the goroutine must watch the new file
	lost         error         // why the Writer has no file (see dropFile); nil while it has one
	create       atomic.Bool   // the rotator must make the file the path names none of (writer_rotate.go)

	watcher  watcher // nil when polling (watch.go); replaced by the goroutine only
	attribOn bool    // watcher.attrib is on

	// deletePending is the system's (see file_windows.go); a test stands
	// in for it where the system never reports a pending delete (wine).
	deletePending func(*os.File) bool
}

// pathChanged tells the Writer that its file or the path may have changed:
// the next Write, or the goroutine if it is first, looks before writing. It
// never blocks; the watcher calls it as it reads the event.
func (w *Writer) pathChanged() {
	w.flags.Or(flagEvent)
	w.life.wake()
}

// checkAfterEvent is lookAndSwitch for a write that found the event flag
// set.
// Called with the lock held.
func (w *Writer) checkAfterEvent() {
	if w.flags.Load()&flagEvent == 0 {
		return
	}
	w.lookAndSwitch(time.Now())
	if w.follow.pending.Load() || w.follow.rewatch {
		w.life.wake() // the goroutine watches the new file, or retries in time
	}
}

// pathState says what the path names, compared with the open file.
type pathState int

const (
	pathSame    pathState = iota // the open file
	pathOther                    // another file: switch to it
	pathMissing                  // nothing: wait for its creator, then create
)

// comparePath compares the path with the open file. deleted reports that records
// written now are lost to any reader: the open file has no name left (rm, or
// a rename over it) or, on Windows, is delete pending; or the Writer has no
// file (see dropFile). Called with the lock held.
func (w *Writer) comparePath() (state pathState, deleted bool) {
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

// lookAndSwitch looks at the path and switches files when it names another
// one; it sets when to look next, and reports a failure. Called with the
// lock held.
func (w *Writer) lookAndSwitch(now time.Time) {
	w.flags.And(^uint32(flagEvent)) // an event from now on flags again
	s := &w.follow
	state, deleted := w.comparePath()
	if state == pathSame && !deleted {
		w.caughtUp()
		s.next = now.Add(w.cfg.interval())
		return
	}
	s.pending.Store(true)
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
	err := w.reopen(state == pathMissing || deleted)
	switch {
	case errors.Is(err, errRotatorCreates):
		s.create.Store(true)
		w.life.wake()
		s.backoff(now, wait, w.cfg.retryMax)
	case err != nil:
		w.reopenFailed(err)
		w.report(err)
		s.backoff(now, wait, w.cfg.retryMax)
	default:
		s.next = now.Add(w.cfg.interval())
	}
}

// backoff sets the next look d from now and doubles the retry, up to most.
func (s *follower) backoff(now time.Time, d, most time.Duration) {
	s.next = now.Add(d)
	s.retry = min(2*s.retry, most)
}

// errRotatorCreates is reopen's answer when the path names no file and the
// rotator must make one (writer_rotate.go), which it does without the lock.
var errRotatorCreates = errors.New("watchedfile: the rotation makes the new file")

// switchFile opens the path and, if it names another file than the open one,
// makes it the file that writes go to and closes the old one. With
// WithRotation a missing file is not made here: errRotatorCreates. Called
// with the lock held: no write is under way.
func (w *Writer) switchFile(create bool) error {
	f, info, err := w.openPath(create && w.rot == nil)
	if err != nil {
		if create && w.rot != nil && errors.Is(err, fs.ErrNotExist) {
			return errRotatorCreates
		}
		return fmt.Errorf("watchedfile: reopen: %w", err)
	}
	w.switchTo(f, info)
	return nil
}

// switchTo makes f, just opened, the file that writes go to, and closes the
// old one; if f is the open file already, it closes f instead. Called with
// the lock held.
func (w *Writer) switchTo(f *os.File, info fs.FileInfo) {
	if w.out.f != nil && os.SameFile(info, w.out.info) {
		f.Close()
		w.caughtUp()
		return
	}
	old := w.out.f
	w.out.set(f, info)
	w.stats.reopens.Add(1)
	w.follow.rewatch = true
	w.caughtUp()
	w.life.wake() // the goroutine watches f
	if old == nil {
		// The Writer had none (see dropFile): writes may go on.
		w.follow.lost = nil
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
	if err != nil && !errors.Is(err, errRotatorCreates) && w.out.f != nil && w.follow.deletePending(w.out.f) {
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
		op, w.path, w.follow.lost)
}

// caughtUp records that the open file is the one at the path.
func (w *Writer) caughtUp() {
	w.follow.pending.Store(false)
	w.follow.create.Store(false)
	w.follow.missingSince = time.Time{}
	w.follow.retry = w.cfg.retryMin
	w.stats.setErr(nil)
}

// reopenFailed counts a failed reopen and keeps its error for Stats and, if
// the Writer has no file, for the writes that fail meanwhile. Called with the
// lock held.
func (w *Writer) reopenFailed(err error) {
	if w.out.f == nil {
		w.follow.lost = err
	}
	w.stats.failedReopens.Add(1)
	w.stats.setErr(err)
}
