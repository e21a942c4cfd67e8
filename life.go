package watchedfile

import (
	"sync/atomic"
	"time"
)

// This file is the Writer's life: its goroutine, the error handler's, and
// how Close ends them.
//
// The goroutine does what no Write can: it switches a Writer that writes
// nothing, retries a failed open on a backoff, waits out the create delay,
// stats the path once per check interval (what inotify cannot see), polls
// when there is no watcher, flushes the buffer on its interval, retries the
// held rest of a cut record, watches each new file, and, with WithRotation,
// asks the rotator whether to rotate and switches to the file it makes
// (writer_rotate.go). Close stops it (done) and waits for it (exited) before
// it takes the write lock for the last time.

// life is the Writer's goroutines and their end.
type life struct {
	wakeUp  chan struct{} // 1-buffered: the goroutine must look now
	done    chan struct{} // closed by Close: the goroutine must return
	exited  chan struct{} // closed by the goroutine when it returns
	closing atomic.Bool   // Close has begun
	closed  chan struct{} // closed when the first Close is done
	rep     reporter      // the error handler's goroutine (report.go)
}

func (l *life) init() {
	l.wakeUp = make(chan struct{}, 1)
	l.done = make(chan struct{})
	l.exited = make(chan struct{})
	l.closed = make(chan struct{})
}

// wake wakes the goroutine; it never blocks, and wake-ups coalesce.
func (l *life) wake() {
	select {
	case l.wakeUp <- struct{}{}:
	default:
	}
}

// stop stops the goroutine and waits for it.
func (l *life) stop() {
	close(l.done)
	<-l.exited
}

// run is the Writer's goroutine.
func (w *Writer) run() {
	defer close(w.life.exited)
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
		case <-w.life.done:
			return
		case <-flush:
			if err := w.flush(); err != nil {
				w.report(err)
			}
			continue
		case <-w.life.wakeUp:
		case <-timer.C:
		}
		now := time.Now()
		w.lock.lock()
		w.writeHeld() // its failures are the Writes' to return
		if w.flags.Load()&flagEvent != 0 || !now.Before(w.follow.next) {
			w.lookAndSwitch(now)
		}
		if !w.follow.pending.Load() {
			w.attrib(false)
		}
		next := w.follow.next
		f, rewatch := w.out.f, w.follow.rewatch
		w.follow.rewatch = false
		w.lock.unlock()
		if w.rot != nil {
			// Without the write lock: records go on to the current
			// file while the rotator makes the next one.
			next = minTime(next, w.rotateIfDue())
		}
		if rewatch {
			// After the switch, not before: the switch is what records wait for.
			w.startWatching(f)
			w.pathChanged() // look again: the path may have changed before the watch
		} else if err := w.watchErr(); err != nil {
			w.lostWatcher(err)
			w.startWatching(f) // a new instance, if one can be had
		}
		timer.Reset(max(next.Sub(time.Now()), 0))
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// closeWait bounds how long Close lets a write to a pipe, FIFO, socket or
// terminal hang before it cuts it.
const closeWait = time.Second

// cutHungWrite gives a write under way to a pipe or terminal closeWait to
// finish. It needs no lock: flagClosed is set, so the file no write uses can
// change. On a regular file the deadline does nothing.
func (w *Writer) cutHungWrite() {
	if f := w.out.cur.Load(); f != nil {
		f.SetWriteDeadline(time.Now().Add(closeWait))
	}
}
