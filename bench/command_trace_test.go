//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/procfs"
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

// TestKeepCPUsAwake: with -command-awake no CPU is idle while the latency
// rounds run (its idle time in /proc/stat does not grow), and the busy loops
// are gone afterwards.
func TestKeepCPUsAwake(t *testing.T) {
	for _, tool := range []string{"taskset", "chrt"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s (util-linux)", tool)
		}
	}
	stop, err := keepCPUsAwake()
	require.NoError(t, err)
	t.Cleanup(stop)
	loops := children(t)
	require.NotEmpty(t, loops, "busy loops")
	require.Eventually(t, func() bool { // every loop has been on a CPU
		for _, l := range loops {
			if st, err := l.Stat(); err != nil || st.UTime == 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "busy loops running")
	before := idleTicks(t)
	time.Sleep(500 * time.Millisecond) // the span over which idle time is read
	after := idleTicks(t)
	stop()
	for cpu, n := range after {
		assert.LessOrEqual(t, n-before[cpu], int64(2), "cpu%d: idle ticks in 0.5 s (1/100 s each)", cpu)
	}
	assert.Empty(t, children(t), "processes left")
}

// children returns the test's child processes (procfs reads /proc).
func children(t *testing.T) []procfs.Proc {
	t.Helper()
	procs, err := procfs.AllProcs()
	require.NoError(t, err)
	var kids []procfs.Proc
	for _, p := range procs {
		if st, err := p.Stat(); err == nil && st.PPID == os.Getpid() {
			kids = append(kids, p)
		}
	}
	return kids
}

// idleTicks returns each CPU's idle time from /proc/stat, in USER_HZ ticks.
func idleTicks(t *testing.T) map[int]int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	require.NoError(t, err)
	idle := map[int]int64{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		cpu, err := strconv.Atoi(f[0][3:])
		require.NoError(t, err)
		n, err := strconv.ParseInt(f[4], 10, 64)
		require.NoError(t, err)
		idle[cpu] = n
	}
	require.NotEmpty(t, idle)
	return idle
}

// TestTraceArgBothFormats: a syscall's arguments as kernels print them,
// newer ones in decimal below 10 and with 0x above, older ones in bare hex.
func TestTraceArgBothFormats(t *testing.T) {
	for _, rest := range []string{"(fd: 8, buf: 0x3aa0, count: 0x64)", "(fd: 8, buf: 3aa0, count: 64)"} {
		fd, ok := traceArg(rest, "fd")
		assert.True(t, ok, rest)
		assert.Equal(t, int64(8), fd, rest)
		count, ok := traceArg(rest, "count")
		assert.True(t, ok, rest)
		assert.Equal(t, int64(100), count, rest)
	}
	_, ok := traceArg("-> 0x64", "count")
	assert.False(t, ok)
}
