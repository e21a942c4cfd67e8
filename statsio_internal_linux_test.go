package watchedfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStatsNeverWrites: Stats that takes the write lock while records are
// queued for a leader (group commit) does not write them itself: into a
// FIFO whose reader stopped, that write would hang Stats.
func TestStatsNeverWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(path, 0o644))
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	defer r.Close()
	w, err := Open(path) // group commit, the default
	require.NoError(t, err)

	// The Writer's goroutine has looked once, after Open, and sleeps.
	require.Eventually(t, func() bool { return w.flags.Load()&flagEvent == 0 }, 10*time.Second, time.Millisecond)
	// Hold the lock, queue a record behind it, and let go of the mutex
	// alone: the moment between a holder's unlock and its look at the
	// queue, in which Stats may take the lock.
	w.lock.mu.Lock()
	wrote := make(chan error, 1)
	go func() { _, err := w.Write([]byte("queued\n")); wrote <- err }()
	require.Eventually(t, func() bool { return w.lock.queue.top.Load() != nil }, 10*time.Second, time.Millisecond)
	fill(t, path) // the next write(2) blocks
	w.lock.mu.Unlock()

	stats := make(chan Stats, 1)
	go func() { stats <- w.Stats() }()
	select {
	case <-stats:
	case <-time.After(10 * time.Second):
		t.Error("Stats hung writing the queued record")
	}
	go func() { // let everything finish
		buf := make([]byte, 64<<10)
		for {
			if _, err := r.Read(buf); err != nil && err != syscall.EAGAIN {
				return
			}
		}
	}()
	require.NoError(t, <-wrote)
	require.NoError(t, w.Close())
}

// fill fills the FIFO at path so that the next write to it blocks.
func fill(t *testing.T, path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := syscall.Write(int(f.Fd()), chunk); err != nil {
			require.ErrorIs(t, err, syscall.EAGAIN)
			return
		}
	}
}
