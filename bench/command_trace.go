//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Where a line's latency goes, on the kernel's clock (go run ./bench
// -command -command-trace; root and tracefs): ftrace records the bench's
// write of the line into the pipe, the consumer's read that returns it and
// the consumer's write of it to the file, each with its thread and CPU. The
// time from the first to the second is the wake-up; from the second to the
// third is the consumer's own work.

const tracefs = "/sys/kernel/tracing"

// traceEvents are what the split needs: writes and reads' returns.
var traceEvents = []string{"syscalls:sys_enter_write", "syscalls:sys_exit_read"}

// kernelTrace is a private ftrace instance (tracefs/instances/NAME): its
// own buffer, events and clock, so the system's tracing settings are never
// touched, and removing it undoes everything.
type kernelTrace struct{ dir string }

// traceInstance names the instance; one left by a killed run is removed first.
const traceInstance = "watchedfile-bench"

// startTrace records traceEvents into a fresh instance's buffer; no reader
// runs meanwhile, so the machine stays as idle as it was. All tasks are
// recorded: a Go consumer starts threads while it runs, and a filter on
// thread ids loses lines (seen). The clock is global: a line's events come
// from two CPUs.
func startTrace() (*kernelTrace, error) {
	t := &kernelTrace{dir: filepath.Join(tracefs, "instances", traceInstance)}
	os.Remove(t.dir)
	if err := os.Mkdir(t.dir, 0o755); err != nil {
		return nil, fmt.Errorf("ftrace instance (root, tracefs at %s): %w", tracefs, err)
	}
	// Per CPU; a round of 1,000 lines on an idle machine records about 2 MB.
	perCPU := max(1024, 16384/runtime.NumCPU())
	steps := []struct{ file, value string }{
		{"buffer_size_kb", strconv.Itoa(perCPU)},
		{"trace_clock", "global"},
		{"set_event", strings.Join(traceEvents, "\n")},
		{"tracing_on", "1"},
	}
	for _, s := range steps {
		if err := os.WriteFile(filepath.Join(t.dir, s.file), []byte(s.value+"\n"), 0); err != nil {
			t.remove()
			return nil, fmt.Errorf("ftrace %s: %w", s.file, err)
		}
	}
	return t, nil
}

// stop switches tracing off, returns what it recorded and removes the
// instance.
func (t *kernelTrace) stop() ([]byte, error) {
	os.WriteFile(filepath.Join(t.dir, "tracing_on"), []byte("0\n"), 0)
	b, err := os.ReadFile(filepath.Join(t.dir, "trace"))
	t.remove()
	return b, err
}

// remove removes the instance, and with it its buffer and settings.
func (t *kernelTrace) remove() {
	os.WriteFile(filepath.Join(t.dir, "tracing_on"), []byte("0\n"), 0)
	os.Remove(t.dir)
}

// tasks returns the thread ids of process pid.
func tasks(pid int) (map[int]bool, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	ids := map[int]bool{}
	for _, e := range ents {
		if id, err := strconv.Atoi(e.Name()); err == nil {
			ids[id] = true
		}
	}
	return ids, nil
}

// lineSplit is one line's latency cut in two on the kernel's clock.
type lineSplit struct {
	wake     time.Duration // the bench's write into the pipe to the consumer's read returning it
	work     time.Duration // that read's return to the consumer's write of the line
	otherCPU bool          // the consumer read on another CPU than the bench wrote on
}

// traceLine is one event of the trace: "comm-tid [cpu] flags secs: event...".
var traceLine = regexp.MustCompile(`^\s*.+?-(\d+)\s+\[(\d+)\]\s+\S+\s+(\d+)\.(\d+):\s+(\w+)(.*)$`)

// traceArg is a syscall's argument as ftrace prints it: hexadecimal, with
// or without 0x by kernel version.
func traceArg(rest, name string) (int64, bool) {
	_, v, ok := strings.Cut(rest, name+": ")
	if !ok {
		return 0, false
	}
	if i := strings.IndexAny(v, ",)"); i >= 0 {
		v = v[:i]
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(v, "0x"), 16, 64)
	return n, err == nil
}

// splitLines finds each line of lineLen bytes in a trace: written into the
// pipe (fd) by one of the bench's threads, read by one of the consumer's,
// then written by it.
func splitLines(trace []byte, bench, consumer map[int]bool, fd, lineLen int) []lineSplit {
	read := fmt.Sprintf("-> 0x%x", lineLen) // a return is always in hexadecimal
	var out []lineSplit
	var w0, r1 time.Duration
	var cpu0 int
	state := 0 // 0: waiting for the bench's write; 1: for the read; 2: for the consumer's write
	sc := bufio.NewScanner(bytes.NewReader(trace))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := traceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		tid, _ := strconv.Atoi(m[1])
		cpu, _ := strconv.Atoi(m[2])
		sec, _ := strconv.ParseInt(m[3], 10, 64)
		usec, _ := strconv.ParseInt(m[4], 10, 64)
		at := time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
		event, rest := m[5], m[6]
		count, _ := traceArg(rest, "count")
		switch {
		case bench[tid] && event == "sys_write" && count == int64(lineLen):
			if f, _ := traceArg(rest, "fd"); f != int64(fd) {
				continue
			}
			if state == 2 { // the last line's write to the file was not seen
				out = out[:len(out)-1]
			}
			w0, cpu0, state = at, cpu, 1
		case state == 1 && consumer[tid] && event == "sys_read" && strings.TrimSpace(rest) == read:
			r1, state = at, 2
			out = append(out, lineSplit{wake: r1 - w0, otherCPU: cpu != cpu0})
		case state == 2 && consumer[tid] && event == "sys_write" && count == int64(lineLen):
			out[len(out)-1].work = at - r1
			state = 0
		}
	}
	if state == 2 { // the last line's write was not seen (the buffer filled)
		out = out[:len(out)-1]
	}
	return out
}

// printSplit prints, per consumer, the share of lines woken on another
// CPU and the wake-up and work on each side.
func printSplit(w io.Writer, cs []consumer, splits map[string][]lineSplit) {
	fmt.Fprintln(w, "\n#### Where a line's time goes, on the kernel's clock (ftrace)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| consumer | lines | woken on the writer's CPU: share, p50, p99 | woken on another CPU: share, p50, p99 | read to write: p50, p99 |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, c := range cs {
		name := c.name
		ls := splits[name]
		if len(ls) == 0 {
			fmt.Fprintf(w, "| %s | 0 | | | |\n", name)
			continue
		}
		var same, other, work []time.Duration
		for _, l := range ls {
			if l.otherCPU {
				other = append(other, l.wake)
			} else {
				same = append(same, l.wake)
			}
			work = append(work, l.work)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s, %s |\n", name, len(ls), shareCell(same, len(ls)), shareCell(other, len(ls)),
			us(sortedQ(work, 0.5)), us(sortedQ(work, 0.99)))
	}
	fmt.Fprintln(w, "\nWoken: from the bench's write(2) of the line into the pipe to the consumer's read(2) returning it. Read to write: from there to the consumer's write(2) of the line to the file (the consumer's own work). A consumer woken on another CPU waits for that CPU to be interrupted and, if it was idle, to come out of idle; -command-awake keeps the CPUs out of idle.")
}

// shareCell is the share of ds in of lines, and their p50 and p99.
func shareCell(ds []time.Duration, of int) string {
	if len(ds) == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.0f%%, %s, %s", 100*float64(len(ds))/float64(of), us(sortedQ(ds, 0.5)), us(sortedQ(ds, 0.99)))
}

// sortedQ is quantile q of ds, which it leaves unsorted.
func sortedQ(ds []time.Duration, q float64) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return quantile(ds, q)
}
