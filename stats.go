package watchedfile

import "sync/atomic"

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
	// Buffered is the bytes waiting in the buffer; 0 without [WithBuffer].
	Buffered int
	// Reopens counts switches to a new file at the path, whether found in
	// the background or asked for through [Writer.Reopen].
	Reopens uint64
	// FailedReopens counts attempts to open the path that failed; each is
	// retried.
	FailedReopens uint64
	// ReopenPending is true while the path names another file than the
	// one being written and the switch has not yet succeeded.
	ReopenPending bool
	// LastError is the latest failure to reopen or watch the path, in
	// the background or in Reopen; nil once the Writer is on the file at
	// the path again.
	LastError error
	// DroppedErrors counts failures not passed to the [WithErrorHandler]
	// function because it was busy with earlier ones.
	DroppedErrors uint64
}

// counters are what Stats reads without a lock.
type counters struct {
	records       atomic.Uint64
	bytes         atomic.Uint64
	writeErrors   atomic.Uint64
	flushErrors   atomic.Uint64
	reopens       atomic.Uint64
	failedReopens atomic.Uint64
	droppedErrors atomic.Uint64
	pending       atomic.Bool
}

// count adds the records and bytes written and the failed writes: once per
// write(2), whatever the number of records it carried.
func (c *counters) count(records, bytes, failed int) {
	if records > 0 {
		c.records.Add(uint64(records))
		c.bytes.Add(uint64(bytes))
	}
	if failed > 0 {
		c.writeErrors.Add(uint64(failed))
	}
}
