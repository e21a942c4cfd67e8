//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A cell is one strategy writing one record size from some goroutines for
// one round.
type cell struct {
	Round      int    `json:"round"`
	Strategy   string `json:"strategy"`
	Size       int    `json:"size"`
	Goroutines int    `json:"goroutines"`
	Records    uint64 `json:"records"`
	ElapsedNs  int64  `json:"elapsed_ns"`
	CPUNs      int64  `json:"cpu_ns"`
	// Mallocs is the runtime's count of heap allocations during the cell;
	// -1 when not known (the Python rows).
	Mallocs int64 `json:"mallocs"`
	// WriteCalls is the kernel's count of write, writev and pwrite calls
	// the process made during the cell, final Close included
	// (/proc/self/io syscw); -1 when not known.
	WriteCalls int64 `json:"write_calls"`
	// LatP50Ns and LatP99Ns are quantiles of one Write's duration, over
	// every latencyEvery-th Write of each goroutine; -1 when not known.
	LatP50Ns float64 `json:"latency_p50_ns"`
	LatP99Ns float64 `json:"latency_p99_ns"`
	Error    string  `json:"error,omitempty"`
}

// record returns a record of size bytes ending in a newline.
func record(size int) []byte {
	if size < 1 {
		size = 1
	}
	b := bytes.Repeat([]byte{'x'}, size)
	b[size-1] = '\n'
	return b
}

// runCell measures one cell in a fresh file in dir, removed afterwards.
func runCell(s strategy, size, goroutines int, d time.Duration, dir string, py pythonEnv) (cell, error) {
	path := filepath.Join(dir, "cell.log")
	defer os.Remove(path)
	os.Remove(path)
	c := cell{Strategy: s.name, Size: size, Goroutines: goroutines, Mallocs: -1, WriteCalls: -1, LatP50Ns: -1, LatP99Ns: -1}
	if s.python != "" {
		var out struct {
			Records    uint64  `json:"records"`
			ElapsedNs  int64   `json:"elapsed_ns"`
			CPUNs      int64   `json:"cpu_ns"`
			WriteCalls int64   `json:"write_calls"`
			LatP50Ns   float64 `json:"latency_p50_ns"`
			LatP99Ns   float64 `json:"latency_p99_ns"`
		}
		err := runPython(py.python, py.script, map[string]any{
			"mode": "throughput", "kind": s.python, "path": path, "size": size,
			"goroutines": goroutines, "duration_ns": d.Nanoseconds(), "latency_every": latencyEvery,
		}, &out)
		if err != nil {
			return c, err
		}
		c.Records, c.ElapsedNs, c.CPUNs = out.Records, out.ElapsedNs, out.CPUNs
		c.WriteCalls, c.LatP50Ns, c.LatP99Ns = out.WriteCalls, out.LatP50Ns, out.LatP99Ns
		return c, nil
	}

	g, err := openGroup(s, size, goroutines, path)
	if err != nil {
		return c, err
	}
	g.slice(d)
	return g.close()
}

// A group is one Go strategy's writer and writing goroutines, kept open for
// a round whose time is cut into slices: the strategies take turns slice by
// slice, so that a change in the machine's speed (another VM, writeback)
// falls on all of them alike instead of on whichever had the whole cell then.
type group struct {
	s        strategy
	w        sink
	c        cell
	run      chan struct{} // a token per goroutine starts a slice
	stop     atomic.Bool
	total    atomic.Uint64
	paused   sync.WaitGroup
	exited   sync.WaitGroup
	hists    []histogram
	firstErr atomic.Pointer[error]
	failed   bool // a slice ended on a write error: no more slices
}

// openGroup opens s's writer on path and starts its goroutines, parked
// until the first slice.
func openGroup(s strategy, size, goroutines int, path string) (*group, error) {
	g := &group{
		s:     s,
		c:     cell{Strategy: s.name, Size: size, Goroutines: goroutines, Mallocs: 0, WriteCalls: 0, LatP50Ns: -1, LatP99Ns: -1},
		run:   make(chan struct{}, goroutines),
		hists: make([]histogram, goroutines),
	}
	w, err := s.open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", s.name, err)
	}
	g.w = w
	rec := record(size)
	for i := range goroutines {
		g.exited.Add(1)
		go func(h *histogram) {
			defer g.exited.Done()
			var n uint64
			for range g.run {
				for !g.stop.Load() {
					// Every latencyEvery-th Write is timed: one clock
					// read before, one after, nothing allocated.
					timed := n%latencyEvery == 0
					var t0 time.Time
					if timed {
						t0 = time.Now()
					}
					_, err := w.Write(rec)
					if timed {
						h.add(time.Since(t0))
					}
					if err != nil {
						keepFirst(&g.firstErr, err)
						g.stop.Store(true)
						break
					}
					n++
				}
				g.total.Add(n)
				n = 0
				g.paused.Done()
			}
		}(&g.hists[i])
	}
	return g, nil
}

// slice lets the group's goroutines write for d and adds what they did to
// its cell.
func (g *group) slice(d time.Duration) {
	if g.failed {
		return
	}
	n := g.c.Goroutines
	g.stop.Store(false)
	g.paused.Add(n)
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	sysw0, sysErr0 := syscw()
	cpu0 := cpuTime()
	t0 := time.Now()
	for range n {
		g.run <- struct{}{}
	}
	time.Sleep(d)
	g.stop.Store(true)
	g.paused.Wait()
	elapsed := time.Since(t0)
	cpu1 := cpuTime()
	sysw1, sysErr1 := syscw()
	runtime.ReadMemStats(&ms1)

	g.c.ElapsedNs += elapsed.Nanoseconds()
	g.c.CPUNs += (cpu1 - cpu0).Nanoseconds()
	g.c.Mallocs += int64(ms1.Mallocs - ms0.Mallocs)
	g.c.addWriteCalls(sysw0, sysw1, errors.Join(sysErr0, sysErr1))
	g.failed = g.firstErr.Load() != nil
}

// close stops the goroutines, closes the writer (its write calls count:
// a buffered writer flushes there) and returns the cell.
func (g *group) close() (cell, error) {
	close(g.run)
	g.exited.Wait()
	sysw0, sysErr0 := syscw()
	cerr := g.w.Close()
	sysw1, sysErr1 := syscw()
	c := g.c
	c.Records = g.total.Load()
	c.addWriteCalls(sysw0, sysw1, errors.Join(sysErr0, sysErr1))
	for i := 1; i < len(g.hists); i++ {
		g.hists[0].merge(&g.hists[i])
	}
	c.LatP50Ns, c.LatP99Ns = g.hists[0].quantile(0.50), g.hists[0].quantile(0.99)
	if p := g.firstErr.Load(); p != nil {
		return c, fmt.Errorf("%s: write: %w", g.s.name, *p)
	}
	if cerr != nil {
		return c, fmt.Errorf("%s: close: %w", g.s.name, cerr)
	}
	if c.Records == 0 {
		return c, errors.New(g.s.name + ": no record written")
	}
	return c, nil
}

// addWriteCalls adds the write calls counted between two reads of syscw;
// once a read fails, the cell's count is unknown (-1).
func (c *cell) addWriteCalls(from, to uint64, err error) {
	if err != nil || c.WriteCalls < 0 {
		c.WriteCalls = -1
		return
	}
	c.WriteCalls += int64(to - from)
}

// runRound measures one cell of each Go strategy in ss, interleaved in
// slices of d/slices, each in a fresh file in dir removed afterwards; the
// order of turns rotates from slice to slice, starting at first.
func runRound(ss []strategy, size, goroutines int, d time.Duration, slices, first int, dir string) []cell {
	cells := make([]cell, len(ss))
	groups := make([]*group, len(ss))
	for i, s := range ss {
		path := filepath.Join(dir, fmt.Sprintf("cell-%d.log", i))
		os.Remove(path)
		defer os.Remove(path)
		cells[i] = cell{Strategy: s.name, Size: size, Goroutines: goroutines, Mallocs: -1, WriteCalls: -1, LatP50Ns: -1, LatP99Ns: -1}
		g, err := openGroup(s, size, goroutines, path)
		if err != nil {
			cells[i].Error = err.Error()
			continue
		}
		groups[i] = g
	}
	per := d / time.Duration(max(slices, 1))
	for k := range max(slices, 1) {
		for i := range groups {
			if g := groups[(i+k+first)%len(groups)]; g != nil {
				g.slice(per)
			}
		}
	}
	for i, g := range groups {
		if g == nil {
			continue
		}
		c, err := g.close()
		if err != nil {
			c.Error = err.Error()
		}
		cells[i] = c
	}
	return cells
}

// keepFirst stores err if no error was stored yet. It is a function of its
// own so that only a failing write moves an error to the heap: taking the
// address of the loop's err would allocate on every record.
func keepFirst(p *atomic.Pointer[error], err error) {
	p.CompareAndSwap(nil, &err)
}

// cpuTime is the user plus system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
