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

// traceEvents are what the split needs: writes, reads' returns, wake-ups.
var traceEvents = []string{"syscalls:sys_enter_write", "syscalls:sys_exit_read", "sched:sched_wakeup"}

// kernelTrace is ftrace switched on, with the settings it found kept to be
// put back.
type kernelTrace struct{ saved map[string]string }

// startTrace clears the trace buffer and records traceEvents into it; no
// reader runs meanwhile, so the machine stays as idle as it was.
func startTrace() (*kernelTrace, error) {
	t := &kernelTrace{saved: map[string]string{}}
	for _, f := range []string{"tracing_on", "buffer_size_kb", "set_event"} {
		b, err := os.ReadFile(filepath.Join(tracefs, f))
		if err != nil {
			return nil, fmt.Errorf("ftrace (root, tracefs at %s): %w", tracefs, err)
		}
		t.saved[f] = string(b)
	}
	steps := []struct{ file, value string }{
		{"tracing_on", "0"},
		{"buffer_size_kb", "16384"}, // per CPU: a round of 1,000 lines needs about 3 MB
		{"set_event", strings.Join(traceEvents, "\n")},
		{"trace", ""},
		{"tracing_on", "1"},
	}
	for _, s := range steps {
		if err := os.WriteFile(filepath.Join(tracefs, s.file), []byte(s.value+"\n"), 0); err != nil {
			t.restore()
			return nil, fmt.Errorf("ftrace %s: %w", s.file, err)
		}
	}
	return t, nil
}

// stop switches tracing off, returns what it recorded and puts the
// settings back.
func (t *kernelTrace) stop() ([]byte, error) {
	os.WriteFile(filepath.Join(tracefs, "tracing_on"), []byte("0\n"), 0)
	b, err := os.ReadFile(filepath.Join(tracefs, "trace"))
	t.restore()
	return b, err
}

func (t *kernelTrace) restore() {
	os.WriteFile(filepath.Join(tracefs, "tracing_on"), []byte("0\n"), 0)
	os.WriteFile(filepath.Join(tracefs, "trace"), nil, 0)
	for _, f := range []string{"set_event", "buffer_size_kb", "tracing_on"} {
		v := t.saved[f]
		if f == "set_event" && strings.TrimSpace(v) == "" {
			v = "" // writing an empty line clears the list
		}
		os.WriteFile(filepath.Join(tracefs, f), []byte(v), 0)
	}
}

// tasks returns the thread ids of process pid.
func tasks(pid int) map[int]bool {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	ids := map[int]bool{}
	for _, e := range ents {
		if id, err := strconv.Atoi(e.Name()); err == nil {
			ids[id] = true
		}
	}
	return ids
}

// lineSplit is one line's latency cut in two on the kernel's clock.
type lineSplit struct {
	wake     time.Duration // the bench's write into the pipe to the consumer's read returning it
	work     time.Duration // that read's return to the consumer's write of the line
	otherCPU bool          // the consumer read on another CPU than the bench wrote on
}

// traceLine is one event of the trace: "comm-tid [cpu] flags secs: event...".
var traceLine = regexp.MustCompile(`^\s*.+?-(\d+)\s+\[(\d+)\]\s+\S+\s+(\d+)\.(\d+):\s+(\w+)(.*)$`)

// splitLines finds each line of lineLen bytes in a trace: written into the
// pipe (fd) by one of the bench's threads, read by one of the consumer's,
// then written by it.
func splitLines(trace []byte, bench, consumer map[int]bool, fd, lineLen int) []lineSplit {
	write := "(fd: " + traceNum(fd) + ", "
	count := "count: " + traceNum(lineLen) + ")"
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
		switch {
		case bench[tid] && event == "sys_write" && strings.HasPrefix(rest, write) && strings.HasSuffix(rest, count):
			w0, cpu0, state = at, cpu, 1
		case state == 1 && consumer[tid] && event == "sys_read" && strings.TrimSpace(rest) == read:
			r1, state = at, 2
			out = append(out, lineSplit{wake: r1 - w0, otherCPU: cpu != cpu0})
		case state == 2 && consumer[tid] && event == "sys_write" && strings.HasSuffix(rest, count):
			out[len(out)-1].work = at - r1
			state = 0
		}
	}
	// A line whose write was not seen (the buffer filled) tells nothing.
	if state != 0 && len(out) > 0 {
		out = out[:len(out)-1]
	}
	return out
}

// traceNum is n as ftrace prints a syscall's argument: decimal
// below 10, hexadecimal above.
func traceNum(n int) string {
	if n < 10 {
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("0x%x", n)
}

// printSplit prints, per consumer, the share of lines woken on the other
// CPU and the wake-up and work on each side.
func printSplit(w io.Writer, names []string, splits map[string][]lineSplit) {
	fmt.Fprintln(w, "\n#### Where a line's time goes, on the kernel's clock (ftrace)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| consumer | lines | woken on the writer's CPU: share, p50, p99 | woken on the other CPU: share, p50, p99 | read to write: p50, p99 |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, name := range names {
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
	fmt.Fprintln(w, "\nWoken: from the bench's write(2) of the line into the pipe to the consumer's read(2) returning it. Read to write: from there to the consumer's write(2) of the line to the file (the consumer's own work). A consumer woken on the other CPU waits for that CPU to be interrupted and, if it was idle, to come out of idle.")
}

func shareCell(ds []time.Duration, of int) string {
	if len(ds) == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.0f%%, %s, %s", 100*float64(len(ds))/float64(of), us(sortedQ(ds, 0.5)), us(sortedQ(ds, 0.99)))
}

func sortedQ(ds []time.Duration, q float64) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return quantile(ds, q)
}
