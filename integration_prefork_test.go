//go:build linux

package watchedfile_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestIntegrationPrefork: four writer processes on one log, each with its
// own Writer, running as nobody (how Django, Rails and PHP services run),
// while logrotate as root rotates with create and compress but no
// delaycompress, 20 times. Each process switches at its first record after
// the rotation: nothing is lost to gzip, and logrotate never fails.
func TestIntegrationPrefork(t *testing.T) {
	integSetup(t, "logrotate", "gzip")
	start := time.Now()
	dir := integTempDir(t)
	logDir := filepath.Join(dir, "log")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(logDir, "app.log")
	if err := os.WriteFile(log, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(log, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	const procs, perProc = 4, 2
	var ps []*integProc
	for i := range procs {
		ps = append(ps, integStartWriter(t, integWriterConfig{Paths: []string{log}, Uid: nobody,
			Goroutines: perProc, IDBase: i * perProc}))
	}
	for _, p := range ps {
		p.waitAcked(50)
	}
	conf := integConf(t, "prefork.conf", map[string]string{"LOG": log, "CREATE": "0640 nobody nogroup"})
	integRotateLoop(20, 100*time.Millisecond, func(int) { integLogrotate(t, conf) })
	var res integWriterResult
	for _, p := range ps {
		p.waitSettled()
		p.waitAcked(20)
	}
	for _, p := range ps {
		r := p.stop()
		if r.Stats.Writers[0].Reopens < 20 {
			t.Errorf("want a switch per rotation (20): %+v", r.Stats.Writers[0])
		}
		res = integMerge(res, r)
	}
	c := integTally(t, res, nil, logDir)
	integReport(t, "prefork: 4 processes as nobody, create 0640 nobody + compress, no delaycompress, 20 ×", c, start)
	integExpectNearlyClean(t, c, 20)
	if backups, _ := filepath.Glob(filepath.Join(logDir, "*.backup")); len(backups) > 0 {
		t.Errorf("logrotate moved a file a writer created aside: %v", backups)
	}
}

// integMerge puts together the results of writer processes whose goroutine
// ids do not overlap (integWriterConfig.IDBase).
func integMerge(a, b integWriterResult) integWriterResult {
	if len(b.Attempted) > len(a.Attempted) {
		a.Attempted = append(a.Attempted, make([]int, len(b.Attempted)-len(a.Attempted))...)
	}
	for id, n := range b.Attempted {
		a.Attempted[id] += n
	}
	if a.Failed == nil {
		a.Failed, a.Partial = map[int][]int{}, map[int][]int{}
	}
	for id, seqs := range b.Failed {
		a.Failed[id] = append(a.Failed[id], seqs...)
	}
	for id, seqs := range b.Partial {
		a.Partial[id] = append(a.Partial[id], seqs...)
	}
	return a
}

// integExpectNearlyClean is integExpectClean for the scenarios where gzip
// reads the rotated file about a millisecond after the rename: a writer
// that checked the flag just before the rename and was then descheduled (a
// loaded machine) still writes its record to the renamed file, as any writer
// without a syscall per record would. Nothing may be lost on a quiet machine
// (0 in the runs reported in docs/testing.md); a loaded one may lose one record in
// ten rotations, where the code before the flag lost 4 to 13.
func integExpectNearlyClean(t *testing.T, c integCounts, rotations int) {
	t.Helper()
	if c.Lost > 0 {
		t.Logf("lost %d records: writers descheduled between their check and their write(2)?", c.Lost)
	}
	if c.Acked == 0 || c.Lost > rotations/10 || c.Duplicated != 0 || c.Torn != 0 {
		t.Errorf("want every acknowledged record exactly once and whole, but at most %d lost: %v", rotations/10, c)
	}
}
