//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The watchedfile command against cat, as the last stage of a pipe: how
// long a line takes to reach the file, and how long a large input takes to
// go through (go run ./bench -command). The two consumers take turns round
// by round, so that a change in the machine's load falls on both.

// commandConfig is what -command measures.
type commandConfig struct {
	Rounds   int           // rounds; consumers alternate within each
	Lines    int           // lines per consumer per round, for latency
	Interval time.Duration // between two lines
	Bytes    int64         // input size for throughput
	Dirs     []string      // where the throughput's output goes: tmpfs, disk
	Trace    bool          // split each line's latency with ftrace (root)
	Awake    bool          // keep the CPUs out of idle during the latency rounds
}

// consumer is one way to end a pipe in a file: argv, with OUT for the file.
type consumer struct {
	name string
	argv []string
}

func commandConsumers(exe string) []consumer {
	return []consumer{
		{"cat", []string{"sh", "-c", `exec cat >> "$0"`, "OUT"}},
		{"watchedfile", []string{exe, "OUT"}},
	}
}

func (c consumer) command(out string) *exec.Cmd {
	argv := slices.Clone(c.argv)
	for i, a := range argv {
		if a == "OUT" {
			argv[i] = out
		}
	}
	return exec.Command(argv[0], argv[1:]...)
}

// buildCommand builds cmd/watchedfile (no race detector) into dir.
func buildCommand(dir string) (string, error) {
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/watchedfile/watchedfile").Output()
	if err != nil {
		return "", fmt.Errorf("locating the module: %w", err)
	}
	exe := filepath.Join(dir, "watchedfile")
	build := exec.Command("go", "build", "-o", exe, "./cmd/watchedfile")
	build.Dir = strings.TrimSpace(string(root))
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/watchedfile: %v: %s", err, out)
	}
	return exe, nil
}

// runCommandBench measures and prints both tables.
func runCommandBench(w io.Writer, cfg commandConfig) error {
	tmp, err := os.MkdirTemp("", "bench-command-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	exe, err := buildCommand(tmp)
	if err != nil {
		return err
	}
	cs := commandConsumers(exe)
	stop := func() {}
	if cfg.Awake {
		if stop, err = keepCPUsAwake(); err != nil {
			return err
		}
	}
	err = runLatency(w, cs, tmp, cfg)
	stop()
	if err != nil {
		return err
	}
	return runThroughput(w, cs, tmp, cfg)
}

// runLatency measures and prints one line's latency, cs taking turns.
func runLatency(w io.Writer, cs []consumer, tmp string, cfg commandConfig) error {
	lat := map[string][]time.Duration{}
	splits := map[string][]lineSplit{}
	roundP99 := map[string][]time.Duration{}
	for r := range cfg.Rounds {
		for i := range cs {
			c := cs[(i+r)%len(cs)]
			say("command latency, round %d/%d, %s", r+1, cfg.Rounds, c.name)
			ls, split, err := lineLatency(c, tmp, cfg.Lines, cfg.Interval, cfg.Trace)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			lat[c.name] = append(lat[c.name], ls...)
			splits[c.name] = append(splits[c.name], split...)
			slices.Sort(ls)
			roundP99[c.name] = append(roundP99[c.name], quantile(ls, 0.99))
		}
	}
	awake := ""
	if cfg.Awake {
		awake = ", CPUs kept out of idle"
	}
	fmt.Fprintf(w, "\n#### The command: one line's latency (%d rounds of %d lines, one every %v%s)\n\n", cfg.Rounds, cfg.Lines, cfg.Interval, awake)
	fmt.Fprintln(w, "| consumer | p50 | p90 | p99 | max | p99 of a round, median |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, c := range cs {
		ls := lat[c.name]
		slices.Sort(ls)
		slices.Sort(roundP99[c.name])
		fmt.Fprintf(w, "| %s | %v | %v | %v | %v | %v |\n", c.name, us(quantile(ls, 0.5)), us(quantile(ls, 0.9)),
			us(quantile(ls, 0.99)), us(ls[len(ls)-1]), us(quantile(roundP99[c.name], 0.5)))
	}
	fmt.Fprintln(w, "\nLatency: from the write(2) of a 100-byte line into the pipe to the inotify IN_MODIFY event of the file's write, read by a goroutine blocked on the inotify descriptor (no busy loop). `cat` is `sh -c 'exec cat >> FILE'`.")
	if cfg.Awake {
		fmt.Fprintln(w, "CPUs kept out of idle: a busy loop per CPU at SCHED_IDLE priority, which any task woken there preempts at once, so that no wake-up waits for a CPU to leave idle.")
	}
	if cfg.Trace {
		printSplit(w, cs, splits)
	}
	return nil
}

// runThroughput measures and prints the time a large input takes through
// each of cs, in each of cfg.Dirs.
func runThroughput(w io.Writer, cs []consumer, tmp string, cfg commandConfig) error {
	in := filepath.Join(tmp, "in")
	if err := writeInput(in, cfg.Bytes); err != nil {
		return err
	}
	for _, dir := range cfg.Dirs {
		walls := map[string][]time.Duration{}
		var ratios []float64
		for r := range cfg.Rounds {
			took := map[string]time.Duration{}
			for i := range cs {
				c := cs[(i+r)%len(cs)]
				say("command throughput, %s, round %d/%d, %s", dir, r+1, cfg.Rounds, c.name)
				d, err := pipeThrough(c, in, dir)
				if err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				took[c.name] = d
				walls[c.name] = append(walls[c.name], d)
			}
			ratios = append(ratios, took["watchedfile"].Seconds()/took["cat"].Seconds())
		}
		slices.Sort(ratios)
		fmt.Fprintf(w, "\n#### The command: %d MiB of 100-byte lines through a pipe, output in %s (%s; %d paired rounds)\n\n",
			cfg.Bytes>>20, dir, fsType(dir), cfg.Rounds)
		fmt.Fprintln(w, "| consumer | wall, min | wall, median |")
		fmt.Fprintln(w, "|---|---:|---:|")
		for _, c := range cs {
			ds := walls[c.name]
			slices.Sort(ds)
			fmt.Fprintf(w, "| %s | %.2fs | %.2fs |\n", c.name, ds[0].Seconds(), quantile(ds, 0.5).Seconds())
		}
		fmt.Fprintf(w, "\nwatchedfile / cat, per round: median %.2f× (min %.2f×, max %.2f×).\n",
			ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
	}
	fmt.Fprintln(w, "\nThroughput: `cat IN | CONSUMER`, timed from start to exit; the ratio is taken within each round, then the median over rounds.")
	return nil
}

// keepCPUsAwake starts a busy loop on each CPU at SCHED_IDLE priority
// (taskset, chrt: util-linux): a task woken there preempts it at once, and
// the CPU never goes idle, so a wake-up never waits for it to come out of
// idle. stop ends them; so does the bench's death.
func keepCPUsAwake() (stop func(), err error) {
	var loops []*exec.Cmd
	stop = func() {
		for _, l := range loops {
			l.Process.Kill()
			l.Wait()
		}
	}
	var cpus unix.CPUSet
	if err := unix.SchedGetaffinity(0, &cpus); err != nil {
		return nil, fmt.Errorf("the bench's CPUs: %w", err)
	}
	for cpu := range len(cpus) * 64 {
		if !cpus.IsSet(cpu) {
			continue
		}
		l := exec.Command("taskset", "-c", strconv.Itoa(cpu), "chrt", "-i", "0", "sh", "-c", "while :; do :; done")
		l.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
		if err := l.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("busy loop at SCHED_IDLE (taskset, chrt: util-linux): %w", err)
		}
		loops = append(loops, l)
	}
	return stop, nil
}

// lineLatency sends lines through c one by one and returns, for each, the
// time from its write into the pipe to the write of the file; with trace,
// also each line's time split on the kernel's clock (see command_trace.go).
func lineLatency(c consumer, dir string, lines int, every time.Duration, trace bool) ([]time.Duration, []lineSplit, error) {
	out := filepath.Join(dir, "latency.log")
	os.Remove(out)
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		return nil, nil, err
	}
	defer os.Remove(out)
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return nil, nil, err
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, out, unix.IN_MODIFY); err != nil {
		return nil, nil, err
	}
	cmd := c.command(out)
	r, pipe, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdin = r
	err = cmd.Start()
	r.Close()
	if err != nil {
		pipe.Close()
		return nil, nil, err
	}
	defer cmd.Wait()
	defer pipe.Close()
	var kt *kernelTrace
	if trace {
		if kt, err = startTrace(); err != nil {
			return nil, nil, err
		}
		defer func() { // on an error before the trace is read
			if kt != nil {
				kt.remove()
			}
		}()
	}
	line := []byte(strings.Repeat("l", 99) + "\n")
	events := make([]byte, 64*unix.SizeofInotifyEvent)
	lat := make([]time.Duration, 0, lines)
	for range lines {
		start := time.Now()
		if _, err := pipe.Write(line); err != nil {
			return nil, nil, err
		}
		if _, err := unix.Read(in, events); err != nil { // blocks until the file is written
			return nil, nil, err
		}
		lat = append(lat, time.Since(start))
		time.Sleep(every) // the pace of the lines
	}
	if kt == nil {
		return lat, nil, nil
	}
	bench, err := tasks(os.Getpid())
	if err != nil {
		return nil, nil, err
	}
	consumer, err := tasks(cmd.Process.Pid)
	if err != nil {
		return nil, nil, err
	}
	fd := -1
	if rc, err := pipe.SyscallConn(); err == nil {
		rc.Control(func(f uintptr) { fd = int(f) })
	}
	text, err := kt.stop()
	kt = nil
	if err != nil {
		return nil, nil, fmt.Errorf("reading the trace: %w", err)
	}
	return lat, splitLines(text, bench, consumer, fd, len(line)), nil
}

// pipeThrough runs cat IN | c and returns its wall time.
func pipeThrough(c consumer, in, dir string) (time.Duration, error) {
	out := filepath.Join(dir, fmt.Sprintf("bench-command-%d.out", os.Getpid()))
	os.Remove(out)
	defer os.Remove(out)
	src := exec.Command("cat", in)
	dst := c.command(out)
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	src.Stdout, dst.Stdin = w, r
	start := time.Now()
	if err := dst.Start(); err != nil {
		return 0, err
	}
	if err := src.Start(); err != nil {
		return 0, err
	}
	w.Close()
	r.Close()
	serr := src.Wait()
	derr := dst.Wait()
	took := time.Since(start)
	if serr != nil || derr != nil {
		return 0, fmt.Errorf("cat: %v, consumer: %v", serr, derr)
	}
	return took, nil
}

// writeInput writes n bytes of 100-byte lines to path.
func writeInput(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	line := []byte(strings.Repeat("x", 99) + "\n")
	for written := int64(0); written < n; written += int64(len(line)) {
		bw.Write(line)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fsType(dir string) string {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return "?"
	}
	switch st.Type {
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	}
	return fmt.Sprintf("0x%x", st.Type)
}

func quantile(ds []time.Duration, q float64) time.Duration {
	return ds[int(q*float64(len(ds)-1))]
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
