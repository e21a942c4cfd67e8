//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// syscallCount is the syscalls one record costs, for one strategy.
type syscallCount struct {
	Strategy string  `json:"strategy"`
	Method   string  `json:"method"` // "strace" or "proc-syscw" (write calls only)
	Total    float64 `json:"total"`  // every syscall, per record
	// Runtime is the part of Total made by the Go runtime's scheduler and
	// timers on other threads (futex, nanosleep, epoll_pwait, …), which
	// strace's slowing of every call multiplies; it is not on the path of
	// a record.
	Runtime float64 `json:"runtime"`
	Write   float64 `json:"write"` // write, writev, pwrite64
	Stat    float64 `json:"stat"`  // stat, fstat, lstat, newfstatat, statx
	Open    float64 `json:"open"`  // open, openat, close
	// Concurrent is the write calls per record with more goroutines.
	Concurrent []concurrentCount `json:"concurrent,omitempty"`
	Error      string            `json:"error,omitempty"`
}

// concurrentCount is the write calls per record that carried the records of
// some goroutines writing at once, under strace.
type concurrentCount struct {
	Goroutines int     `json:"goroutines"`
	Write      float64 `json:"write"`  // write, writev, pwrite64
	Writev     float64 `json:"writev"` // of which writev
	Error      string  `json:"error,omitempty"`
}

// Records written by the two runs whose difference is counted, so that
// start-up and exit cancel out.
const (
	countSmall = 2000
	countLarge = 12000
)

// countSyscalls counts, with strace -f -c, the syscalls per record of s
// writing 100-byte records from one goroutine: the difference between a run
// of countLarge and one of countSmall records, divided by the difference.
// For each of concurrent, it counts the write calls per record the same way
// with that many goroutines sharing the records.
func countSyscalls(s strategy, size int, concurrent []int, dir string, py pythonEnv, strace string) syscallCount {
	c := syscallCount{Strategy: s.name, Method: "strace"}
	per, err := straceDiff(s, size, 1, dir, py, strace)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	c.Total = per("total")
	c.Write = per("write", "writev", "pwrite64")
	c.Stat = per("stat", "fstat", "lstat", "newfstatat", "statx")
	c.Open = per("open", "openat", "close")
	c.Runtime = per(runtimeSyscalls...)
	for _, g := range concurrent {
		cc := concurrentCount{Goroutines: g}
		if per, err := straceDiff(s, size, g, dir, py, strace); err != nil {
			cc.Error = err.Error()
		} else {
			cc.Write, cc.Writev = per("write", "writev", "pwrite64"), per("writev")
		}
		c.Concurrent = append(c.Concurrent, cc)
	}
	return c
}

// straceDiff runs countSmall and countLarge records of s from g goroutines
// under strace and returns how many calls of the named syscalls one record
// made, from the difference of the two runs.
func straceDiff(s strategy, size, g int, dir string, py pythonEnv, strace string) (func(names ...string) float64, error) {
	small, err := straceRun(s, size, countSmall, g, dir, py, strace)
	if err != nil {
		return nil, err
	}
	large, err := straceRun(s, size, countLarge, g, dir, py, strace)
	if err != nil {
		return nil, err
	}
	return func(names ...string) float64 {
		d := 0
		for _, n := range names {
			d += large[n] - small[n]
		}
		return float64(d) / float64(countLarge-countSmall)
	}, nil
}

// runtimeSyscalls are the calls the Go runtime makes for itself: parking and
// waking threads, sysmon's sleeps, the network poller, preemption signals.
var runtimeSyscalls = []string{"futex", "nanosleep", "sched_yield", "epoll_pwait", "epoll_wait",
	"rt_sigreturn", "tgkill", "getpid", "gettid", "madvise", "mmap", "munmap", "clone", "clone3",
	"rt_sigprocmask", "sigaltstack"}

// straceRun runs n records of s from g goroutines under strace -f -c and
// returns the calls by syscall name, with "total".
func straceRun(s strategy, size, n, g int, dir string, py pythonEnv, strace string) (map[string]int, error) {
	out := filepath.Join(dir, "strace.out")
	path := filepath.Join(dir, "count.log")
	defer os.Remove(out)
	defer os.Remove(path)
	os.Remove(path)
	args := []string{"-f", "-c", "-o", out, "--"}
	var env []string
	if s.python != "" {
		b, err := json.Marshal(map[string]any{"mode": "count", "kind": s.python, "path": path, "size": size, "records": n, "goroutines": g})
		if err != nil {
			return nil, err
		}
		args = append(args, py.python, py.script, string(b))
	} else {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own binary: %w", err)
		}
		b, err := json.Marshal(childArgs{Strategy: s.name, Path: path, Size: size, Records: n, Goroutines: g})
		if err != nil {
			return nil, err
		}
		args = append(args, exe)
		env = []string{childEnv + "=count", childArgsEnv + "=" + string(b)}
	}
	cmd := exec.Command(strace, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("strace %s: %w: %s", s.name, err, strings.TrimSpace(stderr.String()))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("strace output: %w", err)
	}
	return parseStraceSummary(b)
}

// parseStraceSummary reads strace -c's table: "% time seconds usecs/call
// calls [errors] syscall", ending with a "total" line.
func parseStraceSummary(b []byte) (map[string]int, error) {
	calls := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || len(f) > 6 {
			continue
		}
		if _, err := strconv.ParseFloat(f[0], 64); err != nil {
			continue // the header and rules
		}
		n, err := strconv.Atoi(f[3])
		if err != nil {
			continue
		}
		calls[f[len(f)-1]] += n
	}
	if _, ok := calls["total"]; !ok {
		return nil, fmt.Errorf("no total line in strace summary: %q", b)
	}
	return calls, nil
}

// countSyscwInProcess is the fallback without strace: the kernel's count of
// write syscalls (/proc/self/io syscw) across countLarge records written in
// this process. It sees write calls only.
func countSyscwInProcess(s strategy, size int, dir string) syscallCount {
	c := syscallCount{Strategy: s.name, Method: "proc-syscw"}
	if s.python != "" {
		c.Error = "no strace: not counted for the python3 subprocess"
		return c
	}
	path := filepath.Join(dir, "count.log")
	defer os.Remove(path)
	w, err := s.open(path)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	rec := record(size)
	before, err1 := syscw()
	for range countLarge {
		if _, err := w.Write(rec); err != nil {
			c.Error = err.Error()
			break
		}
	}
	after, err2 := syscw()
	w.Close()
	if err1 != nil || err2 != nil {
		c.Error = fmt.Sprint("read /proc/self/io: ", err1, err2)
		return c
	}
	c.Write = float64(after-before) / countLarge
	c.Total = c.Write
	return c
}

func syscw() (uint64, error) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no syscw in /proc/self/io")
}
