package watchedfile

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// This file is the Writer's write lock, and group commit inside it.
//
// Who holds it, and for what: a Write, for its write(2) and, after an
// event, the look at the path and the switch (a stat, an open); the
// buffer's flush, for its write(2); the Writer's goroutine, to write the
// held rest of a cut record, to look and switch, and to switch to a file
// the rotation made; Sync, to write the held rest and duplicate the
// descriptor (the fsync comes after); Reopen, to write the held rest, open
// the path and switch; Stats, to publish the counts, writing nothing; and
// Close, to write the held rest and the buffer's last flush, and close the
// file. Only a holder writes to the file, looks at the path, switches files
// or closes one, so no record goes to a file being closed. Nothing that
// waits on another process is done under it but writes and the open of a
// switch (which waits, for a rotated file being compressed, until the
// compressor notices: a megabyte at most): no flock, no fsync, no
// rotation's listing, new file, header or link (writer_rotate.go).
//
// Who releases it: the holder. A Write lets go with lead, everyone else
// with unlock. Without group commit both are a plain Unlock.
//
// Group commit (the default; WithoutGroupCommit turns it off): a Write that
// finds the lock taken does
// not wait for it: it queues its record (follow) and waits for its result,
// yielding its processor a few times before it sleeps. A Write that holds
// the lock leads: before it lets go it writes everything queued meanwhile
// with one writev(2) and gives each caller its own result, again for what
// came in during that write, up to leadBatches times; then it hands the
// lock to a queued caller, who leads in turn. unlock never writes: with
// records queued, it hands the lock over at once, so that Stats, Sync and
// the Writer's goroutine never wait on the file for others' records. A
// caller returns only once its own record is written. A goroutine alone
// finds the lock free and the queue empty: one write(2), nothing allocated.
//
// What Close waits for: the holder, whose write a pipe may hang; Close
// cuts such a write (see Writer.Close) before it takes the lock.

// leadBatches is how many batches a leader writes for others before it hands
// the lock to a queued caller and returns to its own: enough that the
// hand-over, which waits for that caller to be scheduled, is rare.
const leadBatches = 64

// spins is how many times a queued caller yields its processor, checking for
// its result, before it sleeps: a write(2) takes about a microsecond, and a
// sleeping goroutine costs its waker a futex call to wake it.
const spins = 50

// writeLock is the Writer's write lock.
type writeLock struct {
	mu    sync.Mutex
	group bool                  // group commit: false with WithoutGroupCommit
	write func(batch []*waiter) // writes a batch and sets each result; with mu held
	queue queue
}

func (l *writeLock) lock()         { l.mu.Lock() }
func (l *writeLock) tryLock() bool { return l.mu.TryLock() }

// unlock lets go of the lock without writing anything: with records queued,
// the lock goes to one of their callers, who writes them.
func (l *writeLock) unlock() {
	if !l.group {
		l.mu.Unlock()
		return
	}
	l.release(0)
}

// lead is unlock for a holder that has just written: it first writes what
// others queued meanwhile, and reports whether it wrote any.
func (l *writeLock) lead() (wrote bool) {
	if !l.group {
		l.mu.Unlock()
		return false
	}
	return l.release(leadBatches)
}

// release writes up to batches batches of queued records, then lets go of
// the lock, or hands it to a queued caller if records are still queued. It
// reports whether it wrote any.
func (l *writeLock) release(batches int) (wrote bool) {
	for left := batches; ; {
		top := l.queue.top.Load()
		if top == nil {
			l.mu.Unlock()
			// A caller that queued after the look and failed to take
			// the lock before the Unlock waits for someone: take it back.
			if l.queue.top.Load() == nil || !l.mu.TryLock() {
				return left < batches
			}
			continue
		}
		if left == 0 {
			top.wake(leading)
			return left < batches
		}
		ws := l.queue.take()
		l.write(ws)
		for i, wt := range ws {
			ws[i] = nil // the caller reuses it as soon as it is woken
			wt.wake(written)
		}
		left--
	}
}

// follow queues p for the holder of the lock and waits until it is written.
func (l *writeLock) follow(p []byte) (int, error) {
	wt := waiters.Get().(*waiter)
	wt.p = p
	wt.state.Store(queued)
	l.queue.push(wt)
	// The holder may have looked at the queue and let go just before the
	// record was queued: then the lock is free, and this caller leads.
	if l.mu.TryLock() {
		l.release(leadBatches)
	}
	for !wt.wait() { // handed the lock: write the queue, this record with it
		l.release(leadBatches)
	}
	n, err := wt.n, wt.err
	wt.p, wt.err, wt.next = nil, nil, nil
	waiters.Put(wt)
	return n, err
}

// States of a waiter.
const (
	queued  uint32 = iota
	asleep         // the caller sleeps on done
	written        // n and err are set
	leading        // the caller holds the lock, handed over: its record is still queued
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

// wait waits until the record is written (true) or the caller is handed the
// lock (false).
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

// queue holds the records waiting for the holder: a stack that callers push
// onto without a lock, and that the holder takes whole.
type queue struct {
	top   atomic.Pointer[waiter]
	batch []*waiter // the taken records in the order they came; used under the lock
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
// Called with the lock held.
func (q *queue) take() []*waiter {
	q.batch = q.batch[:0]
	for wt := q.top.Swap(nil); wt != nil; wt = wt.next {
		q.batch = append(q.batch, wt)
	}
	slices.Reverse(q.batch)
	return q.batch
}
