//go:build unix

package watchedfile_test

import (
	"errors"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/watchedfile/watchedfile"
)

// These tests send real signals to the test process. None of them is
// parallel, so no test's signal can reach another's ReopenOnSignal, and each
// keeps its own listener (sigGuard) for every signal it sends, so a signal
// that arrives after stop never meets the default action of terminating.

// sigOpts make a Writer that cannot switch files by itself during a test:
// it polls once an hour and waits an hour for someone else to create the
// file. Only Reopen, that is the signal, can make it switch.
var sigOpts = []watchedfile.Option{
	watchedfile.WithPolling(time.Hour),
	watchedfile.WithCreateDelay(time.Hour),
}

// sigOpen opens a Writer at path and closes it when the test ends.
func sigOpen(t *testing.T, path string, opts ...watchedfile.Option) *watchedfile.Writer {
	t.Helper()
	w, err := watchedfile.Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	return w
}

// sigWrite writes one line.
func sigWrite(t *testing.T, w *watchedfile.Writer, s string) {
	t.Helper()
	_, err := w.WriteString(s + "\n")
	require.NoError(t, err)
}

// sigRead returns the contents of the file at path.
func sigRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// sigGuard listens for sigs for the rest of the test and returns the channel
// they arrive on. It also starts os/signal's own goroutine, which never
// stops, so goroutine counts taken after it are a fair baseline.
func sigGuard(t *testing.T, sigs ...os.Signal) <-chan os.Signal {
	t.Helper()
	c := make(chan os.Signal, 16)
	signal.Notify(c, sigs...)
	t.Cleanup(func() { signal.Stop(c) })
	return c
}

// sigSend sends sig to this process and waits until guard has seen it, so
// that every other listener has been handed it too.
func sigSend(t *testing.T, guard <-chan os.Signal, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, syscall.Kill(os.Getpid(), sig))
	select {
	case got := <-guard:
		require.Equal(t, sig, got)
	case <-time.After(10 * time.Second):
		t.Fatalf("signal %v never arrived", sig)
	}
}

// sigWaitGoroutines waits until the number of goroutines is back to n. It
// polls in a loop of its own: require.Eventually runs its condition in a
// goroutine, which would be counted.
func sigWaitGoroutines(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > n; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, want %d\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sigWaitReopens waits until w has switched files n times in all.
func sigWaitReopens(t *testing.T, w *watchedfile.Writer, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return w.Stats().Reopens >= n }, 10*time.Second, 2*time.Millisecond,
		"writer never switched files: %+v", w.Stats())
}

func TestReopenOnSignal(t *testing.T) {
	tests := []struct {
		name    string
		writers int
		listen  []os.Signal      // passed to ReopenOnSignal
		send    []syscall.Signal // each one must cause a round of reopens
	}{
		{"default is SIGHUP", 1, nil, []syscall.Signal{syscall.SIGHUP}},
		{"SIGUSR1 nginx style", 1, []os.Signal{syscall.SIGUSR1}, []syscall.Signal{syscall.SIGUSR1}},
		{"several writers and signals", 3, []os.Signal{syscall.SIGUSR1, syscall.SIGUSR2},
			[]syscall.Signal{syscall.SIGUSR2, syscall.SIGUSR1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var ws []*watchedfile.Writer
			var paths []string
			for i := range tt.writers {
				path := filepath.Join(dir, "app"+string(rune('a'+i))+".log")
				paths = append(paths, path)
				ws = append(ws, sigOpen(t, path, sigOpts...))
			}
			guard := sigGuard(t, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
			baseline := runtime.NumGoroutine()

			stop := watchedfile.ReopenOnSignal(ws, tt.listen...)
			for round, sig := range tt.send {
				for i, w := range ws {
					require.NoError(t, os.Truncate(paths[i], 0))
					sigWrite(t, w, "before "+sig.String())
					require.NoError(t, os.Rename(paths[i], paths[i]+".1"))
				}
				sigSend(t, guard, sig)
				for i, w := range ws {
					sigWaitReopens(t, w, uint64(round+1))
					sigWrite(t, w, "after "+sig.String())
					assert.Equal(t, "before "+sig.String()+"\n", sigRead(t, paths[i]+".1"))
					assert.Equal(t, "after "+sig.String()+"\n", sigRead(t, paths[i]))
				}
			}
			stop()
			sigWaitGoroutines(t, baseline)
		})
	}
}

// TestReopenOnSignalStop: after stop, the signal reaches other listeners but
// reopens nothing, and the goroutine is gone.
func TestReopenOnSignalStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	w := sigOpen(t, path, sigOpts...)
	guard := sigGuard(t, syscall.SIGHUP)
	baseline := runtime.NumGoroutine()

	stop := watchedfile.ReopenOnSignal([]*watchedfile.Writer{w})
	sigSend(t, guard, syscall.SIGHUP) // nothing to switch to: harmless
	stop()
	sigWaitGoroutines(t, baseline)

	require.NoError(t, os.Rename(path, path+".1"))
	sigSend(t, guard, syscall.SIGHUP)
	sigWrite(t, w, "still the old file")
	assert.Zero(t, w.Stats().Reopens)
	assert.Equal(t, "still the old file\n", sigRead(t, path+".1"))
	assert.NoFileExists(t, path)

	stop() // a second call is harmless and returns at once
}

// TestReopenOnSignalConcurrentStop: stop from several goroutines while
// signals arrive; every call returns and no goroutine is left.
func TestReopenOnSignalConcurrentStop(t *testing.T) {
	w := sigOpen(t, filepath.Join(t.TempDir(), "app.log"), sigOpts...)
	guard := sigGuard(t, syscall.SIGUSR1)
	baseline := runtime.NumGoroutine()

	stop := watchedfile.ReopenOnSignal([]*watchedfile.Writer{w}, syscall.SIGUSR1)
	for range 5 {
		sigSend(t, guard, syscall.SIGUSR1)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); stop() }()
	}
	wg.Wait()
	sigWaitGoroutines(t, baseline)
}

// TestReopenOnSignalFailure: the reopen that the signal asks for fails (the
// directory is gone). The Writer keeps writing to its file, its own
// goroutine retries and reports to the error handler, and it switches once
// the directory is back, with no further signal.
func TestReopenOnSignalFailure(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "logs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	path := filepath.Join(dir, "app.log")
	var (
		mu       sync.Mutex
		reported []error
	)
	w := sigOpen(t, path,
		watchedfile.WithPolling(time.Hour),
		watchedfile.WithCreateDelay(0),
		watchedfile.WithRetry(time.Millisecond, 20*time.Millisecond),
		watchedfile.WithErrorHandler(func(err error) {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, err)
		}))
	guard := sigGuard(t, syscall.SIGHUP)
	stop := watchedfile.ReopenOnSignal([]*watchedfile.Writer{w})
	t.Cleanup(stop)

	sigWrite(t, w, "first")
	require.NoError(t, os.Rename(dir, dir+".old"))
	sigSend(t, guard, syscall.SIGHUP)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reported) >= 2
	}, 10*time.Second, 2*time.Millisecond, "the Writer never reported the failed reopen")
	mu.Lock()
	assert.ErrorIs(t, reported[0], fs.ErrNotExist)
	mu.Unlock()
	s := w.Stats()
	assert.GreaterOrEqual(t, s.FailedReopens, uint64(2))
	assert.ErrorIs(t, s.LastError, fs.ErrNotExist)
	sigWrite(t, w, "second") // still writing, to the old file

	require.NoError(t, os.Mkdir(dir, 0o755))
	sigWaitReopens(t, w, 1)
	sigWrite(t, w, "third")
	assert.Equal(t, "first\nsecond\n", sigRead(t, filepath.Join(dir+".old", "app.log")))
	assert.Equal(t, "third\n", sigRead(t, path))
}

// TestReopenOnSignalSkipsClosedAndNil: a closed Writer or a nil entry does
// not stop the others from being reopened.
func TestReopenOnSignalSkipsClosedAndNil(t *testing.T) {
	dir := t.TempDir()
	closed := sigOpen(t, filepath.Join(dir, "closed.log"), sigOpts...)
	require.NoError(t, closed.Close())
	path := filepath.Join(dir, "app.log")
	w := sigOpen(t, path, sigOpts...)
	guard := sigGuard(t, syscall.SIGHUP)
	stop := watchedfile.ReopenOnSignal([]*watchedfile.Writer{closed, nil, w})
	t.Cleanup(stop)

	require.NoError(t, os.Rename(path, path+".1"))
	sigSend(t, guard, syscall.SIGHUP)
	sigWaitReopens(t, w, 1)
	sigWrite(t, w, "new")
	assert.Equal(t, "new\n", sigRead(t, path))
	err := closed.Reopen()
	assert.True(t, errors.Is(err, os.ErrClosed), "%v", err)
	assert.Zero(t, closed.Stats().FailedReopens, "a closed Writer is not counted as failing")
}
