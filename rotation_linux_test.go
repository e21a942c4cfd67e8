package watchedfile_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/watchedfile/watchedfile"
)

// TestReaderKeepsReadingAfterCompression: a reader that has a rotated file
// open (a log shipper behind) does not hold its compression up, and reads
// every record of it after the file was compressed and removed: its
// descriptor still reads the file.
func TestReaderKeepsReadingAfterCompression(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	compressed := make(chan string, 16)
	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 4096, Compress: true, CompressDelay: -1,
		OnCompress: func(c watchedfile.Compressed) { compressed <- filepath.Base(c.Source) }}))
	first, err := os.Readlink(path)
	require.NoError(t, err)
	record := func(i int) string { return fmt.Sprintf("record %04d %s\n", i, strings.Repeat("x", 90)) }
	writeLine(t, w, strings.TrimSuffix(record(0), "\n"))
	reader, err := os.Open(filepath.Join(dir, first))
	require.NoError(t, err)
	defer reader.Close()
	lines := bufio.NewReader(reader)
	line, err := lines.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, record(0), line, "the reader has read the first record, and lags")

	for i := 1; i < 200; i++ { // about five files
		writeLine(t, w, strings.TrimSuffix(record(i), "\n"))
	}
	for name := ""; name != first; {
		select {
		case name = <-compressed:
		case <-time.After(waitFor):
			t.Fatal("the file the reader holds was never compressed")
		}
	}
	assert.NoFileExists(t, filepath.Join(dir, first), "compressed and removed")
	n := 1
	for {
		line, err := lines.ReadString('\n')
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Equal(t, record(n), line)
		n++
	}
	t.Logf("the reader read the %d records of the file after its removal", n-1)
	assert.Greater(t, n, 20, "the whole file")
}

// TestCompressionWaitsForWriter: a process that still has a rotated file
// open for writing (a writer that has not switched yet) keeps it from being
// compressed until it lets go; compression happens then.
func TestCompressionWaitsForWriter(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	compressed := make(chan string, 16)
	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 4096, Compress: true, CompressDelay: -1,
		OnCompress: func(c watchedfile.Compressed) { compressed <- filepath.Base(c.Source) }}))
	first, err := os.Readlink(path)
	require.NoError(t, err)
	lagging, err := os.OpenFile(filepath.Join(dir, first), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	for i := range 200 {
		writeLine(t, w, fmt.Sprintf("record %04d %s", i, strings.Repeat("x", 90)))
	}
	for done := 0; done < 3; done++ { // the files nobody writes
		select {
		case name := <-compressed:
			require.NotEqual(t, first, name, "compressed while a writer held it")
		case <-time.After(waitFor):
			t.Fatal("nothing compressed")
		}
	}
	_, err = lagging.WriteString("late\n")
	require.NoError(t, err)
	require.NoError(t, lagging.Close())
	for name := ""; name != first; {
		select {
		case name = <-compressed:
		case <-time.After(2 * waitFor): // the maintenance retries at least every 10s
			t.Fatal("the file the writer let go of was never compressed")
		}
	}
	got, err := integReadLog(filepath.Join(dir, first+".gz"))
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(got), "late\n"), "the last write is in the compressed copy")
}

// TestCompressDelay: a rotated file stays under its name for CompressDelay,
// for a shipper that lags to find it; then it is compressed.
func TestCompressDelay(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	compressed := make(chan time.Time, 4)
	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 100, Compress: true, CompressDelay: 2 * time.Second,
		OnCompress: func(watchedfile.Compressed) { compressed <- time.Now() }}))
	writeLine(t, w, strings.Repeat("x", 100))
	writeLine(t, w, "next") // rotates
	rotated := time.Now()
	select {
	case at := <-compressed:
		t.Logf("compressed %v after the rotation", at.Sub(rotated))
		assert.GreaterOrEqual(t, at.Sub(rotated), 2*time.Second)
	case <-time.After(3 * waitFor):
		t.Fatal("never compressed")
	}
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
		MaxSize: 1024, MaxBackups: 5, Compress: true, CompressDelay: -1}))
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

// TestStaleNewFileRemoved: a process killed while it gave a new file its
// header left it under its hidden name; the next rotation removes it.
func TestStaleNewFileRemoved(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".app-2020-01-01T00-00-00.000Z.log.new")
	require.NoError(t, os.WriteFile(stale, []byte("# half a head"), 0o644))
	w := openWriter(t, filepath.Join(dir, "app.log"), watchedfile.WithRotation(watchedfile.Rotation{
		MaxSize: 10, Header: func() []byte { return []byte("# header\n") }}))
	writeLine(t, w, "first")
	writeLine(t, w, "second") // rotates
	assert.NoFileExists(t, stale)
	news, _ := filepath.Glob(filepath.Join(dir, ".*.new"))
	assert.Empty(t, news)
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
	rot := watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1024, Compress: true, CompressDelay: -1})
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

// slowGzip is gzip that takes its time (about 200ms a megabyte), says when
// it has begun, and counts what it has read.
type slowGzip struct {
	begun chan struct{}
	read  *atomic.Int64
}

func newSlowGzip() slowGzip { return slowGzip{begun: make(chan struct{}, 1), read: new(atomic.Int64)} }

func (slowGzip) Extension() string { return ".gz" }

func (s slowGzip) Compress(dst io.Writer, src io.Reader) error {
	select {
	case s.begun <- struct{}{}:
	default:
	}
	buf := make([]byte, 256<<10)
	zw := gzip.NewWriter(dst)
	for {
		n, err := src.Read(buf)
		s.read.Add(int64(n))
		zw.Write(buf[:n])
		if err == io.EOF {
			return zw.Close()
		}
		if err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond) // a slow disk or CPU, not a wait for a condition
	}
}

// TestCompressionYieldsToOpener: someone who opens a rotated file for
// writing while it is being compressed waits at most for the compressor to
// notice (the lease breaks; it looks every megabyte): it reads at most a
// megabyte and a read more, not the whole file, and does not hold on for
// the kernel's lease-break time; the compressor leaves the file as it was
// and compresses it once they have let go.
func TestCompressionYieldsToOpener(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	gz := newSlowGzip()
	compressed := make(chan string, 4)
	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 32 << 20, Compress: true, CompressDelay: -1,
		Compressor: gz, OnCompress: func(c watchedfile.Compressed) { compressed <- c.Source }}))
	first, err := os.Readlink(path)
	require.NoError(t, err)
	chunk := []byte(strings.Repeat("x", 1<<20-1) + "\n")
	for range 33 { // 33 MiB: the next write rotates
		_, err := w.Write(chunk)
		require.NoError(t, err)
	}
	writeLine(t, w, "after")
	select {
	case <-gz.begun:
	case <-time.After(waitFor):
		t.Fatal("compression never began")
	}
	start, readBefore := time.Now(), gz.read.Load()
	f, err := os.OpenFile(filepath.Join(dir, first), os.O_WRONLY|os.O_APPEND, 0) // breaks the lease; waits for the compressor
	require.NoError(t, err)
	readAfter := gz.read.Load() - readBefore
	t.Logf("the open waited %v for the compressor, which read %d bytes meanwhile", time.Since(start), readAfter)
	assert.LessOrEqual(t, readAfter, int64(1<<20+256<<10), "the compressor held on past its next look")
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	assert.Empty(t, tmps, "the compressor removed its temporary file")
	fi, err := f.Stat()
	require.NoError(t, err)
	assert.Equal(t, int64(32<<20), fi.Size(), "the file is whole: rotated at 32 MiB")
	require.NoError(t, f.Close())
	select {
	case name := <-compressed:
		assert.Equal(t, filepath.Join(dir, first), name)
	case <-time.After(4 * waitFor):
		t.Fatal("never compressed after the reader let go")
	}
}

// makeDated makes a rotated file of size bytes for app.log in dir, started
// at t and last written at mod, compressed if gz.
func makeDated(t *testing.T, dir string, at, mod time.Time, size int, gz bool) string {
	t.Helper()
	name := filepath.Join(dir, "app-"+at.UTC().Format("2006-01-02T15-04-05.000Z")+".log")
	if gz {
		name += ".gz"
	}
	require.NoError(t, os.WriteFile(name, []byte(strings.Repeat("r", size)), 0o644))
	require.NoError(t, os.Chtimes(name, mod, mod))
	return name
}

// TestRetentionByAgeAndSize: at Open, rotated files last written longer
// ago than MaxAge go, then the oldest beyond MaxTotalSize; the live file
// never goes, however old or large.
func TestRetentionByAgeAndSize(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := makeDated(t, dir, now.Add(-50*time.Hour), now.Add(-49*time.Hour), 100, true)
	oldish := makeDated(t, dir, now.Add(-30*time.Hour), now.Add(-29*time.Hour), 300, false)
	mid := makeDated(t, dir, now.Add(-20*time.Hour), now.Add(-19*time.Hour), 300, true)
	recent := makeDated(t, dir, now.Add(-10*time.Hour), now.Add(-9*time.Hour), 300, true)
	live := makeDated(t, dir, now.Add(-2*time.Hour), now.Add(-100*time.Hour), 5000, false)
	path := filepath.Join(dir, "app.log")
	require.NoError(t, os.Symlink(filepath.Base(live), path))

	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{
		MaxSize: 1 << 20, MaxAge: 48 * time.Hour, MaxTotalSize: 700, Compress: true, CompressDelay: -1}))
	require.Eventually(t, func() bool {
		_, err := os.Stat(oldish)
		return errors.Is(err, fs.ErrNotExist)
	}, waitFor, waitTick, "retention never ran")
	require.NoError(t, w.Close())
	assert.NoFileExists(t, old, "older than MaxAge")
	assert.NoFileExists(t, oldish, "past MaxTotalSize (300+300 kept, then over)")
	assert.FileExists(t, recent)
	assert.FileExists(t, mid)
	assert.FileExists(t, live, "the live file")
	_, err := os.Stat(oldish + ".gz")
	assert.ErrorIs(t, err, fs.ErrNotExist, "removed, not compressed")
}

// TestCompletedCopyRemovesSource: a process stopped after the compressed
// copy's rename and before the source's removal leaves both; the next
// Writer removes the source and keeps the copy.
func TestCompletedCopyRemovesSource(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	at := now.Add(-time.Hour)
	src := makeDated(t, dir, at, at, 10, false)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(strings.Repeat("r", 10)))
	zw.Close()
	require.NoError(t, os.WriteFile(src+".gz", buf.Bytes(), 0o644))
	w := openWriter(t, filepath.Join(dir, "app.log"), watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1 << 20, Compress: true, CompressDelay: -1}))
	require.Eventually(t, func() bool {
		_, err := os.Stat(src)
		return errors.Is(err, fs.ErrNotExist)
	}, waitFor, waitTick, "the source was kept beside its complete copy")
	require.NoError(t, w.Close())
	assert.Equal(t, buf.Bytes(), []byte(readFile(t, src+".gz")), "the copy untouched")
}

// TestCloseStopsCompression: Close in the middle of a long compression
// returns within moments, leaving the source whole and no temporary file;
// the next Writer compresses it.
func TestCloseStopsCompression(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	gz := newSlowGzip()
	rot := watchedfile.Rotation{MaxSize: 16 << 20, Compress: true, CompressDelay: -1, Compressor: gz}
	w, err := watchedfile.Open(path, watchedfile.WithRotation(rot))
	require.NoError(t, err)
	first, err := os.Readlink(path)
	require.NoError(t, err)
	chunk := []byte(strings.Repeat("x", 1<<20-1) + "\n")
	for range 17 {
		_, err := w.Write(chunk)
		require.NoError(t, err)
	}
	select {
	case <-gz.begun:
	case <-time.After(waitFor):
		t.Fatal("compression never began")
	}
	start, readBefore := time.Now(), gz.read.Load()
	require.NoError(t, w.Close())
	readAfter := gz.read.Load() - readBefore
	t.Logf("Close took %v in the middle of a 3-second compression, which read %d bytes meanwhile", time.Since(start), readAfter)
	assert.LessOrEqual(t, readAfter, int64(1<<20+256<<10), "Close waited for the compression past its next look")
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	assert.Empty(t, tmps)
	fi, err := os.Stat(filepath.Join(dir, first))
	require.NoError(t, err)
	assert.Equal(t, int64(16<<20), fi.Size())

	rot.Compressor = nil
	openWriter(t, path, watchedfile.WithRotation(rot))
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(dir, first+".gz"))
		return err == nil
	}, waitFor, waitTick, "the next Writer never compressed it")
}

// TestCloseDuringRotation: Close while a Write's rotation is held up in its
// Header returns, and the rotation, once it goes on, does not switch the
// closed Writer to its new file: no descriptor is left open, and the link
// names the new file for the next Writer.
func TestCloseDuringRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	base := held(t)
	var headers atomic.Int32
	inHeader, release := make(chan struct{}), make(chan struct{})
	w, err := watchedfile.Open(path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 100, Header: func() []byte {
		if headers.Add(1) == 2 {
			close(inHeader)
			<-release
		}
		return []byte("# header\n")
	}}))
	require.NoError(t, err)
	wrote := make(chan error, 1)
	go func() {
		_, err := w.Write([]byte(strings.Repeat("c", 120) + "\n")) // past MaxSize: rotates
		wrote <- err
	}()
	select {
	case <-inHeader:
	case <-time.After(waitFor):
		t.Fatal("the rotation never called Header")
	}
	require.NoError(t, w.Close()) // while the Header waits
	close(release)
	require.NoError(t, <-wrote)
	requireBackTo(t, base)
	w = openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 100}))
	writeLine(t, w, "next")
	assert.Equal(t, "# header\nnext\n", readFile(t, path), "the next Writer opens the file the rotation made")
}
