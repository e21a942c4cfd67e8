package watchedfile

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the Writer's own rotation (WithRotation): when to rotate,
// and making the next file. The rotator knows nothing of the Writer: the
// Writer asks it (writer_rotate.go) and switches to the file it returns.
//
// Several processes may write one path, each with its own Writer. Each
// counts the bytes it writes and, once per slice of them, has its goroutine
// look at the file's size; at a boundary of the schedule the goroutine
// looks at the clock. Whoever finds the file due takes the rotation lock, a
// flock(2) on a file beside the log, without waiting for it (a process
// holding it is rotating, and the others will follow), checks that no other
// process rotated meanwhile (the path still names the file it writes; the
// newest dated file is older than the period), and makes the new file: a
// new dated file, header first, and the path, a symlink, pointed at it (see
// rollover). The others hear of the new link through their directory watch
// and switch at their next record, as after any rotation. Rotated files
// keep their names for good; the maintenance goroutine (maintain.go)
// compresses and removes them. Which files it takes as its own: safety.go.

// rotator is a Writer's own rotation.
type rotator struct {
	Rotation
	path        string
	names       names
	lockPath    string  // the rotation lock
	maintPath   string  // the maintenance lock
	membersPath string  // the settings every Writer of the path shares (members.go)
	files       openHow // how it makes its files: its own, with their owner (safety.go)
	locks       openHow // and its lock files
	now         func() time.Time
	quiet       quietReporter // the rotation's failures, to the Writer's error handler
	members     *os.File      // the settings file, held with a shared lock while the Writer is open

	// One rotation or creation at a time in this process (a Write, the
	// Writer's goroutine, Reopen); it guards the schedule's state.
	making  sync.Mutex
	due     time.Time    // when the schedule looks next
	missed  int          // boundaries in a row at which another process held the lock
	stalled bool         // ErrRotationStalled was reported; cleared by the next rotation
	created time.Time    // when this Writer created the live file, in rename mode
	nextDue atomic.Int64 // due, in Unix nanoseconds, for the goroutine's timer without making

	maintenance maintenance // the maintenance goroutine (maintain.go)
	stopped     atomic.Bool // Close has begun: no rotation begins
	inHeader    atomic.Bool // a rotation calls Header, which may write through the Writer
}

// stop stops the rotation: none begins from now on (one under way, a
// Write's, finishes, and switches nothing: see Writer.switchToRotated), and
// the maintenance goroutine returns.
func (r *rotator) stop() {
	r.stopped.Store(true)
	r.stopMaintenance()
}

// ErrRotationStalled is reported, wrapped, to the function set with
// [WithErrorHandler] when the rotation is overdue because another process
// holds its lock: the file holds twice MaxSize, or two boundaries of the
// schedule passed. It is reported once until the next rotation.
var ErrRotationStalled = errors.New("watchedfile: rotation held up: another process holds its lock")

// newRotator makes the rotation r of path; report is the Writer's error
// handler.
func newRotator(path string, r *Rotation, cfg *config, report func(error)) (*rotator, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	files := openHow{perm: cfg.mode, uid: r.UID, gid: r.GID, noLink: true, trust: cfg.trust()}
	locks := files
	locks.perm = lockPerm(cfg.mode)
	rt := &rotator{
		Rotation: *r,
		path:     path,
		names:    newNames(path, r),
		files:    files,
		locks:    locks,
		now:      cfg.clock,
		quiet:    quietReporter{pass: report},
	}
	rt.maintenance.init(report)
	if r.Every > 0 {
		rt.due = rt.now() // the first look: a period may have ended while no process ran
		rt.nextDue.Store(rt.due.UnixNano())
	}
	return rt, nil
}

// sizeLookEvery is how many bytes a process writes between two looks at
// the file's size, or 0 if it never looks.
func (r *rotator) sizeLookEvery() uint64 {
	if r.MaxSize == 0 {
		return 0
	}
	return uint64(min(max(r.MaxSize/32, 1), 1<<20))
}

// rotateHow says why the rotator is asked: to look at the size, at the
// schedule, or both; and whether to wait for a rotation of this process's
// under way, else give up at once. It never waits while that rotation calls
// Header, which may be writing through the Writer, this very Write.
type rotateHow struct {
	bySize, bySchedule, wait bool
}

// rotate makes the next file if the one the Writer writes, cur, is due: it
// holds MaxSize, or a boundary of the schedule has passed since it was
// started; and gives it to use, before another rotation of this process's
// can begin. It makes none if another process made one (the Writer then
// switches as after any rotation). ran is false if it gave up for a
// rotation under way. It reports its own failures. Called without the
// write lock.
func (r *rotator) rotate(cur fs.FileInfo, how rotateHow, use func(*os.File, fs.FileInfo)) (ran bool) {
	if how.wait && !r.inHeader.Load() {
		r.making.Lock()
	} else if !r.making.TryLock() {
		return false
	}
	defer r.making.Unlock()
	if r.stopped.Load() {
		return true
	}
	now := r.now()
	bySchedule := how.bySchedule && r.Every > 0 && !now.Before(r.due)
	bySize, size := false, int64(0)
	if how.bySize {
		fi, err := os.Stat(r.path)
		if err == nil && os.SameFile(fi, cur) && fi.Size() >= r.MaxSize {
			bySize, size = true, fi.Size()
		}
	}
	if !bySize && !bySchedule {
		return true
	}
	busy := r.rotateLocked(now, bySize, cur, use)
	switch {
	case busy && bySize && size >= 2*r.MaxSize:
		r.stall(fmt.Sprintf("the file holds %d bytes, MaxSize %d", size, r.MaxSize))
	case busy && bySchedule:
		if r.missed++; r.missed >= 2 {
			r.stall(fmt.Sprintf("%d boundaries of the schedule passed", r.missed))
		}
	case bySchedule:
		r.missed = 0
	}
	if bySchedule {
		r.due = r.nextBoundary(now)
		r.nextDue.Store(r.due.UnixNano())
	}
	return true
}

// scheduleDue reports whether a boundary of the schedule has passed since
// it last looked, without waiting for a rotation under way.
func (r *rotator) scheduleDue() bool {
	return r.Every > 0 && !r.now().Before(r.nextLook())
}

// nextLook is when the schedule wants a look next, on the rotator's clock,
// or the zero time without a schedule. It does not wait for a rotation
// under way.
func (r *rotator) nextLook() time.Time {
	if r.Every == 0 {
		return time.Time{}
	}
	return time.Unix(0, r.nextDue.Load())
}

// stall reports, once until the next rotation, that a rotation is overdue
// because another process holds the lock.
func (r *rotator) stall(why string) {
	if !r.stalled {
		r.stalled = true
		r.quiet.report(fmt.Errorf("%w (%s): rotate %s", ErrRotationStalled, why, r.path))
	}
}

// rotateLocked is rotate's work once the file is found due: in the log's
// directory, held open, under the rotation lock, if it is still needed; the
// new file goes to use before the lock is let go of, so that no other
// process can rotate again before this Writer has switched. busy reports
// that another process held the lock. Called with making held.
func (r *rotator) rotateLocked(now time.Time, bySize bool, cur fs.FileInfo, use func(*os.File, fs.FileInfo)) (busy bool) {
	fail := func(err error) bool {
		r.quiet.report(fmt.Errorf("watchedfile: rotate %s: %w", r.path, err))
		return false
	}
	d, err := openLogDir(r.names.dir, openHow{trust: r.files.trust})
	if err != nil {
		return fail(err)
	}
	defer d.close()
	unlock, err := d.lock(r.names.lock, r.locks, lockHow{})
	if err != nil {
		if errors.Is(err, errLockBusy) {
			return true // another process rotates: the switch follows
		}
		return fail(err)
	}
	defer unlock()
	if fi, err := os.Stat(r.path); err == nil && !os.SameFile(fi, cur) {
		return false // rotated by another process: the Writer switches to it
	}
	newest, err := r.newest(d)
	if err != nil {
		return fail(err)
	}
	if started := r.liveStart(cur); started.After(newest) {
		newest = started
	}
	if !bySize && !newest.Before(r.periodStart(now)) {
		return false // the period's file exists
	}
	f, info, old, name, err := r.rollover(d, stampAfter(now, newest))
	if err != nil {
		return fail(err)
	}
	r.quiet.clear()
	r.stalled = false
	use(f, info)
	r.maintenance.rotated(r, Rotated{Old: old, New: filepath.Join(r.names.dir, name), Time: now})
	return false
}

// create makes the path's first file, or a new one when the path names
// none: a dated file and the link to it, and gives it to use, if set,
// before the rotation lock is let go of. With wait (at Open) it waits for
// the rotation lock, a while (lockWait); without, it fails with
// errLockBusy while another process holds it, or a rotation of this
// process's is under way. openExisting opens the path without creating:
// another process may have made it meanwhile. Called without the write
// lock.
func (r *rotator) create(wait bool, openExisting func(create bool) (*os.File, fs.FileInfo, error), use func(*os.File, fs.FileInfo)) (f *os.File, info fs.FileInfo, err error) {
	if wait {
		r.making.Lock()
	} else if !r.making.TryLock() {
		return nil, nil, errLockBusy // a rotation of this process's is under way
	}
	defer r.making.Unlock()
	d, err := openLogDir(r.names.dir, openHow{trust: r.files.trust})
	if err != nil {
		return nil, nil, err
	}
	defer d.close()
	unlock, err := d.lock(r.names.lock, r.locks, lockHow{wait: wait})
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	if f, info, err := openExisting(false); !errors.Is(err, fs.ErrNotExist) {
		if err == nil && use != nil {
			use(f, info)
		}
		return f, info, err
	}
	newest, err := r.newest(d)
	if err != nil {
		return nil, nil, err
	}
	now := r.now()
	f, info, old, name, err := r.rollover(d, stampAfter(now, newest))
	if err != nil {
		return nil, nil, err
	}
	if use != nil {
		use(f, info)
	}
	if old != "" {
		r.maintenance.rotated(r, Rotated{Old: old, New: filepath.Join(r.names.dir, name), Time: now})
	}
	return f, info, nil
}

// stampAfter returns now, to the millisecond, or if that is not after
// newest (two rotations in one millisecond, a clock set back), newest plus
// a millisecond: names stay unique and in order.
func stampAfter(now, newest time.Time) time.Time {
	t := now.Truncate(time.Millisecond)
	if !t.After(newest) {
		t = newest.Add(time.Millisecond)
	}
	return t
}

// createFile creates the file name in d, which must not exist, as the
// rotation's own (safety.go: O_EXCL, its owner), with the header: under a
// temporary name, synced, then given its name if nothing has it meanwhile,
// so that no file is seen with half a header. Header is called here,
// without the Writer's lock: it may write through the Writer, to the file
// being rotated. Called with the rotation lock held, which also makes a
// temporary file left by a process killed here stale.
func (r *rotator) createFile(d *logDir, name string) (*os.File, fs.FileInfo, error) {
	at := name
	if r.Header != nil {
		at = "." + name + newSuffix
		r.removeStale(d, newSuffix)
	}
	how := r.files
	how.flag = os.O_WRONLY | os.O_APPEND | os.O_CREATE | os.O_EXCL
	f, err := d.open(at, how)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*os.File, fs.FileInfo, error) {
		f.Close()
		d.remove(at, 0)
		return nil, nil, err
	}
	if r.Header != nil {
		r.inHeader.Store(true)
		header := r.Header()
		r.inHeader.Store(false)
		if _, err := f.Write(header); err != nil {
			return fail(err)
		}
		if err := f.Sync(); err != nil {
			return fail(err)
		}
		if err := d.renameNoReplace(at, name); err != nil {
			return fail(err)
		}
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		d.remove(name, 0)
		return nil, nil, err
	}
	return f, info, nil
}

// clockSlack is how far ahead of the clock a dated file may be named and
// still count as the newest: names run ahead by a millisecond for each
// rotation within one (see stampAfter). A file named further ahead (a clock
// that was set back, a name another user chose) would hold back the
// schedule and every later name until its date.
const clockSlack = time.Minute

// newest returns the start of the newest dated file of the rotation's own
// in d, or the zero time. The file the link names counts even if it was
// removed: its name was given, and a new file must not take it (a shipper
// would take the new file for the old one), though the clock may still be
// in the millisecond it says.
func (r *rotator) newest(d *logDir) (time.Time, error) {
	files, _, err := r.list(d)
	if err != nil {
		return time.Time{}, err
	}
	names := make([]string, 0, len(files)+1)
	for _, f := range files {
		names = append(names, f.name)
	}
	if target, err := d.readlink(r.names.live); err == nil {
		names = append(names, filepath.Base(target))
	}
	limit := r.now().Add(clockSlack)
	var newest time.Time
	for _, name := range names {
		if t, _, ok := r.names.parse(name); ok && t.After(newest) && !t.After(limit) {
			newest = t
		}
	}
	return newest, nil
}

// A datedFile is a file of the path's, rotated or live.
type datedFile struct {
	entry
	start      time.Time
	compressed bool
	made       bool // by a Writer of the path (see trust.made)
}

// list returns the path's dated files of the rotation's own in d
// (safety.go), oldest first (a file before its compressed copy), and the
// names of the entries named like them that are not.
func (r *rotator) list(d *logDir) (files []datedFile, foreign []string, err error) {
	names, err := d.names()
	if err != nil {
		return nil, nil, err
	}
	for _, name := range names {
		t, compressed, ok := r.names.parse(name)
		if !ok {
			continue
		}
		e, err := d.lstat(name)
		if err != nil {
			continue // removed meanwhile
		}
		if !d.ours(e, 0) {
			foreign = append(foreign, name)
			continue
		}
		files = append(files, datedFile{e, t, compressed, d.made(e)})
	}
	slices.SortFunc(files, func(a, b datedFile) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return cmp.Compare(b2i(a.compressed), b2i(b.compressed)) // a file before its compressed copy
	})
	return files, foreign, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
