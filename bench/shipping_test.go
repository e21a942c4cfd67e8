//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestShipping sends what each writer writes through a real log shipper to
// a central server while the file is rotated, and counts at the central
// server what arrived: every record once, none split. Rows run side by
// side, each with its own pair of rsyslogd (shipping_rsyslog_test.go), its
// own directories and ports. watchedfile's rows must show 0 lost, 0
// duplicated, 0 split; the others' rows show what they lose.
//
// Each row writes for WATCHEDFILE_SHIPPING_TIME (default 60s); the lagging
// rows stop the shipper for 10 s (a third of a shorter run) from a third of
// the way in. WATCHEDFILE_SHIPPING_ROWS picks rows by a substring of their
// names. go test -run TestShipping -v prints the table.
func TestShipping(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of rsyslog")
	}
	needRsyslog(t)
	if _, err := exec.LookPath("logrotate"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("missing: logrotate")
		}
		t.Skip("missing: logrotate")
	}
	length := 60 * time.Second
	if s := os.Getenv("WATCHEDFILE_SHIPPING_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("WATCHEDFILE_SHIPPING_TIME: %v", err)
		}
		length = d
	}
	cmdBin, err := buildCommand(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	var rows []shipRow
	for _, r := range shipRows() {
		if f := os.Getenv("WATCHEDFILE_SHIPPING_ROWS"); f == "" || strings.Contains(r.name, f) {
			rows = append(rows, r)
		}
	}
	results := make([]shipResult, len(rows))
	dirs := make([]string, len(rows))
	spoolBefore := rsyslogSpool()
	var wg sync.WaitGroup
	for i, r := range rows {
		wg.Add(1)
		dirs[i] = t.TempDir()
		go func() {
			defer wg.Done()
			results[i] = r.run(dirs[i], cmdBin, length)
		}()
	}
	wg.Wait()
	// The rsyslogd processes are reaped, and wrote nowhere but their
	// directories.
	if left := processesMentioning(dirs); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
	if after := rsyslogSpool(); after != spoolBefore {
		t.Errorf("rsyslog's system directories changed during the test: before %q, after %q", spoolBefore, after)
	}

	t.Logf("%d s of writing per row; the shipper stopped for %v in the lagging rows\n%s",
		int(length.Seconds()), lagOf(length), shipTable(rows, results))
	for i, r := range rows {
		res := results[i]
		t.Run(r.name, func(t *testing.T) {
			if res.err != nil {
				t.Fatalf("%v\n%s", res.err, res.logs)
			}
			if res.Acknowledged == 0 {
				t.Fatalf("no record written: %+v\n%s", res, res.logs)
			}
			if r.promise >= promiseWhole && (res.Torn != 0 || res.FoundFailed != 0 || res.WriteFailed != 0 || len(res.Background) > 0) {
				t.Errorf("%d written, %d split, %d failed Writes (%v), reported %v\n%s",
					res.Acknowledged, res.Torn, res.WriteFailed, res.WriteErrors, res.Background, res.logs)
			}
			if f := res.Files; r.promise >= promiseInFiles && (f.Lost != 0 || f.Duplicated != 0 || f.Torn != 0) {
				t.Errorf("in the files left: %d written, %d in none (%s), %d extra copies, %d torn lines\n%s",
					f.Acknowledged, f.Lost, strings.Join(f.LostRanges, ", "), f.Duplicated, f.Torn, res.logs)
			}
			if r.promise >= promiseAll && (res.Lost != 0 || res.Duplicated != 0) {
				t.Errorf("%d written, %d lost at the central server (%s), %d duplicated\n%s",
					res.Acknowledged, res.Lost, strings.Join(res.LostRanges, ", "), res.Duplicated, res.logs)
			}
		})
	}
}

// shipRow is one row of the table: a writer, a way of rotating its file,
// and whether the shipper lags.
type shipRow struct {
	name    string
	writer  string // a shipping writer (shipping_writers.go)
	procs   int    // writing processes
	command bool   // one process pipes its records through the watchedfile command
	way     string // how the file is rotated: logrotate options, "rm", "mv", or "" (the writer rotates it)
	lag     bool   // the shipper stops for a while
	glob    bool   // the shipper reads app-*.log (dated names) instead of app.log
	promise shipPromise
}

// shipPromise is what a row must show, or the test fails.
type shipPromise int

const (
	// promiseNone is a rival's row: the table shows what it loses.
	promiseNone shipPromise = iota
	// promiseWhole: no line split at the central server, no Write
	// failed, nothing reported. What the shipper loses or repeats is its
	// own doing, shown in the table: rsyslog reads a file renamed away
	// to its end once, when it sees the rename, and lets go of it, maybe
	// before the writer has switched and written its last records there;
	// a removed file goes with what the shipper had not read. The rows of
	// rm and mv, and of logrotate's compress without delaycompress (gzip
	// reads the renamed file at once and removes it, maybe before the
	// writer's last records reach it).
	promiseWhole
	// promiseInFiles: and every record exactly once, whole, in the files
	// left. logrotate create with delaycompress.
	promiseInFiles
	// promiseAll: and every record once at the central server. The
	// writer's own rotation: names that never change, read by a glob.
	promiseAll
)

const (
	shipRecord     = 100               // bytes a record
	shipRate       = 1000              // records a second in a row, all processes together
	shipEvery      = 2 * time.Second   // between two rotations by logrotate, rm or mv
	shipMaxKiB     = 200               // watchedfile's own rotation: about one every 2 s at shipRate
	shipCompressIn = 20 * time.Second  // its CompressDelay, longer than the lag
	shipLagMax     = 10 * time.Second  // how long the shipper stops, at most
	createCompress = "create compress" // logrotate options
	createDelay    = createCompress + " delaycompress"
)

// promiseOf is what watchedfile's rows under a way of rotating must show.
func promiseOf(way string) shipPromise {
	if way == createDelay {
		return promiseInFiles
	}
	return promiseWhole
}

func lagOf(length time.Duration) time.Duration { return min(shipLagMax, length/3) }

func shipRows() []shipRow {
	var rows []shipRow
	lib := func(name, way string, lag bool) shipRow {
		return shipRow{name: "library ×4, " + name, writer: "ship-watchedfile", procs: 4, way: way, lag: lag, promise: promiseOf(way)}
	}
	cmd := func(name, way string) shipRow {
		return shipRow{name: "command, " + name, writer: "ship-pipe", procs: 1, command: true, way: way, promise: promiseOf(way)}
	}
	for _, w := range []struct{ name, way string }{
		{"logrotate create+compress+delaycompress", createDelay},
		{"logrotate create+compress", createCompress},
		{"rm", "rm"},
		{"mv over the path", "mv"},
	} {
		rows = append(rows, lib(w.name, w.way, false), cmd(w.name, w.way))
	}
	self := shipRow{name: "library ×4, own rotation+compress", writer: "ship-watchedfile-rotate", procs: 4, glob: true, promise: promiseAll}
	selfCmd := shipRow{name: "command, own rotation+compress", writer: "ship-pipe", procs: 1, command: true, glob: true, promise: promiseAll}
	selfLag := self
	selfLag.name, selfLag.lag = "lagging shipper, library ×4, own rotation+compress", true
	rows = append(rows, self, selfCmd, selfLag,
		lib("logrotate create+compress+delaycompress, lagging shipper", createDelay, true),
		lib("logrotate create+compress, lagging shipper", createCompress, true),
		shipRow{name: "lagging shipper, lumberjack ×1, MaxSize 1 MB+compress", writer: "ship-lumberjack", procs: 1, lag: true},
		shipRow{name: "lumberjack ×1, MaxSize 1 MB+compress", writer: "ship-lumberjack", procs: 1},
		shipRow{name: "lumberjack ×4, MaxSize 1 MB+compress", writer: "ship-lumberjack", procs: 4},
		shipRow{name: "one O_APPEND descriptor (>> file), logrotate copytruncate", writer: "ship-append", procs: 1, way: "copytruncate"},
	)
	return rows
}

// shipResult is what a row found at the central server.
type shipResult struct {
	fileTally
	WriteFailed uint64
	WriteErrors map[string]int
	Background  map[string]int
	Rotations   int    // by logrotate, rm or mv; or the writer's own (watchedfile's tells)
	LeftFiles   string // the log files at the end: "N (M .gz)"
	// FilesLost is the records written that are in none of the files left
	// (decompressed), -1 where rm or mv took files away; Files the rest of
	// what the files hold.
	FilesLost int64
	Files     fileTally
	err       error
	logs      string // rsyslogd's and the writers' output, for a failure
}

// run runs the row in dir for length.
func (r shipRow) run(dir, cmdBin string, length time.Duration) (res shipResult) {
	logs := mkdir(dir, "logs")
	path := filepath.Join(logs, "app.log")
	received := filepath.Join(mkdir(dir, "received"), "received.log")
	var outputs []*lockedBuffer
	defer func() {
		for _, o := range outputs {
			res.logs += o.String()
		}
	}()

	central, port, err := startCentral(mkdir(dir, "central"), received)
	if err != nil {
		res.err = fmt.Errorf("central server: %w", err)
		return res
	}
	defer central.stop()
	outputs = append(outputs, central.out)
	pattern := path
	if r.glob {
		pattern = filepath.Join(logs, "app-*.log")
	}
	shipper, err := startShipper(mkdir(dir, "shipper"), pattern, r.way == "copytruncate", port)
	if err != nil {
		res.err = fmt.Errorf("shipper: %w", err)
		return res
	}
	defer shipper.stop()
	outputs = append(outputs, shipper.out)

	w, err := r.startWriters(path, cmdBin)
	if err != nil {
		res.err = err
		return res
	}
	defer w.kill()
	outputs = append(outputs, w.out)

	stopRotating := make(chan struct{})
	rotated := make(chan rotatorResult, 1)
	go func() { rotated <- r.rotate(dir, path, stopRotating) }()
	lagDone := make(chan error, 1)
	go func() {
		if !r.lag {
			lagDone <- nil
			return
		}
		time.Sleep(length / 3) // the load's schedule, not a wait for a condition
		if err := shipper.pause(true); err != nil {
			lagDone <- err
			return
		}
		time.Sleep(lagOf(length))
		lagDone <- shipper.pause(false)
	}()
	time.Sleep(length) // the load's length
	close(stopRotating)
	rot := <-rotated
	reps, err := w.stop()
	if err == nil {
		err = errors.Join(rot.err, <-lagDone)
	}
	if err != nil {
		res.err = err
		return res
	}
	res.Rotations = rot.n
	if r.way == "" { // the writers' own, where they tell (watchedfile's library)
		for _, rep := range reps {
			if rep.Rotations < 0 || r.command {
				res.Rotations = -1
				break
			}
			res.Rotations += int(rep.Rotations)
		}
	}
	for _, rep := range reps {
		res.WriteFailed += uint64(len(rep.Failed))
		res.WriteErrors = addCounts(res.WriteErrors, rep.WriteErrors)
		res.Background = addCounts(res.Background, rep.Background)
	}

	// Everything written is at the central server, or it has stopped
	// coming: nothing new for 10 s.
	deadline := time.Now().Add(2 * time.Minute)
	var last int64 = -1
	lastChange := time.Now()
	for {
		if res.fileTally, err = tallyFiles(filepath.Dir(received), "", shipRecord, reps); err != nil {
			res.err = err
			return res
		}
		if res.Lost == 0 {
			break
		}
		size := fileSize(received)
		if size != last {
			last, lastChange = size, time.Now()
		}
		if time.Since(lastChange) > 10*time.Second || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	shipper.stop()
	central.stop()
	res.LeftFiles = countLogFiles(logs)
	res.FilesLost = -1
	if r.way != "rm" && r.way != "mv" { // the files are all there: are the records?
		live := "app.log"
		if target, err := os.Readlink(path); err == nil {
			live = filepath.Base(target)
		}
		inFiles, err := tallyFiles(logs, live, shipRecord, reps)
		if err != nil {
			res.err = err
			return res
		}
		res.FilesLost, res.Files = int64(inFiles.Lost), inFiles
	}
	return res
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// processesMentioning lists the processes whose command line names one of
// dirs.
func processesMentioning(dirs []string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		for _, d := range dirs {
			if strings.Contains(cmdline, d) {
				out = append(out, filepath.Base(filepath.Dir(p))+": "+cmdline)
				break
			}
		}
	}
	return out
}

// rsyslogSpool lists the imfile state files in rsyslog's system
// directories, where an instance without its own work directory would keep
// them (the system's own rsyslog, if it runs, has no imfile input).
func rsyslogSpool() string {
	var b strings.Builder
	for _, dir := range []string{"/var/spool/rsyslog", "/var/lib/rsyslog"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !strings.Contains(e.Name(), "imfile-state") {
				continue
			}
			if fi, err := e.Info(); err == nil {
				fmt.Fprintf(&b, "%s/%s:%d ", dir, e.Name(), fi.Size())
			}
		}
	}
	return b.String()
}

// countLogFiles says how many log files dir holds, and how many are gzipped.
func countLogFiles(dir string) string {
	entries, _ := os.ReadDir(dir)
	n, gz := 0, 0
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		n++
		if strings.HasSuffix(e.Name(), ".gz") {
			gz++
		}
	}
	return fmt.Sprintf("%d (%d .gz)", n, gz)
}

// shipWriters are a row's running writing processes.
type shipWriters struct {
	procs   []*selfRotChildProc
	command *exec.Cmd // the watchedfile command, fed by procs[0]
	cmdDone chan error
	out     *lockedBuffer // the command's stderr
}

// startWriters starts the row's processes and has them start writing.
func (r shipRow) startWriters(path, cmdBin string) (*shipWriters, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	w := &shipWriters{out: &lockedBuffer{}}
	var extra []*os.File
	if r.command {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		args := []string{}
		if r.glob {
			args = append(args, "-max-size", fmt.Sprintf("%dK", shipMaxKiB), "-compress", "-compress-delay", shipCompressIn.String())
		}
		w.command = exec.Command(cmdBin, append(args, path)...)
		w.command.Stdin, w.command.Stdout, w.command.Stderr = pr, w.out, w.out
		if err := w.command.Start(); err != nil {
			pr.Close()
			pw.Close()
			return nil, fmt.Errorf("start the command: %w", err)
		}
		pr.Close()
		defer pw.Close() // the generator has its own copy
		w.cmdDone = make(chan error, 1)
		go func() { w.cmdDone <- w.command.Wait() }()
		extra = []*os.File{pw}
	}
	for p := range r.procs {
		a := selfRotChildArgs{Writer: r.writer, Path: path, Proc: p, Goroutines: 4,
			Rate: shipRate / r.procs, Size: shipRecord, Compress: true,
			MaxKiB: shipMaxKiB, CompressDelayMs: shipCompressIn.Milliseconds()}
		if r.writer == "ship-lumberjack" {
			a.MaxKiB = 1024
		}
		c, err := startSelfRotChild(exe, a, extra...)
		if err != nil {
			w.kill()
			return nil, err
		}
		w.procs = append(w.procs, c)
	}
	for _, c := range w.procs {
		if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
			w.kill()
			return nil, fmt.Errorf("start the writers: %w", err)
		}
	}
	return w, nil
}

// stop has the processes stop writing and close their writers, and
// returns what each wrote.
func (w *shipWriters) stop() ([]procReport, error) {
	for _, c := range w.procs {
		c.stdin.Close()
	}
	var errs []error
	reps := make([]procReport, len(w.procs))
	for p, c := range w.procs {
		var err error
		reps[p], err = c.wait()
		w.procs[p] = nil
		errs = append(errs, err)
	}
	if w.command != nil {
		select {
		case err := <-w.cmdDone:
			if err != nil {
				errs = append(errs, fmt.Errorf("the command: %w: %s", err, w.out.String()))
			}
		case <-time.After(30 * time.Second):
			errs = append(errs, errors.New("the command still running 30 s after its input ended"))
		}
		w.command = nil
	}
	return reps, errors.Join(errs...)
}

// kill ends what stop did not.
func (w *shipWriters) kill() {
	for _, c := range w.procs {
		if c != nil {
			c.kill()
		}
	}
	if w.command != nil {
		w.command.Process.Kill()
		<-w.cmdDone
	}
}

// rotatorResult is what a rotator did.
type rotatorResult struct {
	n   int
	err error
}

// rotate rotates the file every shipEvery as the row's way says until
// stop closes; a way of "" leaves it to the writer.
func (r shipRow) rotate(dir, path string, stop <-chan struct{}) rotatorResult {
	var res rotatorResult
	if r.way == "" {
		<-stop
		return res
	}
	conf := filepath.Join(dir, "logrotate.conf")
	if r.way != "rm" && r.way != "mv" {
		c := fmt.Sprintf("%s {\n    %s\n    rotate 1000\n    missingok\n    nomail\n}\n", path,
			strings.ReplaceAll(r.way, " ", "\n    "))
		if err := os.WriteFile(conf, []byte(c), 0o644); err != nil {
			return rotatorResult{err: err}
		}
	}
	tick := time.NewTicker(shipEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return res
		case <-tick.C:
		}
		var err error
		switch r.way {
		case "rm":
			err = os.Remove(path)
		case "mv":
			next := path + ".next"
			var f *os.File
			if f, err = os.OpenFile(next, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
				f.Close()
				err = os.Rename(next, path)
			}
		default:
			var out []byte
			out, err = exec.Command("logrotate", "-f", "-s", filepath.Join(dir, "logrotate.state"), conf).CombinedOutput()
			if err != nil {
				err = fmt.Errorf("logrotate: %w: %s", err, out)
			}
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			res.err = err
			return res
		}
		res.n++
	}
}

// orDash is n, or "—" where it is not known (negative).
func orDash(n int64) string {
	if n < 0 {
		return "—"
	}
	return fmt.Sprint(n)
}

// shipTable is the results as a Markdown table.
func shipTable(rows []shipRow, results []shipResult) string {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	fmt.Fprintln(w, "| writer, rotation | written | received | lost | duplicated | split | failed Writes | in no file | rotations | files left |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for i, r := range rows {
		res := results[i]
		if res.err != nil {
			fmt.Fprintf(w, "| %s | error: %v |\n", r.name, strings.SplitN(res.err.Error(), "\n", 2)[0])
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %s | %s | %s |\n", r.name, res.Acknowledged,
			res.Acknowledged-res.Lost, res.Lost, res.Duplicated, res.Torn, res.WriteFailed,
			orDash(res.FilesLost), orDash(int64(res.Rotations)), res.LeftFiles)
	}
	w.Flush()
	return b.String()
}
