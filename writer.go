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
// Write at once, and each call's bytes reach the file whole and unmixed with
// other calls' (the file is opened with O_APPEND and a short write is
// completed before another call may write). A call to Write is one record:
// it goes entirely to one file, never split across a switch of files.
type Writer struct {
	path string
	cfg  config

	// file is the open file. Write loads it without a lock; a switch
	// stores the new file before closing the old one, so a Write that
	// finds its file closed under it retries with the new one.
	file   atomic.Pointer[os.File]
	closed atomic.Bool
	counters
	buf *buffer // nil unless WithBuffer

	wake   chan struct{} // a watcher saw a change: check now
	done   chan struct{} // closed by Close: the goroutine must return
	exited chan struct{} // closed by the goroutine when it returns

	closeOnce sync.Once
	closeErr  error

	mu             sync.Mutex // guards what follows
	info           fs.FileInfo
	watcher        watcher // nil when polling
	fallbackReason string
	reopens        uint64
	failedReopens  uint64
	backend        Backend
	pending        bool      // the path names another file than info
	missingSince   time.Time // when the path was first found empty; zero if it is not
	retry          time.Duration
	lastErr        error
	watchErr       error // the new file could not be watched; not yet reported
}

var (
	_ io.WriteCloser  = (*Writer)(nil)
	_ io.StringWriter = (*Writer)(nil)
)

// Open opens the file at path for appending, creating it (mode 0644 unless
// [WithMode] says otherwise) if it does not exist, and starts watching it.
// The file is opened with O_WRONLY|O_APPEND|O_CLOEXEC.
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
		retry:   cfg.retryMin,
		backend: BackendPolling,
	}
	if cfg.bufSize > 0 {
		w.buf = newBuffer(cfg.bufSize)
	}
	f, info, err := w.open(true)
	if err != nil {
		return nil, fmt.Errorf("watchedfile: %w", err)
	}
	w.file.Store(f)
	w.info = info
	if !cfg.forcePolling {
		w.startWatching(f)
	}
	go w.run()
	w.notify() // a rotation between the open and the first watch is seen now
	return w, nil
}

// Write writes p to the current file with a single write(2) and returns the
// number of bytes written. An error (a full disk, an I/O error) is returned
// wrapped, and the Writer stays usable: a later Write succeeds once the
// fault clears. After Close, Write returns an error wrapping [os.ErrClosed].
//
// With [WithBuffer], Write copies p into the buffer instead, and returns nil
// once it is there: see WithBuffer for when it is written and what a failure
// does.
func (w *Writer) Write(p []byte) (int, error) {
	if w.buf != nil {
		return w.writeBuffered(p)
	}
	n, err := w.writeFile(p)
	if err != nil {
		return n, w.writeFailed(err)
	}
	w.records.Add(1)
	w.bytes.Add(uint64(n))
	return n, nil
}

// writeFile writes p to the current file with one write(2), retrying with the
// new file when a switch closed the one it loaded before anything was written.
func (w *Writer) writeFile(p []byte) (int, error) {
	for {
		n, err := w.file.Load().Write(p)
		if err != nil && n == 0 && w.switched(err) {
			continue // nothing was written
		}
		return n, err
	}
}

// switched reports whether err comes from a file that a switch closed under
// the caller, who should retry with the current file.
func (w *Writer) switched(err error) bool {
	return errors.Is(err, os.ErrClosed) && !w.closed.Load()
}

// WriteString is like Write, for a string; it lets [io.WriteString] and
// loggers that hold strings skip a copy.
func (w *Writer) WriteString(s string) (int, error) {
	return w.Write(stringBytes(s))
}

// stringBytes returns the bytes of s without copying; write(2) only reads them.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func (w *Writer) writeFailed(err error) error {
	w.writeErrors.Add(1)
	if w.closed.Load() && errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("watchedfile: write %s: %w", w.path, os.ErrClosed)
	}
	return fmt.Errorf("watchedfile: %w", err)
}

// Sync commits the current file's contents to stable storage (fsync), after
// writing what is buffered (see [WithBuffer]). Records written before a
// switch of files are in the file switched away from, which the Writer
// closed without an fsync, like any program closing a file: the kernel
// writes it back. With Sync, a *Writer is a zapcore.WriteSyncer as it is.
func (w *Writer) Sync() error {
	if w.buf != nil {
		if err := w.flush(); err != nil {
			return err
		}
	}
	for {
		err := w.file.Load().Sync()
		switch {
		case err == nil:
			return nil
		case w.switched(err):
			continue
		case errors.Is(err, os.ErrClosed):
			return fmt.Errorf("watchedfile: sync %s: %w", w.path, os.ErrClosed)
		default:
			return fmt.Errorf("watchedfile: %w", err)
		}
	}
}

// Reopen opens the path now and switches to it if it names another file
// than the one being written. A missing file is created at once, without
// the [WithCreateDelay] grace: the caller says the rotation is over. Call it
// when a rotation tool signals the process (nginx style; see
// [ReopenOnSignal]); it is harmless when the Writer has already switched by
// itself. If the path cannot be opened, Reopen returns the error, counts it
// in [Stats], and the Writer goes on writing to the file it has. If the new
// file can be opened but not watched, Reopen switches to it and the Writer
// polls; that change is reported like the Writer's own, through
// [WithErrorHandler] and [Stats.FallbackReason].
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Load() {
		return fmt.Errorf("watchedfile: reopen %s: %w", w.path, os.ErrClosed)
	}
	if err := w.switchFile(true); err != nil {
		w.failedReopens++
		w.lastErr = err
		return err
	}
	if w.watchErr != nil {
		w.notify() // the goroutine reports it
	}
	return nil
}

// Close stops watching, writes what is buffered (see [WithBuffer]) and closes
// the file; a failed flush is returned joined with any other error. Later
// calls to Write, Sync and Reopen return an error wrapping [os.ErrClosed].
// Close may be called more than once and concurrently with Write; calls
// after the first return nil. When Close returns, no goroutine started for
// this Writer is running.
func (w *Writer) Close() error {
	first := false
	w.closeOnce.Do(func() {
		first = true
		w.closed.Store(true)
		close(w.done)
		<-w.exited // outside mu: the goroutine may be waiting for it

		w.mu.Lock()
		defer w.mu.Unlock()
		var errs []error
		if w.buf != nil { // under mu: no switch closes the file under the flush
			w.buf.mu.Lock()
			errs = append(errs, w.flushLocked())
			w.buf.mu.Unlock()
		}
		if w.watcher != nil {
			errs = append(errs, w.watcher.close())
			w.watcher = nil
		}
		if err := w.file.Load().Close(); err != nil {
			errs = append(errs, fmt.Errorf("watchedfile: %w", err))
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

// Stats returns a snapshot of the Writer's counters and state.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := Stats{
		Backend:        w.backend,
		FallbackReason: w.fallbackReason,
		Records:        w.records.Load(),
		Bytes:          w.bytes.Load(),
		WriteErrors:    w.writeErrors.Load(),
		FlushErrors:    w.flushErrors.Load(),
		Buffered:       w.buffered(),
		Reopens:        w.reopens,
		FailedReopens:  w.failedReopens,
		ReopenPending:  w.pending,
		LastError:      w.lastErr,
	}
	return s
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
	if info.IsDir() {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: w.path, Err: errIsDir}
	}
	return f, info, nil
}

var errIsDir = errors.New("is a directory")

// startWatching arms the watcher for f, creating one if the Writer has none:
// at Open, and at each switch after a fallback, since what stopped inotify
// (a limit reached, a file system without events) may not hold for the new
// file. When no watcher can serve, the Writer polls until its next switch
// and records why; the error returned reports a Writer that lost its watcher
// (a change of backend worth reporting), not one that stays polling. Called
// with mu held or before the goroutine starts.
func (w *Writer) startWatching(f *os.File) error {
	hadWatcher := w.watcher != nil
	if w.watcher == nil {
		wt, err := newWatcher(w.notify)
		if err != nil {
			w.fallbackReason = err.Error()
		}
		if wt == nil {
			return nil // this system has no event source, or none to be had now: poll
		}
		w.watcher = wt
	}
	if err := w.watcher.watch(f, w.path); err != nil {
		w.watcher.close()
		w.watcher = nil
		w.backend = BackendPolling
		w.fallbackReason = err.Error()
		if hadWatcher {
			return fmt.Errorf("watchedfile: polling until the next switch: %w", err)
		}
		return nil
	}
	w.backend = BackendInotify
	w.fallbackReason = ""
	return nil
}

// notify wakes the goroutine; it never blocks, and wake-ups coalesce.
func (w *Writer) notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
