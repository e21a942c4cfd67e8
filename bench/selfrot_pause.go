//go:build linux

package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// The pause table: what a rotation costs the Writes around it. One process,
// some goroutines, each writer rotating at the same size (with compression
// if set) again and again; every Write timed. The rotations are found
// afterwards in the files: records are written in the order they are in the
// files, so the rotation happened between the last record of one file and
// the first of the next, inside one of those two Writes (watchedfile
// rotates after the Write that filled the file, lumberjack and timberjack
// before the Write that would overfill it). A Write coincides with a
// rotation if it was under way at any moment from the start of the first of
// those two Writes to the end of the second: the rotating Write and those
// that waited for it.

// pauseResult is one writer's row of the pause table: the Writes of all its
// rounds.
type pauseResult struct {
	Writer     string    `json:"writer"`
	Goroutines int       `json:"goroutines"`
	Rounds     int       `json:"rounds"`
	Seconds    float64   `json:"seconds"`
	Writes     int       `json:"writes"`    // timed Writes (those that returned no error)
	Failed     int       `json:"failed"`    // Writes that returned an error
	Rotations  int       `json:"rotations"` // boundaries between files found
	Unplaced   int       `json:"unplaced"`  // acknowledged records found in no file
	All        quantiles `json:"all"`
	During     quantiles `json:"during"` // the Writes that coincide with a rotation
	// PausePerRotation is, over rotations, the quantiles of the longest
	// Write that coincided with each.
	PausePerRotation quantiles `json:"pause_per_rotation"`
	Error            string    `json:"error,omitempty"`
}

// quantiles of durations, in ns; -1 where there were none.
type quantiles struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ns"`
	P99  float64 `json:"p99_ns"`
	P999 float64 `json:"p999_ns"`
	Max  float64 `json:"max_ns"`
}

func quantilesOf(xs []float64) quantiles {
	if len(xs) == 0 {
		return quantiles{P50: -1, P99: -1, P999: -1, Max: -1}
	}
	slices.Sort(xs)
	at := func(q float64) float64 { return xs[min(len(xs), max(1, int(math.Ceil(q*float64(len(xs))))))-1] }
	return quantiles{N: len(xs), P50: at(0.50), P99: at(0.99), P999: at(0.999), Max: xs[len(xs)-1]}
}

// pauseBaseline is the pause table's reference row: a file opened O_APPEND,
// never rotated, the same load: what the machine does to a Write anyway.
var pauseBaseline = selfRotWriter{
	name: "raw, no rotation",
	desc: "an *os.File opened O_APPEND, never rotated: the machine's own spread",
	open: func(path string, _ int, _ bool, _ *selfRotEvents) (sink, error) {
		return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	},
}

// runPauseTable runs the pause table for ws and the baseline, round by
// round, the order turning from round to round, and pools each writer's
// Writes.
func runPauseTable(ws []selfRotWriter, cfg selfRotConfig, root string, prog *progress) ([]pauseResult, error) {
	all := append([]selfRotWriter{pauseBaseline}, ws...)
	type pool struct {
		writes, during, pauses []float64
		res                    pauseResult
	}
	pools := make([]pool, len(all))
	for i, w := range all {
		pools[i].res = pauseResult{Writer: w.name, Goroutines: cfg.PauseGoroutines}
	}
	step := 0
	for r := range cfg.PauseRounds {
		for k := range all {
			i := (k + r) % len(all)
			step++
			prog.step(step, cfg.PauseRounds*len(all), fmt.Sprintf("pause round %d/%d: %s", r+1, cfg.PauseRounds, all[i].name))
			p := &pools[i]
			run, err := runPause(all[i], cfg, root)
			if err != nil {
				p.res.Error = err.Error()
				continue
			}
			p.res.Rounds++
			p.res.Seconds += run.seconds
			p.res.Failed += run.failed
			p.res.Rotations += run.rotations
			p.res.Unplaced += run.unplaced
			p.writes = append(p.writes, run.writes...)
			p.during = append(p.during, run.during...)
			p.pauses = append(p.pauses, run.pauses...)
		}
	}
	out := make([]pauseResult, len(all))
	for i, p := range pools {
		out[i] = p.res
		out[i].Writes = len(p.writes)
		out[i].All, out[i].During, out[i].PausePerRotation = quantilesOf(p.writes), quantilesOf(p.during), quantilesOf(p.pauses)
	}
	return out, nil
}

// pauseRun is one round of one writer.
type pauseRun struct {
	seconds                float64
	failed                 int
	rotations, unplaced    int
	writes, during, pauses []float64 // ns
}

// runPause writes with w from cfg.PauseGoroutines goroutines for
// cfg.PauseDuration, every Write timed, then finds the rotations in the
// files.
func runPause(w selfRotWriter, cfg selfRotConfig, root string) (pauseRun, error) {
	var run pauseRun
	dir, err := os.MkdirTemp(root, "pause-")
	if err != nil {
		return run, err
	}
	defer os.RemoveAll(dir)
	var ev selfRotEvents
	sk, err := w.open(filepath.Join(dir, "app.log"), cfg.MaxMiB, cfg.Compress, &ev)
	if err != nil {
		return run, fmt.Errorf("%s: open: %w", w.name, err)
	}
	expect := 0
	if cfg.PauseRate > 0 {
		expect = int(float64(cfg.PauseRate)*cfg.PauseDuration.Seconds()) / cfg.PauseGoroutines
	} else {
		expect = int(1e6*cfg.PauseDuration.Seconds()) / cfg.PauseGoroutines // about what a 2-core machine writes
	}
	l := load{goroutines: cfg.PauseGoroutines, rate: cfg.PauseRate, size: cfg.Size, timeFrom: time.Now(), expect: expect}
	stop := make(chan struct{})
	timer := time.AfterFunc(cfg.PauseDuration, func() { close(stop) })
	defer timer.Stop()
	logs := l.run(sk, stop)
	run.seconds = time.Since(l.timeFrom).Seconds()
	if err := sk.Close(); err != nil {
		return run, fmt.Errorf("%s: close: %w", w.name, err)
	}
	if len(ev.errorCounts()) > 0 {
		return run, fmt.Errorf("%s: the writer reported %v", w.name, ev.errorCounts())
	}
	var timed []timedWrite
	for _, lg := range logs {
		run.failed += len(lg.failed)
		timed = append(timed, lg.timed...)
	}
	files, err := pauseReadBack(w, dir, cfg.Size, cfg.Compress)
	if err != nil {
		return run, fmt.Errorf("%s: %w", w.name, err)
	}
	run.writes, run.during, run.pauses, run.rotations, run.unplaced = placeWrites(timed, files)
	return run, nil
}

// pauseReadBack returns the records of each file in dir, as
// recordsByFile, once w has compressed every rotated file, if it compresses
// in a goroutine that Close does not stop (lumberjack, timberjack): read
// earlier, a source is removed while it is read, or a compressed copy is
// read half written.
func pauseReadBack(w selfRotWriter, dir string, size int, compress bool) ([][]uint64, error) {
	if compress && w.compressesAfterClose {
		const wait = 30 * time.Second
		for end := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
			pending, err := uncompressedRotated(dir, "app.log")
			if err != nil {
				return nil, err
			}
			if len(pending) == 0 {
				break
			}
			if time.Now().After(end) {
				return nil, fmt.Errorf("rotated files still not compressed %v after Close: %v", wait, pending)
			}
		}
	}
	return recordsByFile(dir, size)
}

// uncompressedRotated returns the rotated files in dir (not live) not
// compressed yet, and temporary copies being written.
func uncompressedRotated(dir, live string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case isTempName(name):
			names = append(names, name)
		case !e.Type().IsRegular() || name == live || strings.HasPrefix(name, ".") ||
			strings.HasSuffix(name, ".gz") || filepath.Ext(name) == ".lock":
		default:
			names = append(names, name)
		}
	}
	return names, nil
}

// recordsByFile returns, for each log file in dir that holds records, the
// sequence numbers of its records in the order they are in the file.
func recordsByFile(dir string, size int) ([][]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files [][]uint64
	for _, e := range entries {
		if !e.Type().IsRegular() || isTempName(e.Name()) || filepath.Ext(e.Name()) == ".lock" {
			continue
		}
		data, err := readLogFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var seqs []uint64
		for len(data) > 0 {
			var line []byte
			line, data, _ = bytes.Cut(data, []byte{'\n'})
			if _, s, ok := parseSelfRotRecord(line, size); ok {
				seqs = append(seqs, s)
			}
		}
		if len(seqs) > 0 {
			files = append(files, seqs)
		}
	}
	return files, nil
}

// placeWrites finds the rotations among the timed Writes, from files (each
// file's records in file order) and returns the durations of all Writes,
// of those that coincide with a rotation, and each rotation's longest
// Write; the number of rotations found, and of acknowledged records in no
// file.
func placeWrites(timed []timedWrite, files [][]uint64) (all, during, pauses []float64, rotations, unplaced int) {
	bySeq := make(map[uint64]timedWrite, len(timed))
	for _, t := range timed {
		bySeq[t.seq] = t
	}
	// Files in the order they were written: by the start of their first
	// Write.
	var order []int
	for i, f := range files {
		if _, ok := bySeq[f[0]]; ok {
			order = append(order, i)
		}
	}
	sort.Slice(order, func(a, b int) bool { return bySeq[files[order[a]][0]].start < bySeq[files[order[b]][0]].start })
	type window struct{ from, to int64 }
	var windows []window
	for k := 1; k < len(order); k++ {
		prev, cur := files[order[k-1]], files[order[k]]
		last, ok1 := bySeq[prev[len(prev)-1]]
		first, ok2 := bySeq[cur[0]]
		if ok1 && ok2 {
			windows = append(windows, window{min(last.start, first.start), max(last.start+last.dur, first.start+first.dur)})
		}
	}
	seen := make(map[uint64]bool, len(timed))
	for _, f := range files {
		for _, s := range f {
			seen[s] = true
		}
	}
	longest := make([]float64, len(windows))
	for _, t := range timed {
		if !seen[t.seq] {
			unplaced++
		}
		d := float64(t.dur)
		all = append(all, d)
		// The first window ending after this Write's start, and those
		// after it that start before its end.
		i := sort.Search(len(windows), func(i int) bool { return windows[i].to > t.start })
		hit := false
		for ; i < len(windows) && windows[i].from < t.start+t.dur; i++ {
			hit = true
			longest[i] = max(longest[i], d)
		}
		if hit {
			during = append(during, d)
		}
	}
	return all, during, longest, len(windows), unplaced
}
