package watchedfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Windows without POSIX delete semantics keeps a deleted file's name until
// its last handle closes, and refuses to create anything at that name
// meanwhile: the Writer's own handle can keep its path from ever having a
// new file. Wine never reports a pending delete (its FILE_STANDARD_INFO has
// DeletePending = FALSE, a FIXME) and lets the name be opened, so these
// tests stand in for that one answer of the system (follower.deletePending) and
// make the create fail for real: the path is renamed away and a directory
// put in its place (Linux: EISDIR; Windows: access denied, which is also
// what a delete-pending name gives). The rest is real: the handle closed,
// the failed creates, the retries, the writes. They run on Linux and, in
// .ci/windows.sh, under wine.

// doomedWriter opens a Writer at path, writes "before", moves its file to
// doomed and puts a directory at path, so that no file can be created there
// until the test removes it. With pending, the system is taken to report the
// Writer's file delete pending.
func doomedWriter(t *testing.T, path, doomed string, pending bool, opts ...Option) *Writer {
	t.Helper()
	opts = append([]Option{WithPolling(20 * time.Millisecond), WithRetry(time.Millisecond, 20*time.Millisecond),
		WithCreateDelay(time.Hour)}, opts...)
	w, err := Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	_, err = w.Write([]byte("before\n"))
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	require.True(t, heldOpen(t, path), "the Writer's file is open")
	// The create delay keeps the Writer from creating the file between
	// the rename and the mkdir.
	require.NoError(t, os.Rename(path, doomed))
	require.NoError(t, os.Mkdir(path, 0o755))
	if pending {
		w.lock.lock()
		f := w.out.f
		w.follow.deletePending = func(g *os.File) bool { return g == f }
		w.lock.unlock()
	}
	return w
}

// createFailure is what the create at a path that is a directory fails with.
func createFailure() error {
	if runtime.GOOS == "windows" {
		return fs.ErrPermission
	}
	return syscall.EISDIR
}

// TestDeletePendingClosesOwnHandle: the Writer's file is delete pending and
// nothing can be created at the path. The Writer closes its own handle (the
// records would be lost), and while the create still fails, Write and Sync
// return an error that says why, and Stats shows it; once the path can be
// created again, the Writer creates the file and writing resumes.
func TestDeletePendingClosesOwnHandle(t *testing.T) {
	dir := t.TempDir()
	path, doomed := filepath.Join(dir, "app.log"), filepath.Join(dir, "app.log.doomed")
	w := doomedWriter(t, path, doomed, true)

	require.Eventually(t, func() bool { return !heldOpen(t, doomed) }, 10*time.Second, 2*time.Millisecond,
		"the Writer still holds its delete-pending file")

	_, err := w.Write([]byte("lost\n"))
	require.Error(t, err, "a record that cannot reach any file must not be acknowledged")
	assert.ErrorIs(t, err, createFailure())
	assert.NotErrorIs(t, err, os.ErrClosed, "the Writer is not closed")
	assert.ErrorContains(t, err, path)
	err = w.Sync()
	assert.ErrorIs(t, err, createFailure())
	assert.NotErrorIs(t, err, os.ErrClosed)
	st := w.Stats()
	assert.True(t, st.ReopenPending)
	assert.ErrorIs(t, st.LastError, createFailure())
	assert.NotZero(t, st.FailedReopens)
	assert.NotZero(t, st.WriteErrors)
	assert.Zero(t, st.Reopens)
	// It keeps retrying on its backoff (1ms to 20ms): not stuck.
	failed := st.FailedReopens
	require.Eventually(t, func() bool { return w.Stats().FailedReopens >= failed+3 }, 10*time.Second, 2*time.Millisecond)

	require.NoError(t, os.Remove(path))
	require.Eventually(t, func() bool { st := w.Stats(); return st.Reopens == 1 && !st.ReopenPending },
		10*time.Second, 2*time.Millisecond, "the Writer never created the new file")
	_, err = w.Write([]byte("after\n"))
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	assert.NoError(t, w.Stats().LastError)
	assert.Equal(t, "after\n", readFileString(t, path))
	assert.Equal(t, "before\n", readFileString(t, doomed))
	require.NoError(t, w.Close())
	assert.False(t, heldOpen(t, path))
}

// TestDeletePendingReopen: Reopen (a rotator's signal) closes the
// delete-pending file itself when the create fails, and returns why; once
// the path can be created, Reopen creates it. The goroutine stays out of
// the way: it polls and retries once an hour.
func TestDeletePendingReopen(t *testing.T) {
	dir := t.TempDir()
	path, doomed := filepath.Join(dir, "app.log"), filepath.Join(dir, "app.log.doomed")
	w := doomedWriter(t, path, doomed, true, WithPolling(time.Hour), WithRetry(time.Hour, time.Hour))
	err := w.Reopen()
	require.ErrorIs(t, err, createFailure())
	assert.False(t, heldOpen(t, doomed), "Reopen closed the delete-pending file")
	_, err = w.Write([]byte("lost\n"))
	assert.ErrorIs(t, err, createFailure())
	assert.NotErrorIs(t, err, os.ErrClosed)
	assert.True(t, w.Stats().ReopenPending)

	require.NoError(t, os.Remove(path))
	require.NoError(t, w.Reopen())
	_, err = w.Write([]byte("after\n"))
	require.NoError(t, err)
	st := w.Stats()
	assert.Equal(t, uint64(1), st.Reopens)
	assert.False(t, st.ReopenPending)
	assert.NoError(t, st.LastError)
	assert.Equal(t, "after\n", readFileString(t, path))
	assert.Equal(t, "before\n", readFileString(t, doomed))
}

// TestDeletePendingCloseWithoutFile: with group commit, concurrent writes
// while the Writer has no file each fail with the reason; Close works, and
// later writes say the Writer is closed.
func TestDeletePendingCloseWithoutFile(t *testing.T) {
	dir := t.TempDir()
	path, doomed := filepath.Join(dir, "app.log"), filepath.Join(dir, "app.log.doomed")
	w := doomedWriter(t, path, doomed, true) // group commit, the default
	require.Eventually(t, func() bool { return !heldOpen(t, doomed) }, 10*time.Second, 2*time.Millisecond)
	const writers, each = 8, 50
	errs := make(chan error, writers*each)
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := w.Write([]byte("lost\n"))
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.ErrorIs(t, err, createFailure())
	}
	assert.Equal(t, uint64(writers*each), w.Stats().WriteErrors)
	require.NoError(t, w.Close())
	_, err := w.Write([]byte("x\n"))
	assert.ErrorIs(t, err, os.ErrClosed)
	assert.ErrorIs(t, w.Sync(), os.ErrClosed)
}

// TestDeletePendingBufferKeepsRecords: with a buffer, records written while
// the Writer has no file wait in the buffer (its flushes fail, and say why)
// and reach the new file once it is created.
func TestDeletePendingBufferKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	path, doomed := filepath.Join(dir, "app.log"), filepath.Join(dir, "app.log.doomed")
	w := doomedWriter(t, path, doomed, true, WithBuffer(1<<16, time.Hour))
	require.Eventually(t, func() bool { return !heldOpen(t, doomed) }, 10*time.Second, 2*time.Millisecond)
	_, err := w.Write([]byte("kept\n"))
	require.NoError(t, err)
	assert.ErrorIs(t, w.Sync(), createFailure())
	assert.Equal(t, len("kept\n"), w.Stats().Buffered)

	require.NoError(t, os.Remove(path))
	require.Eventually(t, func() bool { return w.Stats().Reopens == 1 }, 10*time.Second, 2*time.Millisecond)
	require.NoError(t, w.Sync())
	assert.Equal(t, "kept\n", readFileString(t, path))
	assert.Equal(t, "before\n", readFileString(t, doomed))
}

// TestNotDeletePendingKeepsHandle: the same failing create without a
// pending delete (any file renamed away on Linux, or on Windows with POSIX
// delete semantics): the Writer keeps its file and writes to it, as
// before, and retries the path.
func TestNotDeletePendingKeepsHandle(t *testing.T) {
	dir := t.TempDir()
	path, doomed := filepath.Join(dir, "app.log"), filepath.Join(dir, "app.log.doomed")
	w := doomedWriter(t, path, doomed, false)
	require.Eventually(t, func() bool { return w.Stats().FailedReopens >= 3 }, 10*time.Second, 2*time.Millisecond)
	assert.True(t, heldOpen(t, doomed))
	_, err := w.Write([]byte("kept\n"))
	require.NoError(t, err)
	assert.Equal(t, "before\nkept\n", readFileString(t, doomed))
	st := w.Stats()
	assert.True(t, st.ReopenPending)
	assert.ErrorIs(t, st.LastError, createFailure())
}

func readFileString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
