package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A reopen that fails (the path is a directory for a while): the command
// says once that it keeps writing to the file it has and retries, and once
// that it switched when it succeeds; the lines written meanwhile are in the
// old file, those after in the new one.
func TestReopenFailsThenRecovers(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	cmd := command(t, "-create-delay", "10s", "-stats", "20ms", log)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	_, err = io.WriteString(in, "before\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { b, _ := os.ReadFile(log); return string(b) == "before\n" }, 5*time.Second, time.Millisecond)

	// Rotated, and a directory where the new file should be: every reopen
	// fails (EISDIR) until it goes.
	require.NoError(t, os.Rename(log, log+".1"))
	require.NoError(t, os.Mkdir(log, 0o755))
	failed := regexp.MustCompile(`failed_reopens=(\d+)`)
	require.Eventually(t, func() bool {
		m := failed.FindAllStringSubmatch(stderr.String(), -1)
		if len(m) == 0 {
			return false
		}
		n, _ := strconv.Atoi(m[len(m)-1][1])
		return n >= 3
	}, 10*time.Second, time.Millisecond, "three failed reopens; stderr: %s", &stderr)
	_, err = io.WriteString(in, "meanwhile\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { b, _ := os.ReadFile(log + ".1"); return string(b) == "before\nmeanwhile\n" }, 5*time.Second, time.Millisecond)

	// The directory goes and a file takes its place: the next retry opens it.
	require.NoError(t, os.Remove(log))
	require.NoError(t, os.WriteFile(log, nil, 0o644))
	require.Eventually(t, func() bool {
		return strings.Contains(stderr.String(), "reopen_pending=false") &&
			strings.LastIndex(stderr.String(), "reopen_pending=false") > strings.LastIndex(stderr.String(), "reopen_pending=true")
	},
		10*time.Second, time.Millisecond, "stderr: %s", &stderr)
	_, err = io.WriteString(in, "after\n")
	require.NoError(t, err)
	require.NoError(t, in.Close())
	require.NoError(t, cmd.Wait())
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, "after\n", string(b))

	var said []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, "watchedfile: stats:") {
			said = append(said, l)
		}
	}
	require.Len(t, said, 2, "one line when the reopen fails, one when it succeeds: %q", said)
	require.Regexp(t, `^watchedfile: cannot open .*app.log.*is a directory.*still writing to the file it has open.*retrying`, said[0])
	require.Regexp(t, `^watchedfile: reopened .*app.log after \d+ failed attempts`, said[1])
}
