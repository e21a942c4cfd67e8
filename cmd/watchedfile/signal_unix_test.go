//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// countSignals is the child of the signal tests (the test binary run with
// the one argument count-signals): it prints "ready PID", waits for one of the
// forwarded signals, counts what else arrives in the next 300ms, prints
// "got N SIGNAL" and exits 0. A second delivery of the same signal (from the
// process group, then passed on by watchedfile) comes within microseconds
// to milliseconds of the first; 300ms is ample.
func countSignals() int {
	c := make(chan os.Signal, 64)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	fmt.Printf("ready %d\n", os.Getpid())
	first := <-c
	n := 1
	quiet := time.After(300 * time.Millisecond)
	for {
		select {
		case <-c:
			n++
		case <-quiet:
			fmt.Printf("got %d %s\n", n, sigName(first.(syscall.Signal)))
			return 0
		}
	}
}

// startCounter starts cmd, which runs watchedfile -o log -- countSignals,
// and returns the pid of the counting child once it is ready. The child is
// killed at the end of the test if it is still there.
func startCounter(t *testing.T, cmd *exec.Cmd, log string) int {
	t.Helper()
	require.NoError(t, cmd.Start())
	ready := regexp.MustCompile(`(?m)^ready (\d+)$`)
	var pid int
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(log)
		m := ready.FindSubmatch(b)
		if m == nil {
			return false
		}
		pid, _ = strconv.Atoi(string(m[1]))
		return true
	}, 10*time.Second, time.Millisecond, "the child did not start")
	t.Cleanup(func() { // if the test failed before they exited
		syscall.Kill(pid, syscall.SIGKILL)
		cmd.Process.Kill()
	})
	return pid
}

// counterCommand is watchedfile -o log -- (this test binary, counting).
func counterCommand(t *testing.T, log string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return command(t, "-o", log, "--", exe, "count-signals")
}

// Each forwarded signal reaches the command's child exactly once, whether
// it is sent to the command alone (systemd KillMode=mixed, docker stop,
// kill PID) or to the command's process group (a shell job, kill -TERM
// -PGID): the child runs in a session (and process group) of its own, and
// watchedfile passes the signal on to it. Typed at a terminal: see
// signal_linux_test.go.
func TestChildGetsEachSignalOnce(t *testing.T) {
	for _, way := range []struct {
		name string
		send func(cmd *exec.Cmd, sig syscall.Signal) error
	}{
		{"to the command", func(cmd *exec.Cmd, sig syscall.Signal) error { return cmd.Process.Signal(sig) }},
		{"to its process group", func(cmd *exec.Cmd, sig syscall.Signal) error { return syscall.Kill(-cmd.Process.Pid, sig) }},
	} {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT} {
			t.Run(way.name+"/"+sigName(sig), func(t *testing.T) {
				t.Parallel()
				log := filepath.Join(t.TempDir(), "app.log")
				cmd := counterCommand(t, log)
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a job of its own, as a shell makes
				startCounter(t, cmd, log)
				require.NoError(t, way.send(cmd, sig))
				require.Equal(t, 0, waitExit(t, cmd))
				b, err := os.ReadFile(log)
				require.NoError(t, err)
				require.Regexp(t, "\ngot 1 "+sigName(sig)+"\n$", string(b), "the child counts the signals it got")
			})
		}
	}
}
