package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestCommandGrowsItsInputPipe: the command asks for a 1 MiB pipe on its
// stdin, so that a fast service waits less and one read brings more lines
// (go run ./bench -command measures the gain against cat).
func TestCommandGrowsItsInputPipe(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	cmd := command(t, filepath.Join(t.TempDir(), "app.log"))
	cmd.Stdin = r
	require.NoError(t, cmd.Start())
	r.Close()
	size := func() int {
		n, _ := unix.FcntlInt(w.Fd(), unix.F_GETPIPE_SZ, 0)
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for size() < pipeSize && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := size()
	w.Close()
	require.NoError(t, cmd.Wait())
	require.Equal(t, pipeSize, got, "pipe size seen by the service")
}
