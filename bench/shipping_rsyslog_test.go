//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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

// needRsyslog skips the test, or fails it under CI=true, when rsyslogd or
// its RELP modules are missing.
func needRsyslog(t *testing.T) {
	t.Helper()
	if err := rsyslogMissing(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// rsyslogMissing says what of rsyslogd and its RELP modules is missing.
func rsyslogMissing() error {
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
		return nil
	}
	return fmt.Errorf("missing: %s", strings.Join(missing, ", "))
}

// startCentral starts the central server in dir, writing what it receives
// to received, and returns it with its port once it accepts connections.
func startCentral(dir, received string) (*daemon, int, error) {
	return startCentralOn(func(port int) (*daemon, error) {
		return startRsyslogd(dir, fmt.Sprintf(centralConf, mkdir(dir, "work"), port, received))
	})
}

// startShipper starts the shipper in dir, reading file (a path or glob).
func startShipper(dir, file string, reopenOnTruncate bool, port int) (*daemon, error) {
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
func startRsyslogd(dir, conf string) (*daemon, error) {
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("rsyslogd", "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Env = append(os.Environ(), "RSYSLOG_DEBUG=") // never the debug log
	return startDaemon("rsyslogd", cmd)
}
