//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/procfs"
)

// daemon is a shipper's or central server's process (rsyslogd, otelcol),
// started and ended by the shipping tests.
type daemon struct {
	name     string
	cmd      *exec.Cmd
	done     chan struct{} // closed once reaped
	waitErr  error         // Wait's, once done is closed
	out      *lockedBuffer // its stdout and stderr
	stopping atomic.Bool   // stop has begun: its end is ours
	stopOnce sync.Once
	stopErr  error
}

// startDaemon starts cmd, its output going to the daemon's buffer.
func startDaemon(name string, cmd *exec.Cmd) (*daemon, error) {
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{}), out: &lockedBuffer{}}
	cmd.Stdout, cmd.Stderr = d.out, d.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { d.waitErr = cmd.Wait(); close(d.done) }()
	return d, nil
}

// ended says how it ended, if it has ended without being stopped.
func (d *daemon) ended() error {
	select {
	case <-d.done:
		if !d.stopping.Load() {
			return fmt.Errorf("%s ended by itself (%v): %s", d.name, exitStatus(d.waitErr), d.out.String())
		}
	default:
	}
	return nil
}

// exitStatus says how a process ended, from its Wait's error.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// waitListening waits until d listens on port on 127.0.0.1 and accepts a
// connection there, or d ends. The listening socket must be d's own: a
// port found free may be taken by another process (another row's server)
// before d binds it, and a rsyslogd that cannot bind goes on running.
func (d *daemon) waitListening(port int, limit time.Duration) error {
	return d.waitFor(limit, "listening on "+strconv.Itoa(port), func() bool {
		if !d.listensOn(port) {
			return false
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// listensOn says whether one of d's descriptors is the socket listening on
// port (/proc/net/tcp's entry, matched by inode).
func (d *daemon) listensOn(port int) bool {
	const tcpListen = 10 // TCP_LISTEN in /proc/net/tcp's st column
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return false
	}
	sockets, err := fs.NetTCP()
	if err != nil {
		return false
	}
	var want []string
	for _, s := range sockets {
		if s.St == tcpListen && s.LocalPort == uint64(port) {
			want = append(want, fmt.Sprintf("socket:[%d]", s.Inode))
		}
	}
	if len(want) == 0 {
		return false
	}
	proc, err := fs.Proc(d.cmd.Process.Pid)
	if err != nil {
		return false
	}
	targets, err := proc.FileDescriptorTargets()
	if err != nil {
		return false
	}
	for _, t := range targets {
		if slices.Contains(want, t) {
			return true
		}
	}
	return false
}

// waitOutput waits until d has written s, or d ends.
func (d *daemon) waitOutput(s string, limit time.Duration) error {
	return d.waitFor(limit, "to say "+strconv.Quote(s), func() bool {
		return strings.Contains(d.out.String(), s)
	})
}

func (d *daemon) waitFor(limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		select {
		case <-d.done:
			return fmt.Errorf("%s ended (%v) before %s: %s", d.name, exitStatus(d.waitErr), what, d.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not %s after %v: %s", d.name, what, limit, d.out.String())
		}
	}
	return nil
}

// pause stops (SIGSTOP) or continues (SIGCONT) it.
func (d *daemon) pause(stop bool) error {
	if stop {
		return d.cmd.Process.Signal(syscall.SIGSTOP)
	}
	return d.cmd.Process.Signal(syscall.SIGCONT)
}

// stop ends it, politely first, and reaps it. It reports an end that was
// not ours (the process had ended by itself), a failed exit, and a process
// that had to be killed. Safe to call twice: the second call returns the
// first's result.
func (d *daemon) stop() error {
	d.stopOnce.Do(func() {
		if err := d.ended(); err != nil {
			d.stopErr = err
			return
		}
		d.stopping.Store(true)
		d.cmd.Process.Signal(syscall.SIGCONT) // a stopped one cannot take SIGTERM
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
			if d.waitErr != nil && !killedBy(d.waitErr, syscall.SIGTERM) {
				d.stopErr = fmt.Errorf("%s, asked to end, failed (%v): %s", d.name, d.waitErr, d.out.String())
			}
		case <-time.After(20 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
			d.stopErr = fmt.Errorf("%s still running 20 s after SIGTERM, killed: %s", d.name, d.out.String())
		}
	})
	return d.stopErr
}

// killedBy says whether a process whose Wait returned err was ended by sig
// (one stopped before it has set up its handler for SIGTERM dies of it).
func killedBy(err error, sig syscall.Signal) bool {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return false
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// stopAll stops each of ds (nil ones skipped) in turn.
func stopAll(ds ...*daemon) error {
	var errs []error
	for _, d := range ds {
		if d != nil {
			errs = append(errs, d.stop())
		}
	}
	return errors.Join(errs...)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startCentralOn starts a central server on a free port by start, and
// waits until it accepts connections; a port found free may be taken
// before the server binds it, so it tries three ports.
func startCentralOn(start func(port int) (*daemon, error)) (*daemon, int, error) {
	var errs []error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, 0, err
		}
		d, err := start(port)
		if err != nil {
			return nil, 0, err
		}
		if err = d.waitListening(port, 30*time.Second); err == nil {
			return d, port, nil
		}
		errs = append(errs, err)
		d.stopping.Store(true) // its failure is in err already
		d.stop()
	}
	return nil, 0, errors.Join(errs...)
}

// TestWaitListeningWantsItsOwnSocket: a central server whose port another
// process took before it could bind it is not taken for listening, though
// the port accepts connections (seen in CI: an OTLP shipper sent to another
// row's RELP server, and its own central collector had exited).
func TestWaitListeningWantsItsOwnSocket(t *testing.T) {
	needRsyslog(t)
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	port := other.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	d, err := startRsyslogd(dir, fmt.Sprintf(centralConf, mkdir(dir, "work"), port, filepath.Join(dir, "received.log")))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.stop(); err != nil {
			t.Error(err)
		}
	}()
	if err := d.waitListening(port, 3*time.Second); err == nil {
		t.Errorf("rsyslogd on a port another process listens on was taken for listening: %s", d.out)
	}
}
