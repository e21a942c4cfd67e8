package watchedfile_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/watchedfile/watchedfile"
)

// TestRotationLooksOncePerSlice: with rotation on and none due, a record
// still costs one write(2), and the Writer looks at the file's size
// (fstat) once per slice of bytes this process writes, MaxSize/32 and at
// most 1 MiB, as Rotation.MaxSize says; no other stat-family call grows
// with the records.
// Counted under strace -f in child processes, as the difference between a
// run with few records and one with more (the work of Open and Close, and
// of the Writer's goroutines at Open, cancels out).
func TestRotationLooksOncePerSlice(t *testing.T) {
	if os.Getenv("WATCHEDFILE_ROTATION_COST_CHILD") != "" {
		rotationCostChild(t)
		return
	}
	requireTool(t, "strace")
	for _, c := range []struct {
		name      string
		maxSize   int64
		few, more int // records
	}{
		{"MaxSize 1MiB", 1 << 20, 2000, 10000}, // slice 32 KiB; at most 1,000,000 bytes, under the limit
		{"MaxSize 2^62", 1 << 62, 2000, 32000}, // slice 1 MiB
	} {
		t.Run(c.name, func(t *testing.T) {
			writes1, stats1 := straceRotationChild(t, c.maxSize, c.few)
			writes2, stats2 := straceRotationChild(t, c.maxSize, c.more)
			slice := min(c.maxSize/32, 1<<20)
			bytesMore := int64(c.more-c.few) * rotationCostRecordSize
			looks := int64(stats2 - stats1)
			t.Logf("%d and %d records: %d and %d write(2) or writev(2) of a record, %d and %d stat-family calls: %d more for %d bytes more, slice %d",
				c.few, c.more, writes1, writes2, stats1, stats2, looks, bytesMore, slice)
			assert.Equal(t, c.few, writes1, "one system call per record")
			assert.Equal(t, c.more, writes2, "one system call per record")
			assert.LessOrEqual(t, looks, bytesMore/slice+1, "at most one stat per slice")
			assert.GreaterOrEqual(t, looks, bytesMore/slice-1, "a look per slice: rotation is on")
		})
	}
}

// straceRotationChild runs rotationCostChild under strace -f with n records
// and returns the write(2) or writev(2) calls that carried a record and the
// stat-family calls in the whole process. It checks that the records are
// in the file the path links to, and that no rotation happened.
func straceRotationChild(t *testing.T, maxSize int64, n int) (writes, stats int) {
	t.Helper()
	dir := t.TempDir()
	writes, stats = straceRecords(t, "TestRotationLooksOncePerSlice", "WATCHEDFILE_ROTATION_COST_CHILD=1",
		"WATCHEDFILE_PATH="+filepath.Join(dir, "app.log"),
		"WATCHEDFILE_MAX_SIZE="+strconv.FormatInt(maxSize, 10),
		"WATCHEDFILE_RECORDS="+strconv.Itoa(n))
	target, err := os.Readlink(filepath.Join(dir, "app.log"))
	require.NoError(t, err, "the path is a link to the dated file")
	assert.Equal(t, n, strings.Count(readFile(t, filepath.Join(dir, target)), "\n"))
	dated, err := filepath.Glob(filepath.Join(dir, "app-*.log"))
	require.NoError(t, err)
	assert.Len(t, dated, 1, "no rotation")
	return writes, stats
}

const rotationCostRecordSize = 100

// rotationCostChild writes the records through a Writer with rotation on.
func rotationCostChild(t *testing.T) {
	maxSize, err := strconv.ParseInt(os.Getenv("WATCHEDFILE_MAX_SIZE"), 10, 64)
	require.NoError(t, err)
	n, err := strconv.Atoi(os.Getenv("WATCHEDFILE_RECORDS"))
	require.NoError(t, err)
	w, err := watchedfile.Open(os.Getenv("WATCHEDFILE_PATH"), watchedfile.WithRotation(watchedfile.Rotation{MaxSize: maxSize}),
		// The look at the path once a second (WithCheckInterval) goes by
		// time, not by bytes: out of the count, as the larger run lasts
		// longer.
		watchedfile.WithCheckInterval(time.Hour))
	require.NoError(t, err)
	record := []byte("record 0000000 " + strings.Repeat("x", rotationCostRecordSize-16) + "\n")
	for i := range n {
		copy(record[7:14], fmt.Sprintf("%07d", i)) // formatting outside the traced call
		_, err := w.Write(record)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
}
