//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// The self-rotation tables in Markdown.

var selfRotLegend = []string{
	"Each process has its own writer on the same path, set to rotate at the limit and to gzip rotated files; its goroutines write numbered records of the same size at the rate said, then every file left is read back (decompressed).",
	"`acknowledged`: Writes that returned no error; `exactly once`, `lost`: of those, found in exactly one place, and found nowhere (the percentage is of the acknowledged); `duplicated`: extra copies of records found more than once.",
	"`torn`: lines that are not one whole record (cut short, run together, written over by another process, zeros from a hole).",
	"`rotations`: what the processes say they made (watchedfile's OnRotate), `?` where the writer does not tell; `files`: log files holding records at the end, live and rotated (in brackets: compressed).",
	"`largest file`: the most bytes one file holds, decompressed, and that as a multiple of the limit; `smallest rotated`: the fewest in a rotated file (not the live one): far below the limit, a file was rotated twice for one threshold or emptied by another process.",
	"`temp left`: temporary files left in the directory (watchedfile's hidden `.tmp`, `.new` and `.link`, timberjack's `.gz.tmp`, and a compressed copy cut short beside its source: lumberjack writes its copy under its final name).",
	"`write errors`: Writes that returned an error, with the most frequent message (file names and times replaced by DIR, T and N); `background errors`: failures the writer reported outside Write (watchedfile's error handler) or printed on stderr (timberjack); lumberjack drops its compression errors silently.",
}

var pauseLegend = []string{
	"One process, its goroutines writing at the rate said, the same limit and compression as above; every Write is timed (clock read before and after). Rounds of the writers interleaved, their Writes pooled.",
	"`rotations`: boundaries between files found in the files read back: the records are in the files in the order they were written, so each rotation took place in the Write of the last record of one file (watchedfile rotates after the Write that fills the file) or of the first of the next (lumberjack and timberjack rotate before the Write that would overfill it).",
	"`during a rotation`: the Writes under way at any moment from the start of the first of those two Writes to the end of the second: the rotating Write and those that waited for it. `n`: how many.",
	"`longest Write per rotation`: for each rotation, the longest Write that coincided with it; median and most over rotations: what a rotation costs the writers.",
	"`all`: every Write, including those slowed by compression on another goroutine (all three compress in the background of the writing process) and by the machine.",
	"`raw, no rotation`: an O_APPEND file never rotated under the same load: the machine's own spread.",
}

// writeSelfRotTables writes both tables, if they ran.
func writeSelfRotTables(bw *bufio.Writer, res *results) {
	sr := res.SelfRotation
	if sr == nil {
		return
	}
	c := sr.Config
	rate := fmt.Sprintf("%d records/s per process", c.Rate)
	if c.Rate == 0 {
		rate = "as fast as they can"
	}
	comp := "gzip"
	if !c.Compress {
		comp = "no compression"
	}
	if len(sr.Procs) > 0 {
		fmt.Fprintf(bw, "#### Self-rotation, several processes on one file (limit %d MiB, %s; %d goroutines per process, %s, %d-byte records, %v per run)\n\n",
			c.MaxMiB, comp, c.Goroutines, rate, c.Size, c.Duration)
		fmt.Fprintln(bw, "| writer | processes | round | acknowledged | exactly once | lost | duplicated | torn | rotations / files | largest file | smallest rotated | temp left | write errors | background errors |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
		rows := slices.Clone(sr.Procs)
		slices.SortStableFunc(rows, func(a, b selfRotResult) int {
			if a.Procs != b.Procs {
				return a.Procs - b.Procs
			}
			return writerIndex(a.Writer) - writerIndex(b.Writer)
		})
		for _, r := range rows {
			if r.Error != "" {
				fmt.Fprintf(bw, "| %s | %d | %d | failed: %s |%s\n", r.Writer, r.Procs, r.Round, oneLine(r.Error), strings.Repeat(" |", 10))
				continue
			}
			rot := "?"
			if r.Rotations >= 0 {
				rot = fmt.Sprint(r.Rotations)
			}
			smallest := "–"
			if r.SmallestRotated >= 0 {
				smallest = mib(r.SmallestRotated)
			}
			fmt.Fprintf(bw, "| %s | %d | %d | %d | %d | %s | %d | %d | %s / %d (%d) | %s (%.2f×) | %s | %s | %s | %s |\n",
				r.Writer, r.Procs, r.Round, r.Acknowledged, r.ExactlyOnce, lostText(r.Lost, r.Acknowledged), r.Duplicated, r.Torn,
				rot, r.Files, r.Compressed, mib(r.Largest), float64(r.Largest)/float64(r.Limit), smallest,
				tempText(r.Temp, r.TempNames), countsText(r.WriteErrors), countsText(r.Background)+closeText(r.CloseErrors))
		}
		fmt.Fprintln(bw)
		legend(bw, selfRotLegend)
	}
	if len(sr.Pause) > 0 {
		rate := fmt.Sprintf("%d records/s", c.PauseRate)
		if c.PauseRate == 0 {
			rate = "as fast as they can"
		}
		fmt.Fprintf(bw, "#### Self-rotation, the pause a rotation makes (one process, %d goroutines, %s, %d-byte records, limit %d MiB, %s; %d × %v)\n\n",
			c.PauseGoroutines, rate, c.Size, c.MaxMiB, comp, c.PauseRounds, c.PauseDuration)
		fmt.Fprintln(bw, "| writer | rotations | Writes | all: p50 / p99 / p99.9 / max | during a rotation: n, p50 / p99 / max | longest Write per rotation: median / max |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|")
		for _, p := range sr.Pause {
			if p.Rounds == 0 {
				fmt.Fprintf(bw, "| %s | failed: %s | | | | |\n", p.Writer, oneLine(p.Error))
				continue
			}
			during := "–"
			if p.During.N > 0 {
				during = fmt.Sprintf("%d, %s / %s / %s", p.During.N, nanos(p.During.P50), nanos(p.During.P99), nanos(p.During.Max))
			}
			pause := "–"
			if p.PausePerRotation.N > 0 {
				pause = nanos(p.PausePerRotation.P50) + " / " + nanos(p.PausePerRotation.Max)
			}
			note := ""
			if p.Failed > 0 || p.Unplaced > 0 {
				note = fmt.Sprintf(" (%d failed, %d not found)", p.Failed, p.Unplaced)
			}
			fmt.Fprintf(bw, "| %s | %d | %d%s | %s / %s / %s / %s | %s | %s |\n", p.Writer, p.Rotations, p.Writes, note,
				nanos(p.All.P50), nanos(p.All.P99), nanos(p.All.P999), nanos(p.All.Max), during, pause)
		}
		fmt.Fprintln(bw)
		legend(bw, pauseLegend)
	}
	fmt.Fprintln(bw, "Self-rotating writers:")
	fmt.Fprintln(bw)
	for _, w := range selfRotWriters() {
		fmt.Fprintf(bw, "- `%s`: %s\n", w.name, w.desc)
	}
	fmt.Fprintln(bw)
}

// writeSelfRotMarkdown is the output of -self-rotation-only.
func writeSelfRotMarkdown(w io.Writer, res *results) error {
	bw := bufio.NewWriter(w)
	m := res.Machine
	fmt.Fprintf(bw, "Machine: %d CPUs, %s, Linux %s, %s", m.CPUs, m.CPU, m.Kernel, m.Go)
	for _, p := range []string{"gopkg.in/natefinch/lumberjack.v2", "github.com/DeRuina/timberjack"} {
		if v := m.Modules[p]; v != "" {
			fmt.Fprintf(bw, ", %s %s", p, v)
		}
	}
	fmt.Fprintf(bw, "; load average %s at the start. Run took %.0f s.\n\n", m.LoadAvg, res.Seconds)
	writeSelfRotTables(bw, res)
	return bw.Flush()
}

func writerIndex(name string) int {
	for i, w := range selfRotWriters() {
		if w.name == name {
			return i
		}
	}
	return len(name)
}

// mib formats bytes as MiB with two decimals.
func mib(b int64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }

func lostText(lost, of uint64) string {
	if of == 0 {
		return fmt.Sprint(lost)
	}
	return fmt.Sprintf("%d (%.1f%%)", lost, 100*float64(lost)/float64(of))
}

func tempText(n int, names []string) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", n, oneLine(strings.Join(names[:min(len(names), 2)], ", ")))
}

// countsText is a count of errors and the most frequent one.
func countsText(m map[string]int) string {
	total, top, topN := 0, "", 0
	for k, n := range m {
		total += n
		if n > topN || n == topN && k < top {
			top, topN = k, n
		}
	}
	if total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d: %s", total, oneLine(top))
}

func closeText(errs []string) string {
	if len(errs) == 0 {
		return ""
	}
	return fmt.Sprintf("; Close failed in %d: %s", len(errs), oneLine(errs[0]))
}
