package watchedfile

import (
	"sync"
	"sync/atomic"
)

// This file is group commit: how concurrent Writes share write(2) calls.
//
// The goroutine that holds w.wmu writes to the file; it is the leader. A Write
// that finds wmu taken does not wait for the lock: it queues its record and
// sleeps. Before the leader lets go of wmu it writes everything queued
// meanwhile with one writev(2), wakes each of those callers with its own
// result, and hands wmu to the oldest waiter if more records came in the
// meantime, so that no caller leads for long. A caller still returns only
// once its own record is in the file. A goroutine alone finds wmu free and the
// queue empty: one write(2), no wake-up, nothing allocated.

// maxBatchBytes bounds one writev(2); iovMax (per OS) bounds its records.
const maxBatchBytes = 1 << 20

// A waiter is one queued record and, once written, its result.
type waiter struct {
	p    []byte
	n    int
	err  error
	lead bool          // woken holding wmu, to write the queue: the record is still in it
	done chan struct{} // 1-buffered; signalled once per wake-up
}

var waiters = sync.Pool{New: func() any { return &waiter{done: make(chan struct{}, 1)} }}

// queue holds the records waiting for the leader.
type queue struct {
	n     atomic.Int32 // len(ws), read by the leader without mu
	mu    sync.Mutex
	ws    []*waiter
	spare []*waiter // the previous batch's slice, reused
}

// take returns the queued records and empties the queue.
func (q *queue) take() []*waiter {
	q.mu.Lock()
	ws := q.ws
	q.ws = q.spare[:0]
	q.spare = nil
	q.n.Store(0)
	q.mu.Unlock()
	return ws
}

// recycle gives back the slice take returned, once its waiters are woken.
func (q *queue) recycle(ws []*waiter) {
	clear(ws) // drop the records for the garbage collector
	q.mu.Lock()
	if q.spare == nil {
		q.spare = ws[:0]
	}
	q.mu.Unlock()
}

// follow queues p for the leader and waits until it is written.
func (w *Writer) follow(p []byte) (int, error) {
	wt := waiters.Get().(*waiter)
	wt.p = p
	q := &w.queue
	q.mu.Lock()
	q.ws = append(q.ws, wt)
	q.n.Store(int32(len(q.ws)))
	q.mu.Unlock()
	// The leader may have checked the queue and let go of wmu just before
	// the record was queued: then wmu is free, and this caller leads.
	if w.wmu.TryLock() {
		w.unlock()
	}
	<-wt.done
	if wt.lead { // handed wmu by the leader: write the queue, this record with it
		wt.lead = false
		w.unlock()
		<-wt.done
	}
	n, err := wt.n, wt.err
	wt.p, wt.err = nil, nil
	waiters.Put(wt)
	return n, err
}

// unlock writes what is queued and lets go of wmu, or hands it to a queued
// caller. Every holder of wmu lets go of it through unlock, so that no queued
// record is left without a leader.
func (w *Writer) unlock() {
	q := &w.queue
	for written := false; ; {
		if q.n.Load() == 0 {
			w.wmu.Unlock()
			// A caller that queued after the check and failed to take
			// wmu before the Unlock waits for someone: lead again.
			if q.n.Load() == 0 || !w.wmu.TryLock() {
				return
			}
			continue
		}
		if written { // this holder has written a batch: pass the lead on
			q.mu.Lock()
			first := q.ws[0]
			q.mu.Unlock()
			first.lead = true
			first.done <- struct{}{}
			return
		}
		ws := q.take()
		w.writeBatch(ws)
		for _, wt := range ws {
			wt.done <- struct{}{}
		}
		q.recycle(ws)
		written = true
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
		w.count(ok, okBytes, len(chunk)-ok)
	}
}
