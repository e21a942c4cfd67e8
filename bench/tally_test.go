//go:build linux

package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestTally checks how the rotation table classes records, on real files:
// written to a renamed file after its rename (by place or by start time),
// started after the rename, while the new file was unopenable, after it
// became writable, and written to each deleted file after its rm.
func TestTally(t *testing.T) {
	dir := t.TempDir()
	const size = 100
	recs := func(seqTimes ...int64) []byte {
		var b []byte
		for i := 0; i < len(seqTimes); i += 2 {
			b = appendRecord(b, uint64(seqTimes[i]), seqTimes[i+1], size)
		}
		return b
	}
	ino := func(path string) uint64 {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		_, n := devIno(fi)
		return n
	}
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Renamed at 200 with two records in it: seq 2 started before the
	// rename but lies beyond that size; seq 3 started after.
	a := write("app.log.0001", recs(0, 100, 1, 150, 2, 180, 3, 250))
	// Renamed at 1000 when the unopenable file took its place, writable
	// at 2000.
	b := write("app.log.0002", recs(4, 900, 5, 1500, 6, 2100))
	write("app.log", recs(7, 3000))
	rot := rotation{
		gone: map[uint64]mark{
			ino(a): {at: 200, size: 2 * size},
			ino(b): {at: 1000, size: size},
		},
		lockedAt:   1000,
		unlockedAt: 2000,
	}
	// Two rms: the first deleted file got seq 9 beyond its size at the rm
	// and seq 10 started after it; the second got nothing.
	for i, content := range [][]byte{recs(8, 300, 9, 350, 10, 500), nil} {
		p := write("deleted", content)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		d := deletion{f: f, ino: ino(p), mark: mark{at: int64(400 + 200*i), size: size}}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		rot.deleted = append(rot.deleted, d)
	}

	var res rotationResult
	rep := rotationReport{Attempted: 12, Failed: []uint64{11}}
	if err := tally(&res, rep, dir, rot); err != nil {
		t.Fatal(err)
	}
	want := rotationResult{
		Attempted: 12, Failed: 1, Lost: 2, ToDeleted: 2, LostPerRm: []uint64{2, 0},
		Misdirected: 4, StartedAfter: 3, WhileLocked: 1, AfterUnlock: 1,
		MisdirectedDelayNs: 75, MisdirectedDelayP99Ns: 100,
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("tally\n got %+v\nwant %+v", res, want)
	}
}

// TestTallyStranded checks the accounting of a writer that never follows a
// rename, on real files: its records after the first rename are misdirected,
// and those written after the next rotation are stranded, not "lost 0".
func TestTallyStranded(t *testing.T) {
	dir := t.TempDir()
	const size = 100
	var first []byte
	// seq 0 before the rename at 100; seq 1 after it; the next rotation
	// at 200, when the file held two records; seq 2 lies beyond that size
	// although its Write started before, seq 3 started after.
	for _, st := range [][2]int64{{0, 50}, {1, 150}, {2, 190}, {3, 350}} {
		first = appendRecord(first, uint64(st[0]), st[1], size)
	}
	paths := map[string][]byte{"app.log.0001": first, "app.log.0002": nil, "app.log": nil}
	inos := map[string]uint64{}
	for name, b := range paths {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		_, inos[name] = devIno(fi)
	}
	rot := rotation{
		gone: map[uint64]mark{
			inos["app.log.0001"]: {at: 100, size: size},
			inos["app.log.0002"]: {at: 200, size: 0},
		},
		retired: map[uint64]mark{
			inos["app.log.0001"]: {at: 200, size: 2 * size},
			inos["app.log.0002"]: {at: 300, size: 0},
		},
	}
	var res rotationResult
	if err := tally(&res, rotationReport{Attempted: 4}, dir, rot); err != nil {
		t.Fatal(err)
	}
	want := rotationResult{
		Attempted: 4, LostPerRm: []uint64{},
		Misdirected: 3, Stranded: 2, StartedAfter: 3,
		MisdirectedDelayNs: 90, MisdirectedDelayP99Ns: 250,
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("tally\n got %+v\nwant %+v", res, want)
	}
}

// TestStampTime checks that a record's time is rewritten in place.
func TestStampTime(t *testing.T) {
	rec := appendRecord(nil, 7, 0, 100)
	stampTime(rec, 1234567890123)
	seq, ts, ok := parseRecord(rec[:len(rec)-1])
	if !ok || seq != 7 || ts != 1234567890123 || len(rec) != 100 {
		t.Errorf("parseRecord(%q) = %d, %d, %v", rec, seq, ts, ok)
	}
}

// TestHistogram checks the buckets' bounds and the quantiles of a known
// distribution.
func TestHistogram(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 31, 32, 33, 1000, 1023, 1024, 123456789, time.Hour, 1<<63 - 1} {
		i := bucket(d)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucket(%d) = %d, out of range", d, i)
		}
		if mid := bucketMid(i); mid < float64(d)*0.96 || mid > float64(d)*1.04+1 {
			t.Errorf("bucket(%d) = %d, whose middle is %v", d, i, mid)
		}
		if i > 0 && bucket(d) < bucket(d-1) {
			t.Errorf("bucket(%d) < bucket(%d)", d, d-1)
		}
	}
	var h histogram
	if q := h.quantile(0.5); q != -1 {
		t.Errorf("empty histogram's median is %v", q)
	}
	for d := time.Duration(1); d <= 10000; d++ {
		h.add(d)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 5000}, {0.99, 9900}, {1, 10000}} {
		if got := h.quantile(c.q); got < c.want*0.96 || got > c.want*1.04 {
			t.Errorf("quantile(%v) = %v, want %v within 4%%", c.q, got, c.want)
		}
	}
}

// TestWriteCallsAndLatency runs one cell of raw and one of the buffered
// ceiling and checks the write calls per record and the latencies.
func TestWriteCallsAndLatency(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		s          strategy
		goroutines int
		lo, hi     float64 // write calls per record
	}{
		{rawStrategy(), 4, 0.99, 1.05},
		{bufferedStrategy(), 4, 0, 0.1},
	} {
		got, err := runCell(c.s, 100, c.goroutines, 20*time.Millisecond, dir, pythonEnv{})
		if err != nil {
			t.Fatal(err)
		}
		if per := float64(got.WriteCalls) / float64(got.Records); per < c.lo || per > c.hi {
			t.Errorf("%s: %d write calls for %d records, want %v–%v per record", c.s.name, got.WriteCalls, got.Records, c.lo, c.hi)
		}
		if got.LatP50Ns <= 0 || got.LatP99Ns < got.LatP50Ns {
			t.Errorf("%s: latency p50 %v, p99 %v", c.s.name, got.LatP50Ns, got.LatP99Ns)
		}
	}
}
