package watchedfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// ErrUnsafeSymlink is returned, wrapped, when the path or a link it leads to
// is a symlink the Writer refuses to follow: one owned by neither root, the
// process's effective uid, nor the owner of the directory holding it.
var ErrUnsafeSymlink = errors.New("refusing to follow a symlink owned by another user")

// A Writer appends records to the file at a path and follows that path
// across rotations. Open one with [Open].
//
// A Writer is safe for concurrent use: any number of goroutines may call
// Write at once. A call to Write is one record: its bytes reach the file
// whole, unmixed with other calls' (the file is opened with O_APPEND, and a
// write the kernel cuts short is completed before any other record is
// written), and, unbuffered, entirely in one file, never split across a
// switch of files. With [WithGroupCommit], records written at the same moment
// by several goroutines share write(2) calls; each Write still returns only
// once its own record is in the file.
type Writer struct {
	path string
	cfg  config
	buf  *buffer // nil unless WithBuffer

	// The hot path. wmu is held by the goroutine writing to the file (the
	// leader of a batch, see commit.go) and by whoever looks at the path or
	// switches files; file and fd change only under it. Write checks flags
	// once: anything but zero sends it down the slow path.
	wmu   sync.Mutex
	flags atomic.Uint32
	file  *os.File
	fd    int // file's descriptor, for direct writes (see sysfd)
	iov   iovecs
	queue queue
	tally tally
	counters

	sw switchState // guarded by wmu; see switch.go

	watcher  watcher // nil when polling; replaced by the goroutine only, under wmu
	attribOn bool    // watcher.attrib is on; guarded by wmu

	rmu            sync.Mutex // guards what follows: what Stats reports
	backend        Backend
	fallbackReason string
	lastErr        error

	wake   chan struct{} // flag, Reopen: the goroutine must look now
	done   chan struct{} // closed by Close: the goroutine must return
	exited chan struct{} // closed by the goroutine when it returns
	errs   chan error    // to the error handler's goroutine; nil without one

	reported  chan struct{} // closed when the error handler's goroutine returns
	inHandler atomic.Bool   // the error handler is running

	closeOnce sync.Once
	closeErr  error
}

// Bits of Writer.flags.
const (
	flagEvent  = 1 << iota // the watcher saw a change: look before writing
	flagClosed             // Close has begun
	flagStats              // Stats waits for the counts: publish them
	flagNoFile             // the Writer has no file (see dropFile): writes fail
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
	w := &Writer{
		path:    abs,
		cfg:     cfg,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		exited:  make(chan struct{}),
		backend: BackendPolling,
	}
	w.sw.retry = cfg.retryMin
	w.sw.deletePending = deletePending
	if cfg.bufSize > 0 {
		w.buf = newBuffer(cfg.bufSize)
	}
	f, info, err := w.open(true)
	if err != nil {
		return nil, fmt.Errorf("watchedfile: %w", err)
	}
	w.file, w.fd, w.sw.info = f, sysfd(f), info
	w.startWatching(f)
	if cfg.onError != nil {
		w.errs = make(chan error, errQueue)
		w.reported = make(chan struct{})
		go w.reportErrors(cfg.onError)
	}
	go w.run()
	w.flag() // a rotation between the open and the first watch is seen now
	return w, nil
}

// Write writes p to the current file as one record and returns the number of
// bytes written. It makes one write(2) (more only if the kernel cuts it
// short: beyond 2 GiB, or at a full disk); with [WithGroupCommit] and other
// goroutines writing, the records that arrive while one write(2) is under
// way go together in the next writev(2) instead. An error (a full disk, an I/O error) is returned
// wrapped, and the Writer stays usable: a later Write succeeds once the
// fault clears. After Close, Write returns an error wrapping [os.ErrClosed].
//
// When the watcher has seen a change of the path, the Write that comes next
// looks at the path first and switches files before writing, if the path
// names another file that it can open.
//
// With [WithBuffer], Write copies p into the buffer instead, and returns nil
// once it is there: see WithBuffer for when it is written and what a failure
// does.
func (w *Writer) Write(p []byte) (int, error) {
	if w.buf != nil {
		return w.writeBuffered(p)
	}
	if !w.wmu.TryLock() {
		if w.cfg.groupCommit {
			return w.follow(p)
		}
		w.wmu.Lock()
	}
	n, err := w.writeLocked(p)
	w.unlock()
	return n, err
}

// writeLocked writes p to the current file as one record. Called with wmu held.
func (w *Writer) writeLocked(p []byte) (int, error) {
	if w.flags.Load() != 0 {
		if err := w.beforeWrite(); err != nil {
			w.tally.count(0, 0, 1)
			return 0, err
		}
	}
	n, err := writeFull(w.file, w.fd, p)
	if err != nil {
		w.tally.count(0, 0, 1)
		return n, w.writeError(err)
	}
	w.tally.count(1, n, 0)
	return n, nil
}

// beforeWrite is what a write does before writing when flags is set: refuse
// after Close, look at the path after an event. Called with wmu held.
func (w *Writer) beforeWrite() error {
	f := w.flags.Load()
	if f == 0 {
		return nil
	}
	if f&flagClosed != 0 {
		return fmt.Errorf("watchedfile: write %s: %w", w.path, os.ErrClosed)
	}
	if f&flagStats != 0 {
		w.flags.And(^uint32(flagStats))
		w.tally.publish()
	}
	w.checkNow()
	if w.file == nil {
		return w.errNoFile("write")
	}
	return nil
}

func (w *Writer) writeError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) { // from os.File, on systems where it writes
		err = pe.Err
	}
	return fmt.Errorf("watchedfile: %w", &fs.PathError{Op: "write", Path: w.path, Err: err})
}

// WriteString is like Write, for a string; it lets [io.WriteString] and
// loggers that hold strings skip a copy.
func (w *Writer) WriteString(s string) (int, error) {
	return w.Write(unsafe.Slice(unsafe.StringData(s), len(s))) // write(2) only reads it
}

// Sync commits the current file's contents to stable storage (fsync), after
// writing what is buffered (see [WithBuffer]). Records written before a
// switch of files are in the file switched away from, which the Writer
// closed without an fsync, like any program closing a file: the kernel
// writes it back. On a pipe or a terminal (/dev/stdout) there is nothing to
// commit, and Sync returns nil. With Sync, a *Writer is a
// zapcore.WriteSyncer as it is.
func (w *Writer) Sync() error {
	if w.buf != nil {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.wmu.Lock()
	f := w.file
	closed := w.flags.Load()&flagClosed != 0
	var lost error
	if f == nil && !closed {
		lost = w.errNoFile("sync")
	}
	w.unlock()
	if closed {
		return fmt.Errorf("watchedfile: sync %s: %w", w.path, os.ErrClosed)
	}
	if lost != nil {
		return lost
	}
	// Outside wmu: an fsync takes milliseconds, and writes go on meanwhile.
	// A switch may close f under it; os.File keeps the descriptor until
	// Sync returns, which then fails with ErrClosed: the records are in
	// the file switched away from.
	err := f.Sync()
	switch {
	case err == nil, errors.Is(err, syscall.EINVAL), errors.Is(err, os.ErrClosed):
		return nil // EINVAL: a pipe, socket or terminal, where fsync has nothing to do
	default:
		return fmt.Errorf("watchedfile: %w", err)
	}
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
// If the new file can be opened but not watched, Reopen switches to it and
// the Writer polls; that change is reported like the Writer's own, through
// [WithErrorHandler] and [Stats.FallbackReason].
func (w *Writer) Reopen() error {
	w.wmu.Lock()
	defer w.unlock()
	if w.flags.Load()&flagClosed != 0 {
		return fmt.Errorf("watchedfile: reopen %s: %w", w.path, os.ErrClosed)
	}
	if err := w.reopen(true); err != nil {
		w.reopenFailed(err)
		// The goroutine retries, and reports if that fails too.
		w.sw.pending = true
		w.pending.Store(true)
		w.sw.backoff(time.Now(), w.sw.retry, w.cfg.retryMax)
		w.notify()
		return err
	}
	return nil
}

// Close stops watching, writes what is buffered (see [WithBuffer]) and closes
// the file, after any Write under way; a failed flush is returned joined
// with any other error. Later calls to Write, Sync and Reopen return an
// error wrapping [os.ErrClosed]. Close may be called more than once and
// concurrently with Write; calls after the first return nil. When Close
// returns, no goroutine started for this Writer is running, but for a call
// to the [WithErrorHandler] function under way, which may call Close itself.
func (w *Writer) Close() error {
	first := false
	w.closeOnce.Do(func() {
		first = true
		close(w.done)
		<-w.exited // outside wmu: the goroutine may be waiting for it

		var errs []error
		if w.buf != nil { // held to the end: nothing is buffered after the last flush
			w.buf.mu.Lock()
			defer w.buf.mu.Unlock()
			errs = append(errs, w.flushLocked())
		}
		w.wmu.Lock()
		w.flags.Or(flagClosed) // under wmu: no record is written after it
		// No file: the deleted one is closed already (see dropFile).
		if w.file != nil {
			if err := w.file.Close(); err != nil {
				errs = append(errs, fmt.Errorf("watchedfile: %w", err))
			}
		}
		if w.errs != nil {
			close(w.errs) // every sender checks flagClosed under wmu
		}
		if w.watcher != nil {
			errs = append(errs, w.watcher.close())
			w.watcher = nil
		}
		w.unlock() // records queued meanwhile get ErrClosed
		if w.errs != nil && !w.inHandler.Load() {
			<-w.reported // unless the handler is running: it may be the caller
		}
		w.closeErr = errors.Join(errs...)
	})
	if !first {
		return nil
	}
	return w.closeErr
}

// Path returns the absolute path the Writer writes to.
func (w *Writer) Path() string { return w.path }

// Stats returns a snapshot of the Writer's counters and state. While a
// write(2) hangs (a FIFO nobody reads), it waits for it at most 20ms, and
// then answers with the counts as of the last time it could read them.
func (w *Writer) Stats() Stats {
	records, bytes, failed := w.tallied()
	w.rmu.Lock()
	defer w.rmu.Unlock()
	return Stats{
		Backend:        w.backend,
		FallbackReason: w.fallbackReason,
		Records:        records + w.records.Load(),
		Bytes:          bytes + w.bytes.Load(),
		WriteErrors:    failed + w.writeErrors.Load(),
		FlushErrors:    w.flushErrors.Load(),
		Buffered:       w.buffered(),
		Reopens:        w.reopens.Load(),
		FailedReopens:  w.failedReopens.Load(),
		ReopenPending:  w.pending.Load(),
		LastError:      w.lastErr,
		DroppedErrors:  w.droppedErrors.Load(),
	}
}

// open opens the path for appending, creating it (and, with WithMkdirAll, its
// missing directories) if create is set.
func (w *Writer) open(create bool) (*os.File, fs.FileInfo, error) {
	flag := os.O_WRONLY | os.O_APPEND
	if create {
		flag |= os.O_CREATE
	}
	f, err := openFile(w.path, flag, w.cfg.mode, create && w.cfg.mkdirAll, w.cfg.dirMode)
	if err != nil {
		return nil, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, info, nil
}
