package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// This file is the part of the Writer that runs in the background on every
// system: the goroutine that checks the path when the watcher wakes it and
// once per interval (which is all that polling is), and the switch to a new
// file.

// A watcher wakes a Writer soon after its file or the path may have changed.
// The Writer then checks for itself; a watcher may wake it needlessly.
type watcher interface {
	// watch starts watching f, just opened at path, and the path's
	// directory, and stops watching what it watched before for this
	// Writer. An error means it cannot serve this file: the Writer polls.
	watch(f *os.File, path string) error
	// close stops watching and releases what the watcher holds.
	close() error
}

// run is the Writer's goroutine. With a buffer, it also flushes it every
// flushInterval.
func (w *Writer) run() {
	defer close(w.exited)
	timer := time.NewTimer(w.cfg.checkInterval)
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
			if err := w.flush(); err != nil && w.cfg.onError != nil {
				w.cfg.onError(err)
			}
			continue
		case <-w.wake:
		case <-timer.C:
		}
		next, err := w.check(time.Now())
		if err != nil && w.cfg.onError != nil {
			w.cfg.onError(err)
		}
		timer.Reset(next)
	}
}

// pathState says what the path names, compared with the open file.
type pathState int

const (
	pathSame    pathState = iota // the open file
	pathOther                    // another file: switch to it
	pathMissing                  // nothing: wait for its creator, then create
)

// look compares the path with the open file. deleted reports that the open
// file has no name left (rm, or a rename over it), so records written to it
// are lost to any reader.
func (w *Writer) look() (state pathState, deleted bool) {
	deleted = unlinked(w.file.Load())
	fi, err := os.Stat(w.path)
	switch {
	case err == nil && os.SameFile(fi, w.info):
		return pathSame, deleted
	case err == nil:
		return pathOther, deleted
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return pathMissing, deleted
	default:
		// The path cannot be looked at (a directory lost its search
		// permission, say): try to open it, which reports why.
		return pathOther, deleted
	}
}

// check looks at the path and switches files when it names another one. It
// returns when to check next and the failure to report, if any.
func (w *Writer) check(now time.Time) (time.Duration, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Load() {
		return w.cfg.checkInterval, nil
	}
	state, deleted := w.look()
	if state == pathSame && !deleted {
		w.settle()
		return w.cfg.checkInterval, w.takeWatchErr()
	}
	if !w.pending {
		w.pending = true
		w.retry = w.cfg.retryMin
	}
	if state != pathMissing {
		if !w.missingSince.IsZero() {
			// The awaited file appeared: retry it quickly (logrotate
			// fixes its owner just after creating it), whatever the
			// wait grew the backoff to.
			w.retry = w.cfg.retryMin
		}
		w.missingSince = time.Time{}
	} else if w.missingSince.IsZero() {
		w.missingSince = now
	}
	// A file renamed away is replaced by whoever rotated it; give them
	// time. A deleted file loses every record written to it: replace it now.
	if state == pathMissing && !deleted {
		if wait := w.missingSince.Add(w.cfg.createDelay).Sub(now); wait > 0 {
			next := min(w.retry, wait)
			w.retry = min(2*w.retry, w.cfg.retryMax)
			return next, nil
		}
	}
	if err := w.switchFile(state == pathMissing || deleted); err != nil {
		w.failedReopens++
		w.lastErr = err
		next := w.retry
		w.retry = min(2*w.retry, w.cfg.retryMax)
		return next, err
	}
	return w.cfg.checkInterval, w.takeWatchErr()
}

// takeWatchErr returns, once, the failure to watch the file of the last
// switch, which the Writer's goroutine reports whoever made the switch.
// Called with mu held.
func (w *Writer) takeWatchErr() error {
	err := w.watchErr
	w.watchErr = nil
	return err
}

// switchFile opens the path and, if it names another file than the open one,
// makes it the file that Write uses and closes the old one. Called with mu held.
func (w *Writer) switchFile(create bool) error {
	f, info, err := w.open(create)
	if err != nil {
		return fmt.Errorf("watchedfile: reopen: %w", err)
	}
	if os.SameFile(info, w.info) {
		f.Close()
		w.settle()
		return nil
	}
	var watchErr error
	if !w.cfg.forcePolling {
		watchErr = w.startWatching(f)
	}
	old := w.file.Swap(f)
	w.info = info
	w.reopens++
	w.settle()
	if watchErr != nil { // the Writer polls from now on: say so
		w.lastErr = watchErr
		w.watchErr = watchErr
	}
	// A Write still in old finishes there; one that loads old after this
	// gets os.ErrClosed before writing anything, and retries with f.
	old.Close()
	return nil
}

// settle records that the open file is the one at the path.
func (w *Writer) settle() {
	w.pending = false
	w.missingSince = time.Time{}
	w.retry = w.cfg.retryMin
	w.lastErr = nil
}
