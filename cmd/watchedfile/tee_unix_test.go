//go:build unix

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// -tee whose reader goes away (seq | watchedfile -tee f | head -1): the copy
// to stdout stops with one message, the file still gets every line, and the
// status is the child's, or 0 at EOF.
func TestTeeReaderGoes(t *testing.T) {
	const n = 200000
	var all strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&all, "%d\n", i)
	}
	for _, tc := range []struct {
		name   string
		args   []string // FILE is appended or put after -o
		stdin  bool
		status int
	}{
		{"stdin", []string{"-tee"}, true, 0},
		{"child", []string{"-tee", "-o", "FILE", "--", "sh", "-c", fmt.Sprintf("seq 1 %d; exit 3", n)}, false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "app.log")
			args := append([]string(nil), tc.args...)
			if tc.stdin {
				args = append(args, log)
			}
			for i, a := range args {
				if a == "FILE" {
					args[i] = log
				}
			}
			cmd := groupCommand(t, args...)
			if tc.stdin {
				cmd.Stdin = strings.NewReader(all.String())
			}
			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			cmd.Stdout = pw
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			pw.Close()
			line, err := bufio.NewReader(pr).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "1\n", line)
			pr.Close() // head -1 exits
			require.Equal(t, tc.status, waitExit(t, cmd), "stderr: %s", &stderr)
			b, err := os.ReadFile(log)
			require.NoError(t, err)
			require.Equal(t, n, strings.Count(string(b), "\n"), "lines in the file")
			require.Equal(t, all.String(), string(b))
			require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one message: %s", &stderr)
			require.Contains(t, stderr.String(), "-tee")
		})
	}
}
