package watchedfile_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/watchedfile/watchedfile"
)

// Many goroutines writing at once, each way a Writer writes: with group
// commit (the default), concurrent Writes sharing writev(2) calls, each
// returning only once its own record is in the file; or, without it, one
// write(2) per record in turn.

// writeModes are the two ways, each tested with the same behaviours.
var writeModes = []struct {
	name string
	opts []watchedfile.Option
}{
	{"group commit", nil},
	{"own writes", []watchedfile.Option{watchedfile.WithoutGroupCommit()}},
}

func forEachWriteMode(t *testing.T, test func(t *testing.T, opts ...watchedfile.Option)) {
	t.Helper()
	for _, m := range writeModes {
		t.Run(m.name, func(t *testing.T) { test(t, m.opts...) })
	}
}

// TestWriteAllocatesNothingParallel: no allocation per record with 64
// goroutines writing at once either (the queue and the iovecs are reused).
func TestWriteAllocatesNothingParallel(t *testing.T) {
	if raceEnabled {
		t.Skip("under the race detector sync.Pool drops waiters at random; CI runs this test without it")
	}
	forEachWriteMode(t, writeAllocatesNothingParallel)
}

func writeAllocatesNothingParallel(t *testing.T, opts ...watchedfile.Option) {
	w := openWriter(t, filepath.Join(t.TempDir(), "app.log"), opts...)
	record := []byte("a log record of a typical length, with a few fields: level=info msg=ok\n")
	const goroutines, each = 64, 2000
	write := func() {
		var wg sync.WaitGroup
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					if _, err := w.Write(record); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	write() // warm up: the queue's slices grow to the concurrency once
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	write()
	runtime.ReadMemStats(&after)
	records := goroutines * each
	// Starting the goroutines allocates; a GC empties the waiters' pool.
	allocs := after.Mallocs - before.Mallocs
	t.Logf("%d records from %d goroutines: %d allocations", records, goroutines, allocs)
	assert.Less(t, allocs, uint64(records/100), "allocations per record")
}

// TestGroupCommitFullDisk: 64 goroutines write into a file system that fills
// up in the middle of their batches. Every record acknowledged is in the
// file whole; every refused one is absent; the one the disk cut in the
// middle is held (its Write answers len(p) with the error) and completed in
// the same file, first, once space is freed: no record is left torn.
func TestGroupCommitFullDisk(t *testing.T) {
	forEachWriteMode(t, concurrentWritesFullDisk)
}

func concurrentWritesFullDisk(t *testing.T, opts ...watchedfile.Option) {
	dir := mountTmpfs(t, t.TempDir(), "1m")
	filler := filepath.Join(dir, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, 256<<10), 0o644))
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path, opts...)
	const goroutines = 64
	var (
		mu          sync.Mutex
		acked, held = map[string]bool{}, map[string]bool{}
		full        int
	)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				rec := fmt.Sprintf("g%02d %06d %s\n", g, i, strings.Repeat("x", 200))
				n, err := w.Write([]byte(rec))
				mu.Lock()
				switch {
				case err == nil:
					acked[rec[:10]] = true
				case n == len(rec):
					held[rec[:10]] = true
				default:
					assert.Zero(t, n, "a refused record is not written in part")
				}
				if err != nil {
					assert.ErrorIs(t, err, syscall.ENOSPC)
					full++
				}
				stop := full >= 4*goroutines
				mu.Unlock()
				if stop {
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, len(held), 1, "nothing is written after a cut record until its rest is")
	buffered := w.Stats().Buffered
	require.NoError(t, os.Remove(filler)) // space again
	writeLine(t, w, "after")

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	require.Equal(t, "after\n", string(lines[len(lines)-2]))
	whole := 0
	for _, line := range lines[:len(lines)-2] {
		require.Len(t, line, 10+1+200+1, "a torn record: %q", line)
		id := string(line[:10])
		assert.True(t, acked[id] || held[id], "a refused record is in the file: %q", id)
		delete(acked, id)
		delete(held, id)
		whole++
	}
	t.Logf("%d records whole in the file, %d refusals, %d bytes held while the disk was full", whole, full, buffered)
	assert.Empty(t, acked, "acknowledged records missing from the file")
	assert.Empty(t, held, "held records missing from the file")
	assert.Zero(t, w.Stats().Buffered)
}

// TestGroupCommitAcrossRotations: 64 goroutines write numbered records while
// the file is rotated hundreds of times (100 switches); each record is found exactly once
// and whole. A switch happens between batches, never inside one.
func TestGroupCommitAcrossRotations(t *testing.T) {
	if testing.Short() {
		t.Skip("hundreds of rotations")
	}
	for _, m := range writeModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			writeAcrossRotationsBy(t, 64, 100, m.opts...)
		})
	}
}
