//go:build linux

package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSelfRotRecord: a record reads back as itself; a record cut, run into
// another, written over or zeroed does not read at all.
func TestSelfRotRecord(t *testing.T) {
	const size = 100
	rec := appendSelfRotRecord(nil, 7, 1234567, size)
	if len(rec) != size || rec[size-1] != '\n' {
		t.Fatalf("record %q: want %d bytes ending in a newline", rec, size)
	}
	line := rec[:size-1]
	if p, s, ok := parseSelfRotRecord(line, size); !ok || p != 7 || s != 1234567 {
		t.Fatalf("parse %q = %d, %d, %v", line, p, s, ok)
	}
	other := appendSelfRotRecord(nil, 3, 42, size)
	for name, bad := range map[string][]byte{
		"cut short":       line[:50],
		"run together":    append(append([]byte{}, line[:60]...), other[:size-1]...),
		"written over":    append(append([]byte{}, line[:40]...), other[:size-1-40]...),
		"zeros":           make([]byte, size-1),
		"another's size":  appendSelfRotRecord(nil, 7, 1234567, size+1)[:size],
		"not a digit":     bytes.Replace(line, []byte("s=0001"), []byte("s=x001"), 1),
		"padding changed": bytes.Replace(line, []byte("xxx"), []byte("xyx"), 1),
	} {
		if _, _, ok := parseSelfRotRecord(bad, size); ok {
			t.Errorf("%s: %q read as a record", name, bad)
		}
	}
}

// TestTallyFiles counts, on real files, records found once, twice and
// nowhere (lost), found although their Write failed, torn lines, temporary
// files, a compressed copy cut short beside its source (a temporary file)
// and one with no source (broken, its records up to the cut counted).
func TestTallyFiles(t *testing.T) {
	const size = 100
	dir := t.TempDir()
	rec := func(p int, seqs ...uint64) []byte {
		var b []byte
		for _, s := range seqs {
			b = appendSelfRotRecord(b, p, s, size)
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	gz := func(b []byte, whole bool) []byte {
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		zw.Write(b)
		if whole {
			zw.Close()
		} else {
			zw.Flush() // the data, without the end of the stream
		}
		return out.Bytes()
	}
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	zeros := append(make([]byte, size-1), '\n')
	write("app-1.log.gz", gz(rec(0, 0, 1, 2, 3), true))
	// The live file: p0 s5 twice, then p0 s6 cut short at the end.
	write("app.log", cat(rec(0, 4, 5, 5), rec(1, 0, 1, 2), rec(0, 6)[:30]))
	// A line of zeros (a hole), and p0 s9, whose Write failed.
	write("app-2.log", cat(rec(0, 7), rec(1, 3), zeros, rec(0, 9)))
	write(".app-2.log.gz.tmp", gz(rec(0, 7), false))
	write("app-3.log", rec(1, 4))
	write("app-3.log.gz", gz(rec(1, 4), false)) // a copy under way
	write("app-4.log.gz", gz(rec(0, 8), false)) // cut short, no source
	write(".app.log.lock", nil)
	if err := os.Symlink("app-1.log.gz", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}

	reps := []procReport{{Attempted: 10, Failed: []uint64{9}}, {Attempted: 5}}
	got, err := tallyFiles(dir, "app.log", size, reps)
	if err != nil {
		t.Fatal(err)
	}
	want := fileTally{
		Acknowledged: 14, ExactlyOnce: 12, Lost: 1, Duplicated: 1, FoundFailed: 1, Torn: 2,
		Files: 5, Compressed: 2, Largest: 6*size + 30, SmallestRotated: size,
		Temp: 2, TempNames: []string{".app-2.log.gz.tmp", "app-3.log.gz"}, Broken: 1,
		LostRanges: []string{"p=0 s=6"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tally:\n got %+v\nwant %+v", got, want)
	}
}

// TestPlaceWrites finds the rotations between files written in order, and
// the Writes that coincide with each: the one that rotated, those that
// waited for it.
func TestPlaceWrites(t *testing.T) {
	timed := []timedWrite{
		{seq: 0, start: 0, dur: 10},
		{seq: 1, start: 10, dur: 10},   // ends as the rotating Write starts: not during
		{seq: 2, start: 20, dur: 100},  // fills the file and rotates (watchedfile)
		{seq: 3, start: 25, dur: 100},  // waits for it
		{seq: 4, start: 130, dur: 5},   // the last of the second file
		{seq: 5, start: 140, dur: 50},  // rotates, then writes (lumberjack)
		{seq: 6, start: 200, dur: 1},   // acknowledged, in no file
		{seq: 7, start: 300, dur: 400}, // slow, but no rotation
	}
	files := [][]uint64{{5, 7}, {0, 1, 2}, {3, 4}} // not in the order written
	all, during, pauses, rotations, unplaced := placeWrites(timed, files)
	if rotations != 2 || unplaced != 1 || len(all) != len(timed) {
		t.Errorf("%d rotations, %d unplaced, %d Writes: want 2, 1, %d", rotations, unplaced, len(all), len(timed))
	}
	if want := []float64{100, 100, 5, 50}; !reflect.DeepEqual(during, want) {
		t.Errorf("during a rotation %v, want %v", during, want)
	}
	if want := []float64{100, 50}; !reflect.DeepEqual(pauses, want) {
		t.Errorf("longest Write per rotation %v, want %v", pauses, want)
	}
	q := quantilesOf([]float64{5, 1, 4, 2, 3})
	if q.N != 5 || q.P50 != 3 || q.P99 != 5 || q.Max != 5 {
		t.Errorf("quantiles %+v", q)
	}
}

func TestErrorClass(t *testing.T) {
	for msg, want := range map[string]string{
		"can't rename log file: rename /tmp/x/selfrot-123/app.log /tmp/x/selfrot-123/app-2026-12-05T10-00-00.123.log: no such file or directory": "can't rename log file: rename DIR/app.log DIR/app-T.log: no such file or directory",
		"timberjack: [/tmp/a/app.log] failed to compress log file app-2026-12-05T10-00-00.123-size.log":                                          "timberjack: [DIR/app.log] failed to compress log file app-T-size.log",
	} {
		if got := errorClass(msg); got != want {
			t.Errorf("errorClass(%q)\n = %q\nwant %q", msg, got, want)
		}
	}
}

// TestSelfRotProcsCountsLosses runs four real processes per writer on one
// path for a second, as fast as they can write, and checks the accounting
// against what happens: lumberjack, each process rotating on its own count
// and truncating others' files, loses records and the table says so;
// watchedfile loses, repeats and tears none, and leaves no temporary file.
func TestSelfRotProcsCountsLosses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs writer processes for seconds")
	}
	cfg := defaultSelfRotConfig()
	cfg.Procs = []int{4}
	cfg.Goroutines = 2
	cfg.Rate = 0
	cfg.Duration = time.Second
	ws, err := selectSelfRotWriters("lumberjack,watchedfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		res, err := runSelfRotProcs(w, 4, cfg, t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		t.Logf("%s: %+v", w.name, res)
		if res.Acknowledged == 0 || res.ExactlyOnce+res.Lost > res.Acknowledged {
			t.Errorf("%s: %d acknowledged, %d once, %d lost", w.name, res.Acknowledged, res.ExactlyOnce, res.Lost)
		}
		switch w.name {
		case "lumberjack":
			if res.Lost == 0 || res.Files < 2 {
				t.Errorf("lumberjack, 4 processes: %d lost in %d files; want losses, and rotations", res.Lost, res.Files)
			}
		case "watchedfile":
			if res.ExactlyOnce != res.Acknowledged || res.Duplicated != 0 || res.Torn != 0 || res.Temp != 0 || res.WriteFailed != 0 || len(res.Background) != 0 {
				t.Errorf("watchedfile, 4 processes: want nothing lost, repeated, torn, left or failed: %+v", res)
			}
			// Each rotated file reached the limit: none was rotated
			// twice for one threshold. (OnRotate's count may fall
			// short: it is not told of a rotation made just before
			// Close.)
			if res.Files < 2 || res.SmallestRotated < res.Limit || res.Rotations > int64(res.Files-1) {
				t.Errorf("watchedfile: %d files, the smallest rotated %d bytes (limit %d), %d rotations told",
					res.Files, res.SmallestRotated, res.Limit, res.Rotations)
			}
		}
	}
}

// TestSelfRotOnlyTiny runs -self-rotation-only with short runs and checks
// that both tables, their legends and the JSON come out.
func TestSelfRotOnlyTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every self-rotating writer end to end")
	}
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.SelfRotOnly = true
	cfg.JSON = filepath.Join(dir, "out.json")
	cfg.SelfRotCfg.Procs = []int{2}
	cfg.SelfRotCfg.Goroutines = 2
	cfg.SelfRotCfg.Rate = 0
	cfg.SelfRotCfg.Duration = 300 * time.Millisecond
	cfg.SelfRotCfg.PauseRate = 0
	cfg.SelfRotCfg.PauseDuration = 300 * time.Millisecond
	var out, progress bytes.Buffer
	if err := runSelfRotOnly(cfg, &out, &progress); err != nil {
		t.Fatalf("%v\nprogress: %s", err, progress.String())
	}
	md := out.String()
	for _, want := range []string{
		"#### Self-rotation, several processes on one file",
		"| watchedfile | 2 | 1 |", "| lumberjack | 2 | 1 |", "| timberjack | 2 | 1 |",
		"#### Self-rotation, the pause a rotation makes",
		"| raw, no rotation | 0 |",
		"- `torn`:", "- `during a rotation`:",
		"- `timberjack`: github.com/DeRuina/timberjack",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("output lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "failed:") {
		t.Errorf("a row failed:\n%s", md)
	}
	b, err := os.ReadFile(cfg.JSON)
	if err != nil || !bytes.Contains(b, []byte(`"self_rotation"`)) || !bytes.Contains(b, []byte(`"pause_per_rotation"`)) {
		t.Errorf("JSON: %v\n%s", err, b)
	}
}

// TestLostRanges checks the runs of lost records a tally names.
func TestLostRanges(t *testing.T) {
	dir := t.TempDir()
	const size = 40
	var b []byte
	for _, s := range []uint64{0, 1, 5, 9} {
		b = appendSelfRotRecord(b, 0, s, size)
	}
	b = appendSelfRotRecord(b, 1, 1, size)
	if err := os.WriteFile(filepath.Join(dir, "app.log"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	// Process 0: 2-4 and 6-8 lost, 7 failed; process 1: 0 and 2-3 lost.
	reps := []procReport{{Attempted: 10, Failed: []uint64{7}}, {Attempted: 4}}
	got, err := tallyFiles(dir, "app.log", size, reps)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"p=0 s=2-4", "p=0 s=6", "p=0 s=8", "p=1 s=0", "p=1 s=2-3"}
	if !reflect.DeepEqual(got.LostRanges, want) || got.Lost != 8 {
		t.Errorf("lost %d in %q, want 8 in %q", got.Lost, got.LostRanges, want)
	}
}
