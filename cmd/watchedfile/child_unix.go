//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// forwarded are the signals passed on to the command: those that stop a
// service, and the job control of a shell (Ctrl-Z, fg).
var forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTSTP, syscall.SIGCONT}

// ownGroup starts the command in a session, and so a process group, of its
// own, as dumb-init does: a signal sent to the group watchedfile is in
// (Ctrl-C at a terminal, kill -TERM -PGID, a shell's job control) reaches
// watchedfile alone, which passes it on once. In a session of its own the
// command has no controlling terminal: reading a terminal on stdin never
// stops it with SIGTTIN, as it would in a background process group of the
// terminal's session (tini gives its child the terminal's foreground
// instead, taking it from whatever group had it).
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}

// passOn passes s on to the command. A signal that ends or reloads a
// service goes to the command alone, as it came to watchedfile alone from
// systemd (KillMode=mixed) or docker stop, and as tini passes it on: a
// command with workers (gunicorn, nginx) stops them its own way, and a
// worker that got the signal straight away as well dies under its master's
// shutdown. Job control goes to the command's whole group, as a shell stops
// and resumes a whole job. The group has no terminal and its parent is in
// another session, so the kernel discards a SIGTSTP sent to it (an orphaned
// process group): Ctrl-Z stops it with SIGSTOP instead (as dumb-init does),
// then watchedfile itself, so that the shell sees the job stop; the shell's
// fg sends SIGCONT, which is passed on too.
func passOn(p *os.Process, s os.Signal) error {
	switch s {
	case syscall.SIGTSTP:
		err := kill(-p.Pid, syscall.SIGSTOP)
		syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		return err
	case syscall.SIGCONT:
		return kill(-p.Pid, syscall.SIGCONT)
	}
	return p.Signal(s)
}

// kill is syscall.Kill, with a group already gone as os.ErrProcessDone.
func kill(pid int, sig syscall.Signal) error {
	err := syscall.Kill(pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// keepBrokenPipes makes a write to a stdout or stderr whose reader went away
// fail with EPIPE instead of ending the process with SIGPIPE (Go's default
// for descriptors 1 and 2). A signal caught here is reset to the default in
// the command watchedfile starts; an ignored one would not be.
func keepBrokenPipes() {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
}
