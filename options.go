package watchedfile

import (
	"io/fs"
	"time"
)

// An Option changes how [Open] sets up a [Writer].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is what the options set; the zero value is never used, see defaultConfig.
type config struct {
	forcePolling  bool
	pollInterval  time.Duration // WithPolling's; 0: checkInterval
	checkInterval time.Duration
	createDelay   time.Duration
	retryMin      time.Duration
	retryMax      time.Duration
	mode          fs.FileMode
	mkdirAll      bool
	dirMode       fs.FileMode
	onError       func(error)
	ownWrites     bool          // WithoutGroupCommit
	bufSize       int           // 0: unbuffered
	flushInterval time.Duration // with bufSize
	rotation      *Rotation     // nil: the Writer never rotates
	clock         func() time.Time
	sharedDir     bool // WithSharedDir
}

// trust is whose files the Writer takes for its own (see safety.go).
func (c *config) trust() trust {
	t := trust{euid: euid(), shared: c.sharedDir}
	t.owner = t.euid
	if c.rotation != nil && c.rotation.UID != 0 {
		t.owner = uint32(c.rotation.UID)
	}
	return t
}

func defaultConfig() config {
	return config{
		clock:         time.Now,
		checkInterval: time.Second,
		createDelay:   time.Second,
		retryMin:      5 * time.Millisecond,
		retryMax:      time.Second,
		mode:          0o644,
	}
}

// interval is how often the goroutine looks at the path unasked.
func (c *config) interval() time.Duration {
	if c.forcePolling && c.pollInterval > 0 {
		return c.pollInterval
	}
	return c.checkInterval
}

// WithPolling makes the Writer find rotations by checking the path every
// interval from a background goroutine, instead of through inotify. It is the
// default on systems other than Linux; on Linux, use it to force polling.
// A non-positive interval means the one set with [WithCheckInterval] (1s by
// default). The order of the two options does not matter.
func WithPolling(interval time.Duration) Option {
	return optionFunc(func(c *config) {
		c.forcePolling = true
		if interval > 0 {
			c.pollInterval = interval
		}
	})
}

// WithCheckInterval sets how often the background goroutine stats the path
// even when inotify reports changes, to catch what inotify cannot see (a
// grandparent directory renamed, a change made on another NFS client). It is
// also the polling interval when the Writer falls back to polling, or polls
// by [WithPolling] without an interval of its own.
// Defaults to 1s. A non-positive interval leaves the default.
func WithCheckInterval(interval time.Duration) Option {
	return optionFunc(func(c *config) {
		if interval > 0 {
			c.checkInterval = interval
		}
	})
}

// WithCreateDelay sets how long the Writer waits, after its file was renamed
// away, for another program to create a new file at the path before creating
// it itself. logrotate's create mode renames the log and creates the new one
// right after; a writer that created it first would make logrotate move its
// file aside as "*.backup" and fail. Records written meanwhile go to the
// renamed file. A deleted file is replaced at once, without this delay.
// Defaults to 1s; zero creates at once.
func WithCreateDelay(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d >= 0 {
			c.createDelay = d
		}
	})
}

// WithRetry sets how a failed reopen is retried: first after min, then after
// twice as long each time, up to max. Changes seen by inotify retry at once.
// Defaults to 5ms and 1s. Non-positive values leave the defaults.
func WithRetry(min, max time.Duration) Option {
	return optionFunc(func(c *config) {
		if min > 0 {
			c.retryMin = min
		}
		if max > 0 {
			c.retryMax = max
		}
		if c.retryMax < c.retryMin {
			c.retryMax = c.retryMin
		}
	})
}

// WithMode sets the permission bits of a log file the Writer creates, before
// the process umask is applied (as with [os.OpenFile]). It does not change
// existing files. Defaults to 0644.
func WithMode(mode fs.FileMode) Option {
	return optionFunc(func(c *config) { c.mode = mode.Perm() })
}

// WithMkdirAll makes the Writer create missing parent directories of the path
// with the given permission bits (before umask), when it opens or reopens the
// file. Without it, a missing directory is an error: [Open] fails, and a
// reopen is retried until the directory exists again.
func WithMkdirAll(mode fs.FileMode) Option {
	return optionFunc(func(c *config) {
		c.mkdirAll = true
		c.dirMode = mode.Perm()
	})
}

// WithBuffer makes Write copy records into a buffer of size bytes and write
// the buffer with one write(2) when the next record would not fit, every
// flushInterval, on [Writer.Sync] and on [Writer.Close]. A record larger
// than the buffer is written directly, after what is buffered. The buffer is
// allocated once, by [Open]: memory stays bounded and a buffered Write
// allocates nothing. Defaults: off; a size ≤ 0 means 256 KiB, a
// flushInterval ≤ 0 means 1s.
//
// The trade is durability for fewer system calls: a Write that returns nil
// means the record is buffered, not written, and records still in the buffer
// are lost if the process dies. Call Sync where a record must be on disk.
//
// Records are buffered whole and go to the file that is current when they
// are flushed: records written before a rotation and flushed after it land
// in the new file. A flush that fails (a full disk, an I/O error) keeps
// every byte the kernel did not take and is retried at the next flush: in
// the buffer if it wrote nothing, else held for the same file, where a
// record may be cut, and written there first, before any switch of files
// (see [Writer.Write]). The Sync or Close that flushed returns the error,
// and so does a Write whose record does not fit in what is left (a Write
// whose record fits takes it and returns nil: the retry will tell); a flush
// on the interval reports it to the function set with [WithErrorHandler];
// all count in [Stats.FlushErrors]. While the buffer is full and cannot be
// flushed, Write returns the error and does not take the record (counted in
// [Stats.WriteErrors]).
func WithBuffer(size int, flushInterval time.Duration) Option {
	return optionFunc(func(c *config) {
		c.bufSize = size
		if size <= 0 {
			c.bufSize = 256 << 10
		}
		c.flushInterval = flushInterval
		if flushInterval <= 0 {
			c.flushInterval = time.Second
		}
	})
}

// WithErrorHandler sets a function that is told of every failure that happens
// in the background, where no caller could see it: a failed reopen (each
// retry), a refused symlink, a failed watch, a failed flush of the buffer on
// its interval (see [WithBuffer]). It is called from a goroutine of its own,
// one call at a time, so a slow handler holds up nothing else, and it may
// call [Writer.Close]. While it is busy, up to 16 failures wait for it;
// further ones are dropped and counted in [Stats.DroppedErrors]. After Close
// it is not called. Errors returned to a caller (from Write, Sync, Reopen,
// Close) are not passed to it. Defaults to none; [Writer.Stats] counts
// failures either way.
func WithErrorHandler(handle func(error)) Option {
	return optionFunc(func(c *config) { c.onError = handle })
}

// WithoutGroupCommit makes each Write wait its turn for the file and make
// its own write(2), as with os.File. By default, Writes share system calls
// when several goroutines write at once (group commit): a Write that finds
// another one writing queues its record, and the writing goroutine writes
// everything queued with one writev(2) before it lets go. Each Write still
// returns only once its own record is in the file, whole, in one file;
// nothing is buffered, and a goroutine alone makes the same one write(2)
// either way. Turn it off to have each record's write(2) made by its own
// goroutine (a trace per caller, say), at the cost of one write(2) per
// record under load (see the figures in docs/benchmark.md).
func WithoutGroupCommit() Option {
	return optionFunc(func(c *config) { c.ownWrites = true })
}

// WithSharedDir lets the Writer use a log directory that group or others
// may write (a sticky /tmp, a group-writable /var/log), which it refuses by
// default with [ErrSharedDir], as logrotate refuses one unless told whom to
// act as. In such a directory the Writer still follows a symlink only if
// root or its own user made it or it leads to its owner's own file, and
// uses an existing file only if it is a regular file of its own user's, the
// rotation's owner's or the directory owner's without another name (see
// docs/guarantees.md, "Security"): it cannot be made to write to, chown,
// create or remove another user's files, but a user who may write the
// directory can still remove or rename the Writer's files there. Defaults
// to off.
func WithSharedDir() Option {
	return optionFunc(func(c *config) { c.sharedDir = true })
}

// withClock makes the Writer's rotation read the time from clock, for
// tests: the schedule and the names of new files. The ages of files
// (MaxAge, CompressDelay, the grace period where no lease can be had) are
// measured against their modification times, on the system's clock.
func withClock(clock func() time.Time) Option {
	return optionFunc(func(c *config) { c.clock = clock })
}
