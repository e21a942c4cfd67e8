package watchedfile_test

import (
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

// mountTmpfs mounts a tmpfs of size (as mount's -o size=) on dir
// and unmounts it when the test ends; it returns dir.
func mountTmpfs(t *testing.T, dir, size string) string {
	t.Helper()
	requireRoot(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		unsupported(t, fmt.Sprintf("cannot mount a tmpfs: %v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file at path until the file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	for _, size := range []int{64 << 10, 512, 1} { // up to the last byte
		chunk := make([]byte, size)
		for {
			if _, err := f.Write(chunk); err != nil {
				require.ErrorIs(t, err, syscall.ENOSPC)
				break
			}
		}
	}
}

// TestBufferDiskFull: a buffered Writer on a full disk. Write fails once the
// buffer is full and cannot be flushed, without taking the record; Sync and
// the interval flush fail too. Once space is freed, Sync writes what was
// kept, and the file holds every acknowledged record exactly once, in order.
func TestBufferDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, t.TempDir(), "64k")
	path := filepath.Join(mnt, "app.log")
	var reported errorLog
	w := openWriter(t, path, watchedfile.WithBuffer(4<<10, 5*time.Millisecond),
		watchedfile.WithErrorHandler(reported.add))
	record := func(i int) string { return fmt.Sprintf("record %05d %s", i, strings.Repeat("x", 40)) }

	// A first record makes the file end inside a page, so the flush that
	// meets the full disk is cut short and must keep the rest.
	writeLine(t, w, record(0))
	require.NoError(t, w.Sync())
	fillDisk(t, filepath.Join(mnt, "filler"))

	acked := 1
	var err error
	for ; acked < 10000; acked++ {
		if _, err = w.Write([]byte(record(acked) + "\n")); err != nil {
			break
		}
	}
	require.Error(t, err, "the buffer never filled")
	assert.ErrorIs(t, err, syscall.ENOSPC)
	assert.True(t, strings.HasPrefix(err.Error(), "watchedfile: "), err.Error())
	s := w.Stats()
	t.Logf("%d records acknowledged, then: %v; %+v", acked, err, s)
	assert.Equal(t, uint64(acked), s.Records)
	assert.Equal(t, uint64(1), s.WriteErrors)
	assert.NotZero(t, s.FlushErrors)
	assert.Greater(t, s.Buffered, 4<<10-60, "the buffer is full")
	_, err = w.Write([]byte(record(acked) + "\n"))
	assert.ErrorIs(t, err, syscall.ENOSPC, "still full: not taken either")
	assert.ErrorIs(t, w.Sync(), syscall.ENOSPC)
	require.Eventually(t, func() bool { return reported.len() > 0 }, waitFor, waitTick,
		"the interval flush reports its failure")
	assert.ErrorIs(t, reported.first(), syscall.ENOSPC)

	require.NoError(t, os.Remove(filepath.Join(mnt, "filler")))
	require.NoError(t, w.Sync())
	assert.Zero(t, w.Stats().Buffered)
	writeLine(t, w, record(acked))
	acked++
	require.NoError(t, w.Close())

	var want strings.Builder
	for i := range acked {
		want.WriteString(record(i) + "\n")
	}
	assert.Equal(t, want.String(), readFile(t, path), "every acknowledged record once, whole, in order")
}

// TestBufferedNoLeaks: the interval flush adds no goroutine of its own, and
// Close leaves nothing behind.
func TestBufferedNoLeaks(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			base := held(t)
			dir := t.TempDir()
			plain, err := watchedfile.Open(filepath.Join(dir, "plain.log"), b.opts...)
			require.NoError(t, err)
			unbuffered := held(t).goroutines
			path := filepath.Join(dir, "app.log")
			w, err := watchedfile.Open(path, append(b.opts, watchedfile.WithBuffer(0, time.Millisecond))...)
			require.NoError(t, err)
			writeLine(t, w, "x")
			assert.LessOrEqual(t, held(t).goroutines, unbuffered+1, "one goroutine per Writer, buffered or not")
			require.NoError(t, w.Close())
			require.NoError(t, plain.Close())
			assert.Equal(t, "x\n", readFile(t, path))
			requireBackTo(t, base)
		})
	}
}
