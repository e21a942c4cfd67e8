//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Two rsyslog instances of the test's own, as a service and its central log
// server would have them: the shipper reads the log with imfile (inotify)
// and forwards every line over RELP; the central server writes what it
// receives to a file. docs/shipping.md copies these configurations.

// shipperConf is the shipper's rsyslog.conf: %s are its work directory,
// the file or glob imfile reads, whether a truncated file is read again
// from its start ("on" for copytruncate), and the central server's port.
const shipperConf = `global(workDirectory="%s")
module(load="imfile" mode="inotify")
module(load="omrelp")
input(type="imfile" file="%s" tag="app" freshStartTail="off" reopenOnTruncate="%s")
template(name="line" type="string" string="%%msg%%")
if $inputname == "imfile" then {
  action(type="omrelp" target="127.0.0.1" port="%d" template="line"
         queue.type="LinkedList" queue.size="1000000" action.resumeRetryCount="-1")
}
`

// centralConf is the central server's: %s are its work directory, its
// port, and the file of received lines.
const centralConf = `global(workDirectory="%s")
module(load="imrelp")
input(type="imrelp" address="127.0.0.1" port="%d")
template(name="line" type="string" string="%%rawmsg%%\n")
if $inputname == "imrelp" then {
  action(type="omfile" file="%s" template="line")
}
`

// rsyslogd is one running instance.
type rsyslogd struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once reaped
	out  *lockedBuffer // its stdout and stderr
}

// needRsyslog skips the test, or fails it under CI=true, when rsyslogd or
// its RELP modules are missing.
func needRsyslog(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("rsyslogd"); err != nil {
		missing = append(missing, "rsyslogd (apt-get install rsyslog)")
	}
	for _, m := range []string{"imfile", "imrelp", "omrelp"} {
		if matches, _ := filepath.Glob("/usr/lib/*/rsyslog/" + m + ".so"); len(matches) == 0 {
			missing = append(missing, m+".so (apt-get install rsyslog rsyslog-relp)")
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing: %s", strings.Join(missing, ", "))
	}
	t.Skipf("missing: %s", strings.Join(missing, ", "))
}

// startCentral starts the central server in dir, writing what it receives
// to received, and returns it with its port once it accepts connections.
func startCentral(dir, received string) (*rsyslogd, int, error) {
	var errs []error
	for range 3 { // a port found free may be taken before rsyslogd binds it
		port, err := freePort()
		if err != nil {
			return nil, 0, err
		}
		r, err := startRsyslogd(dir, fmt.Sprintf(centralConf, mkdir(dir, "work"), port, received))
		if err != nil {
			return nil, 0, err
		}
		if err = r.waitListening(port, 15*time.Second); err == nil {
			return r, port, nil
		}
		errs = append(errs, err)
		r.stop()
	}
	return nil, 0, errors.Join(errs...)
}

// startShipper starts the shipper in dir, reading file (a path or glob).
func startShipper(dir, file string, reopenOnTruncate bool, port int) (*rsyslogd, error) {
	onOff := "off"
	if reopenOnTruncate {
		onOff = "on"
	}
	return startRsyslogd(dir, fmt.Sprintf(shipperConf, mkdir(dir, "work"), file, onOff, port))
}

func mkdir(dir, name string) string {
	p := filepath.Join(dir, name)
	os.MkdirAll(p, 0o755)
	return p
}

// startRsyslogd runs rsyslogd in the foreground on conf, written to dir,
// with its pid file there too.
func startRsyslogd(dir, conf string) (*rsyslogd, error) {
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	r := &rsyslogd{done: make(chan struct{}), out: &lockedBuffer{}}
	r.cmd = exec.Command("rsyslogd", "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	r.cmd.Env = append(os.Environ(), "RSYSLOG_DEBUG=") // never the debug log
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start rsyslogd: %w", err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	return r, nil
}

// waitListening waits until port accepts a connection, or r ends.
func (r *rsyslogd) waitListening(port int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-r.done:
			return fmt.Errorf("rsyslogd ended: %s", r.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rsyslogd not listening on %d after %v: %s", port, limit, r.out.String())
		}
	}
}

// pause stops (SIGSTOP) or continues (SIGCONT) it.
func (r *rsyslogd) pause(stop bool) error {
	if stop {
		return r.cmd.Process.Signal(syscall.SIGSTOP)
	}
	return r.cmd.Process.Signal(syscall.SIGCONT)
}

// stop ends it, politely first, and reaps it; it is safe to call twice.
func (r *rsyslogd) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Signal(syscall.SIGCONT) // a stopped one cannot take SIGTERM
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
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
