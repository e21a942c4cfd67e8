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

// Many goroutines writing at once, each way a Writer writes: one write(2)
// per record in turn, or with group commit, concurrent Writes sharing
// writev(2) calls, each returning only once its own record is in the file.

// writeModes are the two ways, each tested with the same behaviours.
var writeModes = []struct {
	name string
	opts []watchedfile.Option
}{
	{"direct", nil},
	{"group commit", []watchedfile.Option{watchedfile.WithGroupCommit()}},
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
// file whole; every refused one is absent, but for at most one torn head per
// cut batch; once space is freed, writing goes on.
func TestGroupCommitFullDisk(t *testing.T) {
	forEachWriteMode(t, concurrentWritesFullDisk)
}

func concurrentWritesFullDisk(t *testing.T, opts ...watchedfile.Option) {
	dir := mountTmpfs(t, t.TempDir(), "1m")
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path, opts...)
	const goroutines = 64
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		full  int
	)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				rec := fmt.Sprintf("g%02d %06d %s\n", g, i, strings.Repeat("x", 200))
				_, err := w.Write([]byte(rec))
				mu.Lock()
				if err == nil {
					acked[rec[:10]] = true
				} else {
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
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	whole, torn := 0, 0
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if len(line) != 10+1+200+1 || line[len(line)-1] != '\n' {
			torn++
			continue
		}
		assert.True(t, acked[string(line[:10])], "a refused record is in the file whole: %q", line[:10])
		delete(acked, string(line[:10]))
		whole++
	}
	t.Logf("%d records whole in the file, %d torn heads, %d refusals", whole, torn, full)
	assert.Empty(t, acked, "acknowledged records missing from the file")
	assert.LessOrEqual(t, torn, 1, "a torn head only where the disk filled")
	s := w.Stats()
	assert.Equal(t, uint64(whole), s.Records)

	require.NoError(t, os.Truncate(path, 0)) // space again
	writeLine(t, w, "after")
	assert.Equal(t, "after\n", readFile(t, path))
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
