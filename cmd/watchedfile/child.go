package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/watchedfile/watchedfile"
)

// linger is how long output is still read after the command exits, for
// processes it left behind that hold the pipe open.
const linger = 2 * time.Second

// runChild runs args with stdout and stderr into the pump, passes on the
// forwarded signals, and returns the command's exit status, or 128+signal
// when a signal ended it. On Unix the command runs in a session and process
// group of its own (see child_unix.go): a signal sent to the whole group
// watchedfile is in (a shell job, Ctrl-C) reaches the command once, passed
// on by watchedfile.
func runChild(args []string, stdin io.Reader, p *pump, rep *reporter) (int, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return 1, errorf("pipe: %w", err)
	}
	growPipe(pr)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin = stdin
	cmd.Stdout = pw
	cmd.Stderr = pw
	ownGroup(cmd)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		return 127, errorf("start %s: %w", args[0], err)
	}
	pw.Close()
	pumped := make(chan error, 1)
	go func() { pumped <- p.run(pr) }()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
loop:
	for {
		select {
		case s := <-sigs:
			if err := passOn(cmd.Process, s); err != nil && !errors.Is(err, os.ErrProcessDone) {
				rep.report("signal", "passing on %v: %v", s, err)
			}
		case werr = <-waited:
			break loop
		}
	}
	// Children of the command may still hold the pipe: read until EOF, or
	// for linger at most.
	pr.SetReadDeadline(time.Now().Add(linger))
	perr := <-pumped
	pr.Close()
	return exitStatus(cmd, werr), perr
}

// exitStatus is the command's exit status, or 128+signal.
func exitStatus(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState == nil {
		if err != nil {
			return 1
		}
		return 0
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// handleSignals, reading stdin: SIGHUP reopens the file (for a postrotate
// that signals); SIGTERM and SIGINT are ignored, so that lines still in the
// pipe are written when the service before it in the pipeline stops: the
// command ends at EOF.
func handleSignals(w *watchedfile.Writer, rep *reporter) (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				if s == syscall.SIGHUP {
					if err := w.Reopen(); err != nil {
						rep.report("reopen", "reopen on SIGHUP: %v", err)
					}
				}
			}
		}
	}()
	// Not signal.Stop: a SIGTERM sent before EOF but delivered after it
	// would then end the command by the default action, with status -1,
	// instead of being ignored (seen in CI). The command is about to exit.
	return func() { close(done) }
}
