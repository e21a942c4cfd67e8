package watchedfile_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/watchedfile/watchedfile"
)

// failingReopens makes every reopen fail: the log's directory is renamed
// away (the Writer keeps its file and retries), and comes back when the
// returned function is called.
func failingReopens(t *testing.T, dir string) (restore func()) {
	t.Helper()
	require.NoError(t, os.Rename(dir, dir+".away"))
	return func() { require.NoError(t, os.Mkdir(dir, 0o755)) }
}

// The error handler may call Close: it runs apart from the Writer's
// goroutine, which Close waits for.
func TestErrorHandlerMayClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		dir := filepath.Join(t.TempDir(), "logs")
		require.NoError(t, os.Mkdir(dir, 0o755))
		var opened atomic.Pointer[watchedfile.Writer]
		closed := make(chan error, 1)
		w := openWriter(t, filepath.Join(dir, "app.log"), append(opts,
			watchedfile.WithCreateDelay(0),
			watchedfile.WithErrorHandler(func(error) {
				select {
				case closed <- opened.Load().Close():
				default:
				}
			}))...)
		opened.Store(w)
		failingReopens(t, dir)
		select {
		case err := <-closed:
			assert.NoError(t, err)
		case <-time.After(waitFor):
			t.Fatal("Close called from the error handler never returned")
		}
		_, err := w.Write([]byte("after\n"))
		assert.ErrorIs(t, err, os.ErrClosed)
	})
}

// A handler that blocks holds nothing up: the Writer still switches files,
// and the failures it could not take are counted.
func TestBlockingErrorHandlerHoldsNothingUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		dir := filepath.Join(t.TempDir(), "logs")
		require.NoError(t, os.Mkdir(dir, 0o755))
		path := filepath.Join(dir, "app.log")
		release := make(chan struct{})
		t.Cleanup(func() { close(release) }) // runs before the Writer's Close
		w := openWriter(t, path, append(opts,
			watchedfile.WithCreateDelay(0),
			watchedfile.WithRetry(time.Millisecond, time.Millisecond),
			watchedfile.WithErrorHandler(func(error) { <-release }))...)
		restore := failingReopens(t, dir)
		require.Eventually(t, func() bool { return w.Stats().DroppedErrors > 0 }, waitFor, waitTick,
			"failures beyond the handler's queue are dropped and counted: %+v", w.Stats())
		restore()
		waitReopens(t, w, 1)
		writeLine(t, w, "new")
		assert.Equal(t, "new\n", readFile(t, path))
	})
}

// WithPolling's interval wins over WithCheckInterval's, in either order.
func TestPollingIntervalWhateverTheOrder(t *testing.T) {
	orders := map[string][]watchedfile.Option{
		"polling first": {watchedfile.WithPolling(20 * time.Millisecond), watchedfile.WithCheckInterval(time.Hour)},
		"check first":   {watchedfile.WithCheckInterval(time.Hour), watchedfile.WithPolling(20 * time.Millisecond)},
	}
	for name, opts := range orders {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "app.log")
			w := openWriter(t, path, opts...)
			// Twice: the look right after Open may catch the first.
			for i := range uint64(2) {
				require.NoError(t, os.Rename(path, fmt.Sprintf("%s.%d", path, i)))
				require.NoError(t, os.WriteFile(path, nil, 0o644))
				waitReopens(t, w, i+1)
			}
		})
	}
}
