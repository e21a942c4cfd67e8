//go:build linux

package watchedfile_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/watchedfile/watchedfile"
)

// integRotationTime is how long the processes of TestIntegrationSelfRotation
// write: 20s (about 30 rotations), or WATCHEDFILE_ROTATION_TIME.
func integRotationTime() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("WATCHEDFILE_ROTATION_TIME")); err == nil {
		return d
	}
	return 20 * time.Second
}

var integDatedRE = regexp.MustCompile(`^app-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.log(\.gz)?$`)

// TestIntegrationSelfRotation: four processes, each with four goroutines,
// write numbered records to one path for 20 seconds, each with its own Writer
// rotating at 1 MiB with compression, running as nobody. Every record is
// found exactly once across the files (decompressed), none torn; no file is
// over the limit by more than a quarter; each rotation happened once (no
// rotated file under the limit); no temporary file is left; no process's
// error handler was called. A Writer opened afterwards compresses what was
// still held open when they stopped.
func TestIntegrationSelfRotation(t *testing.T) {
	integSetup(t)
	start := time.Now()
	dir := integTempDir(t)
	logDir := filepath.Join(dir, "log")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(logDir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(logDir, "app.log")
	const procs, perProc, limit = 4, 4, 1 << 20
	var ps []*integProc
	for i := range procs {
		ps = append(ps, integStartWriter(t, integWriterConfig{Paths: []string{log}, Uid: nobody,
			Goroutines: perProc, IDBase: i * perProc, RotateSize: limit, Compress: true}))
	}
	run := time.NewTimer(integRotationTime()) // the load's length, not a wait for a condition
	<-run.C
	var res integWriterResult
	var rotations int64
	for _, p := range ps {
		r := p.stop()
		if len(r.Stats.BackgroundErrors) > 0 {
			t.Errorf("a process's error handler was called: %v %v", r.Stats.BackgroundErrors, r.Stats.LastErrors)
		}
		rotations += r.Stats.Rotations
		res = integMerge(res, r)
	}

	// The next Writer to open the path compresses what is left.
	w, err := watchedfile.Open(log, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: limit, Compress: true, CompressDelay: -1}))
	if err != nil {
		t.Fatal(err)
	}
	live := func() string { target, _ := os.Readlink(log); return target }
	integEventually(t, 30*time.Second, "every rotated file compressed", func() bool {
		names, _ := filepath.Glob(filepath.Join(logDir, "app-*.log"))
		return len(names) == 1 && filepath.Base(names[0]) == live()
	})
	if err := w.Close(); err != nil {
		t.Error(err)
	}

	c := integTally(t, res, nil, logDir)
	integReport(t, "self-rotation: 4 processes × 4 goroutines as nobody, MaxSize 1 MiB, compress", c, start)
	integExpectClean(t, c)
	entries, err := os.ReadDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	dated, largest, smallest := 0, 0, limit*2
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "app.log" || strings.HasSuffix(name, ".lock"):
			continue
		case !integDatedRE.MatchString(name):
			t.Errorf("a file that is neither a dated log nor a lock: %s", name)
			continue
		}
		dated++
		data, err := integReadLog(filepath.Join(logDir, name))
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, len(data))
		if name != live() {
			smallest = min(smallest, len(data))
		}
	}
	t.Logf("%d dated files, %d rotations reported; rotated files from %d to %d bytes (limit %d)",
		dated, rotations, smallest, largest, limit)
	if largest > limit*5/4 {
		t.Errorf("a file of %d bytes: over the limit by more than a quarter", largest)
	}
	if smallest < limit {
		t.Errorf("a rotated file of %d bytes: rotated before it reached the limit (twice for one threshold?)", smallest)
	}
	if rotations != int64(dated-1) || dated < 10 {
		t.Errorf("%d rotations reported for %d dated files: want one per rotated file, and some", rotations, dated)
	}
}
