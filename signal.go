package watchedfile

import (
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
)

// ReopenOnSignal calls [Writer.Reopen] on each of writers every time the
// process receives one of sigs, or SIGHUP when no signal is given, until the
// returned stop function is called. It is for services whose rotation tool
// signals them after a rotation (logrotate's postrotate running
// "kill -HUP", nginx style), which matters most where the Writer polls: the
// signal makes the switch at once instead of at the next poll. Where inotify
// serves, the Writer has usually switched before the signal arrives, and the
// Reopen is harmless.
//
// Signals that arrive while the Writers are being reopened coalesce into one
// more round. A Writer that is closed is skipped, and nil entries are ignored.
//
// A Reopen that fails leaves that Writer writing to the file it has, and
// counts in [Stats.FailedReopens] and [Stats.LastError]. ReopenOnSignal then
// wakes the Writer's background check, which retries as it does for a
// rotation it found itself and reports each failure to the function set with
// [WithErrorHandler]. ReopenOnSignal reports nothing itself.
//
// stop calls [signal.Stop] for its channel, stops the goroutine and waits for
// it: when stop returns, no goroutine started by ReopenOnSignal is running
// and no Writer is being reopened on its behalf. stop may be called more than
// once and from any goroutine. stop does not close the Writers.
//
// As with [signal.Notify], a signal that the program was started with
// ignored (SIGHUP under nohup) is no longer ignored while ReopenOnSignal
// listens for it. Once nothing in the program listens for it any more, the
// signal does again what it did at start: SIGHUP, by default, terminates the
// process. On Windows, SIGHUP is never delivered.
func ReopenOnSignal(writers []*Writer, sigs ...os.Signal) (stop func()) {
	ws := slices.DeleteFunc(slices.Clone(writers), func(w *Writer) bool { return w == nil })
	if len(sigs) == 0 {
		sigs = []os.Signal{syscall.SIGHUP}
	}
	// One buffered slot: a signal that arrives during a round of reopens
	// asks for one more round; further ones are dropped by os/signal.
	c := make(chan os.Signal, 1)
	signal.Notify(c, sigs...)

	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-done:
				return
			case <-c:
				reopenAll(ws, done)
			}
		}
	}()

	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(c)
			close(done)
			<-exited
		})
	}
}

// reopenAll reopens each Writer, stopping early when done is closed.
func reopenAll(ws []*Writer, done <-chan struct{}) {
	for _, w := range ws {
		select {
		case <-done:
			return
		default:
		}
		w.Reopen() // on failure, the Writer's goroutine retries and reports
	}
}
