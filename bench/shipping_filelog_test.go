//go:build linux

package main

import (
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOtelFilelog pins down what docs/shipping.md says of the
// OpenTelemetry Collector's filelog receiver, on which its advice rests:
// what it does with a file renamed away, with renamed and compressed files
// that its include matches, and with a request the central collector was
// too slow to answer.
func TestOtelFilelog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the OpenTelemetry Collector")
	}
	bin := otelcolBinary(t)

	// A file renamed away that include does not match is read to its end
	// at the next poll and let go: a line written to it later never
	// ships, though it is in the file.
	t.Run("renamed file read to its end and let go", func(t *testing.T) {
		s := startOtelPair(t, bin, []string{"app.log"}, false, otelTimeout)
		s.append("app.log", "A, the first file's first line")
		s.waitFor("A, the first file's first line")
		if err := os.Rename(s.path("app.log"), s.path("app.log.1")); err != nil {
			t.Fatal(err)
		}
		s.waitLetGo("app.log.1")
		s.append("app.log.1", "B, written to the renamed file after")
		s.append("app.log", "C, the new file's first line")
		s.waitFor("C, the new file's first line")
		if s.got("B, written to the renamed file after") {
			t.Error("a line written to the renamed file after the receiver let go of it was shipped: docs/shipping.md says it is not")
		}
	})

	// With the rotated names included, a file is known by its first bytes
	// (decompressed, with compression: auto) wherever it moves: renamed,
	// written on under its new name, gzipped, renamed again, read on
	// from where it was and never read twice, also when the receiver was
	// stopped across the moves.
	t.Run("renamed and compressed files followed, each line once", func(t *testing.T) {
		s := startOtelPair(t, bin, []string{"app*.log*"}, true, otelTimeout)
		var lines []string
		add := func(name, line string) {
			s.append(name, line)
			lines = append(lines, line)
		}
		add("app.log", "F1 line 1, first file")
		s.waitFor("F1 line 1, first file")
		s.rename("app.log", "app.log.1")
		add("app.log.1", "F1 line 2, after its rename")
		add("app.log", "F2 line 1, second file")
		s.waitFor("F1 line 2, after its rename")
		s.waitFor("F2 line 1, second file")
		if err := s.shipper.pause(true); err != nil {
			t.Fatal(err)
		}
		add("app.log", "F2 line 2, written while the receiver is stopped")
		s.gzip("app.log.1", "app.log.2.gz")
		s.rename("app.log", "app.log.1")
		add("app.log.1", "F2 line 3, after its rename, stopped")
		s.gzip("app.log.1", "app.log.1.gz")
		add("app.log", "F3 line 1, third file, stopped")
		if err := s.shipper.pause(false); err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			s.waitFor(l)
		}
		add("app.log", "F3 line 2, the end") // after the receiver's polls of the moves
		s.waitFor("F3 line 2, the end")
		for _, l := range lines {
			if n := s.count(l); n != 1 {
				t.Errorf("%q received %d times, want once: docs/shipping.md says each line is read once", l, n)
			}
		}
	})

	// A request that the central collector takes longer than the
	// exporter's timeout to answer is sent again, and the central
	// collector keeps both: at-least-once. A timeout longer than the
	// stall sends it once.
	for _, c := range []struct {
		timeout time.Duration
		dups    bool
	}{{5 * time.Second, true}, {otelTimeout, false}} {
		t.Run(fmt.Sprintf("central collector stopped past a %v timeout", c.timeout), func(t *testing.T) {
			s := startOtelPair(t, bin, []string{"app.log"}, false, c.timeout)
			s.append("app.log", "R0, before the stop")
			s.waitFor("R0, before the stop")
			if err := s.central.pause(true); err != nil {
				t.Fatal(err)
			}
			continued := false
			defer func() {
				if !continued {
					s.central.pause(false)
				}
			}()
			s.append("app.log", "R1, sent while the central collector is stopped")
			stall := 8 * time.Second // past 5 s, short of otelTimeout
			if c.dups {
				// The exporter tells when its request timed out.
				s.wait(func() bool { return s.shipperSaid("DeadlineExceeded") }, "the shipper's request to time out")
			} else {
				time.Sleep(stall) // the stall's length, not a wait for a condition
			}
			continued = true
			if err := s.central.pause(false); err != nil {
				t.Fatal(err)
			}
			s.waitFor("R1, sent while the central collector is stopped")
			s.append("app.log", "R2, after")
			s.waitFor("R2, after")
			n := s.count("R1, sent while the central collector is stopped")
			switch {
			case c.dups && n < 2:
				t.Errorf("the line sent while the central collector was stopped past the timeout arrived %d times: docs/shipping.md says the retried request duplicates it", n)
			case !c.dups && n != 1:
				t.Errorf("the line sent while the central collector was stopped for %v, short of the %v timeout, arrived %d times, want once", stall, c.timeout, n)
			}
		})
	}
}

// startOtelPair starts a central collector and a shipper reading include
// (names in the pair's log directory).
func startOtelPair(t *testing.T, bin string, include []string, compression bool, timeout time.Duration) *shipperPair {
	t.Helper()
	dir := t.TempDir()
	s := &shipperPair{t: t, logs: mkdir(dir, "logs")}
	s.received = filepath.Join(mkdir(dir, "received"), "received.log")
	central := mkdir(dir, "central")
	lines := &otlpLines{from: filepath.Join(central, "received.json"), to: s.received}
	s.refresh = lines.update
	var port int
	var err error
	if s.central, port, err = startOtelCentral(bin, central, lines.from); err != nil {
		t.Fatal(err)
	}
	s.stopAtCleanup(s.central)
	for i, p := range include {
		include[i] = filepath.Join(s.logs, p)
	}
	if s.shipper, err = startOtelShipper(bin, mkdir(dir, "shipper"),
		otelShipping{include: include, compression: compression, port: port, timeout: timeout}); err != nil {
		t.Fatal(err)
	}
	s.stopAtCleanup(s.shipper)
	return s
}

func (s *shipperPair) rename(from, to string) {
	s.t.Helper()
	if err := os.Rename(s.path(from), s.path(to)); err != nil {
		s.t.Fatal(err)
	}
}

// gzip compresses the file from into to and removes from, as logrotate's
// compress does.
func (s *shipperPair) gzip(from, to string) {
	s.t.Helper()
	data, err := os.ReadFile(s.path(from))
	if err != nil {
		s.t.Fatal(err)
	}
	f, err := os.Create(s.path(to))
	if err != nil {
		s.t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	_, err = zw.Write(data)
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Remove(s.path(from))
	}
	if err != nil {
		s.t.Fatal(err)
	}
}

// shipperSaid says whether the shipper's output holds text.
func (s *shipperPair) shipperSaid(text string) bool {
	return strings.Contains(s.shipper.out.String(), text)
}
