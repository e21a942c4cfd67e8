package watchedfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// A Writer appends records to the file at a path and follows that path
// across rotations. Open one with [Open].
//
// A Writer is safe for concurrent use: any number of goroutines may call
// Write at once. A call to Write is one record: its bytes go to one file,
// never split across a switch of files, unmixed with other calls' (the file
// is opened with O_APPEND, and a record the kernel takes only in part is
// completed before any other record is written to that file). Records
// written at the same moment by several goroutines share write(2) calls
// (group commit, unless [WithoutGroupCommit]); each Write still returns
// only once its own record is in the file.
type Writer struct {
	path string
	cfg  config

	// The hot path: lock is held to write to the file, to switch files and
	// to close one (writelock.go); out is the file written to (output.go),
	// guarded by lock; any bit set in flags sends a write down the slow
	// path, where it looks before it writes.
	lock  writeLock
	flags atomic.Uint32
	out   output

	follow follower // what the Writer knows of the path, and how it hears of changes (switch.go, watch.go)
	life   life     // its goroutines, and Close (life.go)
	stats  metrics  // what Stats reports (stats.go)

	buf *buffer  // nil unless WithBuffer (buffer.go)
	rot *rotator // nil unless WithRotation (rotator.go; the Writer's side in writer_rotate.go)
}

// Bits of Writer.flags.
const (
	flagEvent  = 1 << iota // the watcher saw a change: look before writing
	flagClosed             // Close has begun: no new record is written
	flagStats              // Stats waits for the counts: publish them
	flagNoFile             // the Writer has no file (see dropFile): writes fail
	flagHeld               // a cut record's rest waits: write it first (see hold)
)

var (
	_ io.WriteCloser  = (*Writer)(nil)
	_ io.StringWriter = (*Writer)(nil)
)

// Open opens the file at path for appending, creating it (mode 0644 unless
// [WithMode] says otherwise) if it does not exist, and starts watching it.
// The file is opened with O_WRONLY|O_APPEND|O_CLOEXEC and, on Unix, with
// O_NOFOLLOW on each symlink the Writer has not checked (see the package
// documentation on symlinks).
//
// A relative path is made absolute once, so a later change of the working
// directory does not move the log.
func Open(path string, opts ...Option) (*Writer, error) {
	if path == "" {
		return nil, fmt.Errorf("watchedfile: open: empty path: %w", fs.ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("watchedfile: open %s: %w", path, err)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	w := &Writer{path: abs, cfg: cfg}
	w.lock.group = !cfg.ownWrites
	w.lock.write = w.writeBatch
	w.follow.retry = cfg.retryMin
	w.follow.deletePending = deletePending
	w.stats.backend = BackendPolling
	w.life.init()
	if cfg.bufSize > 0 {
		w.buf = newBuffer(cfg.bufSize)
	}
	f, info, err := w.openFirst()
	if err != nil {
		return nil, err
	}
	w.out.set(f, info)
	w.startWatching(f)
	w.life.rep.start(cfg.onError)
	go w.run()
	if w.rot != nil {
		w.rot.startMaintenance()
	}
	w.pathChanged() // a rotation between the open and the first watch is seen now
	return w, nil
}

// openFirst opens the path at Open, creating it if it does not exist: with
// WithRotation, once this Writer has joined the path's rotating Writers.
func (w *Writer) openFirst() (*os.File, fs.FileInfo, error) {
	if w.cfg.rotation == nil {
		f, info, err := w.openPath(true)
		if err != nil {
			return nil, nil, fmt.Errorf("watchedfile: %w", err)
		}
		return f, info, nil
	}
	rot, err := newRotator(w.path, w.cfg.rotation, &w.cfg, w.report)
	if err != nil {
		return nil, nil, fmt.Errorf("watchedfile: open %s: %w", w.path, err)
	}
	if err := rot.join(w.cfg.mkdirAll, w.cfg.dirMode); err != nil {
		return nil, nil, fmt.Errorf("watchedfile: open %s: %w", w.path, err)
	}
	w.rot = rot
	w.out.lookEvery = rot.sizeLookEvery()
	f, info, err := w.openPath(false)
	if errors.Is(err, fs.ErrNotExist) {
		f, info, err = rot.create(true, w.openPath, nil)
	}
	if err != nil {
		rot.leave()
		return nil, nil, fmt.Errorf("watchedfile: %w", err)
	}
	return f, info, nil
}

// Write writes p to the current file as one record and returns the number of
// bytes written. It makes one write(2) (more only if the kernel cuts it
// short: beyond 2 GiB, or at a full disk); with other goroutines writing,
// the records that arrive while one write(2) is under way go together in
// the next writev(2) instead (group commit; see [WithoutGroupCommit]). An error (a full disk, an
// I/O error) is returned wrapped, and the Writer stays usable: a later Write
// succeeds once the fault clears. After Close, Write returns an error
// wrapping [os.ErrClosed].
//
// A record the kernel takes only in part before it fails (a disk that
// fills in the middle of it) is not split: Write returns len(p) with the
// error, and the Writer holds the rest of the record and writes it first,
// to the same file, before any other record and before any switch of files,
// once the file takes writes again (at the next Write, flush, Sync, Close or
// retry of the Writer's goroutine). Until then [Stats.Buffered] counts it.
// If the file is deleted meanwhile, the rest is dropped with it.
//
// When the watcher has seen a change of the path, the Write that comes next
// looks at the path first and switches files before writing, if the path
// names another file that it can open.
//
// With [WithRotation] and a MaxSize, the Write that has written a slice of
// bytes since the last look (MaxSize/32, at most 1 MiB) stats the path once
// after its write(2), without the write lock, and if the file is full has
// the next file made (see [Rotation]) before it returns: its caller's next
// record goes to the new file, while other goroutines' Writes go on to the
// full one meanwhile.
//
// With [WithBuffer], Write copies p into the buffer instead, and returns nil
// once it is there: see WithBuffer for when it is written and what a failure
// does.
func (w *Writer) Write(p []byte) (int, error) {
	if w.buf != nil {
		return w.writeBuffered(p)
	}
	if !w.lock.tryLock() {
		if w.lock.group {
			n, err := w.lock.follow(p)
			w.rotateIfBatchFull() // a batch it wrote, or that carried its record, filled a slice
			return n, err
		}
		w.lock.lock()
	}
	n, err := w.writeLocked(p)
	if err == nil && w.out.sizeLookDue() { // once per slice of bytes, with WithRotation's MaxSize
		cur := w.out.info
		w.lock.lead()
		w.rotateIfFull(cur)
		return n, err
	}
	if w.lock.lead() {
		w.rotateIfBatchFull() // others' records it wrote before it let go
	}
	return n, err
}

// WriteString is like Write, for a string; it lets [io.WriteString] and
// loggers that hold strings skip a copy.
func (w *Writer) WriteString(s string) (int, error) {
	return w.Write(unsafe.Slice(unsafe.StringData(s), len(s))) // write(2) only reads it
}

// Sync commits to stable storage (fsync) the file that is current when Sync
// is called, after writing what is buffered (see [WithBuffer]) or held (see
// [Writer.Write]): every record
// whose Write returned before Sync was called and that went to that file.
// Records in a file the Writer switched away from earlier were closed
// without an fsync, like any program closing a file: the kernel writes them
// back. On a pipe or a terminal (/dev/stdout) there is nothing to commit,
// and Sync returns nil. With Sync, a *Writer is a zapcore.WriteSyncer as it
// is.
func (w *Writer) Sync() error {
	if w.buf != nil {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.lock.lock()
	var f *os.File
	err := w.ready("sync")
	if err == nil {
		err = w.writeHeld()
	}
	if err == nil {
		// A duplicate, so that the fsync, outside the lock (it takes
		// milliseconds and writes go on meanwhile), cannot meet a file
		// that a switch or Close has closed.
		f, err = dupFile(w.out.f)
	}
	w.lock.unlock()
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) { // EINVAL: a pipe or terminal
		return w.pathError("sync", err)
	}
	return nil
}

// Reopen opens the path now and switches to it if it names another file
// than the one being written. A missing file is created at once, without
// the [WithCreateDelay] grace: the caller says the rotation is over. Call it
// when a rotation tool signals the process (nginx style; see
// [ReopenOnSignal]); it is harmless when the Writer has already switched by
// itself. If the path cannot be opened, Reopen returns the error, counts it
// in [Stats], and the Writer goes on writing to the file it has, unless that
// file is delete pending (Windows): then it closes the file, since what it
// writes there is lost, and writes fail until a retry creates the new one.
// While the rest of a cut record waits (see [Writer.Write]) and cannot be
// written, Reopen returns that error and switches later. If the new file
// can be opened but not watched, Reopen switches to it and the Writer
// polls; that change is reported like the Writer's own, through
// [WithErrorHandler] and [Stats.FallbackReason]. With [WithRotation], a
// missing file is made by the rotation (a dated file and the link) without
// the write lock, as its own rotations are.
func (w *Writer) Reopen() error {
	w.lock.lock()
	err := w.reopenLocked()
	w.lock.unlock()
	if errors.Is(err, errRotatorCreates) {
		return w.createRotated()
	}
	return err
}

// reopenLocked is Reopen with the lock held.
func (w *Writer) reopenLocked() error {
	if w.flags.Load()&flagClosed != 0 {
		return w.errClosed("reopen")
	}
	if err := w.writeHeld(); err != nil {
		w.life.wake() // the goroutine retries
		return err
	}
	err := w.reopen(true)
	if err == nil || errors.Is(err, errRotatorCreates) {
		return err
	}
	w.reopenFailed(err)
	// The goroutine retries, and reports if that fails too.
	w.follow.pending.Store(true)
	w.follow.backoff(time.Now(), w.follow.retry, w.cfg.retryMax)
	w.life.wake()
	return err
}

// Close stops watching, writes what is buffered (see [WithBuffer]) and closes
// the file, after any Write under way; a failed flush is returned joined
// with any other error. Later calls to Write, Sync and Reopen return an
// error wrapping [os.ErrClosed]. Close may be called more than once and
// concurrently with Write; calls after the first wait for it and return
// nil.
//
// Close returns within about one second (closeWait) even when a write hangs
// on a pipe, FIFO, socket or terminal whose reader stopped reading: it cuts
// that write, which then returns an error wrapping [os.ErrClosed], and the
// buffer's last flush, if any, gets the same second. A write(2) to a regular
// file cannot be cut (a hung NFS server): Close waits for it.
//
// When Close returns, no goroutine started for this Writer is running, but
// for a call to the [WithErrorHandler] function that was under way when
// Close began, which may be what called Close; the handler is not called
// again.
func (w *Writer) Close() error {
	if !w.life.closing.CompareAndSwap(false, true) {
		<-w.life.closed
		return nil
	}
	defer close(w.life.closed)
	w.flags.Or(flagClosed) // checked under the lock before each new record
	w.cutHungWrite()
	w.life.stop()
	if w.rot != nil {
		w.rot.stop() // no rotation of this Writer's begins from now on
		defer w.rot.leave()
	}

	var errs []error
	if w.buf != nil { // held to the end: nothing is buffered after the last flush
		w.buf.mu.Lock()
		defer w.buf.mu.Unlock()
	}
	w.lock.lock()
	errs = append(errs, w.writeHeld(), w.flushLast())
	if w.out.f != nil { // no file: the deleted one is closed already (see dropFile)
		if err := w.out.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("watchedfile: %w", err))
		}
	}
	w.lock.unlock() // records queued meanwhile get ErrClosed
	errs = append(errs, w.dropWatcher())
	w.life.rep.stop()
	return errors.Join(errs...)
}

// Path returns the absolute path the Writer writes to.
func (w *Writer) Path() string { return w.path }

// ready reports why op cannot use the file now: the Writer is closed, or has
// no file. Called with the lock held.
func (w *Writer) ready(op string) error {
	switch f := w.flags.Load(); {
	case f&flagClosed != 0:
		return w.errClosed(op)
	case w.out.f == nil:
		return w.errNoFile(op)
	}
	return nil
}

func (w *Writer) errClosed(op string) error {
	return fmt.Errorf("watchedfile: %s %s: %w", op, w.path, os.ErrClosed)
}

// openPath opens the path for appending, creating it (and, with
// WithMkdirAll, its missing directories) if create is set. A file that has
// lost its name by the time it is open (removed, or a rotated file whose
// compression removed it while the open waited for the compressor's lease)
// is not used: the path is opened again.
func (w *Writer) openPath(create bool) (*os.File, fs.FileInfo, error) {
	how := openHow{flag: os.O_WRONLY | os.O_APPEND, perm: w.cfg.mode, trust: w.cfg.trust()}
	if create {
		how.flag |= os.O_CREATE
		how.mkdirs, how.dirPerm = w.cfg.mkdirAll, w.cfg.dirMode
	}
	for tries := 0; ; tries++ {
		f, err := openFile(w.path, how)
		if err != nil {
			return nil, nil, err
		}
		info, err := f.Stat()
		if err == nil && unlinked(f) {
			err = &fs.PathError{Op: "open", Path: w.path, Err: fs.ErrNotExist}
			if tries < 3 {
				f.Close()
				continue
			}
		}
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		return f, info, nil
	}
}
