//go:build linux

package main

import (
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// stampSink is a raw file that notes when each Write happened.
type stampSink struct {
	*os.File
	mu     sync.Mutex
	stamps *[]time.Time
}

func (s *stampSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	*s.stamps = append(*s.stamps, time.Now())
	s.mu.Unlock()
	return s.File.Write(p)
}

// TestRunRoundTakesTurns checks that the strategies of a round write in
// turns, slice by slice, each from its own goroutines into its own file, and
// that each cell adds up its slices.
func TestRunRoundTakesTurns(t *testing.T) {
	const slices_, d = 6, 60 * time.Millisecond
	stamps := make([][]time.Time, 2)
	var ss []strategy
	for i, name := range []string{"a", "b"} {
		ss = append(ss, strategy{name: name, open: func(path string) (sink, error) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			return &stampSink{File: f, stamps: &stamps[i]}, err
		}})
	}
	cells := runRound(ss, 100, 2, d, slices_, 0, t.TempDir())

	for i, c := range cells {
		if c.Error != "" || c.Records == 0 || c.Records != uint64(len(stamps[i])) {
			t.Fatalf("%s: %d records, %d writes seen, error %q", c.Strategy, c.Records, len(stamps[i]), c.Error)
		}
		// Its slices' time, not the round's: about d, not 2d.
		if got := time.Duration(c.ElapsedNs); got < d || got > d*3/2 {
			t.Errorf("%s: elapsed %v, want about %v", c.Strategy, got, d)
		}
	}
	// Merged in time order, the writes change hands between slices; the
	// order of turns rotates from one slice to the next (ab ba ab ...), so
	// with two strategies that is slices+1 runs (a bb aa ... b).
	type stamp struct {
		at time.Time
		by int
	}
	var all []stamp
	for i, ts := range stamps {
		for _, at := range ts {
			all = append(all, stamp{at, i})
		}
	}
	slices.SortFunc(all, func(x, y stamp) int { return x.at.Compare(y.at) })
	runs := 1
	for k := 1; k < len(all); k++ {
		if all[k].by != all[k-1].by {
			runs++
		}
	}
	if runs != slices_+1 {
		t.Errorf("the writes changed hands %d times, want %d", runs-1, slices_)
	}
}
