//go:build linux

package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTraceSplitsEveryLine: with -command-trace, every line sent through cat
// and through the watchedfile command is found in the kernel's trace and
// split in two (a wake-up, then the consumer's work), and ftrace's settings
// are as they were afterwards.
func TestTraceSplitsEveryLine(t *testing.T) {
	if _, err := os.Stat(filepath.Join(tracefs, "set_event")); err != nil {
		t.Skipf("no ftrace here: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("ftrace needs root")
	}
	before, err := os.ReadFile(filepath.Join(tracefs, "set_event"))
	require.NoError(t, err)
	dir := t.TempDir()
	exe, err := buildCommand(dir)
	require.NoError(t, err)
	const lines = 100
	for _, c := range commandConsumers(exe) {
		lat, split, err := lineLatency(c, dir, lines, time.Millisecond, true)
		require.NoError(t, err, c.name)
		require.Len(t, lat, lines, c.name)
		require.Len(t, split, lines, "%s: lines found in the trace", c.name)
		for i, l := range split {
			assert.Positive(t, l.wake, "%s line %d: wake-up", c.name, i)
			assert.Positive(t, l.work, "%s line %d: read to write", c.name, i)
			assert.Less(t, l.wake+l.work, lat[i], "%s line %d: both within what the bench saw", c.name, i)
		}
	}
	after, err := os.ReadFile(filepath.Join(tracefs, "set_event"))
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "ftrace's events afterwards")
}
