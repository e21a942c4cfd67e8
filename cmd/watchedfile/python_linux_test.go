package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPythonUnbuffered holds what docs/command.md says of services that
// buffer stdout on a pipe: with PYTHONUNBUFFERED=1, or python3 -u, a line
// Python prints is in the file while the service is still running (it waits
// on its stdin here), not at its exit.
func TestPythonUnbuffered(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		missing(t, "python3 is not installed")
	}
	script := `import sys; print("ready"); sys.stdin.read()`
	for name, argv := range map[string][]string{
		"PYTHONUNBUFFERED=1": {"env", "PYTHONUNBUFFERED=1", "python3", "-c", script},
		"python3 -u":         {"python3", "-u", "-c", script},
	} {
		t.Run(name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "app.log")
			cmd := command(t, append([]string{"-o", log, "--"}, argv...)...)
			stdin, err := cmd.StdinPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			require.Eventually(t, func() bool {
				b, _ := os.ReadFile(log)
				return string(b) == "ready\n"
			}, 10*time.Second, time.Millisecond, "the line never arrived while the service ran")
			require.NoError(t, stdin.Close())
			require.NoError(t, cmd.Wait())
		})
	}
}
