//go:build linux

package watchedfile_test

// The integration suite: the library against the programs it lives beside
// (logrotate, gzip, tail -F) and against faults (a full disk, a vanished
// directory, no file descriptors left, a hostile symlink). A writer process
// (integration_helper_test.go) writes sequence-numbered records while a
// scenario acts; at the end every file is read back, gzip ones included, and
// each record Write acknowledged must be found exactly once and whole.
//
// It runs with the rest of the tests (go test -race -count=1 ./...), needs
// root (tmpfs mounts, other uids, logrotate's create with an owner), and is
// skipped under -short. A missing tool skips its test, except under CI=true,
// where it fails. The soak test runs for -soak (default 3s):
//
//	go test -run TestIntegrationSoak -soak=5m

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var integSoak = flag.Duration("soak", 3*time.Second, "how long TestIntegrationSoak churns")

// integSetup skips the test under -short and when not root, and checks that
// the tools it needs are installed: missing ones fail the test under CI=true.
func integSetup(t *testing.T, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test; skipped with -short")
	}
	if os.Geteuid() != 0 {
		missing(t, "needs root (tmpfs mounts, other uids, logrotate's create with an owner)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, tool+" is not installed (apt-get install logrotate coreutils gzip strace)")
		}
	}
}

// integTempDir returns a new directory that every user may search (0755),
// so that a writer running as nobody reaches what is inside.
func integTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "watchedfile-integ-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// integEventually waits until cond holds, checking every 5ms, and fails the
// test if it does not within timeout.
func integEventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// integWriterConfig says how to start the writer process.
type integWriterConfig struct {
	Paths       []string
	Goroutines  int           // per path; default 4
	Pace        time.Duration // between records of one goroutine; default 1ms
	Poll        time.Duration // WithPolling, if set
	CreateDelay time.Duration // WithCreateDelay, if HasCreateDelay
	HasCreate   bool
	Nofile      int           // RLIMIT_NOFILE, if set
	MkdirAll    bool          // WithMkdirAll
	SharedDir   bool          // WithSharedDir
	Uid         int           // run as this uid (and gid), if set
	IDBase      int           // first writer goroutine id: another process on the same log uses those below
	Check       time.Duration // WithCheckInterval, if set
	Unshare     uintptr       // namespaces the writer process unshares (CLONE_NEWNS: mounts of its own)
	RotateSize  int           // WithRotation's MaxSize, if set
	Compress    bool          // and Compress
}

// integProc is a running writer process.
type integProc struct {
	t          *testing.T
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	lines      chan string
	Pid        int
	goroutines int // writing goroutines, in all
}

func integStartWriter(t *testing.T, cfg integWriterConfig) *integProc {
	t.Helper()
	bin := os.Args[0]
	if cfg.Uid != 0 {
		// The test binary lives in a directory only root may enter.
		dir := integTempDir(t)
		bin = filepath.Join(dir, "writer.test")
		data, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-test.run=^TestIntegrationHelperProcess$", "-test.count=1")
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(),
		"INTEG_ROLE=writer",
		"INTEG_PATHS="+strings.Join(cfg.Paths, string(os.PathListSeparator)),
	)
	set := func(k string, v any) { cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%v", k, v)) }
	if cfg.Goroutines > 0 {
		set("INTEG_GOROUTINES", cfg.Goroutines)
	}
	if cfg.Pace > 0 {
		set("INTEG_PACE", cfg.Pace)
	}
	if cfg.Poll > 0 {
		set("INTEG_POLL", cfg.Poll)
	}
	if cfg.HasCreate {
		set("INTEG_CREATE_DELAY", cfg.CreateDelay)
	}
	if cfg.Nofile > 0 {
		set("INTEG_NOFILE", cfg.Nofile)
	}
	if cfg.SharedDir {
		set("INTEG_SHARED_DIR", 1)
	}
	if cfg.MkdirAll {
		set("INTEG_MKDIR", 1)
	}
	if cfg.IDBase > 0 {
		set("INTEG_ID_BASE", cfg.IDBase)
	}
	if cfg.Check > 0 {
		set("INTEG_CHECK", cfg.Check)
	}
	if cfg.RotateSize > 0 {
		set("INTEG_ROTATE_SIZE", cfg.RotateSize)
	}
	if cfg.Compress {
		set("INTEG_ROTATE_COMPRESS", 1)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: cfg.Unshare}
	if cfg.Uid != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(cfg.Uid), Gid: uint32(cfg.Uid)}
	}
	cmd.Stderr = &integTWriter{t: t}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	goroutines := cfg.Goroutines
	if goroutines == 0 {
		goroutines = 4 // the helper's default
	}
	p := &integProc{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 64), Pid: cmd.Process.Pid,
		goroutines: goroutines * len(cfg.Paths)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	p.expect("ready", 30*time.Second)
	return p
}

// integTWriter passes the writer process's stderr to the test log.
type integTWriter struct{ t *testing.T }

func (w *integTWriter) Write(p []byte) (int, error) {
	w.t.Logf("writer stderr: %s", bytes.TrimSpace(p))
	return len(p), nil
}

// expect returns the rest of the next line that starts with prefix.
func (p *integProc) expect(prefix string, timeout time.Duration) string {
	p.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("writer process exited while waiting for %q", prefix)
			}
			if strings.HasPrefix(line, "fatal ") {
				p.t.Fatalf("writer process: %s", line)
			}
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return strings.TrimSpace(rest)
			}
		case <-timer.C:
			p.t.Fatalf("timed out after %v waiting for %q from the writer process", timeout, prefix)
		}
	}
}

func (p *integProc) send(cmd string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, cmd+"\n"); err != nil {
		p.t.Fatalf("writer process: %v", err)
	}
}

func (p *integProc) stats() integStatsReply {
	p.t.Helper()
	p.send("stats")
	var s integStatsReply
	if err := json.Unmarshal([]byte(p.expect("stats ", 10*time.Second)), &s); err != nil {
		p.t.Fatal(err)
	}
	return s
}

// stop makes the writer process stop writing and close its Writers, and
// returns what it acknowledged.
func (p *integProc) stop() integWriterResult {
	p.t.Helper()
	p.send("quit")
	var r integWriterResult
	if err := json.Unmarshal([]byte(p.expect("result ", 60*time.Second)), &r); err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("writer process: %v", err)
	}
	return r
}

// integCounts is the accounting of one scenario.
type integCounts struct {
	Acked, Lost, Duplicated, Torn int
	Failed, Partial               int // Writes that returned an error (after some bytes)
	FoundUnacked                  int // whole records whose Write returned an error
	Files                         int
}

func (c integCounts) String() string {
	return fmt.Sprintf("acked %d, lost %d, duplicated %d, torn %d (failed writes %d, partial %d, files %d)",
		c.Acked, c.Lost, c.Duplicated, c.Torn, c.Failed, c.Partial, c.Files)
}

var integRecordRE = regexp.MustCompile(`w(\d{3}) (\d{7}) ([a-z]+)$`)

// integParse returns the record a line holds. A line that holds bytes
// before a whole record (the head of a write cut short by ENOSPC, then the
// next record) yields the record and glued=true.
func integParse(line string) (id, seq int, ok, glued bool) {
	m := integRecordRE.FindStringSubmatchIndex(line)
	if m == nil {
		return 0, 0, false, false
	}
	id, _ = strconv.Atoi(line[m[2]:m[3]])
	seq, _ = strconv.Atoi(line[m[4]:m[5]])
	if line[m[6]:m[7]] != integPad(id, seq) {
		return 0, 0, false, false
	}
	return id, seq, true, m[0] > 0
}

// integScan counts the records in data into found; it returns how many
// lines were torn (did not hold a whole record, or held bytes before one).
func integScan(data []byte, found map[[2]int]int) (torn int) {
	for len(data) > 0 {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if !complete {
			torn++ // an unterminated last line
			continue
		}
		id, seq, ok, glued := integParse(string(line))
		if !ok || glued {
			torn++
		}
		if ok {
			found[[2]int{id, seq}]++
		}
	}
	return torn
}

// integReadDirs reads every regular file under dirs (gunzipping *.gz),
// skipping names for which skip returns true.
func integReadDirs(t *testing.T, skip func(string) bool, dirs ...string) (found map[[2]int]int, torn, files int) {
	t.Helper()
	found = make(map[[2]int]int)
	integEachLog(t, skip, dirs, func(data []byte) {
		files++
		torn += integScan(data, found)
	})
	return found, torn, files
}

// integTally reads the log files under dirs (see integReadDirs) and accounts
// for every record the writer attempted.
func integTally(t *testing.T, res integWriterResult, skip func(string) bool, dirs ...string) integCounts {
	t.Helper()
	found, torn, files := integReadDirs(t, skip, dirs...)
	return integAccount(res, found, torn, files)
}

// integUnterminatedFiles counts the regular files under dirs (gunzipped)
// whose last line has no newline.
func integUnterminatedFiles(t *testing.T, dirs ...string) int {
	t.Helper()
	n := 0
	integEachLog(t, nil, dirs, func(data []byte) {
		if len(data) > 0 && data[len(data)-1] != '\n' {
			n++
		}
	})
	return n
}

// integEachLog calls fn with the contents of every regular file under dirs
// (gunzipping *.gz) but the rotation's lock files (*.lock), skipping names
// for which skip returns true.
func integEachLog(t *testing.T, skip func(string) bool, dirs []string, fn func(data []byte)) {
	t.Helper()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || strings.HasSuffix(path, ".lock") || (skip != nil && skip(path)) {
				return err
			}
			data, err := integReadLog(path)
			if err != nil {
				return err
			}
			fn(data)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// integReadLog reads a log file, gunzipping *.gz.
func integReadLog(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return data, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if data, err = io.ReadAll(zr); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// integAccount checks every record the writer attempted against found.
func integAccount(res integWriterResult, found map[[2]int]int, torn, files int) integCounts {
	c := integCounts{Torn: torn, Files: files}
	for id, n := range res.Attempted {
		failed := make(map[int]bool)
		for _, s := range res.Failed[id] {
			failed[s] = true
		}
		c.Failed += len(res.Failed[id])
		c.Partial += len(res.Partial[id])
		for seq := range n {
			k := found[[2]int{id, seq}]
			switch {
			case failed[seq]:
				if k > 0 {
					c.FoundUnacked++
				}
				continue
			case k == 0:
				c.Lost++
			case k > 1:
				c.Duplicated++
			}
			c.Acked++
		}
	}
	return c
}

// integReport logs a scenario's figures in the form the table in
// docs/testing.md takes them from (go test -v -run TestIntegration | grep RESULT).
func integReport(t *testing.T, scenario string, c integCounts, start time.Time) {
	t.Helper()
	t.Logf("RESULT | %s | %d | %d | %d | %d | %.1fs | %s", scenario, c.Acked, c.Lost, c.Duplicated, c.Torn,
		time.Since(start).Seconds(), c)
}

// integExpectClean fails unless nothing was lost, duplicated or torn.
func integExpectClean(t *testing.T, c integCounts) {
	t.Helper()
	if c.Acked == 0 || c.Lost != 0 || c.Duplicated != 0 || c.Torn != 0 {
		t.Errorf("want every acknowledged record exactly once and whole: %v", c)
	}
}

// integConf writes the logrotate configuration testdata/logrotate/name with
// its @KEY@ placeholders replaced, into a directory only root may write,
// as logrotate insists.
func integConf(t *testing.T, name string, vars map[string]string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "logrotate", name))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if _, ok := vars["ROTATE"]; !ok {
		text = strings.ReplaceAll(text, "@ROTATE@", "1000") // none deleted before it is read back
	}
	for k, v := range vars {
		text = strings.ReplaceAll(text, "@"+k+"@", v)
	}
	if m := regexp.MustCompile(`@[A-Z]+@`).FindString(text); m != "" {
		t.Fatalf("%s: placeholder %s not set", name, m)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// integLogrotate runs logrotate -f once and fails the test if it fails.
func integLogrotate(t *testing.T, conf string, args ...string) string {
	t.Helper()
	state := filepath.Join(filepath.Dir(conf), "state")
	out, err := exec.Command("logrotate", append(append([]string{"-f", "-s", state}, args...), conf)...).CombinedOutput()
	if err != nil {
		t.Fatalf("logrotate -f -s %s %s: %v\n%s", state, conf, err, out)
	}
	return string(out)
}

// integRotateLoop runs rotate n times, one every interval, while the writer
// writes (a paced loop: the cadence is the scenario, not a synchronisation).
func integRotateLoop(n int, interval time.Duration, rotate func(i int)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		rotate(i)
	}
}

// writtenDuring runs rotate and returns how many records the writer may
// have written meanwhile: those it acknowledged, plus one per goroutine
// written but not yet counted when the count was read. It bounds what a
// rotation that loses the records written while it runs (copytruncate's
// copy-to-truncate window, gzip racing a poll) may lose, measured instead of
// assumed, so that a loaded machine cannot fail it.
func (p *integProc) writtenDuring(rotate func()) int64 {
	p.t.Helper()
	before := p.stats().Acked
	rotate()
	return p.stats().Acked - before + int64(p.goroutines)
}

// integWaitAcked waits until the writer has acknowledged more records than
// it had when called plus more.
func (p *integProc) waitAcked(more int64) {
	p.t.Helper()
	base := p.stats().Acked
	integEventually(p.t, 20*time.Second, fmt.Sprintf("%d more acknowledged records", more), func() bool {
		return p.stats().Acked >= base+more
	})
}

// integSettled waits until no Writer of p has a reopen pending.
func (p *integProc) waitSettled() integStatsReply {
	p.t.Helper()
	var s integStatsReply
	integEventually(p.t, 20*time.Second, "every Writer on the file at its path", func() bool {
		s = p.stats()
		for _, w := range s.Writers {
			if w.Pending {
				return false
			}
		}
		return true
	})
	return s
}

func TestIntegrationLogrotate(t *testing.T) {
	integSetup(t, "logrotate", "gzip")
	type scenario struct {
		name     string
		conf     string
		poll     time.Duration
		n        int
		interval time.Duration
		lossWhy  string // why the scenario may lose the records written while a rotation runs; "": none
		nearly   bool   // see integExpectNearlyClean
	}
	for _, sc := range []scenario{
		{name: "nginx (create 0640 www-data adm, compress, delaycompress, sharedscripts postrotate HUP)", conf: "nginx.conf", n: 20, interval: 100 * time.Millisecond},
		{name: "rsyslog (no create, compress, delaycompress, sharedscripts postrotate HUP)", conf: "rsyslog.conf", n: 20, interval: 100 * time.Millisecond},
		// The record after the rename goes to the new file: nothing is left
		// for gzip to miss (but see integExpectNearlyClean).
		{name: "create + compress, no delaycompress, inotify", conf: "compress.conf", n: 20, interval: 100 * time.Millisecond, nearly: true},
		{name: "create + compress, no delaycompress, polling 100ms", conf: "compress.conf", poll: 100 * time.Millisecond, n: 10, interval: 250 * time.Millisecond,
			lossWhy: "gzip reads the rotated file before the next poll: up to one interval"},
		{name: "create + compress + delaycompress, polling 100ms", conf: "delaycompress.conf", poll: 100 * time.Millisecond, n: 10, interval: 250 * time.Millisecond},
		{name: "dateext (create, compress, delaycompress)", conf: "dateext.conf", n: 3, interval: 1100 * time.Millisecond},
		{name: "olddir (create, compress, delaycompress, postrotate HUP)", conf: "olddir.conf", n: 20, interval: 100 * time.Millisecond},
		{name: "copytruncate (compress, delaycompress)", conf: "copytruncate.conf", n: 20, interval: 100 * time.Millisecond,
			lossWhy: "records written between the copy and the truncation; inherent to copytruncate"},
	} {
		t.Run(sc.conf+"/"+map[bool]string{true: "polling", false: "inotify"}[sc.poll > 0], func(t *testing.T) {
			start := time.Now()
			dir := integTempDir(t)
			old := filepath.Join(dir, "old")
			if err := os.Mkdir(old, 0o755); err != nil {
				t.Fatal(err)
			}
			logDir := filepath.Join(dir, "log")
			if err := os.Mkdir(logDir, 0o755); err != nil {
				t.Fatal(err)
			}
			log := filepath.Join(logDir, "app.log")
			p := integStartWriter(t, integWriterConfig{Paths: []string{log}, Poll: sc.poll})
			conf := integConf(t, sc.conf, map[string]string{"LOG": log, "PID": strconv.Itoa(p.Pid), "OLDDIR": old})
			p.waitAcked(50)
			var bound int64 // see writtenDuring
			integRotateLoop(sc.n, sc.interval, func(i int) {
				rotate := func() { integLogrotate(t, conf) }
				if sc.lossWhy == "" {
					rotate()
					return
				}
				bound += p.writtenDuring(func() {
					rotate()
					if sc.poll > 0 { // until the switch: what gzip missed went to the old file till then
						integEventually(t, 10*time.Second, "the writer to switch", func() bool {
							return p.stats().Writers[0].Reopens >= uint64(i+1)
						})
					}
				})
			})
			p.waitSettled()
			p.waitAcked(50)
			res := p.stop()
			c := integTally(t, res, nil, logDir, old)
			integReport(t, sc.name, c, start)

			backups, _ := filepath.Glob(filepath.Join(logDir, "*.backup"))
			if len(backups) > 0 {
				t.Errorf("logrotate moved a file the writer created aside: %v", backups)
			}
			if res.Stats.Writers[0].Reopens == 0 && sc.conf != "copytruncate.conf" {
				t.Errorf("the writer never switched files: %+v", res.Stats.Writers[0])
			}
			if sc.nearly {
				integExpectNearlyClean(t, c, sc.n)
				return
			}
			if sc.lossWhy == "" {
				integExpectClean(t, c)
				return
			}
			// The loss this scenario accepts: at most the records written
			// while each rotation ran.
			t.Logf("lost %d records in %d rotations (%.1f per rotation; bound %d, the records written while they ran): %s",
				c.Lost, sc.n, float64(c.Lost)/float64(sc.n), bound, sc.lossWhy)
			// A reader racing the writer (logrotate's copy, gzip) can
			// stop inside a record that a write straddling a page is still
			// filling: the file it made ends in that record's head. Torn
			// lines are allowed there, at the end of a file, and nowhere
			// else (a hole or NULs would be torn lines in the middle).
			tails := integUnterminatedFiles(t, logDir, old)
			if int64(c.Lost) > bound || c.Duplicated != 0 || c.Torn > tails || c.Acked == 0 {
				t.Errorf("want at most %d lost, none duplicated, and no torn line but the unterminated ends of %d files: %v",
					bound, tails, c)
			}
		})
	}
}
