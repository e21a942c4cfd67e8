package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The count at exit is of what watchedfile itself dropped, and says so:
// after a copytruncate that lost a line (written between the copy and the
// truncation, as logrotate's copytruncate loses it) it must not claim that
// no line was lost.
func TestExitCountIsWhatWatchedfileDropped(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	cmd := command(t, "-stats", "1h", log)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	inFile := func(want string) {
		t.Helper()
		require.Eventually(t, func() bool { b, _ := os.ReadFile(log); return string(b) == want }, 5*time.Second, time.Millisecond)
	}
	_, err = io.WriteString(in, "copied\n")
	require.NoError(t, err)
	inFile("copied\n")
	b, err := os.ReadFile(log) // copytruncate: copy...
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(log+".1", b, 0o644))
	_, err = io.WriteString(in, "lost\n")
	require.NoError(t, err)
	inFile("copied\nlost\n")
	require.NoError(t, os.Truncate(log, 0)) // ...then truncate: "lost" is gone
	_, err = io.WriteString(in, "after\n")
	require.NoError(t, err)
	inFile("after\n")
	require.NoError(t, in.Close())
	require.NoError(t, cmd.Wait())
	require.Contains(t, stderr.String(), "; lines dropped by watchedfile: 0\n")
	require.NotContains(t, stderr.String(), "lines lost")
}
