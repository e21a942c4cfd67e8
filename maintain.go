package watchedfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// This file is the maintenance of rotated files (WithRotation): compression
// and retention, done by a goroutine of the rotator's while it holds the
// maintenance lock, so that one process at a time does them, never on the
// live file. The goroutine runs after each rotation this Writer makes, once
// at Open (a process killed in the middle of it left work), and again on a
// backoff while work is left: a file someone holds open, the lock another
// process holds. Close stops it, between two chunks of a compression. It
// also calls OnRotate, so that the callback never runs with a lock held.

// Bounds of the backoff of the maintenance goroutine.
const (
	maintainMin = 100 * time.Millisecond
	maintainMax = 10 * time.Second
)

// maintenance is the rotator's goroutine.
type maintenance struct {
	wakeUp chan struct{} // 1-buffered: rotated, look now
	done   chan struct{} // closed by stop: return
	exited chan struct{} // closed when the goroutine returns
	quiet  quietReporter // its failures

	mu     sync.Mutex
	toTell []Rotated // rotations OnRotate has not been told of yet
}

func (m *maintenance) init(report func(error)) {
	m.wakeUp = make(chan struct{}, 1)
	m.done = make(chan struct{})
	m.exited = make(chan struct{})
	m.quiet.pass = report
}

// startMaintenance starts the maintenance goroutine.
func (r *rotator) startMaintenance() { go r.maintain() }

// stopMaintenance stops it and waits for it.
func (r *rotator) stopMaintenance() {
	close(r.maintenance.done)
	<-r.maintenance.exited
}

// rotated queues rt for OnRotate and wakes the goroutine; it never blocks.
func (m *maintenance) rotated(r *rotator, rt Rotated) {
	if r.OnRotate != nil {
		m.mu.Lock()
		m.toTell = append(m.toTell, rt)
		m.mu.Unlock()
	}
	select {
	case m.wakeUp <- struct{}{}:
	default:
	}
}

// maintain is the maintenance goroutine.
func (r *rotator) maintain() {
	m := &r.maintenance
	defer close(m.exited)
	retry := time.NewTimer(0)
	defer retry.Stop()
	wait := maintainMin
	for {
		select {
		case <-m.done:
			return
		case <-m.wakeUp:
		case <-retry.C:
		}
		r.callOnRotate()
		if r.maintainOnce() {
			retry.Reset(wait)
			wait = min(2*wait, maintainMax)
		} else {
			wait = maintainMin
		}
	}
}

// callOnRotate tells OnRotate of the rotations queued for it.
func (r *rotator) callOnRotate() {
	m := &r.maintenance
	m.mu.Lock()
	told := m.toTell
	m.toTell = nil
	m.mu.Unlock()
	for _, rt := range told {
		r.OnRotate(rt)
	}
}

// maintainOnce removes what the limits say, then compresses what it may, in
// the log's directory, held open, under the maintenance lock; then it tells
// OnCompress, with no lock held. It reports whether work is left for
// later. Its failures are reported once each, as long as they repeat (see
// quietReporter).
func (r *rotator) maintainOnce() (again bool) {
	quiet := &r.maintenance.quiet
	d, err := openLogDir(r.names.dir, openHow{trust: r.files.trust})
	if err != nil {
		quiet.report(fmt.Errorf("watchedfile: maintain %s: %w", r.path, err))
		return true
	}
	defer d.close()
	unlock, err := d.lock(r.names.maint, r.locks, lockHow{})
	if errors.Is(err, errLockBusy) {
		return true // another process maintains: look again, in case it stops
	}
	if err != nil {
		quiet.report(fmt.Errorf("watchedfile: maintain %s: %w", r.path, err))
		return true
	}
	again, done, errs := r.maintainLocked(d)
	unlock()
	if err := errors.Join(errs...); err != nil {
		quiet.report(err)
	} else {
		quiet.clear()
	}
	if r.OnCompress != nil {
		for _, c := range done {
			r.OnCompress(c)
		}
	}
	return again
}

// maintainLocked is maintainOnce's work, with the maintenance lock held: it
// returns whether work is left, the files it compressed, and its failures.
func (r *rotator) maintainLocked(d *logDir) (again bool, done []Compressed, errs []error) {
	fail := func(err error) {
		errs = append(errs, err)
		again = true
	}
	r.removeStale(d, tmpSuffix)
	backups, foreign, err := r.backups(d)
	if err != nil {
		fail(fmt.Errorf("watchedfile: maintain %s: %w", r.path, err))
		return true, nil, errs
	}
	if len(foreign) > 0 {
		// Not an error to retry, but worth a word: someone else named
		// files like this Writer's.
		errs = append(errs, fmt.Errorf("watchedfile: maintain %s: %w: %d files named like its rotated files are not its own, left alone (%s...)",
			r.path, ErrUnsafeFile, len(foreign), foreign[0]))
	}
	backups = r.retain(d, backups, fail)
	for _, b := range slices.Backward(backups) { // oldest first
		if !r.Compress || b.compressed {
			continue
		}
		if time.Since(b.modTime) < r.compressDelay() {
			again = true // a shipper that lags may not have found it yet
			continue
		}
		c, busy, err := r.compress(d, b.name)
		switch {
		case err != nil:
			fail(fmt.Errorf("watchedfile: compress %s: %w", d.join(b.name), err))
		case busy:
			again = true
		case c != nil:
			done = append(done, *c)
		}
		select {
		case <-r.maintenance.done:
			return false, done, errs
		default:
		}
	}
	return again, done, errs
}

// A backup is a rotated file, compressed or not.
type backup = datedFile

// backups returns the rotated files of the rotation's own in d, newest
// first, leaving out the live one (the link's target) and a file whose
// compressed copy a Writer of the path made (so it is complete), which it
// removes (a process stopped between the copy's rename and the removal);
// and the names of the entries named like them that are not its own (see
// rotator.list).
func (r *rotator) backups(d *logDir) ([]backup, []string, error) {
	files, foreign, err := r.list(d)
	if err != nil {
		return nil, nil, err
	}
	live, _ := d.readlink(r.names.live)
	var bs []backup
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		if f.name == filepath.Base(live) {
			continue
		}
		if !f.compressed && i+1 < len(files) && files[i+1].compressed && files[i+1].made && files[i+1].start.Equal(f.start) {
			d.remove(f.name, 0)
			continue
		}
		bs = append(bs, f)
	}
	return bs, foreign, nil
}

// retain removes the backups beyond MaxBackups, MaxAge and MaxTotalSize,
// oldest first, and returns those kept; fail is told of a removal that
// failed. Ages are measured on the system's clock, as the files' times are.
func (r *rotator) retain(d *logDir, bs []backup, fail func(error)) []backup {
	var kept []backup
	var total int64
	now := time.Now()
	for i, b := range bs {
		total += b.size
		keep := (r.MaxBackups == 0 || i < r.MaxBackups) &&
			(r.MaxAge == 0 || now.Sub(b.modTime) <= r.MaxAge) &&
			(r.MaxTotalSize == 0 || total <= r.MaxTotalSize)
		if keep {
			kept = append(kept, b)
			continue
		}
		if err := d.remove(b.name, 0); err != nil {
			fail(fmt.Errorf("watchedfile: %w", err))
		}
	}
	return kept
}

// tmpSuffix ends the hidden name of a compressed copy being written,
// newSuffix that of a new file being given its header.
const (
	tmpSuffix = ".tmp"
	newSuffix = ".new"
)

// removeStale removes the hidden files of dated files ending in suffix
// that a process killed in the middle of writing them left in d: compressed
// copies (tmpSuffix; the maintenance lock says nobody writes one now), new
// files with a header (newSuffix; the rotation lock). Only the rotation's
// own are removed.
func (r *rotator) removeStale(d *logDir, suffix string) {
	names, err := d.names()
	if err != nil {
		return
	}
	for _, name := range names {
		if rest, ok := strings.CutPrefix(name, "."); ok && strings.HasSuffix(rest, suffix) {
			if _, _, dated := r.names.parse(strings.TrimSuffix(rest, suffix)); dated {
				d.remove(name, 0)
			}
		}
	}
}

// compress compresses the rotated file name in d into name+extension, if
// no writer holds it open: into a temporary file with the source's mode
// and (as root) owner, as gzip gives them, synced, given its name if
// nothing has it, the directory synced, and only then the source removed,
// so that a process killed midway leaves the source, or the whole copy.
// Whoever opens the source for writing meanwhile breaks the lease: the
// compressor looks every chunk, after its last read and once more before it
// removes the source, and leaves the source as it was if someone did. A
// reader that has it open keeps reading it through its descriptor. It
// returns what it compressed, or busy if a writer holds it.
func (r *rotator) compress(d *logDir, name string) (done *Compressed, busy bool, err error) {
	dstName := name + r.names.zext
	tmp := "." + dstName + tmpSuffix
	how := r.files
	how.flag = os.O_RDONLY
	f, err := d.open(name, how)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, nil // removed meanwhile
		}
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	src, err := d.lstat(name)
	if err != nil || src.id != idOf(fi) || !d.ours(src, 0) {
		return nil, false, fmt.Errorf("%w (replaced before it was compressed)", ErrUnsafeFile)
	}
	alone, still, release, err := holdAlone(f)
	if err != nil || !alone {
		return nil, err == nil, err
	}
	defer release()
	how.flag, how.perm, how.uid, how.gid = os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm(), 0, 0
	out, err := d.open(tmp, how)
	if err != nil {
		return nil, false, err
	}
	in := &aloneReader{f: f, still: still, done: r.maintenance.done}
	err = r.compressor().Compress(out, in)
	if err == nil && !still() { // opened for writing after the last read
		err = errNotAlone
	}
	if err == nil {
		err = giveLike(out, fi) // the source's mode, whatever the umask, and owner
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.renameNoReplace(tmp, dstName)
	}
	if err != nil {
		d.remove(tmp, 0)
		if errors.Is(err, errNotAlone) || errors.Is(err, errStopped) {
			return nil, true, nil // a writer opened it, or Close: later
		}
		return nil, false, err
	}
	d.sync()      // the copy's name before the source goes
	if !still() { // opened for writing since: what it writes stays in the source
		d.remove(dstName, 0)
		return nil, true, nil
	}
	if err := d.removeIfSame(name, src); err != nil {
		return nil, false, err
	}
	return &Compressed{Source: d.join(name), Compressed: d.join(dstName)}, false, nil
}

var (
	errNotAlone = errors.New("watchedfile: another process opened the file for writing")
	errStopped  = errors.New("watchedfile: closed")
)

// aloneReader reads the file being compressed, and fails once someone opens
// it for writing (the lease breaks) or the Writer closes, looking every
// chunk.
type aloneReader struct {
	f     *os.File
	still func() bool
	done  <-chan struct{}
	read  int
}

// aloneChunk is how much is compressed between two looks: someone opening
// the file for writing waits for the compressor at most that long.
const aloneChunk = 1 << 20

func (a *aloneReader) Read(p []byte) (int, error) {
	if a.read >= aloneChunk {
		a.read = 0
		select {
		case <-a.done:
			return 0, errStopped
		default:
		}
		if !a.still() {
			return 0, errNotAlone
		}
	}
	n, err := a.f.Read(p[:min(len(p), aloneChunk)])
	a.read += n
	return n, err // compress looks once more after the last read
}

var _ io.Reader = (*aloneReader)(nil)

// compressGrace is how long a rotated file must not have been written
// before it is compressed, where the system cannot tell whether a writer
// still holds it open: writers switch within their poll interval.
const compressGrace = time.Minute

// oldEnough is holdAlone by the file's age: let go of once not written for
// compressGrace.
func oldEnough(f *os.File) (alone bool, still func() bool, release func(), err error) {
	fi, err := f.Stat()
	if err != nil || time.Since(fi.ModTime()) < compressGrace {
		return false, nil, nil, err
	}
	return true, func() bool { return true }, func() {}, nil
}
