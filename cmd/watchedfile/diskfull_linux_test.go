package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/watchedfile/watchedfile"
)

// A real full disk (a 256 KiB tmpfs): the command keeps reading its input,
// says so, drops whole lines past -max-buffer with a count, and writes again
// once there is room; no line in the file is torn.
func TestDiskFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		missing(t, "mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0755"); err != nil {
		t.Skipf("the kernel here cannot mount a tmpfs (a skip under CI=true too): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	log := filepath.Join(dir, "app.log")

	cmd := command(t, "-max-line", "1024", "-max-buffer", "65536", "-report-interval", "10ms", log)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	_, err = io.WriteString(in, "first\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { b, _ := os.ReadFile(log); return string(b) == "first\n" }, 5*time.Second, time.Millisecond, "stderr: %s", &stderr)

	// Fill the file system.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	require.NoError(t, err)
	_, err = filler.Write(make([]byte, 1<<20))
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.NoError(t, filler.Close())

	// 1 MiB of lines: far more than the disk or the buffer holds. The input
	// is never blocked: writing it all finishes.
	const n = 10000
	wrote := make(chan error, 1)
	go func() {
		var err error
		for i := range n {
			if _, err = fmt.Fprintf(in, "line %05d %s\n", i, strings.Repeat("x", 89)); err != nil {
				break
			}
		}
		wrote <- err
	}()
	select {
	case err := <-wrote:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("input blocked while the disk is full")
	}

	fi, err := os.Stat(log)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(dir, "filler")))
	// The next retry (within a second) writes what was kept.
	require.Eventually(t, func() bool { now, err := os.Stat(log); return err == nil && now.Size() > fi.Size() },
		5*time.Second, time.Millisecond)
	_, err = io.WriteString(in, "after\n")
	require.NoError(t, err)
	require.NoError(t, in.Close())
	require.NoError(t, cmd.Wait())

	b, err := os.ReadFile(log)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Equal(t, "first", lines[0])
	require.Equal(t, "after", lines[len(lines)-1])
	whole := regexp.MustCompile(`^line \d{5} x{89}$`)
	for _, l := range lines[1 : len(lines)-1] {
		require.Regexp(t, whole, l, "torn line")
	}
	kept := len(lines) - 2
	t.Logf("kept %d of %d lines; stderr:\n%s", kept, n, stderr.String())
	require.Less(t, kept, n, "more kept than the buffer holds")
	require.Contains(t, stderr.String(), "no space left on device")
	require.Contains(t, stderr.String(), "buffer of 65536 bytes full")
	require.Contains(t, stderr.String(), fmt.Sprintf("lines dropped by watchedfile: %d", n-kept))
}

// At EOF with a disk that stays full (/dev/full), the message that gives up
// says "watchedfile:" once, and the error is still ENOSPC.
func TestGaveUpSaysWatchedfileOnce(t *testing.T) {
	w, err := watchedfile.Open("/dev/full")
	if err != nil {
		t.Skipf("no /dev/full here (a skip under CI=true too): %v", err)
	}
	defer w.Close()
	p := newTestPump(w, 100, 1000)
	p.drainFor = 20 * time.Millisecond
	err = p.run(strings.NewReader("x\n"))
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.Regexp(t, "^watchedfile: gave up writing 1 line at the end: write /dev/full: no space left on device$", err.Error())
}
