//go:build linux

// Command bench compares log writers by what a record costs and by what
// survives rotation, side by side, in one run:
//
//	go run ./bench      (from the repository root: go.work joins the modules)
//
// It prints Markdown tables on stdout, each with a legend, and a progress
// line on stderr. It writes an SVG chart of the per-record costs (-svg,
// bench-results/results.svg by default: a directory that git ignores) and,
// with -json FILE, the raw numbers. See -help for the flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// config is what the flags set.
type config struct {
	Strategies string
	Sizes      []int
	Goroutines []int
	Rounds     int
	Duration   time.Duration
	Slices     int
	JSON       string
	SVG        string
	Syscalls   bool
	Rotation   bool
	RotCfg     rotationConfig
	Dir        string

	SelfRot, SelfRotOnly bool
	SelfRotCfg           selfRotConfig
}

// outDir is where the outputs go by default, relative to the working
// directory; the repository's .gitignore names it.
const outDir = "bench-results"

func defaultConfig() config {
	return config{
		Strategies: "all",
		Sizes:      []int{100, 1024},
		Goroutines: []int{1, 8, 64},
		Rounds:     5,
		Duration:   200 * time.Millisecond,
		Slices:     40,
		SVG:        filepath.Join(outDir, "results.svg"),
		Syscalls:   true,
		Rotation:   true,
		RotCfg: rotationConfig{
			Duration:   1500 * time.Millisecond,
			Interval:   5 * time.Millisecond,
			Pace:       50 * time.Microsecond,
			Goroutines: 2,
			Hold:       100 * time.Millisecond,
			Settle:     300 * time.Millisecond,
			Rms:        10,
		},
		SelfRot:    true,
		SelfRotCfg: defaultSelfRotConfig(),
	}
}

func main() {
	if ran, code := runChildIfAsked(); ran {
		os.Exit(code)
	}
	cfg := defaultConfig()
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.StringVar(&cfg.Strategies, "strategies", cfg.Strategies, "comma-separated strategies to compare, or all: "+strategyNames())
	fs.Func("sizes", "comma-separated record sizes in bytes (default 100,1024)", intsFlag(&cfg.Sizes))
	fs.Func("goroutines", "comma-separated numbers of writing goroutines (default 1,8,64)", intsFlag(&cfg.Goroutines))
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds; strategies are interleaved round by round and the median is shown")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long each strategy writes in each cell of each round")
	fs.IntVar(&cfg.Slices, "slices", cfg.Slices, "slices each cell's time is cut into; the strategies written in Go take turns slice by slice")
	fs.StringVar(&cfg.JSON, "json", "", "write the raw numbers to this file as JSON, e.g. "+filepath.Join(outDir, "out.json")+" (missing directories are made)")
	fs.StringVar(&cfg.SVG, "svg", cfg.SVG, "write the chart of per-record costs to this file (empty: none; missing directories are made)")
	fs.BoolVar(&cfg.Syscalls, "syscalls", cfg.Syscalls, "count syscalls per record (strace -f -c, or /proc/self/io without strace)")
	fs.BoolVar(&cfg.Rotation, "rotation", cfg.Rotation, "run the rotation table")
	fs.DurationVar(&cfg.RotCfg.Duration, "rotation-duration", cfg.RotCfg.Duration, "how long the rotator works on each strategy")
	fs.DurationVar(&cfg.RotCfg.Interval, "rotation-interval", cfg.RotCfg.Interval, "time between renames")
	fs.IntVar(&cfg.RotCfg.Rms, "rm-runs", cfg.RotCfg.Rms, "how many times the rotator removes the file (rm) in the rotation table; each rm's lost records are counted")
	fs.StringVar(&cfg.Dir, "dir", "", "directory for the test files (default: the system temp dir)")
	command := fs.Bool("command", false, "measure the watchedfile command against cat instead (line latency, throughput on tmpfs and disk); -rounds applies")
	cmdCfg := commandConfig{Lines: 1000, Interval: 2 * time.Millisecond, Bytes: 256 << 20, Dirs: []string{"/dev/shm", "/var/tmp"}}
	fs.IntVar(&cmdCfg.Lines, "command-lines", cmdCfg.Lines, "with -command, lines per consumer per round for the latency")
	fs.BoolVar(&cmdCfg.Trace, "command-trace", false, "with -command, also split each line's latency with ftrace: the wake-up (and on which CPU) and the consumer's own work (root, tracefs)")
	fs.BoolVar(&cmdCfg.Awake, "command-awake", false, "with -command, keep every CPU out of idle during the latency rounds (a busy loop at SCHED_IDLE priority each), as on a machine whose CPUs wake at once")
	fs.Int64Var(&cmdCfg.Bytes, "command-bytes", cmdCfg.Bytes, "with -command, bytes of input for the throughput")
	selfRotFlags(fs, &cfg.SelfRot, &cfg.SelfRotOnly, &cfg.SelfRotCfg)
	fs.Parse(os.Args[1:])
	if *command {
		cmdCfg.Rounds = cfg.Rounds
		if err := runCommandBench(os.Stdout, cmdCfg); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	do := run
	if cfg.SelfRotOnly {
		do = runSelfRotOnly
	}
	if err := do(cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func strategyNames() string {
	var names []string
	for _, s := range strategies() {
		names = append(names, s.name)
	}
	return strings.Join(names, ",")
}

func intsFlag(dst *[]int) func(string) error {
	return func(v string) error {
		var out []int
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return fmt.Errorf("want positive integers, got %q", f)
			}
			out = append(out, n)
		}
		*dst = out
		return nil
	}
}

// pythonEnv is the python3 to run and the script written for it; python is
// empty when there is none.
type pythonEnv struct {
	python, script string
}

// results is everything one run measured; -json writes it.
type results struct {
	Machine  machine          `json:"machine"`
	Config   jsonConfig       `json:"config"`
	Cells    []cell           `json:"cells"`
	Summary  []summary        `json:"summary"`
	Syscalls []syscallCount   `json:"syscalls,omitempty"`
	Rotation []rotationResult `json:"rotation,omitempty"`
	// SelfRotation is the self-rotation tables (selfrot_*.go).
	SelfRotation *selfRotResults `json:"self_rotation,omitempty"`
	Notes        []string        `json:"notes,omitempty"`
	Strategy     []strategyDesc  `json:"strategies"`
	StartedAt    time.Time       `json:"started_at"`
	Seconds      float64         `json:"seconds"`
}

type jsonConfig struct {
	Sizes      []int   `json:"sizes"`
	Goroutines []int   `json:"goroutines"`
	Rounds     int     `json:"rounds"`
	DurationS  float64 `json:"duration_s"`
	Slices     int     `json:"slices"`
}

type strategyDesc struct {
	Name string `json:"name"`
	Desc string `json:"desc"`
}

// run is the whole comparison.
func run(cfg config, stdout, stderr io.Writer) error {
	if cfg.Rounds < 1 || cfg.Slices < 1 || cfg.Duration <= 0 || len(cfg.Sizes) == 0 || len(cfg.Goroutines) == 0 {
		return errors.New("need rounds ≥ 1, slices ≥ 1, a positive duration, sizes and goroutines")
	}
	if cfg.Rotation && (cfg.RotCfg.Rms < 1 || cfg.RotCfg.Duration <= 0 || cfg.RotCfg.Interval <= 0) {
		return errors.New("the rotation table needs -rm-runs ≥ 1 and a positive duration and interval")
	}
	if cfg.SelfRot {
		if err := cfg.SelfRotCfg.validate(); err != nil {
			return err
		}
	}
	ss, err := selectStrategies(cfg.Strategies)
	if err != nil {
		return err
	}
	res := &results{
		Machine:   describeMachine(),
		Config:    jsonConfig{cfg.Sizes, cfg.Goroutines, cfg.Rounds, cfg.Duration.Seconds(), cfg.Slices},
		StartedAt: time.Now().UTC(),
	}
	root, err := os.MkdirTemp(cfg.Dir, "watchedfile-bench-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(root)
	if err := os.Chmod(root, 0o755); err != nil { // the rotation child runs as another uid
		return err
	}
	py := pythonEnv{python: findPython()}
	if py.python != "" {
		if py.script, err = writePythonScript(root); err != nil {
			return err
		}
	}
	var kept []strategy
	hasRaw := false
	for _, s := range ss {
		if s.python != "" && py.python == "" {
			res.Notes = append(res.Notes, s.name+": skipped, python3 is not on this machine")
			continue
		}
		hasRaw = hasRaw || s.name == "raw"
		kept = append(kept, s)
	}
	if !hasRaw { // every ratio is to raw measured in the same round
		kept = append([]strategy{rawStrategy()}, kept...)
	}
	ss = kept
	for _, s := range ss {
		res.Strategy = append(res.Strategy, strategyDesc{s.name, s.desc})
	}

	// The cost table: every cell once per round. The Go strategies take
	// turns in slices of the cell's time, their order rotated from one
	// slice and one round to the next; the Python ones, each a process of
	// its own, run their cell after them.
	var goSS, pySS []strategy
	for _, s := range ss {
		if s.python != "" {
			pySS = append(pySS, s)
		} else {
			goSS = append(goSS, s)
		}
	}
	prog := newProgress(stderr)
	totalCells := cfg.Rounds * len(cfg.Sizes) * len(cfg.Goroutines) * len(ss)
	for r := range cfg.Rounds {
		for _, size := range cfg.Sizes {
			for _, g := range cfg.Goroutines {
				prog.step(len(res.Cells)+1, totalCells, fmt.Sprintf("round %d/%d, %d B, %d goroutines", r+1, cfg.Rounds, size, g))
				for _, c := range runRound(goSS, size, g, cfg.Duration, cfg.Slices, r, root) {
					c.Round = r + 1
					res.Cells = append(res.Cells, c)
				}
				for _, s := range pySS {
					prog.step(len(res.Cells)+1, totalCells, fmt.Sprintf("round %d/%d, %d B, %d goroutines: %s", r+1, cfg.Rounds, size, g, s.name))
					c, err := runCell(s, size, g, cfg.Duration, root, py)
					c.Round = r + 1
					if err != nil {
						c.Error = err.Error()
					}
					res.Cells = append(res.Cells, c)
				}
			}
		}
	}
	res.Summary = summarize(res.Cells, ss, cfg)

	if cfg.Syscalls {
		strace, _ := exec.LookPath("strace")
		if strace == "" {
			res.Notes = append(res.Notes, "strace is not installed: syscalls counted from /proc/self/io syscw, write calls only")
		}
		var concurrent []int // the goroutine counts above one
		for _, g := range cfg.Goroutines {
			if g > 1 {
				concurrent = append(concurrent, g)
			}
		}
		for i, s := range ss {
			prog.step(i+1, len(ss), "counting syscalls: "+s.name)
			if strace != "" {
				res.Syscalls = append(res.Syscalls, countSyscalls(s, cfg.Sizes[0], concurrent, root, py, strace))
			} else {
				res.Syscalls = append(res.Syscalls, countSyscwInProcess(s, cfg.Sizes[0], root))
			}
		}
	}

	if cfg.Rotation {
		if err := copySelf(root); err != nil {
			return err
		}
		if os.Geteuid() != 0 {
			res.Notes = append(res.Notes, "not root: the rotation child runs as this uid and the unopenable-file step is skipped")
		}
		for i, s := range ss {
			if s.reference || s.rotates {
				continue
			}
			prog.step(i+1, len(ss), "rotation: "+s.name)
			r, err := runRotation(s, cfg.RotCfg, root, py)
			if err != nil {
				r = rotationResult{Strategy: s.name, Skipped: err.Error()}
			}
			res.Rotation = append(res.Rotation, r)
		}
	}
	if cfg.SelfRot {
		if res.SelfRotation, err = runSelfRotTables(cfg.SelfRotCfg, root, prog); err != nil {
			return err
		}
	}
	prog.done()
	res.Seconds = time.Since(res.StartedAt).Seconds()

	if err := writeMarkdown(stdout, res, cfg); err != nil {
		return err
	}
	var errs []error
	if cfg.JSON != "" {
		errs = append(errs, writeJSON(cfg.JSON, res))
	}
	if cfg.SVG != "" {
		errs = append(errs, writeSVG(cfg.SVG, res))
	}
	return errors.Join(errs...)
}

// progress is the one line on stderr that says what is running. On a
// terminal it is rewritten in place; otherwise a line is printed now and then.
type progress struct {
	w     io.Writer
	tty   bool
	last  time.Time
	wrote bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) step(i, n int, what string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K[%d/%d] %s", i, n, what)
		p.wrote = true
		return
	}
	if i == 1 || i == n || time.Since(p.last) > 10*time.Second {
		fmt.Fprintf(p.w, "bench: [%d/%d] %s\n", i, n, what)
		p.last = time.Now()
	}
}

func (p *progress) done() {
	if p.tty && p.wrote {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
