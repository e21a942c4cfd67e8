package watchedfile_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/watchedfile/watchedfile"
)

// Deadlines for conditions. Generous: -race on two busy cores is slow.
const (
	waitFor  = 10 * time.Second
	waitTick = 2 * time.Millisecond
)

// backend is one way a Writer notices rotations, named by what it really
// is on this system: elsewhere than on Linux the default is polling once a
// second, not inotify.
type backend struct {
	name    string
	backend watchedfile.Backend
	opts    []watchedfile.Option
	reopens uint64 // switches the rotation tests can wait for within waitFor
}

// backends are the ways a Writer notices rotations, each tested with the
// same behaviours: the default, and polling with an interval short enough
// that tests stay fast.
var backends = func() []backend {
	fast := backend{"polling", watchedfile.BackendPolling, []watchedfile.Option{watchedfile.WithPolling(20 * time.Millisecond)}, 12}
	if runtime.GOOS == "linux" {
		return []backend{{"inotify", watchedfile.BackendInotify, nil, 12}, fast}
	}
	return []backend{{"polling-1s", watchedfile.BackendPolling, nil, 3}, fast}
}()

// forEachBackend runs test once per backend, in parallel.
func forEachBackend(t *testing.T, test func(t *testing.T, opts ...watchedfile.Option)) {
	t.Helper()
	forEachBackendCase(t, func(t *testing.T, b backend) { test(t, b.opts...) })
}

// forEachBackendCase runs test once per backend, in parallel, with the
// backend's whole entry.
func forEachBackendCase(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// openWriter opens a Writer at path and closes it when the test ends.
func openWriter(t *testing.T, path string, opts ...watchedfile.Option) *watchedfile.Writer {
	t.Helper()
	w, err := watchedfile.Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	return w
}

func writeLine(t *testing.T, w *watchedfile.Writer, s string) {
	t.Helper()
	n, err := w.Write([]byte(s + "\n"))
	require.NoError(t, err)
	require.Equal(t, len(s)+1, n)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// waitReopens waits until the Writer has switched files n times in all.
func waitReopens(t *testing.T, w *watchedfile.Writer, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return w.Stats().Reopens >= n }, waitFor, waitTick,
		"writer never switched files (want %d reopens): %+v", n, w.Stats())
}

func TestOpenCreatesFileWithMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path, watchedfile.WithMode(0o640))
	writeLine(t, w, "hello")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assertPerm(t, fs.FileMode(0o640)&^umask(), fi)
	assert.Equal(t, "hello\n", readFile(t, path))
	assert.Equal(t, path, w.Path())
}

func TestOpenAppendsToExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	require.NoError(t, os.WriteFile(path, []byte("old\n"), 0o600))
	w := openWriter(t, path)
	writeLine(t, w, "new")
	assert.Equal(t, "old\nnew\n", readFile(t, path))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assertPerm(t, fs.FileMode(0o600), fi, "an existing file keeps its mode")
}

func TestOpenBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		want error
	}{
		{"empty path", "", fs.ErrInvalid},
		{"missing directory", filepath.Join(dir, "no", "such", "app.log"), fs.ErrNotExist},
		{"a directory", dir, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := watchedfile.Open(tt.path)
			require.Error(t, err)
			assert.Nil(t, w)
			assert.True(t, strings.HasPrefix(err.Error(), "watchedfile: "), err.Error())
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
}

func TestMkdirAllCreatesDirectories(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "app.log")
	w := openWriter(t, path, watchedfile.WithMkdirAll(0o750))
	writeLine(t, w, "x")
	fi, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	assertPerm(t, fs.FileMode(0o750)&^umask(), fi)
}

// TestRotateByRenameCreate is logrotate's create mode: rename the file away,
// then create a new one at the path.
func TestRotateByRenameCreate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		path := filepath.Join(t.TempDir(), "app.log")
		w := openWriter(t, path, opts...)
		writeLine(t, w, "before")
		require.NoError(t, os.Rename(path, path+".1"))
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		waitReopens(t, w, 1)
		writeLine(t, w, "after")
		assert.Equal(t, "before\n", readFile(t, path+".1"))
		assert.Equal(t, "after\n", readFile(t, path))
		assert.False(t, w.Stats().ReopenPending)
	})
}

// TestRotateByRenameOnly: nobody creates the new file, so the Writer does,
// after the grace period; records written meanwhile go to the renamed file.
func TestRotateByRenameOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		path := filepath.Join(t.TempDir(), "app.log")
		w := openWriter(t, path, append(opts, watchedfile.WithCreateDelay(50*time.Millisecond))...)
		writeLine(t, w, "before")
		require.NoError(t, os.Rename(path, path+".1"))
		waitReopens(t, w, 1)
		writeLine(t, w, "after")
		assert.Equal(t, "before\n", readFile(t, path+".1"))
		assert.Equal(t, "after\n", readFile(t, path))
	})
}

// TestDeleteReplacesAtOnceAndReleasesInode: rm of the open file. The Writer
// creates a new file without waiting and closes the deleted one, so its
// disk space is freed although nothing is written.
func TestDeleteReplacesAtOnceAndReleasesInode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		path := filepath.Join(t.TempDir(), "app.log")
		// A create delay far beyond the deadline: only deletion handling
		// can make the new file appear in time.
		w := openWriter(t, path, append(opts, watchedfile.WithCreateDelay(time.Hour))...)
		writeLine(t, w, "doomed")
		require.NoError(t, os.Remove(path))
		if underWine() {
			t.Skip("wine keeps a deleted open file's name and its handle reports no pending delete: nothing shows the deletion (Windows reports delete pending, or no link left)")
		}
		waitReopens(t, w, 1)
		require.FileExists(t, path)
		require.Eventually(t, func() bool { return !holdsDeletedFile(t, path) }, waitFor, waitTick,
			"the deleted file is still open")
		writeLine(t, w, "saved")
		assert.Equal(t, "saved\n", readFile(t, path))
	})
}

// TestRenameOver: another file renamed over the path (mv new app.log).
func TestRenameOver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		w := openWriter(t, path, opts...)
		writeLine(t, w, "one")
		other := filepath.Join(dir, "other")
		require.NoError(t, os.WriteFile(other, []byte("other\n"), 0o644))
		if err := os.Rename(other, path); runtime.GOOS == "windows" && errors.Is(err, fs.ErrPermission) {
			t.Skipf("a file cannot replace an open one here (wine, or Windows without POSIX rename semantics): %v", err)
		} else {
			require.NoError(t, err)
		}
		waitReopens(t, w, 1)
		writeLine(t, w, "two")
		assert.Equal(t, "other\ntwo\n", readFile(t, path))
		require.Eventually(t, func() bool { return !holdsDeletedFile(t, path) }, waitFor, waitTick)
	})
}

// TestSymlinkRepointed: the path is a symlink and is atomically repointed.
func TestSymlinkRepointed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
		if err := os.Symlink(a, path); runtime.GOOS == "windows" && err != nil {
			t.Skipf("no symlinks here (Windows needs a privilege or developer mode): %v", err)
		} else {
			require.NoError(t, err)
		}
		w := openWriter(t, path, opts...)
		writeLine(t, w, "to a")
		require.NoError(t, os.Symlink(b, path+".tmp"))
		require.NoError(t, os.WriteFile(b, nil, 0o644))
		if underWine() {
			t.Skip("wine cannot rename a symlink over another (File not found)")
		}
		require.NoError(t, os.Rename(path+".tmp", path)) // ln -sfn
		waitReopens(t, w, 1)
		writeLine(t, w, "to b")
		assert.Equal(t, "to a\n", readFile(t, a))
		assert.Equal(t, "to b\n", readFile(t, b))
	})
}

// TestParentDirectoryReplaced: the log's directory is renamed away and a new
// one made in its place.
func TestParentDirectoryReplaced(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		root := t.TempDir()
		dir := filepath.Join(root, "logs")
		require.NoError(t, os.Mkdir(dir, 0o755))
		path := filepath.Join(dir, "app.log")
		w := openWriter(t, path, append(opts, watchedfile.WithCreateDelay(20*time.Millisecond))...)
		writeLine(t, w, "old dir")
		require.NoError(t, os.Rename(dir, dir+".old"))
		require.NoError(t, os.Mkdir(dir, 0o755))
		waitReopens(t, w, 1)
		writeLine(t, w, "new dir")
		assert.Equal(t, "old dir\n", readFile(t, filepath.Join(dir+".old", "app.log")))
		assert.Equal(t, "new dir\n", readFile(t, path))
	})
}

// TestGrandparentRenamed: no inotify event reaches the file or its directory;
// the slow background check finds it.
func TestGrandparentRenamed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		root := t.TempDir()
		top := filepath.Join(root, "top")
		path := filepath.Join(top, "logs", "app.log")
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		opts = append([]watchedfile.Option{watchedfile.WithCheckInterval(50 * time.Millisecond)}, opts...)
		w := openWriter(t, path, append(opts, watchedfile.WithCreateDelay(20*time.Millisecond))...)
		writeLine(t, w, "old")
		require.NoError(t, os.Rename(top, top+".old"))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		waitReopens(t, w, 1)
		writeLine(t, w, "new")
		assert.Equal(t, "new\n", readFile(t, path))
	})
}

// TestCopytruncate: the file is truncated in place; O_APPEND means the next
// record lands at offset 0, with no hole of NUL bytes before it.
func TestCopytruncate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		path := filepath.Join(t.TempDir(), "app.log")
		w := openWriter(t, path, opts...)
		for i := range 100 {
			writeLine(t, w, fmt.Sprintf("record %03d", i))
		}
		require.NoError(t, os.Truncate(path, 0))
		writeLine(t, w, "after truncate")
		got := readFile(t, path)
		assert.Equal(t, "after truncate\n", got)
		assert.NotContains(t, got, "\x00")
		assert.Zero(t, w.Stats().Reopens, "truncation is not a rotation")
	})
}

// TestReopenFailureKeepsWriting: the directory disappears, so the new file
// cannot be created. The Writer goes on writing to the file it has, reports
// each failure, and switches once the directory is back.
func TestReopenFailureKeepsWriting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		root := t.TempDir()
		dir := filepath.Join(root, "logs")
		require.NoError(t, os.Mkdir(dir, 0o755))
		path := filepath.Join(dir, "app.log")
		var reported errorLog
		opts = append(opts, watchedfile.WithErrorHandler(reported.add),
			watchedfile.WithRetry(time.Millisecond, 20*time.Millisecond))
		w := openWriter(t, path, opts...)
		writeLine(t, w, "first")
		require.NoError(t, os.Rename(dir, dir+".old"))
		require.NoError(t, os.Remove(filepath.Join(dir+".old", "app.log"))) // deleted: reopen at once

		require.Eventually(t, func() bool { return reported.len() >= 3 }, waitFor, waitTick)
		err := reported.first()
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.Contains(t, err.Error(), path)
		s := w.Stats()
		assert.True(t, s.ReopenPending)
		assert.GreaterOrEqual(t, s.FailedReopens, uint64(3))
		assert.ErrorIs(t, s.LastError, fs.ErrNotExist)
		writeLine(t, w, "still writing") // to the deleted file: the writer is not stuck

		require.NoError(t, os.Mkdir(dir, 0o755))
		waitReopens(t, w, 1)
		writeLine(t, w, "recovered")
		assert.Equal(t, "recovered\n", readFile(t, path))
		s = w.Stats()
		assert.False(t, s.ReopenPending)
		assert.NoError(t, s.LastError)
	})
}

// TestReopen is the call a SIGHUP handler makes.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	// Polling with a long interval: only Reopen can make the switch in time.
	w := openWriter(t, path, watchedfile.WithPolling(time.Hour))
	writeLine(t, w, "one")

	require.NoError(t, w.Reopen(), "nothing changed: harmless")
	assert.Zero(t, w.Stats().Reopens)

	require.NoError(t, os.Rename(path, path+".1"))
	require.NoError(t, w.Reopen(), "the path is missing: Reopen creates it")
	assert.Equal(t, uint64(1), w.Stats().Reopens)
	writeLine(t, w, "two")
	assert.Equal(t, "two\n", readFile(t, path))

	require.NoError(t, os.Rename(dir, dir+".gone"))
	err := w.Reopen()
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	writeLine(t, w, "three") // still the old file
	assert.Equal(t, "two\nthree\n", readFile(t, filepath.Join(dir+".gone", "app.log")))
}

func TestCloseIsIdempotentAndFinal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		w, err := watchedfile.Open(filepath.Join(t.TempDir(), "app.log"), opts...)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		require.NoError(t, w.Close())
		_, err = w.Write([]byte("x\n"))
		assert.ErrorIs(t, err, os.ErrClosed)
		_, err = w.WriteString("x\n")
		assert.ErrorIs(t, err, os.ErrClosed)
		assert.ErrorIs(t, w.Sync(), os.ErrClosed)
		assert.ErrorIs(t, w.Reopen(), os.ErrClosed)
	})
}

// TestCloseRacesWrite: Close while many goroutines write. Every Write either
// succeeds, and its record is in the file, or fails with os.ErrClosed.
func TestCloseRacesWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	w, err := watchedfile.Open(path)
	require.NoError(t, err)
	var acked atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(w, "g%d %d\n", g, i); err != nil {
					assert.ErrorIs(t, err, os.ErrClosed)
					return
				}
				acked.Add(1)
			}
		}()
	}
	close(start)
	require.Eventually(t, func() bool { return acked.Load() > 1000 }, waitFor, waitTick)
	require.NoError(t, w.Close())
	wg.Wait()
	assert.Equal(t, int(acked.Load()), strings.Count(readFile(t, path), "\n"))
}

func TestSyncAndStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		w := openWriter(t, filepath.Join(t.TempDir(), "app.log"), opts...)
		writeLine(t, w, "abc")
		n, err := w.WriteString("de\n")
		require.NoError(t, err)
		require.Equal(t, 3, n)
		require.NoError(t, w.Sync())
		s := w.Stats()
		assert.Equal(t, uint64(2), s.Records)
		assert.Equal(t, uint64(7), s.Bytes)
		assert.Zero(t, s.WriteErrors)
		assert.Empty(t, s.FallbackReason)
		want := watchedfile.BackendPolling
		if len(opts) == 0 && runtime.GOOS == "linux" {
			want = watchedfile.BackendInotify
		}
		assert.Equal(t, want, s.Backend)
	})
}

// TestManyGoroutinesAcrossRotations writes numbered records from many
// goroutines while the file is rotated every few milliseconds in every way,
// then accounts for each record: found exactly once, whole.
func TestManyGoroutinesAcrossRotations(t *testing.T) {
	forEachBackendCase(t, func(t *testing.T, b backend) {
		writeAcrossRotations(t, b.reopens, b.opts...)
	})
}

// writeAcrossRotations is TestManyGoroutinesAcrossRotations for a Writer
// opened with opts, written by 16 goroutines and rotated until it has
// switched wantReopens times; the buffered Writer's test calls it too.
func writeAcrossRotations(t *testing.T, wantReopens uint64, opts ...watchedfile.Option) {
	t.Helper()
	writeAcrossRotationsBy(t, 16, wantReopens, opts...)
}

// writeAcrossRotationsBy is writeAcrossRotations with goroutines writing.
func writeAcrossRotationsBy(t *testing.T, goroutines int, wantReopens uint64, opts ...watchedfile.Option) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path, append(opts, watchedfile.WithCreateDelay(5*time.Millisecond))...)
	// Writers write until the rotator has seen enough switches.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// A require below ends the test: stop the writers first, so that
	// none reports to a finished test (a panic hiding the failure).
	stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriters()
	written := make([]int, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					written[g] = i
					return
				default:
				}
				// Long enough records that a torn write would show.
				_, err := fmt.Fprintf(w, "g%02d %06d %s\n", g, i, strings.Repeat("x", 64))
				assert.NoError(t, err)
			}
		}()
	}

	// Rotate: rename with and without a new file, and a new file
	// appearing at the path in one step. No deletions: records in a
	// deleted file cannot be counted.
	rotations := 0
	ticker := time.NewTicker(3 * time.Millisecond)
	defer ticker.Stop()
	deadline := time.Now().Add(waitFor * time.Duration(max(1, wantReopens/12)))
	for w.Stats().Reopens < wantReopens {
		require.True(t, time.Now().Before(deadline), "only %d reopens in %v: %+v", w.Stats().Reopens, waitFor, w.Stats())
		<-ticker.C
		rotations++
		rotated := filepath.Join(dir, fmt.Sprintf("app.log.%d", rotations))
		if err := os.Rename(path, rotated); err != nil {
			require.ErrorIs(t, err, fs.ErrNotExist) // the writer has not recreated it yet
			continue
		}
		// A new file never replaces one the writer made meanwhile
		// (this goroutine may be descheduled past the create delay):
		// that would destroy records, as any mv over a log does.
		switch rotations % 3 {
		case 0: // logrotate create: O_EXCL
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err == nil {
				f.Close()
			}
		case 1: // mv away; the writer creates the file
		case 2: // another file appears at the path in one step
			require.NoError(t, os.WriteFile(path+".new", []byte("g99 000000 other\n"), 0o644))
			os.Link(path+".new", path)
			require.NoError(t, os.Remove(path+".new"))
		}
	}
	stopWriters()
	require.NoError(t, w.Close())
	t.Logf("%d rotations, %+v", rotations, w.Stats())

	seen := make(map[string]int)
	files, err := filepath.Glob(filepath.Join(dir, "app.log*"))
	require.NoError(t, err)
	torn := 0
	for _, f := range files {
		sc := bufio.NewScanner(bytes.NewReader([]byte(readFile(t, f))))
		for sc.Scan() {
			line := sc.Text()
			var g, i int
			var pad string
			if n, _ := fmt.Sscanf(line, "g%02d %06d %s", &g, &i, &pad); n != 3 ||
				(g != 99 && pad != strings.Repeat("x", 64)) {
				torn++
				continue
			}
			if g != 99 {
				seen[line[:10]]++
			}
		}
	}
	lost, dup := 0, 0
	total := 0
	for g := range goroutines {
		total += written[g]
		for i := range written[g] {
			switch seen[fmt.Sprintf("g%02d %06d", g, i)] {
			case 0:
				lost++
			case 1:
			default:
				dup++
			}
		}
	}
	assert.Zero(t, torn, "torn records")
	assert.Zero(t, lost, "lost records")
	assert.Zero(t, dup, "duplicated records")
	assert.Equal(t, uint64(total), w.Stats().Records)
}

// errorLog collects what a Writer reports to its error handler.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.errs)
}

func (l *errorLog) first() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs[0]
}

// holdsDeletedFile reports whether this process has a deleted file that
// was at path open.
func holdsDeletedFile(t *testing.T, path string) bool {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc")
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && target == path+" (deleted)" {
			return true
		}
	}
	return false
}

// assertPerm checks that fi has the permission bits want. Windows has no
// Unix mode bits, only a read-only attribute, which Go reports as the
// absence of every write bit: there only that is checked.
func assertPerm(t *testing.T, want fs.FileMode, fi fs.FileInfo, msgAndArgs ...any) {
	t.Helper()
	if runtime.GOOS == "windows" {
		assert.Equal(t, want&0o200 != 0, fi.Mode().Perm()&0o200 != 0, msgAndArgs...)
		return
	}
	assert.Equal(t, want, fi.Mode().Perm(), msgAndArgs...)
}

func umask() fs.FileMode {
	// Create a file with 0777 and see what the umask leaves.
	dir, err := os.MkdirTemp("", "umask")
	if err != nil {
		return 0o022
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, nil, 0o777); err != nil {
		return 0o022
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0o022
	}
	return 0o777 &^ fi.Mode().Perm()
}

// TestNoHandlerCallAfterClose: once Close has begun, no call to the error
// handler begins, though failures were streaming to it: after Close
// returns, at most the one call that was under way still runs (it may be
// what called Close).
func TestNoHandlerCallAfterClose(t *testing.T) {
	const writers = 300
	var late [writers]atomic.Int64 // per Writer, calls that began after its Close returned
	for i := range writers {
		dir := filepath.Join(t.TempDir(), "logs")
		require.NoError(t, os.Mkdir(dir, 0o755))
		path := filepath.Join(dir, "app.log")
		var closed atomic.Bool // this Writer's Close has returned
		reports := make(chan struct{}, 1)
		w, err := watchedfile.Open(path, watchedfile.WithRetry(time.Microsecond, time.Microsecond), watchedfile.WithCreateDelay(0),
			watchedfile.WithErrorHandler(func(error) {
				if closed.Load() {
					late[i].Add(1)
				}
				select {
				case reports <- struct{}{}:
				default:
				}
			}))
		require.NoError(t, err)
		require.NoError(t, os.Rename(dir, dir+".gone")) // every reopen fails: a report each retry
		select {
		case <-reports:
		case <-time.After(waitFor):
			t.Fatal("no failure reported")
		}
		require.NoError(t, w.Close())
		closed.Store(true)
	}
	// Checked once the later Writers ran: time enough for a call that
	// should not begin to show.
	for i := range late {
		assert.LessOrEqual(t, late[i].Load(), int64(1), "Writer %d: calls to the handler after Close returned", i)
	}
}
