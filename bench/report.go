//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// machine says where the numbers were measured.
type machine struct {
	CPUs    int               `json:"cpus"`
	CPU     string            `json:"cpu"`
	Kernel  string            `json:"kernel"`
	Go      string            `json:"go"`
	Python  string            `json:"python,omitempty"`
	Modules map[string]string `json:"modules"` // rival module → version
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute figures at the start:
	// other work on the machine slows every row's wall time.
	LoadAvg string `json:"loadavg"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Modules: map[string]string{}}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if p := findPython(); p != "" {
		if out, err := exec.Command(p, "--version").Output(); err == nil {
			m.Python = strings.TrimSpace(string(out))
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			m.Modules[d.Path] = d.Version
		}
	}
	return m
}

// summary is one strategy, size and concurrency over all rounds: medians.
type summary struct {
	Strategy   string  `json:"strategy"`
	Size       int     `json:"size"`
	Goroutines int     `json:"goroutines"`
	Rounds     int     `json:"rounds"` // rounds without error
	NsPerRec   float64 `json:"ns_per_record"`
	RecPerSec  float64 `json:"records_per_second"`
	RatioToRaw float64 `json:"ratio_to_raw"` // median of the per-round ratios
	CPUNsRec   float64 `json:"cpu_ns_per_record"`
	AllocsRec  float64 `json:"allocs_per_record"` // -1: not known
	// WriteCallsRec is write, writev and pwrite calls per record.
	WriteCallsRec float64 `json:"write_calls_per_record"` // -1: not known
	// LatP50Ns and LatP99Ns are the medians over rounds of each round's
	// quantiles of one Write's duration.
	LatP50Ns float64 `json:"latency_p50_ns"`
	LatP99Ns float64 `json:"latency_p99_ns"`
	Error    string  `json:"error,omitempty"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func summarize(cells []cell, ss []strategy, cfg config) []summary {
	type key struct {
		s       string
		size, g int
		round   int
	}
	nsPer := map[key]float64{}
	for _, c := range cells {
		if c.Error == "" && c.Records > 0 {
			nsPer[key{c.Strategy, c.Size, c.Goroutines, c.Round}] = float64(c.ElapsedNs) / float64(c.Records)
		}
	}
	var out []summary
	for _, size := range cfg.Sizes {
		for _, g := range cfg.Goroutines {
			for _, s := range ss {
				sm := summary{Strategy: s.name, Size: size, Goroutines: g, AllocsRec: -1}
				var ns, rps, ratio, cpu, allocs, calls, p50, p99 []float64
				for _, c := range cells {
					if c.Strategy != s.name || c.Size != size || c.Goroutines != g {
						continue
					}
					if c.Error != "" || c.Records == 0 {
						sm.Error = c.Error
						continue
					}
					r := float64(c.Records)
					ns = append(ns, float64(c.ElapsedNs)/r)
					rps = append(rps, r/(float64(c.ElapsedNs)/1e9))
					cpu = append(cpu, float64(c.CPUNs)/r)
					if c.Mallocs >= 0 {
						allocs = append(allocs, float64(c.Mallocs)/r)
					}
					if c.WriteCalls >= 0 {
						calls = append(calls, float64(c.WriteCalls)/r)
					}
					if c.LatP50Ns >= 0 && c.LatP99Ns >= 0 {
						p50, p99 = append(p50, c.LatP50Ns), append(p99, c.LatP99Ns)
					}
					if raw, ok := nsPer[key{"raw", size, g, c.Round}]; ok {
						ratio = append(ratio, float64(c.ElapsedNs)/r/raw)
					}
				}
				sm.Rounds = len(ns)
				sm.NsPerRec, sm.RecPerSec, sm.CPUNsRec = median(ns), median(rps), median(cpu)
				sm.RatioToRaw = median(ratio)
				if len(allocs) > 0 {
					sm.AllocsRec = median(allocs)
				}
				sm.WriteCallsRec, sm.LatP50Ns, sm.LatP99Ns = median(calls), median(p50), median(p99)
				for _, p := range []*float64{&sm.NsPerRec, &sm.RecPerSec, &sm.CPUNsRec, &sm.RatioToRaw,
					&sm.WriteCallsRec, &sm.LatP50Ns, &sm.LatP99Ns} {
					if math.IsNaN(*p) { // JSON has no NaN: -1 is "not measured"
						*p = -1
					}
				}
				out = append(out, sm)
			}
		}
	}
	return out
}

// minMedMax formats counts as "min / median / max".
func minMedMax(xs []uint64) string {
	if len(xs) == 0 {
		return "–"
	}
	fs := make([]float64, len(xs))
	for i, x := range xs {
		fs[i] = float64(x)
	}
	return fmt.Sprintf("%d / %s / %d", slices.Min(xs), strconv.FormatFloat(median(fs), 'f', -1, 64), slices.Max(xs))
}

// num formats a figure, with a dash for what was not measured.
func num(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

func writeMarkdown(w io.Writer, res *results, cfg config) error {
	bw := bufio.NewWriter(w)
	m := res.Machine
	fmt.Fprintf(bw, "Machine: %d CPUs, %s, Linux %s, %s", m.CPUs, m.CPU, m.Kernel, m.Go)
	if m.Python != "" {
		fmt.Fprintf(bw, ", %s", m.Python)
	}
	var mods []string
	for _, p := range []string{"gopkg.in/natefinch/lumberjack.v2", "github.com/client9/reopen", "go.uber.org/zap"} {
		if v := m.Modules[p]; v != "" {
			mods = append(mods, p+" "+v)
		}
	}
	if len(mods) > 0 {
		fmt.Fprintf(bw, ", %s", strings.Join(mods, ", "))
	}
	fmt.Fprintf(bw, "; load average %s at the start.\n%d rounds of %v per cell in %d slices, the Go strategies taking turns slice by slice; medians. Run took %.0f s.\n\n",
		m.LoadAvg, cfg.Rounds, cfg.Duration, cfg.Slices, res.Seconds)

	writeRatioTable(bw, res, cfg)
	for _, size := range cfg.Sizes {
		fmt.Fprintf(bw, "#### Cost per record, %d-byte records\n\n", size)
		fmt.Fprintln(bw, "| strategy | goroutines | ns/record | records/s | × raw | CPU ns/record | allocs/record |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|")
		for _, s := range res.Summary {
			if s.Size != size {
				continue
			}
			if s.Rounds == 0 {
				fmt.Fprintf(bw, "| %s | %d | failed: %s | | | | |\n", s.Strategy, s.Goroutines, oneLine(s.Error))
				continue
			}
			fmt.Fprintf(bw, "| %s | %d | %s | %s | %s | %s | %s |\n", s.Strategy, s.Goroutines,
				num(s.NsPerRec, 0), num(s.RecPerSec, 0), num(s.RatioToRaw, 2), num(s.CPUNsRec, 0), num(s.AllocsRec, 2))
		}
		fmt.Fprintln(bw)
		legend(bw, costLegend)
	}
	writeLatencyTable(bw, res, cfg)

	if len(res.Syscalls) > 0 {
		method := res.Syscalls[0].Method
		var conc []int // the goroutine counts counted beyond one
		for _, cc := range res.Syscalls[0].Concurrent {
			conc = append(conc, cc.Goroutines)
		}
		fmt.Fprintf(bw, "#### Syscalls per record (%s, %d-byte records, 1 goroutine unless said, %d−%d records)\n\n",
			map[string]string{"strace": "strace -f -c", "proc-syscw": "/proc/self/io syscw, writes only"}[method],
			cfg.Sizes[0], countLarge, countSmall)
		fmt.Fprint(bw, "| strategy | on the record's path | write | stat family | open/close | Go runtime, other threads |")
		for _, g := range conc {
			fmt.Fprintf(bw, " write, %d gor. (of which writev) |", g)
		}
		fmt.Fprint(bw, "\n|---|---:|---:|---:|---:|---:|")
		fmt.Fprintln(bw, strings.Repeat("---:|", len(conc)))
		for _, c := range res.Syscalls {
			if c.Error != "" {
				fmt.Fprintf(bw, "| %s | not counted: %s | | | | |%s\n", c.Strategy, oneLine(c.Error), strings.Repeat(" |", len(conc)))
				continue
			}
			// Differences of two runs: noise can make a count of zero
			// print as -0.00.
			rate := func(x float64) string { return fmt.Sprintf("%.2f", max(x, 0)) }
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s |", c.Strategy,
				rate(c.Total-c.Runtime), rate(c.Write), rate(c.Stat), rate(c.Open), rate(c.Runtime))
			for _, cc := range c.Concurrent {
				switch {
				case cc.Error != "":
					fmt.Fprintf(bw, " not counted: %s |", oneLine(cc.Error))
				case cc.Writev > 0.005:
					fmt.Fprintf(bw, " %s (%s) |", rate(cc.Write), rate(cc.Writev))
				default:
					fmt.Fprintf(bw, " %s |", rate(cc.Write))
				}
			}
			fmt.Fprintln(bw)
		}
		fmt.Fprintln(bw)
		if method == "strace" {
			legend(bw, syscallLegend)
		} else {
			legend(bw, append(syscallLegend[:1:1], syscwLegend...))
		}
	}
	writeCallsTable(bw, res, cfg)

	if len(res.Rotation) > 0 {
		rc := cfg.RotCfg
		fmt.Fprintf(bw, "#### Under rotation (%v: a rename every %v, %d rm, one new file unopenable for %v; %d goroutines, a record every %v each)\n\n",
			rc.Duration, rc.Interval, rc.Rms, rc.Hold, rc.Goroutines, rc.Pace)
		fmt.Fprintln(bw, "| strategy | records | failed writes | lost | of which to deleted files | lost per rm, min / median / max |"+
			" stranded | misdirected | started after the rename | of which while unopenable | delay after the rename, median / p99 | duplicates | stuck at end |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, r := range res.Rotation {
			if r.Attempted == 0 && r.Skipped != "" {
				fmt.Fprintf(bw, "| %s | skipped: %s | | | | | | | | | | | |\n", r.Strategy, oneLine(r.Skipped))
				continue
			}
			stuck := "no"
			if r.Stuck {
				stuck = "**yes**"
			}
			delay := "–"
			if r.StartedAfter > r.WhileLocked {
				delay = nanos(float64(r.MisdirectedDelayNs)) + " / " + nanos(float64(r.MisdirectedDelayP99Ns))
			}
			fmt.Fprintf(bw, "| %s | %d | %d | %d | %d | %s | %d | %d | %d | %d | %s | %d | %s |\n", r.Strategy, r.Attempted, r.Failed,
				r.Lost, r.ToDeleted, minMedMax(r.LostPerRm), r.Stranded, r.Misdirected, r.StartedAfter, r.WhileLocked, delay,
				r.Duplicates+r.Garbled, stuck)
		}
		fmt.Fprintln(bw)
		legend(bw, rotationLegend)
	}

	writeSelfRotTables(bw, res)
	fmt.Fprintln(bw, "Strategies:")
	fmt.Fprintln(bw)
	for _, s := range res.Strategy {
		fmt.Fprintf(bw, "- `%s`: %s\n", s.Name, s.Desc)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(bw, "\nNote: %s\n", n)
	}
	return bw.Flush()
}

// writeRatioTable is the headline: each strategy's median ratio to raw, and
// its median ns per record, for every size and concurrency.
func writeRatioTable(bw *bufio.Writer, res *results, cfg config) {
	writeGrid(bw, "Time per record as a multiple of `raw` (median ns per record in brackets)", ratioLegend, res, cfg,
		func(s summary) string { return fmt.Sprintf("%s (%s)", num(s.RatioToRaw, 2), num(s.NsPerRec, 0)) })
}

// writeLatencyTable shows how long one Write took, p50 and p99, for each
// strategy, size and concurrency.
func writeLatencyTable(bw *bufio.Writer, res *results, cfg config) {
	title := fmt.Sprintf("Time one Write takes, p50 / p99 (every %dth Write of each goroutine timed; medians over rounds)", latencyEvery)
	writeGrid(bw, title, latencyLegend, res, cfg, func(s summary) string {
		if s.LatP50Ns < 0 {
			return "–"
		}
		return nanos(s.LatP50Ns) + " / " + nanos(s.LatP99Ns)
	})
}

// writeCallsTable shows how many write calls carried a record: below 1,
// concurrent Writes shared them.
func writeCallsTable(bw *bufio.Writer, res *results, cfg config) {
	writeGrid(bw, "Write calls per record (write, writev and pwrite: /proc/self/io syscw over each cell of the cost table, Close included; medians)", writeCallsLegend, res, cfg,
		func(s summary) string { return num(s.WriteCallsRec, 3) })
}

// writeGrid writes a table with a row per strategy and a column per size
// and concurrency, each cell what text says of that summary, and its legend.
func writeGrid(bw *bufio.Writer, title string, legendLines []string, res *results, cfg config, text func(summary) string) {
	fmt.Fprintf(bw, "#### %s\n\n", title)
	fmt.Fprint(bw, "| strategy |")
	for _, size := range cfg.Sizes {
		for _, g := range cfg.Goroutines {
			fmt.Fprintf(bw, " %d B, %d gor. |", size, g)
		}
	}
	fmt.Fprint(bw, "\n|---|")
	for range len(cfg.Sizes) * len(cfg.Goroutines) {
		fmt.Fprint(bw, "---:|")
	}
	fmt.Fprintln(bw)
	for _, st := range res.Strategy {
		fmt.Fprintf(bw, "| %s |", st.Name)
		for _, size := range cfg.Sizes {
			for _, g := range cfg.Goroutines {
				cellText := "–"
				for _, s := range res.Summary {
					if s.Strategy == st.Name && s.Size == size && s.Goroutines == g && s.Rounds > 0 {
						cellText = text(s)
					}
				}
				fmt.Fprintf(bw, " %s |", cellText)
			}
		}
		fmt.Fprintln(bw)
	}
	fmt.Fprintln(bw)
	legend(bw, legendLines)
}

// nanos formats a duration in nanoseconds with two or three significant
// digits: 850ns, 1.2µs, 45µs, 3.1ms.
func nanos(ns float64) string {
	if math.IsNaN(ns) || ns < 0 {
		return "–"
	}
	d := time.Duration(ns)
	switch {
	case d < time.Microsecond:
		return d.Round(time.Nanosecond).String()
	case d < 10*time.Microsecond:
		return d.Round(100 * time.Nanosecond).String()
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func writeJSON(path string, res *results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return writeOutput(path, append(b, '\n'))
}

// writeOutput writes one of the bench's output files, making its directory
// first.
func writeOutput(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
