package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPty returns a new pseudo-terminal's master and slave.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here (a skip under CI=true too): %v", err)
	}
	t.Cleanup(func() { m.Close() })
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0))
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return m, s
}

// onTerminal makes cmd a session leader with the pty's slave as its
// controlling terminal and stdin: the foreground process group of that
// terminal, as a shell makes a job it runs in the foreground.
func onTerminal(t *testing.T, cmd *exec.Cmd) (master *os.File) {
	t.Helper()
	master, slave := openPty(t)
	cmd.Stdin = slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	return master
}

// Ctrl-C and Ctrl-\ typed at the terminal reach the child once: the
// terminal signals its foreground process group, the command's, and the
// command passes the signal on to the child's own group.
func TestChildGetsTerminalSignalOnce(t *testing.T) {
	for _, tc := range []struct {
		key string
		b   byte
		sig syscall.Signal
	}{{"Ctrl-C", 0x03, syscall.SIGINT}, {`Ctrl-\`, 0x1c, syscall.SIGQUIT}} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			log := filepath.Join(t.TempDir(), "app.log")
			cmd := counterCommand(t, log)
			master := onTerminal(t, cmd)
			startCounter(t, cmd, log)
			_, err := master.Write([]byte{tc.b})
			require.NoError(t, err)
			require.Equal(t, 0, waitExit(t, cmd))
			b, err := os.ReadFile(log)
			require.NoError(t, err)
			require.Regexp(t, "\ngot 1 "+sigName(tc.sig)+"\n$", string(b), "the child counts the signals it got")
		})
	}
}

// Ctrl-Z (SIGTSTP to the foreground job's process group, here the command's)
// stops the command and its child; the shell's fg (SIGCONT to the same
// group) resumes both.
func TestJobControl(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	cmd := counterCommand(t, log)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	child := startCounter(t, cmd, log)
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGTSTP))
	for _, pid := range []int{cmd.Process.Pid, child} {
		require.Eventually(t, func() bool { return procState(pid) == "T" }, 10*time.Second, time.Millisecond, "pid %d not stopped", pid)
	}
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT))
	for _, pid := range []int{cmd.Process.Pid, child} {
		require.Eventually(t, func() bool { s := procState(pid); return s != "T" && s != "" }, 10*time.Second, time.Millisecond, "pid %d still stopped", pid)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, waitExit(t, cmd))
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Regexp(t, "\ngot 1 TERM\n$", string(b))
}

// procState is the state letter of pid in /proc (R, S, T, Z...), "" if gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
