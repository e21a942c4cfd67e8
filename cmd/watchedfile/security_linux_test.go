package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The command as root, writing into a directory owned by nobody: nobody
// swaps the log for a link to root's file, with and without -max-size;
// nothing reaches root's file and the command keeps writing. A directory
// every user may write is refused unless -shared-dir says it is meant.
func TestCommandAsRootRefusesPlantedLink(t *testing.T) {
	if os.Geteuid() != 0 {
		missing(t, "needs root: the command as root, the attacker as nobody")
	}
	const nobody = 65534
	for _, args := range [][]string{nil, {"-max-size", "1M"}} {
		t.Run(strings.Join(append([]string{"flags"}, args...), " "), func(t *testing.T) {
			base := t.TempDir()
			require.NoError(t, os.Chmod(base, 0o755))
			for d := base; d != os.TempDir(); d = filepath.Dir(d) {
				require.NoError(t, os.Chmod(d, 0o755))
			}
			dir := filepath.Join(base, "log")
			require.NoError(t, os.Mkdir(dir, 0o755))
			require.NoError(t, os.Chown(dir, nobody, nobody))
			secret := filepath.Join(base, "secret")
			require.NoError(t, os.WriteFile(secret, []byte("root's\n"), 0o600))
			log := filepath.Join(dir, "app.log")

			cmd := command(t, append(args, "-create-delay", "0", log)...)
			in, err := cmd.StdinPipe()
			require.NoError(t, err)
			var stderr syncBuffer
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			defer cmd.Process.Kill()
			_, err = io.WriteString(in, "before\n")
			require.NoError(t, err)
			require.Eventually(t, func() bool { b, _ := os.ReadFile(log); return string(b) == "before\n" }, 10*time.Second, time.Millisecond)

			attack := exec.Command("sh", "-ec", `ln -s "$1" app.log.new && mv -T app.log.new app.log`, "sh", secret)
			attack.Dir = dir
			attack.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			out, err := attack.CombinedOutput()
			require.NoError(t, err, "%s", out)
			require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "refusing to follow a symlink") },
				10*time.Second, time.Millisecond, "stderr: %s", &stderr)
			_, err = io.WriteString(in, "after\n")
			require.NoError(t, err)
			require.NoError(t, in.Close())
			require.NoError(t, cmd.Wait(), "stderr: %s", &stderr)
			b, err := os.ReadFile(secret)
			require.NoError(t, err)
			assert.Equal(t, "root's\n", string(b), "root's file was written through nobody's link")
		})
	}
	t.Run("shared directory", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.Chmod(dir, 0o777|os.ModeSticky))
		log := filepath.Join(dir, "app.log")
		cmd := command(t, log)
		cmd.Stdin = strings.NewReader("x\n")
		out, err := cmd.CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "refusing a directory that group or others may write")
		cmd = command(t, "-shared-dir", log)
		cmd.Stdin = strings.NewReader("x\n")
		out, err = cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		b, err := os.ReadFile(log)
		require.NoError(t, err)
		assert.Equal(t, "x\n", string(b))
	})
}
