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

	w, err := s.open(path)
	if err != nil {
		return c, fmt.Errorf("%s: open: %w", s.name, err)
	}
	rec := record(size)
	var (
		stop     atomic.Bool
		total    atomic.Uint64
		firstErr atomic.Pointer[error]
		ready    sync.WaitGroup
		done     sync.WaitGroup
		start    = make(chan struct{})
		hists    = make([]histogram, goroutines)
	)
	for i := range goroutines {
		ready.Add(1)
		done.Add(1)
		go func(h *histogram) {
			defer done.Done()
			var n uint64
			ready.Done()
			<-start
			for !stop.Load() {
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
					keepFirst(&firstErr, err)
					break
				}
				n++
			}
			total.Add(n)
		}(&hists[i])
	}
	ready.Wait()
	sysw0, sysErr0 := syscw()
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	t0 := time.Now()
	close(start)
	time.Sleep(d) // the cell's measuring window
	stop.Store(true)
	done.Wait()
	elapsed := time.Since(t0)
	cpu1 := cpuTime()
	runtime.ReadMemStats(&ms1)
	cerr := w.Close()
	sysw1, sysErr1 := syscw()

	c.Records = total.Load()
	if sysErr0 == nil && sysErr1 == nil {
		c.WriteCalls = int64(sysw1 - sysw0)
	}
	for i := 1; i < len(hists); i++ {
		hists[0].merge(&hists[i])
	}
	c.LatP50Ns, c.LatP99Ns = hists[0].quantile(0.50), hists[0].quantile(0.99)
	c.ElapsedNs = elapsed.Nanoseconds()
	c.CPUNs = (cpu1 - cpu0).Nanoseconds()
	c.Mallocs = int64(ms1.Mallocs - ms0.Mallocs)
	if p := firstErr.Load(); p != nil {
		return c, fmt.Errorf("%s: write: %w", s.name, *p)
	}
	if cerr != nil {
		return c, fmt.Errorf("%s: close: %w", s.name, cerr)
	}
	if c.Records == 0 {
		return c, errors.New(s.name + ": no record written")
	}
	return c, nil
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
