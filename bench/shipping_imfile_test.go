//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestRsyslogImfile pins down what docs/shipping.md says of rsyslog's
// imfile (inotify mode), on which watchedfile's advice rests: what it does
// with a file renamed away and with the files a wildcard matches.
func TestRsyslogImfile(t *testing.T) {
	needRsyslog(t)

	// A file renamed away (logrotate create, mv) is read to its end once,
	// when rsyslog sees the rename, and let go: a line written to it later
	// never ships, though it is in the file.
	t.Run("renamed file read once and let go", func(t *testing.T) {
		s := startPair(t, "app.log")
		s.append("app.log", "A")
		s.waitFor("A")
		if err := os.Rename(s.path("app.log"), s.path("app.log.1")); err != nil {
			t.Fatal(err)
		}
		s.append("app.log", "C1")
		s.waitFor("C1")
		s.waitLetGo("app.log.1")
		s.append("app.log.1", "B") // what a writer not yet switched writes
		s.append("app.log", "C2")
		s.waitFor("C2")
		if s.got("B") {
			t.Error("a line written to the renamed file after rsyslog let go of it was shipped: docs/shipping.md says it is not")
		}
	})

	// A file renamed away with no new file at the name (mv without a
	// create) is read on until a new file appears there: what the writer
	// puts there during its create delay is shipped.
	t.Run("renamed file followed until a new file appears", func(t *testing.T) {
		s := startPair(t, "app.log")
		s.append("app.log", "M0, before the rename")
		s.waitFor("M0, before the rename")
		if err := os.Rename(s.path("app.log"), s.path("app.log.1")); err != nil {
			t.Fatal(err)
		}
		s.append("app.log.1", "M1, after it, no new file yet")
		s.waitFor("M1, after it, no new file yet")
		if !s.holds("app.log.1") {
			t.Error("rsyslog let go of the renamed file before a new file appeared: docs/shipping.md says it holds it")
		}
		s.append("app.log", "M2, the new file")
		s.waitFor("M2, the new file")
		s.waitLetGo("app.log.1")
	})

	// A file renamed to another name the wildcard matches is read again
	// from its start: imfile tracks the files a wildcard matches by name.
	// (Not so the OpenTelemetry Collector's filelog receiver:
	// TestOtelFilelog.)
	t.Run("renamed within the wildcard read again", func(t *testing.T) {
		s := startPair(t, "app.log*")
		s.append("app.log", "N1, before the rename")
		s.waitFor("N1, before the rename")
		if err := os.Rename(s.path("app.log"), s.path("app.log.1")); err != nil {
			t.Fatal(err)
		}
		s.append("app.log.1", "N2, after it")
		s.waitFor("N2, after it")
		s.wait(func() bool { return s.count("N1, before the rename") >= 2 },
			"the renamed file to be read again from its start (docs/shipping.md says it is)")
	})

	// Files a wildcard matches stay open, idle or not, until deleted; a
	// deleted one is read to its end first, even after a stop.
	t.Run("wildcard files held until deleted", func(t *testing.T) {
		s := startPair(t, "app-*.log")
		s.append("app-1.log", "W1")
		s.waitFor("W1")
		s.append("app-2.log", "W2")
		s.waitFor("W2")
		s.append("app-2.log", "W3")
		s.waitFor("W3")
		if !s.holds("app-1.log") {
			t.Error("rsyslog let go of an idle file its wildcard matches: docs/shipping.md says it holds it")
		}
		if err := s.shipper.pause(true); err != nil {
			t.Fatal(err)
		}
		s.append("app-1.log", "W1-tail")
		s.append("app-3.log", "W-unseen")
		for _, name := range []string{"app-1.log", "app-3.log"} {
			if err := os.Remove(s.path(name)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.shipper.pause(false); err != nil {
			t.Fatal(err)
		}
		s.waitFor("W1-tail")
		s.append("app-2.log", "W4") // after the events of the stop
		s.waitFor("W4")
		if s.got("W-unseen") {
			t.Error("a file made and removed while rsyslog was stopped was read: docs/shipping.md says it is not")
		}
	})
}

// shipperPair is a shipper and a central server for TestRsyslogImfile and
// TestOtelFilelog.
type shipperPair struct {
	t                *testing.T
	logs, received   string
	shipper, central *daemon
	refresh          func() error // brings received up to date
	gate             *replyGate   // between the two, if any (TestOtelFilelog)
}

func startPair(t *testing.T, pattern string) *shipperPair {
	t.Helper()
	dir := t.TempDir()
	s := &shipperPair{t: t, logs: mkdir(dir, "logs"), refresh: func() error { return nil }}
	s.received = filepath.Join(mkdir(dir, "received"), "received.log")
	var port int
	var err error
	if s.central, port, err = startCentral(mkdir(dir, "central"), s.received); err != nil {
		t.Fatal(err)
	}
	s.stopAtCleanup(s.central)
	if s.shipper, err = startShipper(mkdir(dir, "shipper"), filepath.Join(s.logs, pattern), false, port); err != nil {
		t.Fatal(err)
	}
	s.stopAtCleanup(s.shipper)
	return s
}

// stopAtCleanup stops d when the test ends, and fails the test if d ended
// before or does not end well.
func (s *shipperPair) stopAtCleanup(d *daemon) {
	s.t.Cleanup(func() {
		if err := d.stop(); err != nil {
			s.t.Error(err)
		}
	})
}

func (s *shipperPair) path(name string) string { return filepath.Join(s.logs, name) }

func (s *shipperPair) append(name, line string) {
	s.t.Helper()
	f, err := os.OpenFile(s.path(name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = f.WriteString(line + "\n")
		f.Close()
	}
	if err != nil {
		s.t.Fatal(err)
	}
}

func (s *shipperPair) got(line string) bool { return s.count(line) > 0 }

// count says how many times the central server received line.
func (s *shipperPair) count(line string) int {
	s.t.Helper()
	if err := s.refresh(); err != nil {
		s.t.Fatal(err)
	}
	b, _ := os.ReadFile(s.received)
	n := 0
	for l := range bytes.Lines(b) {
		if string(l) == line+"\n" {
			n++
		}
	}
	return n
}

// waitFor waits until the central server has line.
func (s *shipperPair) waitFor(line string) {
	s.t.Helper()
	s.wait(func() bool { return s.got(line) }, "the central server to receive "+line)
}

// waitLetGo waits until the shipper holds no descriptor on name.
func (s *shipperPair) waitLetGo(name string) {
	s.t.Helper()
	s.wait(func() bool { return !s.holds(name) }, "rsyslog to close "+name)
}

func (s *shipperPair) wait(cond func() bool, what string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("waited 20s for %s\nshipper: %s\ncentral: %s", what, s.shipper.out, s.central.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holds says whether the shipper has a descriptor open on the file at name.
func (s *shipperPair) holds(name string) bool {
	s.t.Helper()
	st1, err := os.Stat(s.path(name))
	if err != nil {
		s.t.Fatal(err)
	}
	fds := fmt.Sprintf("/proc/%d/fd", s.shipper.cmd.Process.Pid)
	entries, err := os.ReadDir(fds)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		st2, err := os.Stat(filepath.Join(fds, e.Name()))
		if err == nil && os.SameFile(st1, st2) {
			return true
		}
	}
	return false
}
