//go:build !unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// forwarded are the signals passed on to the command.
var forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP}

// ownGroup does nothing here: there are no process groups to keep apart.
func ownGroup(*exec.Cmd) {}

// passOn sends s to the command.
func passOn(p *os.Process, s os.Signal) error { return p.Signal(s) }

// keepBrokenPipes does nothing here: there is no SIGPIPE.
func keepBrokenPipes() {}
