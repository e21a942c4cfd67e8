package watchedfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests stop the Writer's goroutine, so that only the watcher's flag
// and the next Write can act on a change: the record written right after
// the event was read must be in the new file.

// openWithoutGoroutine opens a Writer (inotify) and stops its goroutine.
func openWithoutGoroutine(t *testing.T, path string, opts ...Option) *Writer {
	t.Helper()
	w, err := Open(path, opts...)
	require.NoError(t, err)
	require.Equal(t, BackendInotify, w.Stats().Backend)
	stopGoroutine(w)
	t.Cleanup(func() { w.Close() })
	// The flag Open raises for a rotation before the first watch: let
	// a Write take it, so that the next flag comes from an event.
	_, err = w.Write([]byte("first\n"))
	require.NoError(t, err)
	require.Zero(t, w.flags.Load()&flagEvent)
	return w
}

// waitFlag waits until the watcher has read an event for w.
func waitFlag(t *testing.T, w *Writer) {
	t.Helper()
	require.Eventually(t, func() bool { return w.flags.Load()&flagEvent != 0 },
		10*time.Second, time.Millisecond, "the watcher never flagged the Writer")
}

func TestNextRecordAfterRenameGoesToNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWithoutGoroutine(t, path)

	require.NoError(t, os.Rename(path, path+".1"))
	require.NoError(t, os.WriteFile(path, nil, 0o644)) // logrotate's create
	waitFlag(t, w)
	_, err := w.Write([]byte("second\n"))
	require.NoError(t, err)

	assert.Equal(t, "first\n", readString(t, path+".1"))
	assert.Equal(t, "second\n", readString(t, path))
	assert.Equal(t, uint64(1), w.Stats().Reopens)
}

func TestNextRecordAfterRemoveGoesToNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWithoutGoroutine(t, path)

	require.NoError(t, os.Remove(path)) // IN_ATTRIB: no links left
	waitFlag(t, w)
	_, err := w.Write([]byte("second\n"))
	require.NoError(t, err)

	assert.Equal(t, "second\n", readString(t, path))
	assert.Equal(t, uint64(1), w.Stats().Reopens)
}

// While the path is empty and the create delay runs, records go on to the
// renamed file, and no Write looks again until the next event: no
// syscall per record while stale.
func TestRenamedFileKeptUntilCreatorOrDelay(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWithoutGoroutine(t, path, WithCreateDelay(time.Hour))

	require.NoError(t, os.Rename(path, path+".1"))
	waitFlag(t, w)
	// The rename's events (on the file and on the directory) may be read
	// apart; once both are, Writes look no more.
	require.Eventually(t, func() bool {
		_, err := w.Write([]byte("more\n"))
		require.NoError(t, err)
		return w.flags.Load()&flagEvent == 0
	}, 10*time.Second, time.Millisecond)
	for range 3 {
		_, err := w.Write([]byte("more\n"))
		require.NoError(t, err)
		assert.Zero(t, w.flags.Load()&flagEvent, "looked once, not per record")
	}
	assert.NoFileExists(t, path, "the Writer must not create the file before the delay")
	assert.True(t, w.Stats().ReopenPending)

	require.NoError(t, os.WriteFile(path, nil, 0o644))
	waitFlag(t, w)
	_, err := w.Write([]byte("new\n"))
	require.NoError(t, err)
	assert.Regexp(t, `^first\n(more\n){4,}$`, readString(t, path+".1"))
	assert.Equal(t, "new\n", readString(t, path))
}

// A read loop that stops on an error no read can cure is reported to every
// Writer it served, which polls, and the next watch gets a new instance.
func TestInotifyReadFailureIsReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	reported := make(chan error, 16)
	w, err := Open(path, WithErrorHandler(func(err error) { reported <- err }))
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	require.Equal(t, BackendInotify, w.Stats().Backend)

	instance.Lock()
	dead := instance.in
	instance.Unlock()
	dead.fail(errors.New("injected read failure"))

	select {
	case err := <-reported:
		assert.ErrorIs(t, err, errNoEvents)
		assert.ErrorContains(t, err, "injected read failure")
	case <-time.After(10 * time.Second):
		t.Fatal("the failure was never reported")
	}
	// The Writer took a new instance at once.
	require.Eventually(t, func() bool {
		instance.Lock()
		defer instance.Unlock()
		return instance.in != nil && instance.in != dead && w.Stats().Backend == BackendInotify
	}, 10*time.Second, time.Millisecond, "no new instance: %+v", w.Stats())

	require.NoError(t, os.Rename(path, path+".1"))
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	require.Eventually(t, func() bool { return w.Stats().Reopens == 1 }, 10*time.Second, time.Millisecond)
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
