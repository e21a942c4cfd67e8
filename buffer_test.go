package watchedfile_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/watchedfile/watchedfile"
)

// noInterval is a flush interval no test waits for.
const noInterval = time.Hour

func TestBufferFlushesWhenFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	w := openWriter(t, path, watchedfile.WithBuffer(100, noInterval))
	rec := "0123456789abcdefghijklmnopqrstuvwxyz" // 36 bytes with the newline
	writeLine(t, w, rec+"1")
	writeLine(t, w, rec+"2")
	assert.Empty(t, readFile(t, path), "both fit: nothing written yet")
	assert.Equal(t, 76, w.Stats().Buffered)

	writeLine(t, w, rec+"3") // does not fit: the first two are written, whole
	assert.Equal(t, rec+"1\n"+rec+"2\n", readFile(t, path))
	assert.Equal(t, 38, w.Stats().Buffered)

	require.NoError(t, w.Close())
	assert.Equal(t, rec+"1\n"+rec+"2\n"+rec+"3\n", readFile(t, path))
	s := w.Stats()
	assert.Equal(t, uint64(3), s.Records)
	assert.Equal(t, uint64(3*38), s.Bytes)
	assert.Zero(t, s.Buffered)
}

// A record larger than the buffer is written at once, after what is buffered.
func TestBufferLargeRecordWrittenDirectly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	w := openWriter(t, path, watchedfile.WithBuffer(16, noInterval))
	writeLine(t, w, "small")
	big := strings.Repeat("b", 40)
	writeLine(t, w, big)
	assert.Equal(t, "small\n"+big+"\n", readFile(t, path))
	assert.Zero(t, w.Stats().Buffered)
}

func TestBufferFlushesOnInterval(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		path := filepath.Join(t.TempDir(), "app.log")
		w := openWriter(t, path, append(opts, watchedfile.WithBuffer(0, 10*time.Millisecond))...)
		writeLine(t, w, "soon")
		require.Eventually(t, func() bool { return readFile(t, path) == "soon\n" }, waitFor, waitTick)
		assert.Zero(t, w.Stats().Buffered)
	})
}

func TestBufferFlushesOnSyncAndClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	w, err := watchedfile.Open(path, watchedfile.WithBuffer(0, noInterval))
	require.NoError(t, err)
	writeLine(t, w, "one")
	assert.Empty(t, readFile(t, path))
	require.NoError(t, w.Sync())
	assert.Equal(t, "one\n", readFile(t, path))

	writeLine(t, w, "two")
	require.NoError(t, w.Close())
	assert.Equal(t, "one\ntwo\n", readFile(t, path))
	_, err = w.Write([]byte("late\n"))
	assert.ErrorIs(t, err, os.ErrClosed)
	assert.ErrorIs(t, w.Sync(), os.ErrClosed)
	assert.Equal(t, "one\ntwo\n", readFile(t, path))
}

// TestBufferGoesToFileCurrentAtFlush: records buffered before a rotation are
// written to the new file.
func TestBufferGoesToFileCurrentAtFlush(t *testing.T) {
	forEachBackend(t, func(t *testing.T, opts ...watchedfile.Option) {
		path := filepath.Join(t.TempDir(), "app.log")
		w := openWriter(t, path, append(opts, watchedfile.WithBuffer(0, noInterval))...)
		writeLine(t, w, "flushed before")
		require.NoError(t, w.Sync())
		writeLine(t, w, "buffered before")
		require.NoError(t, os.Rename(path, path+".1"))
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		waitReopens(t, w, 1)
		writeLine(t, w, "after")
		require.NoError(t, w.Sync())
		assert.Equal(t, "flushed before\n", readFile(t, path+".1"))
		assert.Equal(t, "buffered before\nafter\n", readFile(t, path))
	})
}

// TestBufferedManyGoroutinesAcrossRotations: with a small buffer, flushed on
// size and on a short interval while the file rotates, every acknowledged
// record is found exactly once, whole.
func TestBufferedManyGoroutinesAcrossRotations(t *testing.T) {
	forEachBackendCase(t, func(t *testing.T, b backend) {
		writeAcrossRotations(t, b.reopens, append(b.opts, watchedfile.WithBuffer(4<<10, 2*time.Millisecond))...)
	})
}

// TestCloseRacesBufferedWrite: each Write either is acknowledged, and its
// record is in the file after Close, or fails with os.ErrClosed.
func TestCloseRacesBufferedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	w, err := watchedfile.Open(path, watchedfile.WithBuffer(1<<10, noInterval))
	require.NoError(t, err)
	acked := make([]int, 8)
	done := make(chan struct{})
	for g := range acked {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(w, "g%d %d\n", g, i); err != nil {
					assert.ErrorIs(t, err, os.ErrClosed)
					return
				}
				acked[g]++
			}
		}()
	}
	require.Eventually(t, func() bool { return w.Stats().Records > 1000 }, waitFor, waitTick)
	require.NoError(t, w.Close())
	total := 0
	for range acked {
		<-done
	}
	for _, n := range acked {
		total += n
	}
	assert.Equal(t, total, strings.Count(readFile(t, path), "\n"))
}

// TestWriteAllocatesNothingBuffered: copying into the buffer and flushing it
// allocate nothing. (.ci/run runs TestWriteAllocatesNothing* without -race.)
func TestWriteAllocatesNothingBuffered(t *testing.T) {
	w := openWriter(t, filepath.Join(t.TempDir(), "app.log"), watchedfile.WithBuffer(1<<10, noInterval))
	record := []byte("a log record of a typical length, with a few fields: level=info msg=ok\n")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { w.Write(record) }), "with flushes on size")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { w.WriteString("a string record\n") }))
}
