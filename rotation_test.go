package watchedfile_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
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

// readRotated returns every line in dir's logs: the path, the dated files,
// and the compressed ones decompressed.
func readRotated(t *testing.T, dir string) (lines map[string]int, files int) {
	t.Helper()
	lines = map[string]int{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue // the link (its target is read as a dated file) and the locks
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		if strings.HasSuffix(e.Name(), ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			require.NoError(t, err)
			data, err = io.ReadAll(zr)
			require.NoError(t, err)
		}
		files++
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if line != "" {
				lines[line]++
			}
		}
	}
	return lines, files
}

// TestRotationBySize, on every system (a symlink to dated files on Unix,
// renames elsewhere): 8 goroutines write across dozens of rotations, made
// while they write; every record is in exactly one file, whole.
func TestRotationBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 4096}))
	const rotations, most = 24, 100000 // records per goroutine at most: a bound, not the end
	var wg sync.WaitGroup
	var written [8]int
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range most {
				if i%50 == 0 && w.Stats().Reopens >= rotations {
					return
				}
				_, err := fmt.Fprintf(w, "g%d record %06d %s\n", g, i, strings.Repeat("x", 60))
				assert.NoError(t, err)
				written[g]++
			}
		}()
	}
	wg.Wait()
	lines, files := readRotated(t, dir)
	total := 0
	for _, n := range written {
		total += n
	}
	assert.Len(t, lines, total)
	for line, n := range lines {
		require.Equal(t, 1, n, "%q", line)
		require.Regexp(t, `^g\d record \d{6} x{60}\n$`, line)
	}
	assert.Greater(t, files, rotations, "rotated by size")
	dated := regexp.MustCompile(`^app-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.log$`)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() != "app.log" && !strings.HasPrefix(e.Name(), ".") {
			assert.Regexp(t, dated, e.Name())
		}
	}
}

// TestRotationKeepsMaxBackups: only the newest MaxBackups rotated files
// stay (compressed on Linux, where compression need not wait a minute),
// and the live file holds the latest records.
func TestRotationKeepsMaxBackups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	linux := runtime.GOOS == "linux"
	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1024, MaxBackups: 3, Compress: linux, CompressDelay: -1}))
	for i := range 300 {
		writeLine(t, w, fmt.Sprintf("record %04d %s", i, strings.Repeat("x", 60)))
	}
	// Retention and compression run in the background: they catch up.
	wantGz, wantPlain := 0, 3
	switch {
	case linux:
		wantGz, wantPlain = 3, 1 // the live file
	case runtime.GOOS != "windows":
		wantPlain = 4 // the live file is dated too: a symlink's target
	}
	require.Eventually(t, func() bool {
		gz, _ := filepath.Glob(filepath.Join(dir, "app-*.log.gz"))
		plain, _ := filepath.Glob(filepath.Join(dir, "app-*.log"))
		return len(gz) == wantGz && len(plain) == wantPlain
	}, waitFor, waitTick, "three backups and the live file")
	require.NoError(t, w.Close())
	lines, _ := readRotated(t, dir)
	assert.Equal(t, 1, lines[fmt.Sprintf("record %04d %s\n", 299, strings.Repeat("x", 60))], "the last record")
}

// TestRotationHoldsNoWrites: a rotation makes the next file without the
// write lock. While its Header is held up (and writes through the same
// Writer, which would deadlock under the lock), other goroutines' Writes
// go on to the current file and return; the Write that rotates returns
// once the new file is in place, and the next record goes there.
func TestRotationHoldsNoWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	var w *watchedfile.Writer
	var headers atomic.Int32
	inHeader, release := make(chan struct{}), make(chan struct{})
	w = openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 100, Header: func() []byte {
		if headers.Add(1) == 2 { // the rotation's, not Open's
			w.Write([]byte("from the header, to the file being rotated\n"))
			close(inHeader)
			<-release
		}
		return []byte("# header\n")
	}}))
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	rotated := make(chan error, 1)
	go func() {
		_, err := w.Write([]byte(strings.Repeat("r", 120) + "\n")) // past MaxSize: this Write rotates
		rotated <- err
	}()
	select {
	case <-inHeader:
	case <-time.After(waitFor):
		t.Fatal("the rotation never called Header")
	}
	done := make(chan error, 1)
	go func() {
		for i := range 100 {
			if _, err := fmt.Fprintf(w, "meanwhile %03d\n", i); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("Writes waited for the rotation's Header")
	}
	select {
	case <-rotated:
		t.Fatal("the rotating Write returned before the new file was made")
	default:
	}
	close(release)
	require.NoError(t, <-rotated)
	writeLine(t, w, "after")
	assert.Equal(t, "# header\nafter\n", readFile(t, path))
	lines, _ := readRotated(t, dir)
	assert.Equal(t, 1, lines["from the header, to the file being rotated\n"])
	for i := range 100 {
		assert.Equal(t, 1, lines[fmt.Sprintf("meanwhile %03d\n", i)])
	}
}
