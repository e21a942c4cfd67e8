//go:build linux

package main

import (
	"bufio"
	"fmt"
	"strings"
)

// The legends printed under the tables: what each column and term means, so
// that a table read on its own (on a terminal, in a pasted Markdown file)
// says what it measured. Keep them in step with the code that fills the
// columns.

const rawMeaning = "`raw`: one `write(2)` per record to a file opened `O_APPEND`, following nothing (the floor)"

var ratioLegend = []string{
	"`N B, G gor.`: records of N bytes, written by G goroutines at once.",
	"`× raw` (the figure before the brackets): the time per record divided by that of " + rawMeaning +
		", measured in the same round; the median over rounds. Below 1 is faster than raw.",
	"In brackets: ns per record, the cell's wall-clock time divided by the records its goroutines wrote; the median over rounds.",
}

var costLegend = []string{
	"`ns/record`: the cell's wall-clock time divided by the records its goroutines wrote; `records/s`: the same as a rate. Medians over rounds.",
	"`× raw`: the time per record divided by raw's in the same round, median over rounds (below 1: faster than raw).",
	"`CPU ns/record`: user plus system CPU time of the process per record (getrusage), its other threads included.",
	"`allocs/record`: Go heap allocations per record (the runtime's Mallocs count); – where not measured (the Python rows).",
}

var latencyLegend = []string{
	fmt.Sprintf("`p50 / p99`: the median and the 99th percentile of the time one `Write` call takes, from a clock read just before it to one just after; every %dth Write of each goroutine is timed. Medians over rounds.", latencyEvery),
	"With more goroutines than CPUs it includes the time a goroutine waits for a CPU or a lock: it measures the scheduler as much as the writer.",
}

var syscallLegend = []string{
	fmt.Sprintf("Counted as the difference between a run of %d records and one of %d, divided by %d, so that start-up and exit cancel out.", countLarge, countSmall, countLarge-countSmall),
	"`on the record's path`: every call but the Go runtime's own on other threads; `write`: write, writev and pwrite64; `stat family`: stat, fstat, lstat, newfstatat, statx; `open/close`: open, openat, close.",
	"`Go runtime, other threads`: futex, nanosleep, epoll_pwait and the like, which strace's slowing of every call multiplies.",
	"`write, G gor. (of which writev)`: write calls per record when G goroutines share the records; under strace every call is slow, so more Writes queue up than at full speed.",
}

var syscwLegend = []string{
	"Without strace only write calls are counted (the kernel's syscw in /proc/self/io), in this process: the Python rows are not counted.",
}

var writeCallsLegend = []string{
	"Write, writev and pwrite calls the whole process made per record (the kernel's syscw count in /proc/self/io, the Python subprocess's own for its rows), from the start of the cell to the end of its Close; medians over rounds.",
	"Below 1 where Writes share a call (group commit: one writev for a batch); about 0 for the buffered rows. Taken at full speed, unlike the strace counts.",
}

var rotationLegend = []string{
	"`records`: Writes attempted; `failed writes`: those that returned an error (the record is dropped; loggers ignore the error).",
	"`lost`: acknowledged, but in no file left in the directory; `of which to deleted files`: written to a file after its `rm`; `lost per rm`: those, rm by rm (least / median / most).",
	"`misdirected`: written to a file after it was renamed away (the record lies beyond the file's size just after the rename, or its Write started after the rename): on disk, but under the old name, where a reader that follows the path (`tail -F`, a log shipper) may miss it.",
	"`stranded`: of the misdirected, those written to the renamed file after the next rotation (the next rename or `rm` at the path): logrotate with `compress` and `delaycompress` compresses and deletes that file then, so a real setup loses them, and no reader of the path reads it any more. A writer that never follows a rename strands nearly every record.",
	"`started after the rename`: of the misdirected, those whose Write started after the rename; `of which while unopenable`: those that started while the new file could not be opened (root's, mode 0600), when writing on to the old file is what a writer can do.",
	"`delay after the rename`: for the others started after the rename, how long after it each Write started, not counting the time the new file could not be opened; median / p99.",
	"`duplicates`: records found more than once, and lines that are not one whole record; `stuck at end`: the last ten writes or more all failed, after 300 ms of quiet.",
}

// legend writes lines as a Markdown list under a table.
func legend(bw *bufio.Writer, lines []string) {
	fmt.Fprintln(bw, "Legend:")
	fmt.Fprintln(bw)
	for _, l := range lines {
		fmt.Fprintf(bw, "- %s\n", l)
	}
	fmt.Fprintln(bw)
}

// plain strips the Markdown code marks from a legend line, for the SVG.
func plain(s string) string {
	return strings.ReplaceAll(s, "`", "")
}
