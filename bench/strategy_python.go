//go:build linux

package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed python/handler.py
var pythonScript []byte

// pythonStrategy is one of Python's own handlers, run in a python3
// subprocess; kind is "watched" or "file" (see python/handler.py).
func pythonStrategy(name, kind, desc string) strategy {
	return strategy{name: name, desc: desc, python: kind}
}

// findPython returns the python3 to run, or "" when there is none. It prefers
// /usr/bin/python3, which other uids can execute (a shim under /root cannot
// be run by the rotation test's unprivileged child).
func findPython() string {
	if fi, err := os.Stat("/usr/bin/python3"); err == nil && fi.Mode()&0o001 != 0 {
		return "/usr/bin/python3"
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		return ""
	}
	return p
}

// writePythonScript writes the embedded script into dir and returns its path.
func writePythonScript(dir string) (string, error) {
	p := filepath.Join(dir, "handler.py")
	if err := os.WriteFile(p, pythonScript, 0o644); err != nil {
		return "", fmt.Errorf("write python script: %w", err)
	}
	return p, nil
}

// pythonCommand builds the command that runs the script with args.
func pythonCommand(python, script string, args map[string]any) (*exec.Cmd, error) {
	b, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("python args: %w", err)
	}
	cmd := exec.Command(python, script, string(b))
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	return cmd, nil
}

// runPython runs the script with args to completion and decodes its JSON
// answer into out.
func runPython(python, script string, args map[string]any, out any) error {
	cmd, err := pythonCommand(python, script, args)
	if err != nil {
		return err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("python3 %s: %w: %s", args["mode"], err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("python3 %s: bad answer %q: %w", args["mode"], stdout.String(), err)
	}
	return nil
}
