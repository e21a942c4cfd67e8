//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the bench's child process, which
// the syscall count and the rotation table re-execute.
func TestMain(m *testing.M) {
	if ran, code := runChildIfAsked(); ran {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestRunTiny runs the whole comparison with a few milliseconds per cell and
// checks that the tables, the JSON and the chart come out whole.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every strategy end to end")
	}
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.Sizes = []int{100}
	cfg.Goroutines = []int{1, 2}
	cfg.Rounds = 2
	cfg.Duration = 5 * time.Millisecond
	cfg.JSON = filepath.Join(dir, "results", "out.json") // a directory the bench must make
	cfg.SVG = filepath.Join(dir, "out.svg")
	cfg.RotCfg.Duration = 150 * time.Millisecond
	cfg.RotCfg.Interval = 5 * time.Millisecond
	cfg.RotCfg.Hold = 50 * time.Millisecond
	cfg.RotCfg.Settle = 100 * time.Millisecond
	cfg.RotCfg.Rms = 3
	cfg.SelfRotCfg.Procs = []int{2}
	cfg.SelfRotCfg.Duration = 300 * time.Millisecond
	cfg.SelfRotCfg.PauseDuration = 300 * time.Millisecond
	// cfg.Dir stays the system temp dir: t.TempDir's parents are mode 0700,
	// which the rotation child, running as uid 65534, could not pass.
	var out, progress bytes.Buffer
	if err := run(cfg, &out, &progress); err != nil {
		t.Fatalf("run: %v\nprogress: %s", err, progress.String())
	}
	md := out.String()
	for _, want := range []string{
		"#### Cost per record, 100-byte records",
		"| strategy | goroutines | ns/record |",
		"| raw | 1 |", "| watchedfile | 2 |", "| statperwrite | 1 |",
		"#### Syscalls per record",
		"#### Time one Write takes, p50 / p99",
		"#### Write calls per record",
		"#### Under rotation",
		"| started after the rename |", "lost per rm, min / median / max", "| stranded | misdirected |",
		"| python2port |",
		"Legend:\n\n- `N B, G gor.`", "- `ns/record`", "- `p50 / p99`", "- `stranded`",
		"| watchedfile-rotate |", "#### Self-rotation, several processes on one file", "#### Self-rotation, the pause a rotation makes",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the tables lack %q:\n%s", want, md)
		}
	}
	if progress.Len() == 0 {
		t.Error("no progress line on stderr")
	}

	var res results
	b, err := os.ReadFile(cfg.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("the JSON does not parse: %v", err)
	}
	if want := 2 * 2 * len(res.Strategy); len(res.Cells) != want {
		t.Errorf("%d cells, want %d", len(res.Cells), want)
	}
	for _, c := range res.Cells {
		if c.Error != "" {
			t.Errorf("cell %s/%d: %s", c.Strategy, c.Goroutines, c.Error)
		}
	}
	for _, s := range res.Summary {
		if s.Strategy == "raw" && s.RatioToRaw != 1 {
			t.Errorf("raw's ratio to itself is %v", s.RatioToRaw)
		}
		if s.Strategy == "watchedfile" && s.AllocsRec < 0 {
			t.Errorf("watchedfile's allocations were not counted")
		}
		if s.LatP50Ns <= 0 || s.LatP99Ns < s.LatP50Ns {
			t.Errorf("%s, %d goroutines: latency p50 %v, p99 %v", s.Strategy, s.Goroutines, s.LatP50Ns, s.LatP99Ns)
		}
		if s.Strategy == "raw" && (s.WriteCallsRec < 0.99 || s.WriteCallsRec > 1.05) {
			t.Errorf("raw made %v write calls per record, %d goroutines", s.WriteCallsRec, s.Goroutines)
		}
	}
	for _, c := range res.Syscalls {
		if c.Strategy != "raw" || c.Method != "strace" {
			continue
		}
		if len(c.Concurrent) != 1 || c.Concurrent[0].Goroutines != 2 || c.Concurrent[0].Write < 0.99 || c.Concurrent[0].Write > 1.01 {
			t.Errorf("raw's write calls from 2 goroutines under strace: %+v", c.Concurrent)
		}
	}
	rot := map[string]rotationResult{}
	for _, r := range res.Rotation {
		rot[r.Strategy] = r
		if r.Skipped != "" && r.Attempted == 0 {
			t.Errorf("rotation %s: %s", r.Strategy, r.Skipped)
		}
	}
	// Records written between the rm and the switch are lost with the
	// deleted file, however fast the switch; no other record may be.
	if wf := rot["watchedfile"]; wf.Attempted == 0 || wf.Lost != wf.ToDeleted || wf.Failed != 0 || wf.Stuck {
		t.Errorf("watchedfile under rotation: %+v", wf)
	}
	for _, r := range res.Rotation {
		var sum uint64
		for _, n := range r.LostPerRm {
			sum += n
		}
		if len(r.LostPerRm) != cfg.RotCfg.Rms || sum != r.ToDeleted || r.Stranded > r.Misdirected ||
			r.StartedAfter > r.Misdirected || r.WhileLocked+r.AfterUnlock > r.StartedAfter {
			t.Errorf("rotation %s: inconsistent counts: %+v", r.Strategy, r)
		}
	}
	// raw never follows: every record after the first rename is in a
	// renamed file, and its Write started after that rename; all but those
	// written before the second rename are stranded there.
	if raw := rot["raw"]; raw.Misdirected == 0 || raw.StartedAfter == 0 || raw.MisdirectedDelayP99Ns < raw.MisdirectedDelayNs ||
		raw.Stranded*10 < raw.Misdirected*8 {
		t.Errorf("raw under rotation: %+v", raw)
	}
	if _, ok := rot["watchedfile-rotate"]; ok {
		t.Error("watchedfile-rotate rotates by itself: it has no row in the rotation table")
	}
	if sr := res.SelfRotation; sr == nil || len(sr.Procs) != 3 || len(sr.Pause) != 4 {
		t.Errorf("self-rotation tables: %+v", sr)
	}
	if os.Geteuid() == 0 {
		if p2 := rot["python2port"]; !p2.Stuck {
			t.Errorf("the Python 2 port should end stuck after the unopenable file: %+v", p2)
		}
	}
	svg, err := os.ReadFile(cfg.SVG)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(svg, []byte("<svg")) || !bytes.HasSuffix(svg, []byte("</svg>\n")) {
		t.Errorf("the chart is not a whole SVG document")
	}
	if !bytes.Contains(svg, []byte("A bar: wall-clock ns per record")) || !bytes.Contains(svg, []byte(">raw: ")) {
		t.Errorf("the chart has no legend:\n%s", svg)
	}
}

func TestParseStraceSummary(t *testing.T) {
	in := `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 60.47    0.078354         117       667        80 futex
 18.15    0.023521          11      2000           write
------ ----------- ----------- --------- --------- ----------------
100.00    0.101875          38      2667        80 total
`
	got, err := parseStraceSummary([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got["write"] != 2000 || got["futex"] != 667 || got["total"] != 2667 {
		t.Errorf("parsed %v", got)
	}
	if _, err := parseStraceSummary([]byte("strace: nothing")); err == nil {
		t.Error("no error for a summary without a total")
	}
}

func TestParseRecord(t *testing.T) {
	line := appendRecord(nil, 42, 123456789, 100)
	if len(line) != 100 || line[99] != '\n' {
		t.Fatalf("record is %d bytes: %q", len(line), line)
	}
	seq, ts, ok := parseRecord(line[:len(line)-1])
	if !ok || seq != 42 || ts != 123456789 {
		t.Errorf("parseRecord = %d, %d, %v", seq, ts, ok)
	}
	if _, _, ok := parseRecord([]byte("seq=12")); ok {
		t.Error("a torn record parsed")
	}
}

// TestPython2PortSticks checks the port keeps the production bug: once a
// reopen fails, every later write fails, even after the file is fixed.
func TestPython2PortSticks(t *testing.T) {
	testStickiness(t, python2PortStrategy(), true)
}

// TestStatPerWriteRecovers checks the Python 3 port retries a failed reopen.
func TestStatPerWriteRecovers(t *testing.T) {
	testStickiness(t, statPerWriteStrategy(), false)
}

func testStickiness(t *testing.T, s strategy, wantStuck bool) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w, err := s.open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	// A directory at the path cannot be opened for writing, even by root.
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("two\n")); err == nil {
		t.Fatal("write succeeded although the new file cannot be opened")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = w.Write([]byte("three\n"))
	if stuck := err != nil; stuck != wantStuck {
		t.Errorf("after the file became writable: err = %v, want stuck = %v", err, wantStuck)
	}
}
