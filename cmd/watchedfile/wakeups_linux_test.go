package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/procfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestALineDoesNotWakeTheRuntimeMonitor: a line that comes to a pipe idle
// for a few milliseconds wakes the thread whose read returns it, and not
// the Go runtime's monitor (sysmon) as well: the reading goroutine keeps
// its P through the read (newSliceEvery). The monitor is the first thread
// the runtime starts after the main one; its voluntary context switches
// (/proc) count the times it slept and was woken. Without the fix it
// sleeps two to three times per line, with it about once every three lines
// (its own 10 ms tick). The median of three rounds, so that a stall of the
// test itself (a read over 10 ms) does not decide.
// go run ./bench -command -command-trace shows the time this saves.
func TestALineDoesNotWakeTheRuntimeMonitor(t *testing.T) {
	out := filepath.Join(t.TempDir(), "app.log")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	cmd := command(t, out)
	// An idle P to keep: whatever this machine's CPUs or cgroup limit.
	cmd.Env = append(cmd.Env, "GOMAXPROCS=2")
	cmd.Stdin = r
	require.NoError(t, cmd.Start())
	r.Close()
	line := append(bytes.Repeat([]byte("l"), 99), '\n')
	sent := 0
	send := func() {
		_, err := w.Write(line)
		require.NoError(t, err)
		sent++
		want := int64(sent * len(line))
		deadline := time.Now().Add(10 * time.Second)
		for {
			if st, err := os.Stat(out); err == nil && st.Size() == want {
				return
			}
			require.True(t, time.Now().Before(deadline), "line %d not in the file after 10 s", sent)
			time.Sleep(20 * time.Microsecond)
		}
	}
	// Warm-up at the rounds' pace: the runtime's threads are started and
	// the monitor has backed off from its start-up polling.
	for range 50 {
		time.Sleep(2 * time.Millisecond)
		send()
	}
	monitor := runtimeMonitor(t, cmd.Process.Pid)
	const lines = 100
	var rounds []float64
	for range 3 {
		before := threadSleeps(t, cmd.Process.Pid)
		for range lines {
			time.Sleep(2 * time.Millisecond) // the pipe idles between lines, as a quiet service's does
			send()
		}
		after := threadSleeps(t, cmd.Process.Pid)
		all := 0
		for tid := range before {
			all += after[tid] - before[tid]
		}
		rounds = append(rounds, float64(after[monitor]-before[monitor])/lines)
		t.Logf("per line: the monitor slept %.2f times, all the command's threads %.2f", rounds[len(rounds)-1], float64(all)/lines)
	}
	w.Close()
	require.NoError(t, cmd.Wait())
	slices.Sort(rounds)
	assert.Less(t, rounds[1], 1.0, "the runtime's monitor slept (and was woken) per line, median of the rounds")
}

// runtimeMonitor returns the thread id of the Go runtime's monitor (sysmon)
// in process pid: the first thread made after the main one. Thread ids grow
// from the pid, wrapping at pid_max.
func runtimeMonitor(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	require.NoError(t, err)
	pidMax, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	require.NoError(t, err)
	var tids []int
	for tid := range threadSleeps(t, pid) {
		tids = append(tids, tid)
	}
	after := func(tid int) int { return ((tid-pid)%pidMax + pidMax) % pidMax }
	slices.SortFunc(tids, func(a, b int) int { return after(a) - after(b) })
	require.Greater(t, len(tids), 1, "threads of the command")
	return tids[1]
}

// threadSleeps returns the voluntary context switches of each thread of
// process pid (procfs reads /proc).
func threadSleeps(t *testing.T, pid int) map[int]int {
	t.Helper()
	threads, err := procfs.AllThreads(pid)
	require.NoError(t, err)
	sleeps := map[int]int{}
	for _, th := range threads {
		st, err := th.NewStatus()
		if err != nil {
			continue // the thread ended
		}
		sleeps[th.PID] = int(st.VoluntaryCtxtSwitches)
	}
	return sleeps
}
