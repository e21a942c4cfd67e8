//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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

// waitListening waits until port on 127.0.0.1 accepts a connection, or d
// ends.
func (d *daemon) waitListening(port int, limit time.Duration) error {
	return d.waitFor(limit, "listening on "+strconv.Itoa(port), func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
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
			if d.waitErr != nil {
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
