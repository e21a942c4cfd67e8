package watchedfile

import "sync"

// This file runs the error handler (WithErrorHandler) on a goroutine of its
// own, so that a slow handler holds nothing up and one may call Close.

// errQueue is how many failures wait for a busy error handler; more are
// dropped and counted.
const errQueue = 16

// reporter passes failures to the error handler. Its mutex makes the
// handler's start and Close's stop exclusive: no call begins once stop has
// begun, and stop knows whether a call is under way.
type reporter struct {
	errs   chan error    // nil without a handler
	exited chan struct{} // closed when the goroutine returns

	mu      sync.Mutex
	stopped bool
	calling bool // a call to the handler is under way
}

// start starts the handler's goroutine, if there is a handler.
func (r *reporter) start(handle func(error)) {
	if handle == nil {
		return
	}
	r.errs = make(chan error, errQueue)
	r.exited = make(chan struct{})
	go r.run(handle)
}

func (r *reporter) run(handle func(error)) {
	defer close(r.exited)
	for err := range r.errs {
		r.mu.Lock()
		if r.stopped {
			r.mu.Unlock()
			continue
		}
		r.calling = true
		r.mu.Unlock()
		handle(err)
		r.mu.Lock()
		r.calling = false
		r.mu.Unlock()
	}
}

// report passes err to the error handler without waiting for it. It
// reports whether err was dropped because the handler was busy.
func (r *reporter) report(err error) (dropped bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.errs == nil || r.stopped {
		return false
	}
	select {
	case r.errs <- err:
		return false
	default:
		return true
	}
}

// stop stops the goroutine and waits for it, unless a call to the handler
// is under way: that call may be what called Close.
func (r *reporter) stop() {
	if r.errs == nil {
		return
	}
	r.mu.Lock()
	r.stopped = true
	close(r.errs)
	calling := r.calling
	r.mu.Unlock()
	if !calling {
		<-r.exited
	}
}

// report passes err to the error handler, and counts it if it is dropped.
func (w *Writer) report(err error) {
	if w.life.rep.report(err) {
		w.stats.droppedErrors.Add(1)
	}
}

// quietReporter passes a failure on to the error handler unless it is the
// one it passed last: a failure that repeats (a rotation retried at every
// slice, a maintenance pass on its backoff, a directory full of files not
// the Writer's) is reported once, until another failure comes or clear
// says the trouble is over.
type quietReporter struct {
	pass func(error) // the Writer's report

	mu   sync.Mutex
	last string
}

func (q *quietReporter) report(err error) {
	q.mu.Lock()
	again := q.last == err.Error()
	q.last = err.Error()
	q.mu.Unlock()
	if !again {
		q.pass(err)
	}
}

func (q *quietReporter) clear() {
	q.mu.Lock()
	q.last = ""
	q.mu.Unlock()
}
