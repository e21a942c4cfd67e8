package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMain runs the command itself when the test binary is re-executed with
// WATCHEDFILE_RUN_MAIN=1, so the tests drive a real process.
func TestMain(m *testing.M) {
	if os.Getenv("WATCHEDFILE_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// command is the watchedfile command with args, as a process.
func command(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "WATCHEDFILE_RUN_MAIN=1")
	return cmd
}

// missing skips the test with why, but fails it under CI=true.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	ee, ok := err.(*exec.ExitError)
	require.True(t, ok, "not an exit status: %v", err)
	return ee.ExitCode()
}

func TestStdinToFile(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	cmd := command(t, "-tee", log)
	cmd.Stdin = strings.NewReader("one\ntwo\nthree")
	var out bytes.Buffer
	cmd.Stdout = &out
	require.NoError(t, cmd.Run())
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, "one\ntwo\nthree\n", string(b))
	require.Equal(t, "one\ntwo\nthree\n", out.String(), "-tee copies to stdout")
}

func TestOpenFailsExit1(t *testing.T) {
	cmd := command(t, filepath.Join(t.TempDir(), "missing", "app.log"))
	cmd.Stdin = strings.NewReader("x\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.Equal(t, 1, exitCode(t, cmd.Run()))
	require.Contains(t, stderr.String(), "no such file or directory")

	// With -mkdir the directory is made.
	dir := filepath.Join(t.TempDir(), "a", "b")
	cmd = command(t, "-mkdir", "0750", "-mode", "0600", filepath.Join(dir, "app.log"))
	cmd.Stdin = strings.NewReader("x\n")
	require.NoError(t, cmd.Run())
	fi, err := os.Stat(filepath.Join(dir, "app.log"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{},                             // no file
		{"-mode", "rw", "x.log"},       // not octal
		{"-o", "x.log"},                // no command
		{"-max-line", "0", "x.log"},    // nonsense
		{"-nosuchflag", "x.log"},       // unknown
		{"a.log", "b.log"},             // two files
		{"-max-buffer", "10", "x.log"}, // smaller than a line
	} {
		cmd := command(t, args...)
		cmd.Dir = t.TempDir()
		require.Equal(t, 2, exitCode(t, cmd.Run()), "args %q", args)
	}
}
