package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestALineDoesNotWakeTheRuntimeMonitor: a line that comes to a pipe idle
// for a few milliseconds wakes the thread whose read returns it, and not
// the Go runtime's monitor (sysmon) as well: the reading goroutine keeps
// its P through the read (newSliceEvery). The monitor is the second thread
// the runtime starts; its voluntary context switches (/proc) count the
// times it slept and was woken. Without the fix it sleeps about twice per
// line, with it about once every three lines (its own 10 ms tick).
// go run ./bench -command -command-trace shows the time this saves.
func TestALineDoesNotWakeTheRuntimeMonitor(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: the runtime's monitor takes the only P during each read and is woken when it returns")
	}
	out := filepath.Join(t.TempDir(), "app.log")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	cmd := command(t, out)
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
	const lines = 300
	for range 20 { // the runtime's threads are started
		send()
	}
	before := threadSleeps(t, cmd.Process.Pid)
	for range lines {
		time.Sleep(2 * time.Millisecond) // the pipe idles between lines, as a quiet service's does
		send()
	}
	after := threadSleeps(t, cmd.Process.Pid)
	w.Close()
	require.NoError(t, cmd.Wait())

	tids := make([]int, 0, len(before))
	all := 0
	for tid := range before {
		tids = append(tids, tid)
		all += after[tid] - before[tid]
	}
	slices.Sort(tids) // in the order the threads were made
	require.Greater(t, len(tids), 1, "threads of the command")
	monitor := tids[1]
	perLine := float64(after[monitor]-before[monitor]) / lines
	t.Logf("per line: the monitor slept %.2f times, all the command's threads %.2f", perLine, float64(all)/lines)
	assert.Less(t, perLine, 1.0, "the runtime's monitor slept (and was woken) per line")
}

// threadSleeps returns the voluntary context switches of each thread of
// process pid.
func threadSleeps(t *testing.T, pid int) map[int]int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	require.NoError(t, err)
	sleeps := map[int]int{}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "status"))
		if err != nil {
			continue // the thread ended
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			if v, ok := bytes.CutPrefix(l, []byte("voluntary_ctxt_switches:")); ok {
				n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
				require.NoError(t, err)
				sleeps[tid] = n
			}
		}
	}
	return sleeps
}
