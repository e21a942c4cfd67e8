//go:build linux

package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	// The subtests run side by side, each with its own pair of collectors.

	// A file renamed away that include does not match is read to its end
	// at the next poll and let go: a line written to it later never
	// ships, though it is in the file.
	t.Run("renamed file read to its end and let go", func(t *testing.T) {
		t.Parallel() // each with collectors of its own
		s := startOtelPair(t, bin, []string{"app.log"}, false, otelTimeout, false)
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
		t.Parallel() // each with collectors of its own
		s := startOtelPair(t, bin, []string{"app*.log*"}, true, otelTimeout, false)
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

	// logrotate's compress without delaycompress: gzip reads the renamed
	// file, the writer (not yet switched) adds a line, the receiver reads
	// it through its descriptor, logrotate removes the file. The .gz then
	// holds less than the receiver read, and the receiver reads all of it
	// again: every line of the file twice, but for the one in no file.
	t.Run("gz shorter than what was read is read again", func(t *testing.T) {
		t.Parallel() // each with collectors of its own
		s := startOtelPair(t, bin, []string{"app*.log*"}, true, otelTimeout, false)
		var lines []string // more than the receiver's 1000 bytes of fingerprint
		for i := range 20 {
			lines = append(lines, fmt.Sprintf("G line %02d, compressed %s", i, strings.Repeat("x", 80)))
			s.append("app.log", lines[i])
		}
		s.waitFor(lines[19])
		s.rename("app.log", "app.log.1")
		s.gzipKeep("app.log.1", "app.log.1.gz")
		const late = "G late, after gzip read the file"
		s.append("app.log.1", late)
		s.waitFor(late)
		if err := os.Remove(s.path("app.log.1")); err != nil {
			t.Fatal(err)
		}
		s.append("app.log", "H, the new file")
		s.waitFor("H, the new file")
		s.wait(func() bool { return s.count(lines[0]) >= 2 }, "the .gz to be read again (docs/shipping.md says it is)")
		s.wait(func() bool { return s.count(lines[19]) >= 2 }, "all of the .gz to be read again")
		for _, l := range append(lines, late) {
			want := 2
			if l == late {
				want = 1
			}
			if n := s.count(l); n != want {
				t.Errorf("%q arrived %d times, want %d", l, n, want)
			}
		}
		if !s.shipperSaid(otelGzShort) {
			t.Errorf("the receiver did not log %q, which the shipping table counts", otelGzShort)
		}
	})

	// A request whose answer reaches the shipper after the exporter's
	// timeout is sent again, though the central collector took it the
	// first time and keeps both: at-least-once. That is what a shipper
	// stopped while a request was under way finds when it continues. A
	// timeout longer than the delay sends it once. (A proxy between the
	// two holds the central collector's answers back; stopping the
	// central collector instead does not duplicate: it drops the request
	// the shipper gave up on.)
	for _, c := range []struct {
		timeout time.Duration
		dups    bool
	}{{5 * time.Second, true}, {otelTimeout, false}} {
		t.Run(fmt.Sprintf("answer later than a %v timeout", c.timeout), func(t *testing.T) {
			t.Parallel() // each with collectors of its own
			s := startOtelPair(t, bin, []string{"app.log"}, false, c.timeout, true)
			s.append("app.log", "R0, before")
			s.waitFor("R0, before")
			s.gate.hold(true)
			const r1 = "R1, answered late"
			s.append("app.log", r1)
			s.waitFor(r1) // the central collector has it
			if c.dups {
				s.wait(func() bool { return s.shipperSaid("DeadlineExceeded") }, "the shipper's request to time out")
				s.gate.hold(false)
				s.wait(func() bool { return s.count(r1) >= 2 }, r1+" to arrive twice (docs/shipping.md says the request is sent again)")
				return
			}
			delay := 8 * time.Second // past 5 s, short of otelTimeout
			time.Sleep(delay)        // the delay's length, not a wait for a condition
			s.gate.hold(false)
			s.append("app.log", "R2, after")
			s.waitFor("R2, after")
			if n := s.count(r1); n != 1 || s.shipperSaid("Exporting failed") {
				t.Errorf("a line answered %v late, short of the %v timeout, arrived %d times, want once; shipper:\n%s", delay, c.timeout, n, s.shipper.out)
			}
		})
	}
}

// startOtelPair starts a central collector and a shipper reading include
// (names in the pair's log directory); with gated, the shipper reaches the
// central collector through a replyGate.
func startOtelPair(t *testing.T, bin string, include []string, compression bool, timeout time.Duration, gated bool) *shipperPair {
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
	if gated {
		if s.gate, err = startReplyGate(port); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.gate.close)
		port = s.gate.port
	}
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
	s.gzipKeep(from, to)
	if err := os.Remove(s.path(from)); err != nil {
		s.t.Fatal(err)
	}
}

// gzipKeep compresses the file from into to, leaving from (logrotate
// removes it once gzip is done).
func (s *shipperPair) gzipKeep(from, to string) {
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
	if err != nil {
		s.t.Fatal(err)
	}
}

// shipperSaid says whether the shipper's output holds text.
func (s *shipperPair) shipperSaid(text string) bool {
	return strings.Contains(s.shipper.out.String(), text)
}

// replyGate is a TCP proxy on 127.0.0.1 that passes what clients send to a
// server at once and can hold back what the server sends them.
type replyGate struct {
	ln     net.Listener
	port   int
	target int
	mu     sync.Mutex
	cond   *sync.Cond
	held   bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startReplyGate(target int) (*replyGate, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &replyGate{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, target: target}
	g.cond = sync.NewCond(&g.mu)
	g.wg.Add(1)
	go g.accept()
	return g, nil
}

func (g *replyGate) accept() {
	defer g.wg.Done()
	for {
		client, err := g.ln.Accept()
		if err != nil {
			return // closed
		}
		server, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", g.target))
		if err != nil {
			client.Close()
			continue
		}
		g.mu.Lock()
		g.conns = append(g.conns, client, server)
		g.mu.Unlock()
		g.wg.Add(2)
		go func() {
			defer g.wg.Done()
			io.Copy(server, client)
			server.Close()
		}()
		go func() {
			defer g.wg.Done()
			g.copyHeld(client, server)
			client.Close()
		}()
	}
}

// copyHeld copies from server to client, waiting while the gate is held.
func (g *replyGate) copyHeld(client, server net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		g.mu.Lock()
		for g.held {
			g.cond.Wait()
		}
		g.mu.Unlock()
		if n > 0 {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// hold holds the server's answers back, or lets them and the ones held go.
func (g *replyGate) hold(held bool) {
	g.mu.Lock()
	g.held = held
	g.cond.Broadcast()
	g.mu.Unlock()
}

// close ends the proxy and its connections, and waits for its goroutines.
func (g *replyGate) close() {
	g.hold(false)
	g.ln.Close()
	g.mu.Lock()
	for _, c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}
