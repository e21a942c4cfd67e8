//go:build linux

package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The records of the self-rotation tables, and how the files are read back.

// appendSelfRotRecord appends "p=PP s=SSSSSSSSSS xxx…\n", size bytes: the
// process and its sequence number, so that every record in every file can
// be told apart and checked whole.
func appendSelfRotRecord(b []byte, proc int, seq uint64, size int) []byte {
	start := len(b)
	b = fmt.Appendf(b, "p=%02d s=%010d ", proc, seq)
	for len(b)-start < size-1 {
		b = append(b, 'x')
	}
	return append(b, '\n')
}

// selfRotRecordMin is the smallest record size: the numbers and one 'x'.
const selfRotRecordMin = len("p=00 s=0000000000 x\n")

// parseSelfRotRecord reads a line (without its newline) made by
// appendSelfRotRecord for size-byte records; ok is false for anything
// else: a record cut short, two records run together, another's bytes
// written over it, zeros from a hole.
func parseSelfRotRecord(line []byte, size int) (proc int, seq uint64, ok bool) {
	if len(line) != size-1 || !bytes.HasPrefix(line, []byte("p=")) || line[4] != ' ' ||
		!bytes.HasPrefix(line[5:], []byte("s=")) || line[17] != ' ' {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(string(line[2:4]))
	s, err2 := strconv.ParseUint(string(line[7:17]), 10, 64)
	if err1 != nil || err2 != nil || p < 0 {
		return 0, 0, false
	}
	for _, c := range line[18:] {
		if c != 'x' {
			return 0, 0, false
		}
	}
	return p, s, true
}

// procReport is what one writing process says it did: records 0 to
// Attempted-1, of which Write failed for Failed.
type procReport struct {
	Attempted   uint64         `json:"attempted"`
	Failed      []uint64       `json:"failed"`
	WriteErrors map[string]int `json:"write_errors,omitempty"`
	// Background is what the writer reported outside Write (watchedfile's
	// error handler) and lines the process wrote on stderr (timberjack
	// prints some failures there).
	Background map[string]int `json:"background,omitempty"`
	Rotations  int64          `json:"rotations"` // -1: the writer does not tell
	CloseError string         `json:"close_error,omitempty"`
}

// fileTally is what the files left in a directory hold.
type fileTally struct {
	Acknowledged uint64 `json:"acknowledged"` // Writes that returned no error
	ExactlyOnce  uint64 `json:"exactly_once"` // of those, found exactly once
	Lost         uint64 `json:"lost"`         // of those, found nowhere
	Duplicated   uint64 `json:"duplicated"`   // extra copies of records found more than once
	FoundFailed  uint64 `json:"found_failed"` // records whose Write failed, found anyway
	Torn         uint64 `json:"torn"`         // lines that are not one whole record
	// Files is the log files holding records, live and rotated,
	// Compressed those of them compressed.
	Files      int `json:"files"`
	Compressed int `json:"compressed"`
	// Largest is the most bytes in one file (decompressed); SmallestRotated
	// the fewest in a rotated one (not the live file), -1 if none.
	Largest         int64 `json:"largest"`
	SmallestRotated int64 `json:"smallest_rotated"`
	// Temp is the temporary files left: hidden copies being compressed or
	// headers being written, links being made (".tmp", ".new", ".link"),
	// and a compressed copy cut short beside its source (lumberjack writes
	// its copy under its final name).
	Temp      int      `json:"temp"`
	TempNames []string `json:"temp_names,omitempty"`
	// Broken is compressed files that end before their gzip trailer with no
	// source beside them: their records up to the break are counted.
	Broken int `json:"broken"`
	// LostRanges names the first runs of lost records, "p=P s=A-B", for a
	// reader looking for where they went.
	LostRanges []string `json:"lost_ranges,omitempty"`
}

// tallyFiles reads every log file in dir (decompressing .gz) and counts
// each record of reps, process by process, against what they acknowledged.
// live is the base name of the file the path names at the end.
func tallyFiles(dir, live string, size int, reps []procReport) (fileTally, error) {
	paths, err := logFilePaths(dir)
	if err != nil {
		return fileTally{SmallestRotated: -1}, err
	}
	return tallyPaths(paths, live, size, reps)
}

// logFilePaths lists the regular files in dir.
func logFilePaths(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range entries {
		if e.Type().IsRegular() { // not the path, a symlink (watchedfile)
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	return paths, nil
}

// tallyPaths is tallyFiles of the files paths, which may be in several
// directories.
func tallyPaths(paths []string, live string, size int, reps []procReport) (fileTally, error) {
	var t fileTally
	t.SmallestRotated = -1
	found := make([][]uint8, len(reps))
	for p, r := range reps {
		found[p] = make([]uint8, r.Attempted)
	}
	have := map[string]bool{}
	for _, p := range paths {
		have[p] = true
	}
	for _, p := range paths {
		name := filepath.Base(p)
		switch {
		case strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".lock"):
			continue // watchedfile's lock files, kept for good
		case isTempName(name):
			t.Temp++
			t.TempNames = append(t.TempNames, name)
			continue
		}
		data, rerr := readLogFile(p)
		if rerr != nil && !errors.Is(rerr, errCutShort) {
			return t, rerr
		}
		if rerr != nil {
			if have[strings.TrimSuffix(p, ".gz")] { // its source is there: a copy under way
				t.Temp++
				t.TempNames = append(t.TempNames, name)
				continue
			}
			t.Broken++
		}
		t.Files++
		if strings.HasSuffix(name, ".gz") {
			t.Compressed++
		}
		t.Largest = max(t.Largest, int64(len(data)))
		if name != live && (t.SmallestRotated < 0 || int64(len(data)) < t.SmallestRotated) {
			t.SmallestRotated = int64(len(data))
		}
		for len(data) > 0 {
			line, rest, whole := bytes.Cut(data, []byte{'\n'})
			data = rest
			p, s, ok := parseSelfRotRecord(line, size)
			if !whole || !ok || p >= len(found) || s >= uint64(len(found[p])) {
				t.Torn++
				continue
			}
			if found[p][s] < 255 {
				found[p][s]++
			}
		}
	}
	slices.Sort(t.TempNames)
	recording := false // the last lost range is being extended
	for p, r := range reps {
		failed := make(map[uint64]bool, len(r.Failed))
		for _, s := range r.Failed {
			failed[s] = true
		}
		for s, n := range found[p] {
			if failed[uint64(s)] {
				if n > 0 {
					t.FoundFailed++
				}
				continue
			}
			t.Acknowledged++
			switch {
			case n == 0:
				t.Lost++
				switch run := len(t.LostRanges) - 1; {
				case s > 0 && found[p][s-1] == 0 && !failed[uint64(s-1)]: // the run goes on
					if recording {
						t.LostRanges[run] = strings.SplitN(t.LostRanges[run], "-", 2)[0] + fmt.Sprintf("-%d", s)
					}
				case len(t.LostRanges) < 20:
					t.LostRanges = append(t.LostRanges, fmt.Sprintf("p=%d s=%d", p, s))
					recording = true
				default:
					recording = false
				}
			case n == 1:
				t.ExactlyOnce++
			default:
				t.Duplicated += uint64(n - 1)
			}
		}
	}
	return t, nil
}

// isTempName says whether name is a temporary file of one of the writers:
// watchedfile's hidden ".tmp" (a compressed copy), ".new" (a file getting
// its header) and ".link" (a symlink being made), timberjack's ".gz.tmp".
func isTempName(name string) bool {
	hidden := strings.HasPrefix(name, ".")
	return strings.HasSuffix(name, ".tmp") ||
		hidden && (strings.HasSuffix(name, ".new") || strings.HasSuffix(name, ".link"))
}

// errCutShort is a compressed file that ends before its end.
var errCutShort = errors.New("compressed file cut short")

// readLogFile returns a log file's content, decompressed if its name ends
// in .gz; a copy cut short returns what it holds and errCutShort.
func readLogFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return data, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errCutShort, filepath.Base(path), err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return out, fmt.Errorf("%w: %s: %v", errCutShort, filepath.Base(path), err)
	}
	return out, nil
}
