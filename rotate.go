package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// This file is the Writer's own rotation (WithRotation): when to rotate,
// and the rotation itself.
//
// Several processes may write one path, each with its own Writer. Each
// counts the bytes it writes and looks at the file's size once per slice of
// them (rotateIfFull); at a boundary of the schedule its goroutine looks at
// the clock (rotateIfDue). Whoever finds the file due takes the rotation
// lock, a flock(2) on a file beside the log, without waiting for it (a
// process holding it is rotating, and the others will follow), checks
// that no other process rotated meanwhile (the path still names the file
// it writes; the newest dated file is older than the period), and makes
// the new file: a new dated file, header first, and the path, a symlink,
// pointed at it (see rollover). The others hear of the new link through
// their directory watch and switch at their next record, as after any
// rotation. Rotated files keep their names for good; the maintenance
// goroutine (maintain.go) compresses and removes them.

// rotator is a Writer's own rotation. Its fields past the config are
// guarded by the write lock, but for the maintenance goroutine's.
type rotator struct {
	Rotation
	names       names
	lockPath    string   // the rotation lock
	maintPath   string   // the maintenance lock
	membersPath string   // the settings every Writer of the path holds (see members.go)
	files       openHow  // how it makes its files: its own, with their owner (see safety.go)
	locks       openHow  // and its lock files
	members     *os.File // the settings file, held with a shared lock while the Writer is open (see members.go)
	due         time.Time
	missed      int              // schedule boundaries in a row at which another process held the rotation lock
	stalled     bool             // ErrRotationStalled was reported; cleared by the next rotation
	created     time.Time        // when this Writer created the live file, in rename mode
	now         func() time.Time // time.Now, but in tests
	quiet       quietReporter    // the rotation's failures

	// The maintenance goroutine: see maintain.go.
	kick       chan struct{}
	done       chan struct{}
	exited     chan struct{}
	mu         sync.Mutex
	told       []Rotated     // rotations OnRotate has not been told of yet
	maintQuiet quietReporter // the maintenance's failures
}

// ErrRotationStalled is reported, wrapped, to the function set with
// [WithErrorHandler] when the rotation is overdue because another process
// holds its lock: the file holds twice MaxSize, or two boundaries of the
// schedule passed. It is reported once until the next rotation.
var ErrRotationStalled = errors.New("watchedfile: rotation held up: another process holds its lock")

func newRotator(path string, r *Rotation, cfg *config) (*rotator, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	dir, base := filepath.Split(path)
	files := openHow{perm: cfg.mode, uid: r.UID, gid: r.GID, noLink: true, trust: cfg.trust()}
	locks := files
	locks.perm = lockPerm(cfg.mode)
	rt := &rotator{
		Rotation:    *r,
		names:       newNames(path, r),
		lockPath:    filepath.Join(dir, "."+base+".lock"),
		maintPath:   filepath.Join(dir, "."+base+".maintenance.lock"),
		membersPath: filepath.Join(dir, "."+base+".settings.lock"),
		files:       files,
		locks:       locks,
		now:         cfg.clock,
		kick:        make(chan struct{}, 1),
		done:        make(chan struct{}),
		exited:      make(chan struct{}),
	}
	if r.Every > 0 {
		rt.due = rt.now() // the goroutine's first look: a period may have ended while no process ran
	}
	return rt, nil
}

// noLook is checkAt when the Writer never looks at the file's size.
const noLook = ^uint64(0)

// rotateIfFull is called when this process has written a slice of bytes
// since it last looked: it rotates the file if it has reached MaxSize.
// Called with the write lock held.
func (w *Writer) rotateIfFull() {
	r := w.rot
	w.out.checkAt = w.tally.bytes + r.slice()
	fi, err := w.out.f.Stat()
	if err != nil || fi.Size() < r.MaxSize {
		return
	}
	if w.rotate(r.now(), true) && fi.Size() >= 2*r.MaxSize {
		w.rotationStalled(fmt.Sprintf("the file holds %d bytes, MaxSize %d", fi.Size(), r.MaxSize))
	}
}

// rotateIfDue rotates the file if a boundary of the schedule has passed
// since it was started, and sets when to look next. Called by the goroutine
// with the write lock held.
func (w *Writer) rotateIfDue(now time.Time) {
	r := w.rot
	if r.Every == 0 || now.Before(r.due) {
		return
	}
	if w.rotate(now, false) {
		if r.missed++; r.missed >= 2 {
			w.rotationStalled(fmt.Sprintf("%d boundaries of the schedule passed", r.missed))
		}
	} else {
		r.missed = 0
	}
	r.due = r.nextBoundary(now)
}

// rotationStalled reports, once until the next rotation, that a rotation
// is overdue because another process holds the lock.
func (w *Writer) rotationStalled(why string) {
	if w.rot.stalled {
		return
	}
	w.rot.stalled = true
	w.report(fmt.Errorf("%w (%s): rotate %s", ErrRotationStalled, why, w.path))
}

// lookAtSize sets when the Writer looks at the size of a file it switched
// to: at the next write, since another process may have filled it.
func (w *Writer) lookAtSize() {
	w.out.checkAt = noLook
	if w.rot != nil && w.rot.MaxSize > 0 {
		w.out.checkAt = w.tally.bytes
	}
}

// rotate rotates the file, if it still needs it once this process holds the
// rotation lock: another process may have rotated it just before. bySize
// says why it was found due: its size, else the schedule. busy reports that
// another process held the lock. Called with the write lock held.
func (w *Writer) rotate(now time.Time, bySize bool) (busy bool) {
	r := w.rot
	unlock, err := lockFile(r.lockPath, r.locks, false)
	if err != nil {
		if errors.Is(err, errLockBusy) {
			return true // another process rotates: the switch follows
		}
		r.quiet.report(w, fmt.Errorf("watchedfile: rotate %s: %w", w.path, err))
		return false
	}
	defer unlock()
	if fi, err := os.Stat(w.path); err == nil && !os.SameFile(fi, w.out.info) {
		w.flags.Or(flagEvent) // rotated by another process: switch at once
		return false
	}
	newest, err := r.newest()
	if err != nil {
		r.quiet.report(w, fmt.Errorf("watchedfile: rotate %s: %w", w.path, err))
		return false
	}
	if started := w.liveStart(); started.After(newest) {
		newest = started
	}
	if !bySize && !newest.Before(r.periodStart(now)) {
		return false // the period's file exists
	}
	f, info, old, name, err := w.rollover(stampAfter(now, newest))
	if err != nil {
		r.quiet.report(w, fmt.Errorf("watchedfile: rotate %s: %w", w.path, err))
		return false
	}
	r.quiet.clear()
	r.stalled = false
	w.use(f, info)
	r.tell(Rotated{Old: old, New: filepath.Join(r.names.dir, name), Time: now})
	return false
}

// createRotated creates the path's first file, or a new one when the path
// names none: a dated file and the link to it. Called by open.
func (w *Writer) createRotated(wait bool) (*os.File, fs.FileInfo, error) {
	r := w.rot
	locks := r.locks
	locks.mkdirs, locks.dirPerm = w.cfg.mkdirAll, w.cfg.dirMode
	unlock, err := lockFile(r.lockPath, locks, wait)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	// Another process may have made it while this one waited.
	if f, info, err := w.openPath(false); !errors.Is(err, fs.ErrNotExist) {
		return f, info, err
	}
	newest, err := r.newest()
	if err != nil {
		return nil, nil, err
	}
	now := r.now()
	f, info, old, name, err := w.rollover(stampAfter(now, newest))
	if err == nil && old != "" {
		r.tell(Rotated{Old: old, New: filepath.Join(r.names.dir, name), Time: now})
	}
	return f, info, err
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

// createFile creates the file name, which must not exist, as the
// rotation's own (safety.go: O_EXCL, its owner), with the header: under a
// temporary name, synced, then given its name if nothing has it meanwhile,
// so that no file is seen with half a header. Called with the rotation lock
// held, which also makes a temporary file left by a process killed here
// stale.
func (w *Writer) createFile(name string) (*os.File, fs.FileInfo, error) {
	r := w.rot
	at := name
	if r.Header != nil {
		at = filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+newSuffix)
		r.removeStale(newSuffix)
	}
	how := r.files
	how.flag = os.O_WRONLY | os.O_APPEND | os.O_CREATE | os.O_EXCL
	f, err := openFile(at, how)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*os.File, fs.FileInfo, error) {
		f.Close()
		r.files.trust.removeOwn(at, 0)
		return nil, nil, err
	}
	if r.Header != nil {
		if _, err := f.Write(r.Header()); err != nil {
			return fail(err)
		}
		if err := f.Sync(); err != nil {
			return fail(err)
		}
		if err := renameNoReplace(at, name); err != nil {
			return fail(err)
		}
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		r.files.trust.removeOwn(name, 0)
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

// newest returns the start of the newest dated file of the rotation's own,
// or the zero time. The file the link names counts even if it was removed:
// its name was given, and a new file must not take it (a shipper would take
// the new file for the old one), though the clock may still be in the
// millisecond it says.
func (r *rotator) newest() (time.Time, error) {
	files, _, err := r.list()
	if err != nil {
		return time.Time{}, err
	}
	names := make([]string, 0, len(files)+1)
	for _, f := range files {
		names = append(names, f.name)
	}
	if target, err := os.Readlink(filepath.Join(r.names.dir, r.names.live)); err == nil {
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
	name       string
	start      time.Time
	compressed bool
	made       bool // by a Writer of the path (see trust.made)
}

// list returns the path's dated files of the rotation's own (safety.go),
// oldest first, and how many entries are named like them but are not.
func (r *rotator) list() (files []datedFile, foreign []string, err error) {
	d, err := os.Open(r.names.dir)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	di, err := d.Stat()
	if err != nil {
		return nil, nil, err
	}
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		t, compressed, ok := r.names.parse(e.Name())
		if !ok {
			continue
		}
		fi, err := e.Info() // lstat
		if err != nil {
			continue // removed meanwhile
		}
		own, made := r.files.trust.ownInfo(di, fi, 0)
		if !own {
			foreign = append(foreign, e.Name())
			continue
		}
		files = append(files, datedFile{e.Name(), t, compressed, made})
	}
	slices.SortFunc(files, func(a, b datedFile) int { return a.start.Compare(b.start) })
	return files, foreign, nil
}

// tell queues a rotation for OnRotate and wakes the maintenance goroutine.
func (r *rotator) tell(rt Rotated) {
	if r.OnRotate != nil {
		r.mu.Lock()
		r.told = append(r.told, rt)
		r.mu.Unlock()
	}
	r.wake()
}

// wake wakes the maintenance goroutine; it never blocks.
func (r *rotator) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}
