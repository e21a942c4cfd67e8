package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// This file is everything that decides on a switch of files and makes it:
// the watcher's flag, the look at the path, the switch itself, and the
// Writer's goroutine, which does what only it can (a Writer that writes
// nothing, the retries, the create delay, the slow check, polling, watching
// the new file) and reports failures.
//
// An event's way: the watcher's goroutine flags the Writer (flag), and
// whoever takes wmu first, the next Write or the Writer's goroutine, looks at
// the path (check) and switches (switchFile) before anything more is written.
// The goroutine then watches the new file (startWatching).

// A watcher tells a Writer, by calling the function it was made with, that
// its file or the path may have changed. The Writer then looks for itself; a
// watcher may call it needlessly.
type watcher interface {
	// watch starts watching f, just opened at path, and the path's
	// directory, and stops watching what it watched before for this
	// Writer. An error means it cannot serve this file: the Writer polls.
	watch(f *os.File, path string) error
	// attrib asks, while on, to hear also of attribute changes of files
	// in the directory: a file the Writer cannot open yet may become
	// openable by its chown or chmod alone.
	attrib(on bool)
	// err reports why the watcher can no longer tell of changes, or nil.
	err() error
	// close stops watching and releases what the watcher holds.
	close() error
}

// switchState is what the Writer knows of the path. Guarded by wmu.
type switchState struct {
	info         fs.FileInfo   // of the open file
	pending      bool          // the path names another file than info, or none
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

// run is the Writer's goroutine. With a buffer, it also flushes it every
// flushInterval.
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
		w.wmu.Lock()
		if w.flags.Load()&flagEvent != 0 || !now.Before(w.sw.next) {
			w.check(now)
		}
		if w.attribOn && !w.sw.pending {
			w.watcher.attrib(false)
			w.attribOn = false
		}
		f, rewatch, next := w.file, w.sw.rewatch, w.sw.next.Sub(now)
		w.sw.rewatch = false
		w.unlock()
		if rewatch {
			// After the swap, not before: the swap is what records wait for.
			w.startWatching(f)
			w.flag() // look again: the path may have changed before the watch
		} else if w.watcher != nil && w.watcher.err() != nil {
			w.lostWatcher(w.watcher.err())
			w.startWatching(f) // a new instance, if one can be had
		}
		timer.Reset(max(next, 0))
	}
}

// checkNow is check for a Write that found the event flag set. Called with
// wmu held.
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
// file (see dropFile). Called with wmu held.
func (w *Writer) look() (state pathState, deleted bool) {
	deleted = w.file == nil || unlinked(w.file)
	fi, err := os.Stat(w.path)
	switch {
	case err == nil && os.SameFile(fi, w.sw.info):
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
// sets when to look next, and reports a failure. Called with wmu held.
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
	if !deleted && w.watcher != nil && !w.attribOn {
		// Until the switch, hear of owner and mode changes in the
		// directory too: logrotate's new file cannot be opened by
		// another user until its fchown, which only IN_ATTRIB tells.
		w.watcher.attrib(true)
		w.attribOn = true
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
// wmu held: no write is under way.
func (w *Writer) switchFile(create bool) error {
	f, info, err := w.open(create)
	if err != nil {
		return fmt.Errorf("watchedfile: reopen: %w", err)
	}
	if w.file != nil && os.SameFile(info, w.sw.info) {
		f.Close()
		w.settle()
		return nil
	}
	old := w.file
	w.file, w.fd, w.sw.info = f, sysfd(f), info
	w.reopens.Add(1)
	w.sw.rewatch = true
	w.settle()
	w.notify() // the goroutine watches f
	if old == nil {
		// The Writer had none (see dropFile): writes may go on.
		w.sw.lost = nil
		w.flags.And(^uint32(flagNoFile))
		return nil
	}
	old.Close()
	return nil
}

// reopen is switchFile, and if that fails while the open file is delete
// pending, it closes the file and creates one again. Windows keeps a deleted
// file's name until its last handle closes, unless POSIX delete semantics
// apply, and nothing can be created at that name meanwhile: the Writer's own
// handle may be that last one. What is written to the file is lost anyway.
// Called with wmu held.
func (w *Writer) reopen(create bool) error {
	err := w.switchFile(create)
	if err != nil && w.file != nil && w.sw.deletePending(w.file) {
		w.dropFile()
		err = w.switchFile(true)
	}
	return err
}

// dropFile closes the open file and leaves the Writer without one: writes
// fail, with the reason no new file could be created, until a switch gives
// it one. Called with wmu held.
func (w *Writer) dropFile() {
	w.file.Close()
	w.file, w.fd = nil, -1
	w.flags.Or(flagNoFile) // writes take the slow path, which says why they fail
}

// errNoFile is the error of op (a write or sync) while the Writer has no
// file. Called with wmu held.
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
	w.rmu.Lock()
	w.lastErr = nil
	w.rmu.Unlock()
}

// reopenFailed counts a failed reopen and keeps its error for Stats and, if
// the Writer has no file, for the writes that fail meanwhile. Called with wmu
// held.
func (w *Writer) reopenFailed(err error) {
	if w.file == nil {
		w.sw.lost = err
	}
	w.failedReopens.Add(1)
	w.rmu.Lock()
	w.lastErr = err
	w.rmu.Unlock()
}

// startWatching arms the watcher for f, creating one if the Writer has none:
// at Open, and at each switch after a fallback, since what stopped inotify
// (a limit reached, a file system without events) may not hold for the new
// file. When no watcher can serve, the Writer polls until its next switch
// and records why; a Writer that loses its watcher reports it, one that
// stays polling does not. Called by Open and by the goroutine.
func (w *Writer) startWatching(f *os.File) {
	if w.cfg.forcePolling {
		return
	}
	had := w.watcher != nil
	if w.watcher == nil {
		wt, err := newWatcher(w.flag)
		if wt == nil {
			// This system has no event source, or none to be had now.
			w.setBackend(BackendPolling, err)
			return
		}
		w.setWatcher(wt)
	}
	err := w.watcher.watch(f, w.path)
	switch {
	case err == nil:
		w.setBackend(BackendInotify, nil)
	case errors.Is(err, os.ErrClosed):
		// f was switched away from meanwhile: the new file is next.
	case had:
		w.lostWatcher(fmt.Errorf("watchedfile: polling until the next switch: %w", err))
	default:
		w.dropWatcher()
		w.setBackend(BackendPolling, err)
	}
}

// setWatcher replaces the watcher, under wmu: a Write's check uses it.
func (w *Writer) setWatcher(wt watcher) {
	w.wmu.Lock()
	w.watcher, w.attribOn = wt, false
	w.unlock()
}

// dropWatcher closes the watcher once no Write can use it.
func (w *Writer) dropWatcher() {
	wt := w.watcher
	w.setWatcher(nil)
	wt.close()
}

// lostWatcher makes a Writer that had a watcher poll, and reports why.
func (w *Writer) lostWatcher(err error) {
	w.dropWatcher()
	w.setBackend(BackendPolling, err)
	w.rmu.Lock()
	w.lastErr = err
	w.rmu.Unlock()
	w.report(err)
}

func (w *Writer) setBackend(b Backend, reason error) {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	w.backend = b
	w.fallbackReason = ""
	if reason != nil {
		w.fallbackReason = reason.Error()
	}
}

// errQueue is how many failures wait for a busy error handler; more are
// dropped and counted.
const errQueue = 16

// report passes err to the error handler's goroutine without waiting for it.
// Called by the goroutine, or with wmu held before Close.
func (w *Writer) report(err error) {
	if w.errs == nil {
		return
	}
	select {
	case w.errs <- err:
	default:
		w.droppedErrors.Add(1)
	}
}

// reportErrors is the error handler's goroutine: the handler runs apart from
// the Writer, so that a slow one holds nothing up and one may call Close.
func (w *Writer) reportErrors(handle func(error)) {
	defer close(w.reported)
	for err := range w.errs {
		w.inHandler.Store(true)
		if w.flags.Load()&flagClosed == 0 {
			handle(err)
		}
		w.inHandler.Store(false)
	}
}
