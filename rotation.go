package watchedfile

import (
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// Rotation says when a Writer rotates its file by itself (see
// [WithRotation]) and which rotated files it keeps. The zero value rotates
// never and keeps everything, but the Writer still writes to a dated file
// behind the path's symlink (on Unix), as it does with limits.
type Rotation struct {
	// MaxSize rotates the file once it holds MaxSize bytes or more. Each
	// process looks at the file's size once per MaxSize/32 bytes it has
	// written (at most 1 MiB), so with N processes writing the file it
	// can exceed MaxSize by N times that, plus what they write while the
	// next file is made and before they switch to it. 0: no size limit.
	MaxSize int64

	// Every rotates the file at each multiple of Every on the wall clock
	// of Location, counted from midnight plus At: Every = time.Hour
	// rotates on the hour, Every = 24*time.Hour with At = 2*time.Hour
	// daily at 02:00. Periods follow the wall clock across daylight
	// saving changes: the hour repeated when clocks go back is one
	// period, the hour skipped when they go forward is none. Every must
	// divide 24 hours, and At lie in [0, Every); a wall time that clocks
	// skip is reached when they skip it. 0: no time schedule.
	Every time.Duration
	At    time.Duration
	// Location is the time zone of Every and At; nil means time.Local.
	Location *time.Location

	// MaxBackups is how many rotated files are kept, MaxAge how long a
	// rotated file is kept after it was last written, MaxTotalSize how
	// many bytes the rotated files may take together (compressed or
	// not); the oldest go first. 0: no limit.
	MaxBackups   int
	MaxAge       time.Duration
	MaxTotalSize int64

	// Compress compresses each rotated file, with Compressor, or gzip
	// when Compressor is nil, once no process has it open for writing
	// and CompressDelay has passed since it was last written (see the
	// package documentation).
	Compress   bool
	Compressor Compressor
	// CompressDelay is how long a rotated file stays as it is before it
	// is compressed: a log shipper that lags behind by less finds it
	// under its name. A shipper that has the file open goes on reading it
	// after it is compressed and removed. Defaults to one minute; a
	// negative value compresses at once.
	CompressDelay time.Duration

	// UID and GID, when the process may set them (as root), are the owner
	// and group of the files the Writer creates: the logs, compressed
	// copies and lock files. 0 leaves them to the process. Their mode is
	// the one set with [WithMode].
	UID, GID int

	// Header, if set, returns the bytes written at the top of every file
	// the Writer creates (a host name, a pid, a version), before any
	// record. It is called without the Writer's lock, while the file is
	// made: it may write through the same Writer, whose records then go
	// to the file being rotated.
	Header func() []byte

	// OnRotate is told of each rotation this Writer made, OnCompress of
	// each rotated file it compressed. They are called one at a time
	// from a goroutine of the Writer's, never with its lock held: they
	// may call Write. A failure to rotate, compress or remove a file goes
	// to the function set with [WithErrorHandler].
	OnRotate   func(Rotated)
	OnCompress func(Compressed)
}

// Rotated tells of a rotation: the file that was written until then, under
// its final name, and the new one.
type Rotated struct {
	Old, New string
	Time     time.Time
}

// Compressed tells of a rotated file compressed: the file, now removed, and
// its compressed copy.
type Compressed struct {
	Source, Compressed string
}

// A Compressor compresses rotated files (see [Rotation]).
type Compressor interface {
	// Extension is what compressed files' names end with, dot included.
	Extension() string
	// Compress writes the content of src, compressed, to dst.
	Compress(dst io.Writer, src io.Reader) error
}

// Gzip is the Compressor [Rotation] uses unless told otherwise: gzip at the
// default level, ".gz".
var Gzip Compressor = gzipCompressor{}

type gzipCompressor struct{}

func (gzipCompressor) Extension() string { return ".gz" }

func (gzipCompressor) Compress(dst io.Writer, src io.Reader) error {
	zw := gzip.NewWriter(dst)
	if _, err := io.Copy(zw, src); err != nil {
		return err
	}
	return zw.Close()
}

// WithRotation makes the Writer rotate its file by itself, when r says, and
// keep rotated files as r says: see [Rotation] and, in the package
// documentation, how it works and why it is safe for several processes
// writing one path. Defaults to off: a Writer without it never rotates.
func WithRotation(r Rotation) Option {
	return optionFunc(func(c *config) { c.rotation = &r })
}

// stampLayout is how a rotated file's name says when the file was started:
// in UTC, so that names sort in time order across daylight saving changes,
// with milliseconds, and without colons (Windows forbids them).
const stampLayout = "2006-01-02T15-04-05.000Z"

// names makes and reads the names of a path's dated files: for
// /var/log/app.log, /var/log/app-2026-12-05T10-00-00.000Z.log, and the
// compressed ones with the compressor's extension after it.
type names struct {
	dir, live, prefix, ext, zext string
	lock, maint, settings        string // the locks, hidden beside the log (.app.log.lock...)
}

func newNames(path string, r *Rotation) names {
	base := filepath.Base(path)
	ext := filepath.Ext(base)
	if ext == base { // ".log": a hidden file, not an extension
		ext = ""
	}
	n := names{dir: filepath.Dir(path), live: base, prefix: strings.TrimSuffix(base, ext) + "-", ext: ext,
		lock: "." + base + ".lock", maint: "." + base + ".maintenance.lock", settings: "." + base + ".settings.lock"}
	if r.Compress {
		n.zext = r.compressor().Extension()
	}
	return n
}

// dated returns the name of the file started at t.
func (n names) dated(t time.Time) string {
	return n.prefix + t.UTC().Format(stampLayout) + n.ext
}

// parse returns the start of the dated file called name, and whether name
// is one of them and compressed. ok is false for any other name.
func (n names) parse(name string) (t time.Time, compressed, ok bool) {
	rest, found := strings.CutPrefix(name, n.prefix)
	if !found || len(rest) < len(stampLayout) {
		return time.Time{}, false, false
	}
	switch tail := rest[len(stampLayout):]; {
	case tail == n.ext:
	case n.zext != "" && tail == n.ext+n.zext:
		compressed = true
	default:
		return time.Time{}, false, false
	}
	t, err := time.Parse(stampLayout, rest[:len(stampLayout)])
	return t, compressed, err == nil
}

func (r *Rotation) compressor() Compressor {
	if r.Compressor != nil {
		return r.Compressor
	}
	return Gzip
}

// validate reports what in r cannot be done.
func (r *Rotation) validate() error {
	switch {
	case r.MaxSize < 0 || r.MaxBackups < 0 || r.MaxAge < 0 || r.MaxTotalSize < 0:
		return fmt.Errorf("rotation: negative limit: %w", fs.ErrInvalid)
	case r.Every < 0 || (r.Every > 0 && (24*time.Hour)%r.Every != 0):
		return fmt.Errorf("rotation: Every %v does not divide 24h: %w", r.Every, fs.ErrInvalid)
	case r.At < 0 || (r.Every > 0 && r.At >= r.Every) || (r.Every == 0 && r.At != 0):
		return fmt.Errorf("rotation: At %v is not in [0, Every %v): %w", r.At, r.Every, fs.ErrInvalid)
	}
	return nil
}

// slice is how many bytes a process writes between two looks at the file's
// size.
func (r *Rotation) slice() uint64 {
	return uint64(min(max(r.MaxSize/32, 1), 1<<20))
}

// compressDelay is CompressDelay, its default filled in.
func (r *Rotation) compressDelay() time.Duration {
	switch {
	case r.CompressDelay == 0:
		return time.Minute
	case r.CompressDelay < 0:
		return 0
	}
	return r.CompressDelay
}

func (r *Rotation) location() *time.Location {
	if r.Location != nil {
		return r.Location
	}
	return time.Local
}

// periodStart returns the boundary of the schedule at or before t: the
// start of t's period.
func (r *Rotation) periodStart(t time.Time) time.Time {
	lt := t.In(r.location())
	y, m, d := lt.Date()
	wall := time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute +
		time.Duration(lt.Second())*time.Second + time.Duration(lt.Nanosecond())
	k := (wall - r.At) / r.Every
	if wall < r.At {
		k = -1 // the last period of the day before
	}
	for ; ; k-- {
		if b := r.boundary(y, m, d, k); !b.After(t) {
			return b
		}
	}
}

// nextBoundary returns the first boundary of the schedule after t.
func (r *Rotation) nextBoundary(t time.Time) time.Time {
	lt := t.In(r.location())
	y, m, d := lt.Date()
	for k := time.Duration(0); ; k++ {
		if b := r.boundary(y, m, d, k); b.After(t) {
			return b
		}
	}
}

// boundary returns the k-th boundary of the local day y-m-d (k may run over
// into the days around it): when the wall clock reaches midnight + At +
// k*Every. time.Date normalizes on the wall clock; a wall time that does
// not exist (clocks skip it) is reached when the clocks skip.
func (r *Rotation) boundary(y int, m time.Month, d int, k time.Duration) time.Time {
	off := r.At + k*r.Every
	sec, nsec := int(off/time.Second), int(off%time.Second)
	b := time.Date(y, m, d, 0, 0, sec, nsec, r.location())
	want := time.Date(y, m, d, 0, 0, sec, nsec, time.UTC) // on a clock that skips nothing
	got := time.Date(b.Year(), b.Month(), b.Day(), b.Hour(), b.Minute(), b.Second(), b.Nanosecond(), time.UTC)
	switch start, end := b.ZoneBounds(); {
	case got.Before(want):
		return end
	case got.After(want):
		return start
	}
	return b
}
