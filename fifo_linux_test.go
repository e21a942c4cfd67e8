package watchedfile_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/watchedfile/watchedfile"
)

// fifoWithReader makes a FIFO at path and opens its read end, which the test
// reads from or lets fill up.
func fifoWithReader(t *testing.T, path string) *os.File {
	t.Helper()
	require.NoError(t, syscall.Mkfifo(path, 0o644))
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// Sync on a pipe (what /dev/stdout often is) has nothing to commit: nil,
// where fsync says EINVAL.
func TestSyncOnPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	fifoWithReader(t, path)
	w := openWriter(t, path)
	writeLine(t, w, "record")
	assert.NoError(t, w.Sync())
}

// A write that hangs (a FIFO whose reader stopped reading) does not freeze
// Stats: with a buffer, the flush hangs holding the buffer's lock.
func TestStatsWhileWriteHangs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	r := fifoWithReader(t, path)
	w, err := watchedfile.Open(path, watchedfile.WithBuffer(4096, time.Hour))
	require.NoError(t, err)

	hung := make(chan struct{})
	go func() {
		defer close(hung)
		record := make([]byte, 1000)
		for range 200 { // 200 kB: more than the pipe holds
			if _, err := w.Write(record); err != nil {
				return
			}
		}
	}()
	require.Eventually(t, func() bool {
		select {
		case <-hung:
			t.Fatal("the writes did not hang: the pipe took 200 kB")
		default:
		}
		return w.Stats().Records > 64 // the pipe (64 kB) is full, and the flush hangs
	}, waitFor, waitTick)

	stats := make(chan watchedfile.Stats, 1)
	go func() { stats <- w.Stats() }()
	select {
	case s := <-stats:
		assert.Positive(t, s.Buffered)
	case <-time.After(waitFor): // the write hangs for good: Stats must not wait for it
		t.Fatal("Stats hung behind a write")
	}

	// Read until the writes are done, then close.
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := r.Read(buf); err != nil && !os.IsTimeout(err) && err != syscall.EAGAIN {
				return
			}
		}
	}()
	<-hung
	require.NoError(t, w.Close())
}

// fullFIFO makes a FIFO at path with a reader that never reads, and fills
// it, so that the next write(2) to it blocks; it returns the read end.
func fullFIFO(t *testing.T, path string) *os.File {
	t.Helper()
	r := fifoWithReader(t, path)
	fill, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	defer fill.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := syscall.Write(int(fill.Fd()), chunk); err != nil {
			require.ErrorIs(t, err, syscall.EAGAIN)
			return r
		}
	}
}

// TestCloseWhileWriteHangs: Close does not wait for a write that hangs (a
// FIFO whose reader stopped reading); the hung Write returns an error
// wrapping ErrClosed, and Close releases everything.
func TestCloseWhileWriteHangs(t *testing.T) {
	forEachWriteMode(t, func(t *testing.T, opts ...watchedfile.Option) {
		path := filepath.Join(t.TempDir(), "fifo")
		fullFIFO(t, path)
		w, err := watchedfile.Open(path, opts...)
		require.NoError(t, err)

		wrote := make(chan error, 1)
		go func() {
			_, err := w.Write([]byte("hangs\n"))
			wrote <- err
		}()
		// The Write holds the write lock in write(2): Stats cannot take it.
		require.Eventually(t, func() bool { return writeHangs(w) }, waitFor, waitTick)

		closed := make(chan error, 1)
		start := time.Now()
		go func() { closed <- w.Close() }()
		select {
		case err := <-closed: // nobody reads: the write could only end by Close's cut
			assert.NoError(t, err)
			t.Logf("Close returned after %v", time.Since(start))
		case <-time.After(waitFor):
			t.Fatal("Close waited for the hung write")
		}
		select {
		case err := <-wrote:
			assert.ErrorIs(t, err, os.ErrClosed)
		case <-time.After(waitFor):
			t.Fatal("the hung Write did not return after Close")
		}
	})
}

// writeHangs reports whether a write of w is blocked: the Writer's lock is
// taken for longer than Stats waits for it.
func writeHangs(w *watchedfile.Writer) bool {
	start := time.Now()
	w.Stats()
	return time.Since(start) >= 20*time.Millisecond
}
