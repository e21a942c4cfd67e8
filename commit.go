package watchedfile

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// This file is group commit (WithGroupCommit): how concurrent Writes share
// write(2) calls.
//
// The goroutine that holds w.wmu writes to the file; it is the leader. A Write
// that finds wmu taken does not wait for the lock: it queues its record and
// waits, yielding its processor a few times before it sleeps. Before the
// leader lets go of wmu it writes everything queued meanwhile with one
// writev(2) and gives each of those callers its own result, and again for
// what was queued during that write, up to leadBatches times; then it hands
// wmu to a queued caller, so that no caller leads for long. A caller still
// returns only once its own record is in the file. A goroutine alone finds
// wmu free and the queue empty: one write(2), no wake-up, nothing allocated.

// maxBatchBytes bounds one writev(2); iovMax (per OS) bounds its records.
const maxBatchBytes = 1 << 20

// leadBatches is how many batches a leader writes for others before it hands
// wmu to a queued caller and returns to its own: enough that the hand-over,
// which waits for that caller to be scheduled, is rare.
const leadBatches = 64

// spins is how many times a queued caller yields its processor, checking for
// its result, before it sleeps: a write(2) takes about a microsecond, and a
// sleeping goroutine costs its waker a futex call to wake it.
const spins = 50

// States of a waiter.
const (
	queued  uint32 = iota
	asleep         // the caller sleeps on done
	written        // n and err are set
	leading        // the caller holds wmu, handed over: its record is still queued
)

// A waiter is one queued record and, once written, its result.
type waiter struct {
	p     []byte
	n     int
	err   error
	next  *waiter // the one queued before it
	state atomic.Uint32
	done  chan struct{} // 1-buffered; a sleeping caller is woken through it
}

var waiters = sync.Pool{New: func() any { return &waiter{done: make(chan struct{}, 1)} }}

// queue holds the records waiting for the leader: a stack that callers push
// onto without a lock, and that the holder of wmu takes whole.
type queue struct {
	top   atomic.Pointer[waiter]
	batch []*waiter // the taken records in the order they came; used under wmu
}

func (q *queue) push(wt *waiter) {
	for {
		old := q.top.Load()
		wt.next = old
		if q.top.CompareAndSwap(old, wt) {
			return
		}
	}
}

// take returns the queued records, oldest first, and empties the queue.
// Called with wmu held.
func (q *queue) take() []*waiter {
	q.batch = q.batch[:0]
	for wt := q.top.Swap(nil); wt != nil; wt = wt.next {
		q.batch = append(q.batch, wt)
	}
	slices.Reverse(q.batch)
	return q.batch
}

// follow queues p for the leader and waits until it is written.
func (w *Writer) follow(p []byte) (int, error) {
	wt := waiters.Get().(*waiter)
	wt.p = p
	wt.state.Store(queued)
	w.queue.push(wt)
	// The leader may have checked the queue and let go of wmu just before
	// the record was queued: then wmu is free, and this caller leads.
	if w.wmu.TryLock() {
		w.unlock()
	}
	for !wt.wait() { // handed wmu: write the queue, this record with it
		w.unlock()
	}
	n, err := wt.n, wt.err
	wt.p, wt.err, wt.next = nil, nil, nil
	waiters.Put(wt)
	return n, err
}

// wait waits until the record is written (true) or the caller is handed
// wmu (false).
func (wt *waiter) wait() bool {
	for range spins {
		switch wt.state.Load() {
		case written:
			return true
		case leading:
			wt.state.Store(queued)
			return false
		}
		runtime.Gosched()
	}
	if wt.state.CompareAndSwap(queued, asleep) {
		<-wt.done
	}
	if wt.state.Load() == leading {
		wt.state.Store(queued)
		return false
	}
	return true
}

// wake moves the waiter to state s (written or leading), waking its caller
// if it sleeps.
func (wt *waiter) wake(s uint32) {
	if !wt.state.CompareAndSwap(queued, s) {
		wt.state.Store(s) // it went to sleep
		wt.done <- struct{}{}
	}
}

// unlock writes what is queued and lets go of wmu, or hands it to a queued
// caller. Every holder of wmu lets go of it through unlock, so that no queued
// record is left without a leader.
func (w *Writer) unlock() {
	if w.queue.top.Load() == nil { // the usual case, kept small enough to inline
		w.wmu.Unlock()
		// A caller that queued after the check and failed to take
		// wmu before the Unlock waits for someone: lead again.
		if w.queue.top.Load() == nil || !w.wmu.TryLock() {
			return
		}
	}
	w.drain()
}

// drain is unlock with records queued. Called with wmu held.
func (w *Writer) drain() {
	q := &w.queue
	for wrote := 0; ; {
		if q.top.Load() == nil {
			w.wmu.Unlock()
			// A caller that queued after the check and failed to take
			// wmu before the Unlock waits for someone: lead again.
			if q.top.Load() == nil || !w.wmu.TryLock() {
				return
			}
			continue
		}
		if wrote == leadBatches { // pass the lead on: this caller has waited long enough
			q.top.Load().wake(leading)
			return
		}
		ws := q.take()
		w.writeBatch(ws)
		for i, wt := range ws {
			ws[i] = nil // the caller reuses it as soon as it is woken
			wt.wake(written)
		}
		wrote++
	}
}

// writeBatch writes the records of ws, in order, with as few writev(2) calls
// as the bounds allow, and sets each waiter's result: a record the kernel
// took whole succeeded; the one it cut short and those after it failed.
// Called with wmu held.
func (w *Writer) writeBatch(ws []*waiter) {
	if err := w.beforeWrite(); err != nil {
		for _, wt := range ws {
			wt.n, wt.err = 0, err
		}
		w.tally.count(0, 0, len(ws))
		return
	}
	for len(ws) > 0 {
		k, size := 1, len(ws[0].p)
		for k < len(ws) && k < iovMax && size+len(ws[k].p) <= maxBatchBytes {
			size += len(ws[k].p)
			k++
		}
		chunk := ws[:k]
		ws = ws[k:]
		n, err := w.writev(chunk)
		if err != nil {
			err = w.writeError(err)
		}
		var ok, okBytes int
		for _, wt := range chunk {
			switch l := len(wt.p); {
			case n >= l:
				wt.n, wt.err = l, nil
				ok++
				okBytes += l
			default:
				wt.n, wt.err = max(n, 0), err
			}
			n -= len(wt.p)
		}
		w.tally.count(ok, okBytes, len(chunk)-ok)
	}
}
