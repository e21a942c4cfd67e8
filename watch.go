package watchedfile

import (
	"fmt"
	"os"
)

// This file is the watcher's life: made at Open, armed for each new file,
// replaced when it fails, given up for polling when none can serve, closed
// by Close.

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
	had := w.follow.watcher != nil
	if !had {
		wt, err := newWatcher(w.pathChanged)
		if wt == nil {
			// This system has no event source, or none to be had now.
			w.stats.setBackend(BackendPolling, err)
			return
		}
		w.setWatcher(wt)
	}
	err := w.follow.watcher.watch(f, w.path)
	switch {
	case err == nil:
		w.stats.setBackend(BackendInotify, nil)
	case w.switchedFrom(f):
		// f was switched away from meanwhile (and maybe closed, which
		// fails the watch): the new file is next.
	case had:
		w.lostWatcher(fmt.Errorf("watchedfile: polling until the next switch: %w", err))
	default:
		w.dropWatcher()
		w.stats.setBackend(BackendPolling, err)
	}
}

// switchedFrom reports whether f is no longer the file written to.
func (w *Writer) switchedFrom(f *os.File) bool {
	w.lock.lock()
	defer w.lock.unlock()
	return w.out.f != f
}

// attrib turns the watcher's attrib on or off. Called with the lock held.
func (w *Writer) attrib(on bool) {
	if w.follow.watcher != nil && w.follow.attribOn != on {
		w.follow.watcher.attrib(on)
		w.follow.attribOn = on
	}
}

// watchErr reports why the watcher stopped telling of changes, or nil.
// Called by the goroutine, which alone replaces the watcher.
func (w *Writer) watchErr() error {
	if w.follow.watcher == nil {
		return nil
	}
	return w.follow.watcher.err()
}

// setWatcher replaces the watcher, under the lock: a Write's check uses it.
func (w *Writer) setWatcher(wt watcher) {
	w.lock.lock()
	w.follow.watcher, w.follow.attribOn = wt, false
	w.lock.unlock()
}

// dropWatcher closes the watcher, if any, once no Write can use it: when
// it cannot serve, and at Close, once the goroutine is gone.
func (w *Writer) dropWatcher() error {
	wt := w.follow.watcher
	if wt == nil {
		return nil
	}
	w.setWatcher(nil)
	return wt.close()
}

// lostWatcher makes a Writer that had a watcher poll, and reports why.
func (w *Writer) lostWatcher(err error) {
	w.dropWatcher()
	w.stats.setBackend(BackendPolling, err)
	w.stats.setErr(err)
	w.report(err)
}
