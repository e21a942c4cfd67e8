//go:build linux

package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"time"
)

// writeSVG draws the median ns per record of every strategy, one panel per
// record size, one bar per goroutine count, on a logarithmic axis.
func writeSVG(path string, res *results) error {
	var names []string
	seen := map[string]bool{}
	lo, hi := math.Inf(1), 0.0
	for _, s := range res.Summary {
		if !seen[s.Strategy] {
			seen[s.Strategy] = true
			names = append(names, s.Strategy)
		}
		if s.NsPerRec > 0 {
			lo, hi = math.Min(lo, s.NsPerRec), math.Max(hi, s.NsPerRec)
		}
	}
	if hi == 0 {
		return fmt.Errorf("svg: nothing measured")
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	sizes, gs := res.Config.Sizes, res.Config.Goroutines
	colors := []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"}

	const (
		left, right, width = 130.0, 20.0, 860.0
		barH, gap, top     = 7.0, 6.0, 40.0
	)
	rowH := float64(len(gs))*barH + gap
	panelH := float64(len(names))*rowH + 40
	notes := svgLegend(res)
	const noteH = 14.0
	height := top + float64(len(sizes))*panelH + 20 + float64(len(notes))*noteH
	plotW := width - left - right
	x := func(v float64) float64 {
		return left + plotW*(math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="18" font-size="14">Median ns per record (log scale; shorter is cheaper). %s</text>`+"\n",
		left, html.EscapeString(fmt.Sprintf("%d CPUs, %s, %s", res.Machine.CPUs, res.Machine.CPU, res.Machine.Go)))
	for i, g := range gs {
		fmt.Fprintf(&b, `<rect x="%.0f" y="26" width="10" height="8" fill="%s"/><text x="%.0f" y="34">%d goroutine(s)</text>`+"\n",
			left+float64(i)*120, colors[i%len(colors)], left+float64(i)*120+14, g)
	}
	for p, size := range sizes {
		y0 := top + float64(p)*panelH
		fmt.Fprintf(&b, `<text x="4" y="%.0f" font-weight="bold">%d-byte records</text>`+"\n", y0+12, size)
		for d := lo; d <= hi*1.0001; d *= 10 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#ddd"/><text x="%.1f" y="%.0f" text-anchor="middle" fill="#555">%s</text>`+"\n",
				x(d), y0+18, x(d), y0+panelH-14, x(d), y0+panelH-4, fmtNs(d))
		}
		for r, name := range names {
			ry := y0 + 20 + float64(r)*rowH
			fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, ry+float64(len(gs))*barH/2+4, html.EscapeString(name))
			for i, g := range gs {
				for _, s := range res.Summary {
					if s.Strategy == name && s.Size == size && s.Goroutines == g && s.NsPerRec > 0 {
						fmt.Fprintf(&b, `<rect x="%.0f" y="%.1f" width="%.1f" height="%.0f" fill="%s"><title>%s, %d B, %d goroutines: %.0f ns/record</title></rect>`+"\n",
							left, ry+float64(i)*barH, math.Max(x(s.NsPerRec)-left, 1), barH-1, colors[i%len(colors)],
							html.EscapeString(name), size, g, s.NsPerRec)
						fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="7" fill="#333">%.0f</text>`+"\n",
							math.Max(x(s.NsPerRec), left+1)+3, ry+float64(i)*barH+barH-2, s.NsPerRec)
					}
				}
			}
		}
	}
	for i, n := range notes {
		fmt.Fprintf(&b, `<text x="4" y="%.0f" fill="#333">%s</text>`+"\n",
			top+float64(len(sizes))*panelH+10+float64(i)*noteH, html.EscapeString(n))
	}
	b.WriteString("</svg>\n")
	return writeOutput(path, b.Bytes())
}

func fmtNs(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%g ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%g µs", v/1e3)
	}
	return fmt.Sprintf("%g ns", v)
}

// svgLegend is the chart's legend, one line each: what a bar is, and what
// each strategy is.
func svgLegend(res *results) []string {
	lines := []string{
		fmt.Sprintf("A bar: wall-clock ns per record (a cell's time over the records written), median over %d round(s) of %v.",
			res.Config.Rounds, time.Duration(res.Config.DurationS*float64(time.Second))),
		"One bar per number of writing goroutines; log scale, shorter is cheaper. The strategies:",
	}
	for _, st := range res.Strategy {
		lines = append(lines, plain(fmt.Sprintf("%s: %s", st.Name, st.Desc)))
	}
	return lines
}
