package watchedfile

import (
	"sync"
	"sync/atomic"
	"time"
)

// Backend names how a Writer notices rotations.
type Backend string

const (
	// BackendInotify is Linux inotify: changes are seen within milliseconds.
	BackendInotify Backend = "inotify"
	// BackendPolling is a background stat of the path once per interval.
	BackendPolling Backend = "polling"
)

// Stats is a snapshot of a Writer's counters, from [Writer.Stats].
type Stats struct {
	// Backend is how this Writer notices rotations.
	Backend Backend
	// FallbackReason says why the Writer polls although inotify was
	// wanted (for example the inotify instance limit, or an NFS file
	// system); empty when it uses inotify or polling was asked for.
	FallbackReason string
	// Records and Bytes count what Write wrote successfully or, with
	// [WithBuffer], took into the buffer.
	Records uint64
	Bytes   uint64
	// WriteErrors counts Write calls that returned an error.
	WriteErrors uint64
	// FlushErrors counts failed writes of the buffer (see [WithBuffer]),
	// whether Write, Sync, Close or the interval flushed it.
	FlushErrors uint64
	// Buffered is the bytes taken by Write and not yet in the file: in
	// the buffer (see [WithBuffer]), and the held rest of a record a
	// failed write cut short (see [Writer.Write]).
	Buffered int
	// Reopens counts switches to a new file at the path, whether found in
	// the background or asked for through [Writer.Reopen].
	Reopens uint64
	// FailedReopens counts attempts to open the path that failed; each is
	// retried.
	FailedReopens uint64
	// ReopenPending is true from the moment the Writer finds the path
	// naming another file than the one it writes, or none, until it has
	// switched: while it waits out [WithCreateDelay] for another program
	// to create the file, while a reopen fails and is retried, and while
	// the held rest of a cut record must go to the old file first.
	ReopenPending bool
	// LastError is the latest failure to reopen or watch the path, in
	// the background or in Reopen; nil once the Writer is on the file at
	// the path again.
	LastError error
	// DroppedErrors counts failures not passed to the [WithErrorHandler]
	// function because it was busy with earlier ones.
	DroppedErrors uint64
}

// Stats returns a snapshot of the Writer's counters and state. It never
// writes and never waits on the file: while a write(2) hangs (a FIFO nobody
// reads), it waits at most 20ms for the writer to publish the counts, then
// answers with those published last.
func (w *Writer) Stats() Stats {
	records, bytes, failed := w.tallied()
	m := &w.stats
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{
		Backend:        m.backend,
		FallbackReason: m.fallbackReason,
		Records:        records + m.taken.records.Load(),
		Bytes:          bytes + m.taken.bytes.Load(),
		WriteErrors:    failed + m.taken.failed.Load(),
		FlushErrors:    m.flushErrors.Load(),
		Buffered:       w.buffered(),
		Reopens:        m.reopens.Load(),
		FailedReopens:  m.failedReopens.Load(),
		ReopenPending:  w.follow.pending.Load(),
		LastError:      m.lastErr,
		DroppedErrors:  m.droppedErrors.Load(),
	}
}

// metrics is what Stats reports, kept where each part is cheapest to keep:
// the counts of the file's writes by the holder of the write lock (tally),
// the records the buffer took with atomics (taken), the rare events with
// atomics, and what changes seldom under mu.
type metrics struct {
	tally tally
	taken struct{ records, bytes, failed atomic.Uint64 } // by the buffer (WithBuffer)

	flushErrors   atomic.Uint64
	reopens       atomic.Uint64
	failedReopens atomic.Uint64
	droppedErrors atomic.Uint64

	mu             sync.Mutex // guards what follows; the goroutine sets it without the write lock
	backend        Backend
	fallbackReason string
	lastErr        error
}

func (m *metrics) setBackend(b Backend, reason error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.backend = b
	m.fallbackReason = ""
	if reason != nil {
		m.fallbackReason = reason.Error()
	}
}

func (m *metrics) setErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastErr = err
}

// tally counts what the file's writes did. Atomic counters cost a Write
// twice what the rest of the Writer does, so these are plain fields, kept
// by the holder of the write lock, and published for Stats when it asks
// (flagStats).
type tally struct {
	records, bytes, failed uint64

	seq                             atomic.Uint64 // publications so far
	pubRecords, pubBytes, pubFailed atomic.Uint64
}

// count adds what one write(2) did: the records it wrote, whatever their
// number, and the Writes it failed. Called with the lock held.
func (t *tally) count(records, bytes, failed int) {
	t.records += uint64(records)
	t.bytes += uint64(bytes)
	t.failed += uint64(failed)
}

// publish makes the counts visible to Stats. Called with the lock held.
func (t *tally) publish() {
	t.pubRecords.Store(t.records)
	t.pubBytes.Store(t.bytes)
	t.pubFailed.Store(t.failed)
	t.seq.Add(1)
}

// statsWait bounds how long Stats waits for a write under way to publish
// the counts; past it, Stats answers with the last ones published.
const statsWait = 20 * time.Millisecond

// tallied returns the counts of the file's writes: at once if the lock is
// free, else as published by its holder, who finds flagStats set before its
// next write. A holder that hangs in write(2) does not hold Stats up for
// long, and Stats, holding the lock, writes nothing (see writeLock.unlock).
func (w *Writer) tallied() (records, bytes, failed uint64) {
	t := &w.stats.tally
	if w.lockOrPublished() {
		t.publish()
		w.lock.unlock()
	}
	return t.pubRecords.Load(), t.pubBytes.Load(), t.pubFailed.Load()
}

// lockOrPublished takes the lock (true) unless its holder publishes the
// counts first or statsWait runs out (false).
func (w *Writer) lockOrPublished() bool {
	if w.lock.tryLock() {
		return true
	}
	seq := w.stats.tally.seq.Load()
	w.flags.Or(flagStats)
	for deadline := time.Now().Add(statsWait); time.Now().Before(deadline); time.Sleep(20 * time.Microsecond) {
		if w.lock.tryLock() {
			return true
		}
		if w.stats.tally.seq.Load() != seq {
			return false
		}
	}
	return false
}
