package watchedfile_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/watchedfile/watchedfile"
)

// TestCompressionWaitsForReader: a reader that holds a rotated file open
// (tail -f, a log shipper) keeps it from being compressed until it closes
// it, and reads every record of it meanwhile; files nobody holds are
// compressed at once.
func TestCompressionWaitsForReader(t *testing.T) {
	requireTool(t, "tail")
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	compressed := make(chan string, 16)
	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 4096, Compress: true,
		OnCompress: func(c watchedfile.Compressed) { compressed <- filepath.Base(c.Source) }}))
	first, err := os.Readlink(path)
	require.NoError(t, err)

	record := func(i int) string { return fmt.Sprintf("record %04d %s", i, strings.Repeat("x", 90)) }
	writeLine(t, w, record(0))
	tail := exec.Command("tail", "-n", "+1", "-f", filepath.Join(dir, first))
	out, err := tail.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, tail.Start())
	t.Cleanup(func() { tail.Process.Kill(); tail.Wait() })
	lines := bufio.NewScanner(out)
	require.True(t, lines.Scan(), "tail stopped") // it has the file open
	require.Equal(t, record(0), lines.Text())

	for i := 1; i < 200; i++ { // about five files
		writeLine(t, w, record(i))
	}
	// Every rotated file but the one tail holds is compressed.
	var done []string
	for len(done) < 3 {
		select {
		case name := <-compressed:
			require.NotEqual(t, first, name, "compressed while tail held it")
			done = append(done, name)
		case <-time.After(waitFor):
			t.Fatalf("only %v compressed", done)
		}
	}
	assert.FileExists(t, filepath.Join(dir, first), "held by tail: not compressed")

	// tail reads the held file to its end: every record written to it.
	fi, err := os.Stat(filepath.Join(dir, first))
	require.NoError(t, err)
	n := int(fi.Size()) / (len(record(0)) + 1)
	for i := 1; i < n; i++ {
		require.True(t, lines.Scan(), "tail stopped")
		require.Equal(t, record(i), lines.Text())
	}
	t.Logf("tail read the %d records of the held file", n)
	require.NoError(t, tail.Process.Signal(syscall.SIGTERM))
	tail.Wait()
	select {
	case name := <-compressed:
		for name != first {
			name = <-compressed
		}
	case <-time.After(2 * waitFor): // the maintenance retries at least every 10s
		t.Fatal("the file tail let go of was never compressed")
	}
	assert.NoFileExists(t, filepath.Join(dir, first))
	assert.FileExists(t, filepath.Join(dir, first+".gz"))
}

// TestRotationNoLeaks: after hundreds of rotations with compression and
// retention, and Close, the process holds what it held before (descriptors,
// inotify watches, goroutines), and neither lock is held: another
// descriptor takes each at once.
func TestRotationNoLeaks(t *testing.T) {
	base := held(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w, err := watchedfile.Open(path, watchedfile.WithRotation(watchedfile.Rotation{
		MaxSize: 1024, MaxBackups: 5, Compress: true}))
	require.NoError(t, err)
	for i := range 3000 { // about 300 rotations
		writeLine(t, w, fmt.Sprintf("record %04d %s", i, strings.Repeat("x", 90)))
	}
	require.Eventually(t, func() bool {
		names, _ := filepath.Glob(filepath.Join(dir, "app-*"))
		return len(names) <= 5+1
	}, waitFor, waitTick, "retention never caught up")
	require.NoError(t, w.Close())
	requireBackTo(t, base)
	for _, lock := range []string{".app.log.lock", ".app.log.maintenance.lock"} {
		f, err := os.OpenFile(filepath.Join(dir, lock), os.O_RDWR, 0)
		require.NoError(t, err)
		assert.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB), "%s is still held", lock)
		f.Close()
	}
}

// TestRotationFiles: what the files look like. The path is a symlink to
// the dated file being written; every file starts with the header and has
// the mode asked for, and, as root, the owner; a log written before
// rotation was asked for gets its dated name at the first rotation; the
// lock files are hidden beside the log.
func TestRotationFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	require.NoError(t, os.WriteFile(path, []byte("written before\n"), 0o644))
	rot := watchedfile.Rotation{MaxSize: 100, Header: func() []byte { return []byte("# host h1 pid 42\n") }}
	if os.Geteuid() == 0 {
		rot.UID, rot.GID = nobody, nobody
	}
	w := openWriter(t, path, watchedfile.WithRotation(rot), watchedfile.WithMode(0o640))
	writeLine(t, w, "first, to the old file")
	writeLine(t, w, strings.Repeat("y", 100)) // over the limit: the next write rotates
	writeLine(t, w, "second")

	target, err := os.Readlink(path)
	require.NoError(t, err, "the path is a symlink")
	assert.Regexp(t, `^app-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.log$`, target, "relative, in the same directory")
	assert.Equal(t, "# host h1 pid 42\nsecond\n", readFile(t, path))
	olds, err := filepath.Glob(filepath.Join(dir, "app-*.log"))
	require.NoError(t, err)
	require.Len(t, olds, 2)
	assert.Equal(t, "written before\nfirst, to the old file\n"+strings.Repeat("y", 100)+"\n", readFile(t, olds[0]),
		"the old log, renamed to its dated name, without a header")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assertPerm(t, 0o640&^umask(), fi)
	for _, name := range []string{path, filepath.Join(dir, ".app.log.lock")} {
		fi, err := os.Stat(name)
		require.NoError(t, err)
		if os.Geteuid() == 0 {
			st := fi.Sys().(*syscall.Stat_t)
			assert.Equal(t, uint32(nobody), st.Uid, name)
			assert.Equal(t, uint32(nobody), st.Gid, name)
		}
	}
}

// TestRotationLiveFileRemoved: rm of the file being written (the link's
// target) or of the link makes a new dated file and link at once, with a
// header; nothing more goes to the removed file.
func TestRotationLiveFileRemoved(t *testing.T) {
	for _, what := range []string{"target", "link"} {
		t.Run(what, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{
				MaxSize: 1 << 20, Header: func() []byte { return []byte("# header\n") }}),
				watchedfile.WithCreateDelay(0))
			writeLine(t, w, "before")
			target, err := os.Readlink(path)
			require.NoError(t, err)
			if what == "target" {
				require.NoError(t, os.Remove(filepath.Join(dir, target)))
			} else {
				require.NoError(t, os.Remove(path))
			}
			waitReopens(t, w, 1)
			writeLine(t, w, "after")
			now, err := os.Readlink(path)
			require.NoError(t, err)
			assert.NotEqual(t, target, now)
			assert.Equal(t, "# header\nafter\n", readFile(t, path))
		})
	}
}

// TestIdleWriterLetsGo: a Writer that writes nothing lets go of the rotated
// file within moments (its goroutine follows the link), so the file is
// compressed though that Writer never writes again.
func TestIdleWriterLetsGo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	rot := watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1024, Compress: true})
	busy := openWriter(t, path, rot)
	idle := openWriter(t, path, rot)
	first, err := os.Readlink(path)
	require.NoError(t, err)
	for i := range 20 {
		writeLine(t, busy, fmt.Sprintf("record %04d %s", i, strings.Repeat("x", 90)))
	}
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(dir, first+".gz"))
		return err == nil
	}, waitFor, waitTick, "the rotated file was never compressed: the idle Writer still holds it?")
	assert.Positive(t, idle.Stats().Reopens, "the idle Writer switched by itself")
}
