//go:build unix

package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestChildExitStatus(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"echo out; echo err >&2; exit 0", 0},
		{"echo out; echo err >&2; exit 3", 3},
		{"echo out; echo err >&2; kill -KILL $$", 128 + 9},
		{"echo out; echo err >&2; kill -TERM $$", 128 + 15},
	} {
		log := filepath.Join(t.TempDir(), "app.log")
		cmd := command(t, "-o", log, "--", "sh", "-c", tc.script)
		require.Equal(t, tc.want, exitCode(t, cmd.Run()), tc.script)
		b, err := os.ReadFile(log)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"out", "err"}, strings.Fields(string(b)), "stdout and stderr into the file")
	}
	cmd := command(t, "-o", filepath.Join(t.TempDir(), "app.log"), "--", "/nonexistent/program")
	require.Equal(t, 127, exitCode(t, cmd.Run()))
}

// Each forwarded signal reaches the command, which reports it and exits
// with a status of its choice; an untrapped SIGTERM gives 128+15.
// (How many times each arrives: signal_unix_test.go.)
func TestChildSignalsPassedOn(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "app.log")
			name := strings.TrimPrefix(sigName(sig), "SIG")
			script := "trap 'echo got " + name + "; exit 7' " + name + "; echo ready; while :; do sleep 0.01; done"
			cmd := groupCommand(t, "-tee", "-o", log, "--", "sh", "-c", script)
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			line, err := bufio.NewReader(out).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "ready\n", line)
			require.NoError(t, cmd.Process.Signal(sig))
			go io.Copy(io.Discard, out)
			require.Equal(t, 7, waitExit(t, cmd))
			b, err := os.ReadFile(log)
			require.NoError(t, err)
			require.Equal(t, "ready\ngot "+name+"\n", string(b))
		})
	}
	t.Run("untrapped SIGTERM", func(t *testing.T) {
		log := filepath.Join(t.TempDir(), "app.log")
		cmd := groupCommand(t, "-tee", "-o", log, "--", "sh", "-c", "echo ready; exec sleep 60")
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		_, err = bufio.NewReader(out).ReadString('\n')
		require.NoError(t, err)
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		go io.Copy(io.Discard, out)
		// The signal, not the minute of sleep, ended it: 128+SIGTERM.
		require.Equal(t, 128+15, waitExit(t, cmd))
	})
}

func sigName(s syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGTERM: "TERM", syscall.SIGINT: "INT", syscall.SIGQUIT: "QUIT", syscall.SIGHUP: "HUP"}[s]
}

// Reading stdin, SIGTERM does not end the command before EOF: lines still in
// the pipe are written.
func TestStdinSurvivesSIGTERMUntilEOF(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	cmd := groupCommand(t, log)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	_, err = io.WriteString(in, "before\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { b, _ := os.ReadFile(log); return string(b) == "before\n" }, 5*time.Second, time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	_, err = io.WriteString(in, "after\n")
	require.NoError(t, err)
	require.NoError(t, in.Close())
	require.Zero(t, waitExit(t, cmd))
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, "before\nafter\n", string(b))
}

// waitExit waits for cmd, started by groupCommand, at most 10s (then kills
// its process group and fails) and returns its exit status.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitCode(t, err)
	case <-time.After(10 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // and the command it ran
		<-done
		t.Fatal("the command did not exit within 10s")
		return -1
	}
}

// groupCommand is command in a process group of its own, for waitExit.
func groupCommand(t *testing.T, args ...string) *exec.Cmd {
	cmd := command(t, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}
