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
	if len(os.Args) == 2 && os.Args[1] == "count-signals" { // a child of the command: signal_unix_test.go
		os.Exit(countSignals())
	}
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
		{"-max-line", "24", "x.log"},   // no room for the cut marker and a byte
	} {
		cmd := command(t, args...)
		cmd.Dir = t.TempDir()
		require.Equal(t, 2, exitCode(t, cmd.Run()), "args %q", args)
	}
}

// -h and --help print the usage on stdout and exit 0.
func TestHelpOnStdout(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		cmd := command(t, arg)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), arg)
		require.Contains(t, stdout.String(), "usage: app 2>&1 | watchedfile [flags] FILE", arg)
		require.Contains(t, stdout.String(), "-max-line", arg)
		require.Empty(t, stderr.String(), arg)
	}
	// A wrong flag: the error and the usage on stderr, status 2.
	cmd := command(t, "-nosuchflag", "x.log")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.Equal(t, 2, exitCode(t, cmd.Run()))
	require.Empty(t, stdout.String())
	require.Contains(t, stderr.String(), "flag provided but not defined: -nosuchflag")
	require.Contains(t, stderr.String(), "usage:")
}

// -version prints the version on stdout and exits 0.
func TestVersionFlag(t *testing.T) {
	cmd := command(t, "-version")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run())
	require.Regexp(t, `^watchedfile \S+`, stdout.String())
	require.Equal(t, 1, strings.Count(stdout.String(), "\n"))
	require.Empty(t, stderr.String())
}

// A path that ends in a slash names a directory: refused (exit 2), and
// nothing is created, not even a file named like the directory.
func TestPathEndingInSlashRefused(t *testing.T) {
	for _, args := range [][]string{
		{"newdir/"},
		{"-mkdir", "0755", "newdir/"},
		{"-o", "newdir/", "--", "true"},
		{"."},
		{"a/.."},
	} {
		dir := t.TempDir()
		cmd := command(t, args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader("x\n")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		require.Equal(t, 2, exitCode(t, cmd.Run()), "args %q", args)
		require.Contains(t, stderr.String(), "names a directory", "args %q", args)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, entries, "args %q", args)
	}
}

// A command that cannot be started: status 127, and no log file is created.
func TestNoFileWhenCommandCannotStart(t *testing.T) {
	for _, prog := range []string{"/nonexistent/prog", "no-such-program-here", "/etc/passwd"} {
		log := filepath.Join(t.TempDir(), "app.log")
		cmd := command(t, "-o", log, "--", prog)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		require.Equal(t, 127, exitCode(t, cmd.Run()), prog)
		require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one message: %s", &stderr)
		require.Contains(t, stderr.String(), "watchedfile: cannot run "+prog)
		require.NoFileExists(t, log, prog)
	}
}

// -max-line 65536: a longer line is cut so that each piece, the marker
// included, is 65536 bytes before its newline.
func TestCutAtTheLimit(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	cmd := command(t, "-max-line", "65536", log)
	long := strings.Repeat("a", 200000)
	cmd.Stdin = strings.NewReader(long + "\nshort\n")
	require.NoError(t, cmd.Run())
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var joined strings.Builder
	for i, l := range lines[:len(lines)-1] {
		require.LessOrEqual(t, len(l), 65536, "line %d", i)
		if strings.HasSuffix(l, strings.TrimSuffix(cutMark, "\n")) {
			require.Equal(t, 65536, len(l), "a cut line is cut at the limit, marker included")
			l = strings.TrimSuffix(l, strings.TrimSuffix(cutMark, "\n"))
		}
		joined.WriteString(l)
	}
	require.Equal(t, long, joined.String(), "nothing lost in the cuts")
	require.Equal(t, "short", lines[len(lines)-1])
}
