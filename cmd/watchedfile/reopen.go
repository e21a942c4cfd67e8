package main

import (
	"strings"
	"time"

	"github.com/watchedfile/watchedfile"
)

// reopenNotes says once that the Writer could not open the new file at the
// path and keeps writing to the file it has while it retries, and once that
// it got there. The Writer passes each failed attempt to the error handler
// but says nothing when one succeeds: while a failure is outstanding, its
// Stats are read every recoveryCheck until ReopenPending and LastError
// clear. Other failures are reported as they come, at the reporter's rate.
type reopenNotes struct {
	rep    *reporter
	failed chan error // the first of a run of failed reopens
	done   chan struct{}
	exited chan struct{}
}

// recoveryCheck is how often Stats is read while a reopen is failing.
const recoveryCheck = 50 * time.Millisecond

func newReopenNotes(rep *reporter) *reopenNotes {
	return &reopenNotes{rep: rep, failed: make(chan error, 1), done: make(chan struct{}), exited: make(chan struct{})}
}

// handle is the Writer's error handler.
func (n *reopenNotes) handle(err error) {
	text := errText(err)
	if !strings.HasPrefix(text, "reopen: ") { // the package's prefix for a failed switch of files
		n.rep.report("error", "%s", text)
		return
	}
	select {
	case n.failed <- err:
	default: // one already waits; Stats counts them all
	}
}

// start watches w's reopens until stop is called.
func (n *reopenNotes) start(w *watchedfile.Writer) (stop func()) {
	go n.run(w)
	return func() { close(n.done); <-n.exited }
}

func (n *reopenNotes) run(w *watchedfile.Writer) {
	defer close(n.exited)
	var told uint64 // failed reopens already told of
	for {
		var err error
		select {
		case <-n.done:
			return
		case err = <-n.failed:
		}
		if w.Stats().FailedReopens <= told {
			continue // from a run of failures already over
		}
		reopens := w.Stats().Reopens
		n.rep.always("cannot open the new log file (%s): still writing to the file it has open, and retrying",
			strings.TrimPrefix(errText(err), "reopen: "))
		tick := time.NewTicker(recoveryCheck)
		for stop := false; !stop; {
			select {
			case <-n.done:
				stop = true // a last look: it may have recovered since the last tick
			case <-tick.C:
			}
			if s := w.Stats(); !s.ReopenPending && s.LastError == nil {
				n.recovered(w, s, reopens, told)
				told = s.FailedReopens
				break
			}
			if stop {
				tick.Stop()
				return
			}
		}
		tick.Stop()
	}
}

// recovered says that the Writer is on the file at the path again.
func (n *reopenNotes) recovered(w *watchedfile.Writer, s watchedfile.Stats, reopens, told uint64) {
	if s.Reopens > reopens {
		n.rep.always("reopened %s after %d failed attempts: writing to it from now on", w.Path(), s.FailedReopens-told)
	} else { // the path names the open file again
		n.rep.always("%s is the file it has open again, after %d failed attempts to reopen it", w.Path(), s.FailedReopens-told)
	}
}
