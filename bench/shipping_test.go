//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestShipping sends what each writer writes through a real log shipper to
// a central server while the file is rotated, and counts at the central
// server what arrived: every record once, none split. Two shippers, each
// a pair of processes of the test's own, directories and ports: rsyslog
// (imfile to RELP, shipping_rsyslog_test.go) and the OpenTelemetry
// Collector (filelog to OTLP gRPC, shipping_otel_test.go). Rows run side by
// side, WATCHEDFILE_SHIPPING_AT_ONCE (default 27) at a time. The rows that
// promise it must show 0 lost, 0 duplicated, 0 split; the others show what
// they lose.
//
// Each row writes for WATCHEDFILE_SHIPPING_TIME (default 60s); the lagging
// rows stop the shipper for 10 s (a third of a shorter run) from a third of
// the way in. WATCHEDFILE_SHIPPING_ROWS picks rows by a substring of their
// names, WATCHEDFILE_SHIPPING_SHIPPERS the shippers ("rsyslog,otel").
// go test -run TestShipping -v prints the tables.
func TestShipping(t *testing.T) {
	if testing.Short() {
		t.Skip("minutes of log shipping")
	}
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
	shippers := []string{shipRsyslog, shipOtel}
	if s := os.Getenv("WATCHEDFILE_SHIPPING_SHIPPERS"); s != "" {
		shippers = strings.Split(s, ",")
	}
	var env shipEnv
	var err error
	if env.cmdBin, err = buildCommand(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	atOnce := 27 // two rounds of the 54 rows
	if s := os.Getenv("WATCHEDFILE_SHIPPING_AT_ONCE"); s != "" {
		if atOnce, err = strconv.Atoi(s); err != nil || atOnce < 1 {
			t.Fatalf("WATCHEDFILE_SHIPPING_AT_ONCE=%q: want a positive number", s)
		}
	}
	// A shipper that cannot run here leaves its rows out (fails the test
	// under CI=true).
	want := map[string]bool{}
	for _, shipper := range shippers {
		var missing error
		switch shipper {
		case shipRsyslog:
			missing = rsyslogMissing()
		case shipOtel:
			env.otelBin, missing = otelcolPath(t)
		default:
			t.Fatalf("WATCHEDFILE_SHIPPING_SHIPPERS: no shipper %q (rsyslog, otel)", shipper)
		}
		switch {
		case missing != nil && os.Getenv("CI") == "true":
			t.Fatalf("%s: %v", shipper, missing)
		case missing != nil:
			t.Logf("%s rows left out: %v", shipper, missing)
		default:
			want[shipper] = true
		}
	}
	if len(want) == 0 {
		t.Skip("no shipper can run here")
	}
	var rows []shipRow
	for _, r := range shipRows() {
		if f := os.Getenv("WATCHEDFILE_SHIPPING_ROWS"); want[r.shipper] && (f == "" || strings.Contains(r.name, f)) {
			rows = append(rows, r)
		}
	}

	// atOnce rows at a time, in the table's order, which takes turns
	// between the shippers (an OpenTelemetry row costs more CPU).
	results := make([]shipResult, len(rows))
	dirs := make([]string, len(rows))
	spoolBefore := rsyslogSpool()
	slots := make(chan struct{}, atOnce)
	var wg sync.WaitGroup
	for i, r := range rows {
		wg.Add(1)
		dirs[i] = t.TempDir()
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			results[i] = r.run(dirs[i], env, length)
		}()
	}
	wg.Wait()
	// The shippers and central servers are reaped, and wrote nowhere but
	// their directories.
	if left := processesMentioning(dirs); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
	if after := rsyslogSpool(); after != spoolBefore {
		t.Errorf("rsyslog's system directories changed during the test: before %q, after %q", spoolBefore, after)
	}

	t.Logf("%d s of writing per row; the shipper stopped for %v in the lagging rows\n%s\n%s",
		int(length.Seconds()), lagOf(length), shipMatrix(rows, results), shipTable(rows, results))
	for i, r := range rows {
		res := results[i]
		t.Run(r.name, func(t *testing.T) {
			if res.err != nil {
				t.Fatalf("%v\n%s", res.err, res.logs)
			}
			if res.Acknowledged == 0 {
				t.Fatalf("no record written: %+v\n%s", res, res.logs)
			}
			if r.promise&holdWhole != 0 && (res.Torn != 0 || res.FoundFailed != 0 || res.WriteFailed != 0 || len(res.Background) > 0) {
				t.Errorf("%d written, %d split, %d failed Writes (%v), reported %v\n%s",
					res.Acknowledged, res.Torn, res.WriteFailed, res.WriteErrors, res.Background, res.logs)
			}
			if f := res.Files; r.promise&holdInFiles != 0 && f != nil && (f.Lost != 0 || f.Duplicated != 0 || f.Torn != 0) {
				t.Errorf("in the files left: %d written, %d in none (%s), %d extra copies, %d torn lines\n%s",
					f.Acknowledged, f.Lost, strings.Join(f.LostRanges, ", "), f.Duplicated, f.Torn, res.logs)
			}
			if r.promise&holdShipped != 0 && (res.Files == nil || res.LostInFiles != 0) {
				t.Errorf("%d written, %d of the records in the files lost at the central server (%s)\n%s",
					res.Acknowledged, res.LostInFiles, strings.Join(res.LostRanges, ", "), res.logs)
			}
			if r.promise&holdAll != 0 && res.Lost != 0 {
				t.Errorf("%d written, %d lost at the central server (%s)\n%s",
					res.Acknowledged, res.Lost, strings.Join(res.LostRanges, ", "), res.logs)
			}
			if r.promise&holdOnce != 0 && res.Duplicated != 0 {
				t.Errorf("%d written, %d duplicated at the central server\n%s", res.Acknowledged, res.Duplicated, res.logs)
			}
		})
	}
}

// The shippers.
const (
	shipRsyslog = "rsyslog"
	shipOtel    = "otel"
)

// shipEnv is what the rows share: the built binaries.
type shipEnv struct {
	cmdBin  string // the watchedfile command
	otelBin string // the collector
}

// shipRow is one row of the table: a shipper and what it reads, a writer,
// a way of rotating its file, and whether the shipper lags.
type shipRow struct {
	name    string
	shipper string // shipRsyslog or shipOtel
	writer  string // a shipping writer (shipping_writers.go)
	procs   int    // writing processes
	command bool   // one process pipes its records through the watchedfile command
	way     string // how the file is rotated: logrotate options, "rm", "mv", "mv-away", or "" (the writer rotates it)
	lag     bool   // the shipper stops for a while
	glob    bool   // the shipper reads app-*.log (dated names) instead of app.log
	names   bool   // the shipper reads the rotated files' names too (OpenTelemetry: app*.log*, or with glob app-*.log*)
	promise shipPromise
	// what: the writer and its rotation, the same for every shipper (the
	// side-by-side table's rows).
	what string
}

// shipPromise is what a row must show, or the test fails: a set of holds.
type shipPromise uint8

const (
	// holdWhole: no line split at the central server, no Write failed,
	// nothing reported. What the shipper loses or repeats is its own
	// doing, shown in the table: reading only the path, rsyslog and the
	// filelog receiver read a file renamed away to its end once and let
	// go of it, maybe before the writer has switched and written its last
	// records there; a removed file goes with what the shipper had not
	// read. Every row of watchedfile.
	holdWhole shipPromise = 1 << iota
	// holdInFiles: every record exactly once, whole, in the files left.
	// logrotate create with delaycompress, and mv without a new file:
	// nothing removes a file the writer may still write.
	holdInFiles
	// holdShipped: every record that the files left hold reached the
	// central server. logrotate's compress without delaycompress (gzip
	// reads the renamed file at once and removes it, maybe before the
	// writer's last records reach it: those are in no file, and shown)
	// for a shipper that reads the rotated names.
	holdShipped
	// holdAll: every record reached the central server. The writer's own
	// rotation (names that never change, read by a glob), and logrotate
	// with delaycompress or mv for a shipper that reads the rotated names.
	holdAll
	// holdOnce: and none twice. Not under logrotate's compress without
	// delaycompress: the filelog receiver reads the records the writer
	// added to the renamed file after gzip read it, and then finds the .gz
	// shorter than what it read and reads all of it again (shown in the
	// table as ".gz read again").
	holdOnce
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

// promiseOf is what watchedfile's rows under a way of rotating must show,
// whatever the shipper.
func promiseOf(way string) shipPromise {
	if way == createDelay || way == "mv-away" {
		return holdWhole | holdInFiles
	}
	return holdWhole
}

func lagOf(length time.Duration) time.Duration { return min(shipLagMax, length/3) }

// shipWays are the ways the test rotates a file watchedfile writes, by
// their names in the table.
var shipWays = []struct{ name, way string }{
	{"logrotate create+compress+delaycompress", createDelay},
	{"logrotate create+compress", createCompress},
	{"rm", "rm"},
	{"mv over the path", "mv"},
	{"mv away, no new file", "mv-away"},
}

// hasRotatedNames says whether a way leaves the rotated file under a name
// of its own (not removed).
func hasRotatedNames(way string) bool { return way != "rm" && way != "mv" }

func shipRows() []shipRow {
	var rows []shipRow
	add := func(r shipRow) {
		r.what = r.name
		for _, shipper := range []string{shipRsyslog, shipOtel} {
			variants := []bool{false}
			if shipper == shipOtel && !r.glob && r.way != "copytruncate" && hasRotatedNames(r.way) {
				variants = []bool{false, true}
			}
			for _, names := range variants {
				s := r
				s.shipper, s.names = shipper, names
				s.name = shipper + ", " + r.name
				switch {
				case names:
					s.name = "otel+names, " + r.name
					switch {
					case r.writer == "ship-lumberjack":
					case r.way == createCompress:
						s.promise |= holdShipped
					default:
						s.promise |= holdAll | holdOnce
					}
				case shipper == shipOtel && r.glob:
					s.names = true // the dated names
				}
				rows = append(rows, s)
			}
		}
	}
	lib := func(name, way string, lag bool) shipRow {
		return shipRow{name: "library ×4, " + name, writer: "ship-watchedfile", procs: 4, way: way, lag: lag, promise: promiseOf(way)}
	}
	cmd := func(name, way string) shipRow {
		return shipRow{name: "command, " + name, writer: "ship-pipe", procs: 1, command: true, way: way, promise: promiseOf(way)}
	}
	for _, w := range shipWays {
		add(lib(w.name, w.way, false))
		add(cmd(w.name, w.way))
	}
	self := shipRow{name: "library ×4, own rotation+compress", writer: "ship-watchedfile-rotate", procs: 4, glob: true, promise: holdWhole | holdAll | holdOnce}
	selfCmd := shipRow{name: "command, own rotation+compress", writer: "ship-pipe", procs: 1, command: true, glob: true, promise: holdWhole | holdAll | holdOnce}
	selfLag := self
	selfLag.name, selfLag.lag = "library ×4, own rotation+compress, lagging shipper", true
	add(self)
	add(selfCmd)
	add(selfLag)
	for _, w := range shipWays {
		if w.way != "mv" {
			add(lib(w.name+", lagging shipper", w.way, true))
		}
	}
	add(shipRow{name: "lumberjack ×1, MaxSize 1 MB+compress, lagging shipper", writer: "ship-lumberjack", procs: 1, lag: true})
	add(shipRow{name: "lumberjack ×1, MaxSize 1 MB+compress", writer: "ship-lumberjack", procs: 1})
	add(shipRow{name: "lumberjack ×4, MaxSize 1 MB+compress", writer: "ship-lumberjack", procs: 4})
	add(shipRow{name: "one O_APPEND descriptor (>> file), logrotate copytruncate", writer: "ship-append", procs: 1, way: "copytruncate"})
	return rows
}

// shipResult is what a row found at the central server.
type shipResult struct {
	fileTally
	procTotals
	LeftFiles string // the log files at the end: "N (M .gz)"
	// Files is what the files left hold (decompressed); nil where rm or mv
	// took files away.
	Files *fileTally
	// LostInFiles is how many of the records lost at the central server
	// are in the files left (where Files is known).
	LostInFiles uint64
	// GzShort is how often the filelog receiver found a .gz shorter than
	// what it had read of the file before (otelGzShort), and read it
	// again from its start.
	GzShort int
	err     error
	logs    string // the shipper's, the central server's and the writers' output, for a failure
}

// shipPair is a row's central server and shipper.
type shipPair struct {
	central, shipper *daemon
	// received is the file of lines the central server received, a
	// record a line; refresh brings it up to date.
	received string
	refresh  func() error
}

// startPair starts the row's central server and shipper in dir, the
// shipper reading the log files in logs.
func (r shipRow) startPair(dir, logs string, env shipEnv) (*shipPair, error) {
	p := &shipPair{received: filepath.Join(mkdir(dir, "received"), "received.log"), refresh: func() error { return nil }}
	var port int
	var err error
	switch r.shipper {
	case shipRsyslog:
		if p.central, port, err = startCentral(mkdir(dir, "central"), p.received); err != nil {
			return nil, fmt.Errorf("central server: %w", err)
		}
		pattern := filepath.Join(logs, "app.log")
		if r.glob {
			pattern = filepath.Join(logs, "app-*.log")
		}
		if p.shipper, err = startShipper(mkdir(dir, "shipper"), pattern, r.way == "copytruncate", port); err != nil {
			p.central.stop()
			return nil, fmt.Errorf("shipper: %w", err)
		}
	case shipOtel:
		central := mkdir(dir, "central")
		lines := &otlpLines{from: filepath.Join(central, "received.json"), to: p.received}
		p.refresh = lines.update
		if p.central, port, err = startOtelCentral(env.otelBin, central, lines.from); err != nil {
			return nil, fmt.Errorf("central collector: %w", err)
		}
		include, compression := otelPattern(logs, r.glob, r.names)
		if p.shipper, err = startOtelShipper(env.otelBin, mkdir(dir, "shipper"),
			otelShipping{include: include, compression: compression, port: port, timeout: otelTimeout}); err != nil {
			p.central.stop()
			return nil, fmt.Errorf("shipper: %w", err)
		}
	}
	return p, nil
}

// run runs the row in dir for length.
func (r shipRow) run(dir string, env shipEnv, length time.Duration) (res shipResult) {
	logs := mkdir(dir, "logs")
	path := filepath.Join(logs, "app.log")
	var outputs []*lockedBuffer
	defer func() {
		for _, o := range outputs {
			res.logs += o.String()
		}
	}()

	pair, err := r.startPair(dir, logs, env)
	if err != nil {
		res.err = err
		return res
	}
	defer stopAll(pair.shipper, pair.central)
	outputs = append(outputs, pair.central.out, pair.shipper.out)

	w, err := r.startWriters(path, env.cmdBin)
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
		if err := pair.shipper.pause(true); err != nil {
			lagDone <- err
			return
		}
		time.Sleep(lagOf(length))
		lagDone <- pair.shipper.pause(false)
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
	res.procTotals = totalOf(reps) // rotations: the writers' own, where they tell
	if r.way != "" {
		res.Rotations = int64(rot.n)
	}

	// Everything written is at the central server, or it has stopped
	// coming: nothing new for 10 s.
	deadline := time.Now().Add(2 * time.Minute)
	var last int64 = -1
	lastChange := time.Now()
	for {
		if err := errors.Join(pair.refresh(), pair.shipper.ended(), pair.central.ended()); err != nil {
			res.err = err
			return res
		}
		if res.fileTally, err = tallyFiles(filepath.Dir(pair.received), "", shipRecord, reps); err != nil {
			res.err = err
			return res
		}
		if res.Lost == 0 {
			break
		}
		size := fileSize(pair.received)
		if size != last {
			last, lastChange = size, time.Now()
		}
		if time.Since(lastChange) > 10*time.Second || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := stopAll(pair.shipper, pair.central); err != nil {
		res.err = err
		return res
	}
	if r.shipper == shipOtel {
		res.GzShort = strings.Count(pair.shipper.out.String(), otelGzShort)
	}
	// What the central server wrote while it stopped.
	if err := pair.refresh(); err != nil {
		res.err = err
		return res
	}
	if res.fileTally, err = tallyFiles(filepath.Dir(pair.received), "", shipRecord, reps); err != nil {
		res.err = err
		return res
	}
	res.LeftFiles = countLogFiles(logs)
	if hasRotatedNames(r.way) { // the files are all there: are the records?
		inFiles, err := tallyFiles(logs, liveName(path), shipRecord, reps)
		if err != nil {
			res.err = err
			return res
		}
		res.Files = &inFiles
		// Records in neither the files nor the central server's.
		paths, err := logFilePaths(logs)
		if err != nil {
			res.err = err
			return res
		}
		both, err := tallyPaths(append(paths, pair.received), "", shipRecord, reps)
		if err != nil {
			res.err = err
			return res
		}
		res.LostInFiles = res.Lost - both.Lost
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
	procs   selfRotGroup
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
		if d := os.Getenv(shipCreateDelayEnv); d != "" {
			args = append(args, "-create-delay", d)
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
	args := make([]selfRotChildArgs, r.procs)
	for p := range args {
		args[p] = selfRotChildArgs{Writer: r.writer, Path: path, Proc: p, Goroutines: 4,
			Rate: shipRate / r.procs, Size: shipRecord, Compress: true,
			MaxKiB: shipMaxKiB, CompressDelayMs: shipCompressIn.Milliseconds()}
		if r.writer == "ship-lumberjack" {
			args[p].MaxKiB = 1024
		}
	}
	if w.procs, err = startSelfRotGroup(exe, args, extra...); err != nil {
		w.kill()
		return nil, err
	}
	return w, nil
}

// stop has the processes stop writing and close their writers, and
// returns what each wrote.
func (w *shipWriters) stop() ([]procReport, error) {
	reps, err := w.procs.stop()
	errs := []error{err}
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
	w.procs.kill()
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
// stop closes; a way of "" leaves it to the writer. "mv" renames a new
// file over the path, "mv-away" renames the file to app.log.N.
func (r shipRow) rotate(dir, path string, stop <-chan struct{}) rotatorResult {
	var res rotatorResult
	if r.way == "" {
		<-stop
		return res
	}
	conf := filepath.Join(dir, "logrotate.conf")
	if strings.HasPrefix(r.way, "create") || r.way == "copytruncate" {
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
		case "mv-away":
			// Renamed, and no new file: the writer makes one once its
			// create delay is over.
			err = os.Rename(path, fmt.Sprintf("%s.%d", path, res.n+1))
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

// shipReads says what a row's shipper reads.
func (r shipRow) reads() string {
	switch {
	case r.shipper == shipRsyslog && r.glob:
		return "rsyslog, app-*.log"
	case r.shipper == shipRsyslog:
		return "rsyslog, app.log"
	case r.glob:
		return "OTel, app-*.log*"
	case r.names:
		return "OTel, app*.log*"
	}
	return "OTel, app.log"
}

// shipTable is the results as a Markdown table, a row each.
func shipTable(rows []shipRow, results []shipResult) string {
	var b strings.Builder
	w := &b
	fmt.Fprintln(w, "| writer, rotation | shipper, reads | written | received | lost | duplicated | split | failed Writes | in no file | rotations | files left |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for i, r := range rows {
		res := results[i]
		if res.err != nil {
			fmt.Fprintf(w, "| %s | %s | error: %v |\n", r.what, r.reads(), strings.SplitN(res.err.Error(), "\n", 2)[0])
			continue
		}
		inNoFile := "—"
		if res.Files != nil {
			inNoFile = fmt.Sprint(res.Files.Lost)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %d | %s | %s | %s |\n", r.what, r.reads(), res.Acknowledged,
			res.Acknowledged-res.Lost, res.Lost, res.Duplicated, res.Torn, res.WriteFailed,
			inNoFile, orDash(res.Rotations), res.LeftFiles)
	}
	return b.String()
}

// shipMatrix is the results side by side: a row for each writer and
// rotation, a column for each shipper and what it reads, each cell "lost
// of written" at the central server, with duplicates and split lines if
// any; bold where the row is held to every record (or every record the
// files hold) reaching the central server. Under watchedfile's own
// rotation each shipper reads the dated names (rsyslog app-*.log, OTel
// app-*.log*), elsewhere the path (app.log) or, OTel, the path and the
// rotated names (app*.log*).
func shipMatrix(rows []shipRow, results []shipResult) string {
	columns := []string{"rsyslog imfile", "OTel filelog, path only", "OTel filelog, rotated names too"}
	column := func(r shipRow) int {
		switch {
		case r.shipper == shipRsyslog:
			return 0
		case r.names:
			return 2
		}
		return 1
	}
	var order []string
	cells := map[string][]string{}
	for i, r := range rows {
		if cells[r.what] == nil {
			order = append(order, r.what)
			cells[r.what] = []string{"", "", ""}
		}
		res := results[i]
		var c string
		if res.err != nil {
			c = "error"
		} else {
			c = fmt.Sprintf("%d of %d", res.Lost, res.Acknowledged)
			if res.Duplicated > 0 {
				c += fmt.Sprintf(", %d dup", res.Duplicated)
			}
			if res.Torn > 0 {
				c += fmt.Sprintf(", %d split", res.Torn)
			}
			if res.GzShort > 0 {
				c += fmt.Sprintf(" (%d .gz read again)", res.GzShort)
			}
			if r.promise&(holdAll|holdShipped) != 0 {
				c = "**" + c + "**"
			}
		}
		cells[r.what][column(r)] = c
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| lost at the central server | %s |\n|---|---:|---:|---:|\n", strings.Join(columns, " | "))
	for _, what := range order {
		for i, c := range cells[what] {
			if c == "" {
				cells[what][i] = "—"
			}
		}
		fmt.Fprintf(&b, "| %s | %s |\n", what, strings.Join(cells[what], " | "))
	}
	return b.String()
}
