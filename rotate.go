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
	names     names
	lockPath  string // the rotation lock
	maintPath string // the maintenance lock
	due       time.Time
	created   time.Time        // when this Writer created the live file, in rename mode
	now       func() time.Time // time.Now, but in tests

	// The maintenance goroutine: see maintain.go.
	kick   chan struct{}
	done   chan struct{}
	exited chan struct{}
	mu     sync.Mutex
	told   []Rotated // rotations OnRotate has not been told of yet
}

func newRotator(path string, r *Rotation, clock func() time.Time) (*rotator, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	dir, base := filepath.Split(path)
	rt := &rotator{
		Rotation:  *r,
		names:     newNames(path, r),
		lockPath:  filepath.Join(dir, "."+base+".lock"),
		maintPath: filepath.Join(dir, "."+base+".maintenance.lock"),
		now:       clock,
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		exited:    make(chan struct{}),
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
	if fi, err := w.out.f.Stat(); err == nil && fi.Size() >= r.MaxSize {
		w.rotate(r.now(), true)
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
	w.rotate(now, false)
	r.due = r.nextBoundary(now)
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
// says why it was found due: its size, else the schedule. Called with the
// write lock held.
func (w *Writer) rotate(now time.Time, bySize bool) {
	r := w.rot
	unlock, err := lockFile(r.lockPath, w.cfg.mode, r.UID, r.GID, false, 0, false)
	if err != nil {
		if !errors.Is(err, errLockBusy) {
			w.report(fmt.Errorf("watchedfile: rotate %s: %w", w.path, err))
		}
		return // another process rotates: the switch follows
	}
	defer unlock()
	if fi, err := os.Stat(w.path); err == nil && !os.SameFile(fi, w.out.info) {
		w.flags.Or(flagEvent) // rotated by another process: switch at once
		return
	}
	newest, err := r.newest()
	if err != nil {
		w.report(fmt.Errorf("watchedfile: rotate %s: %w", w.path, err))
		return
	}
	if started := w.liveStart(); started.After(newest) {
		newest = started
	}
	if !bySize && !newest.Before(r.periodStart(now)) {
		return // the period's file exists
	}
	f, info, old, name, err := w.rollover(stampAfter(now, newest))
	if err != nil {
		w.report(fmt.Errorf("watchedfile: rotate %s: %w", w.path, err))
		return
	}
	w.use(f, info)
	r.tell(Rotated{Old: old, New: filepath.Join(r.names.dir, name), Time: now})
}

// createRotated creates the path's first file, or a new one when the path
// names none: a dated file and the link to it. Called by open.
func (w *Writer) createRotated(wait bool) (*os.File, fs.FileInfo, error) {
	r := w.rot
	unlock, err := lockFile(r.lockPath, w.cfg.mode, r.UID, r.GID, w.cfg.mkdirAll, w.cfg.dirMode, wait)
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

// createFile creates the file name, which must not exist, with the
// Writer's mode and owner, and the header: under a temporary name, synced,
// then renamed, so that no file is seen with half a header. Called with the
// rotation lock held, which also makes a temporary file left by a process
// killed here stale.
func (w *Writer) createFile(name string) (*os.File, fs.FileInfo, error) {
	r := w.rot
	at := name
	if r.Header != nil {
		at = filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+newSuffix)
		r.removeStale(newSuffix)
		os.Remove(at) // the path's own, without symlinks (rollover_other.go)
	}
	f, err := openFile(at, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, w.cfg.mode, false, 0)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*os.File, fs.FileInfo, error) {
		f.Close()
		os.Remove(at)
		return nil, nil, err
	}
	if err := chown(f, r.UID, r.GID); err != nil {
		return fail(err)
	}
	if r.Header != nil {
		if _, err := f.Write(r.Header()); err != nil {
			return fail(err)
		}
		if err := f.Sync(); err != nil {
			return fail(err)
		}
		if err := os.Rename(at, name); err != nil {
			return fail(err)
		}
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		os.Remove(name)
		return nil, nil, err
	}
	return f, info, nil
}

// newest returns the start of the newest dated file, or the zero time. The
// file the link names counts even if it was removed: its name was given,
// and a new file must not take it (a shipper would take the new file for
// the old one), though the clock may still be in the millisecond it says.
func (r *rotator) newest() (time.Time, error) {
	files, err := r.list()
	if err != nil {
		return time.Time{}, err
	}
	var newest time.Time
	if len(files) > 0 {
		newest = files[len(files)-1].start
	}
	if target, err := os.Readlink(filepath.Join(r.names.dir, r.names.live)); err == nil {
		if t, _, ok := r.names.parse(filepath.Base(target)); ok && t.After(newest) {
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
}

// list returns the path's dated files, oldest first.
func (r *rotator) list() ([]datedFile, error) {
	entries, err := os.ReadDir(r.names.dir)
	if err != nil {
		return nil, err
	}
	var files []datedFile
	for _, e := range entries {
		if t, compressed, ok := r.names.parse(e.Name()); ok {
			files = append(files, datedFile{e.Name(), t, compressed})
		}
	}
	slices.SortFunc(files, func(a, b datedFile) int { return a.start.Compare(b.start) })
	return files, nil
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
