//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The self-rotation table: several OS processes, each with some goroutines,
// write numbered records to one path through a writer that rotates the file
// by itself at a size limit and compresses what it rotated; then every file
// is read back. What it shows: whether the writers, each rotating on its own
// count, lose, repeat or tear records when they share a file.

// selfRotConfig sets up the self-rotation tables.
type selfRotConfig struct {
	Writers    string        // comma-separated, or "all"
	Procs      []int         // a run for each number of processes
	Goroutines int           // writing goroutines per process
	Rate       int           // records per second per process; 0: as fast as they can
	Duration   time.Duration // how long each run writes
	MaxMiB     int           // the size limit, MiB
	Size       int           // record size, bytes
	Compress   bool
	Rounds     int // runs of each writer and process count, interleaved

	// The pause table (selfrot_pause.go).
	PauseGoroutines int
	PauseRate       int // records per second, the process's; 0: as fast as they can
	PauseDuration   time.Duration
	PauseRounds     int
}

func defaultSelfRotConfig() selfRotConfig {
	return selfRotConfig{
		Writers:    "all",
		Procs:      []int{1, 4},
		Goroutines: 4,
		Rate:       5000,
		Duration:   3 * time.Second,
		MaxMiB:     1,
		Size:       100,
		Compress:   true,
		Rounds:     1,

		PauseGoroutines: 4,
		PauseRate:       20000,
		PauseDuration:   3 * time.Second,
		PauseRounds:     1,
	}
}

func (c selfRotConfig) validate() error {
	switch {
	case len(c.Procs) == 0 || c.Goroutines < 1 || c.Rate < 0 || c.Duration <= 0 || c.Rounds < 1:
		return errors.New("the self-rotation table needs processes, goroutines ≥ 1, a rate ≥ 0, a positive duration and rounds ≥ 1")
	case c.MaxMiB < 1:
		return errors.New("the self-rotation size limit is in MiB and at least 1 (lumberjack's unit and least)")
	case c.Size < selfRotRecordMin || c.Size > 1<<20:
		return fmt.Errorf("self-rotation records must be %d bytes to 1 MiB", selfRotRecordMin)
	case slices.Max(c.Procs) > 99 || slices.Min(c.Procs) < 1:
		return errors.New("1 to 99 processes (the record has two digits for them)")
	case c.PauseGoroutines < 1 || c.PauseRate < 0 || c.PauseDuration <= 0 || c.PauseRounds < 1:
		return errors.New("the pause table needs goroutines ≥ 1, a rate ≥ 0, a positive duration and rounds ≥ 1")
	}
	return nil
}

// selfRotResult is one writer's row: one run, or the median run of rounds.
type selfRotResult struct {
	Writer     string  `json:"writer"`
	Procs      int     `json:"procs"`
	Goroutines int     `json:"goroutines"`
	Round      int     `json:"round"`
	Seconds    float64 `json:"seconds"`
	Limit      int64   `json:"limit"` // bytes
	fileTally
	// Rotations is what the processes say they made, summed; -1 where the
	// writer does not tell (all but watchedfile).
	Rotations   int64          `json:"rotations"`
	WriteFailed uint64         `json:"write_failed"`
	WriteErrors map[string]int `json:"write_errors,omitempty"`
	Background  map[string]int `json:"background,omitempty"`
	CloseErrors []string       `json:"close_errors,omitempty"`
	Error       string         `json:"error,omitempty"`
}

// runSelfRotProcs runs w in procs processes on one new path under root and
// tallies the files they leave.
func runSelfRotProcs(w selfRotWriter, procs int, cfg selfRotConfig, root string) (selfRotResult, error) {
	res := selfRotResult{Writer: w.name, Procs: procs, Goroutines: cfg.Goroutines, Limit: int64(cfg.MaxMiB) << 20}
	exe, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("find own binary: %w", err)
	}
	dir, err := os.MkdirTemp(root, "selfrot-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	children := make([]*selfRotChildProc, procs)
	defer func() {
		for _, c := range children {
			if c != nil {
				c.kill()
			}
		}
	}()
	for p := range procs {
		a := selfRotChildArgs{Writer: w.name, Path: path, Proc: p, Goroutines: cfg.Goroutines,
			Rate: cfg.Rate, MaxMiB: cfg.MaxMiB, Size: cfg.Size, Compress: cfg.Compress}
		if children[p], err = startSelfRotChild(exe, a); err != nil {
			return res, err
		}
	}
	start := time.Now()
	for _, c := range children {
		if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
			return res, fmt.Errorf("start the writers: %w", err)
		}
	}
	time.Sleep(cfg.Duration) // the load's length, not a wait for a condition
	for _, c := range children {
		c.stdin.Close()
	}
	reps := make([]procReport, procs)
	var errs []error
	for p, c := range children {
		reps[p], err = c.wait()
		children[p] = nil
		errs = append(errs, err)
	}
	res.Seconds = time.Since(start).Seconds()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}

	live := "app.log"
	if target, err := os.Readlink(path); err == nil {
		live = filepath.Base(target)
	}
	if res.fileTally, err = tallyFiles(dir, live, cfg.Size, reps); err != nil {
		return res, err
	}
	res.Rotations = 0
	for _, r := range reps {
		res.WriteFailed += uint64(len(r.Failed))
		res.WriteErrors = addCounts(res.WriteErrors, r.WriteErrors)
		res.Background = addCounts(res.Background, r.Background)
		if r.Rotations < 0 || res.Rotations < 0 {
			res.Rotations = -1
		} else {
			res.Rotations += r.Rotations
		}
		if r.CloseError != "" {
			res.CloseErrors = append(res.CloseErrors, r.CloseError)
		}
	}
	return res, nil
}

func addCounts(dst, src map[string]int) map[string]int {
	for k, v := range src {
		if dst == nil {
			dst = map[string]int{}
		}
		dst[k] += v
	}
	return dst
}

// selfRotChildArgs is what a writing process is told, as JSON in
// childArgsEnv.
type selfRotChildArgs struct {
	Writer     string `json:"writer"`
	Path       string `json:"path"`
	Proc       int    `json:"proc"`
	Goroutines int    `json:"goroutines"`
	Rate       int    `json:"rate"`
	MaxMiB     int    `json:"max_mib"`
	Size       int    `json:"size"`
	Compress   bool   `json:"compress"`
	// For the shipping test's writers (shipping_writers.go).
	MaxKiB          int   `json:"max_kib,omitempty"`
	CompressDelayMs int64 `json:"compress_delay_ms,omitempty"`
}

// selfRotChildProc is a running writing process.
type selfRotChildProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *lockedBuffer
}

// startSelfRotChild starts a writing process and waits until it has opened
// its writer; extra become its descriptors 3, 4…
func startSelfRotChild(exe string, a selfRotChildArgs, extra ...*os.File) (*selfRotChildProc, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"=selfrot", childArgsEnv+"="+string(b))
	cmd.Dir = filepath.Dir(a.Path)
	cmd.ExtraFiles = extra
	c := &selfRotChildProc{cmd: cmd, stderr: &lockedBuffer{}}
	cmd.Stderr = c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s writer: %w", a.Writer, err)
	}
	c.out = bufio.NewReader(stdout)
	ready := make(chan error, 1)
	go func() {
		line, err := c.out.ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("it said %q", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-time.After(30 * time.Second):
		err = errors.New("not ready after 30s")
	}
	if err != nil {
		c.kill()
		return nil, fmt.Errorf("%s writer %d: %w: %s", a.Writer, a.Proc, err, c.stderr.String())
	}
	return c, nil
}

// wait reads the process's report once its stdin is closed, and reaps it.
// Lines on its stderr are the writer's own (timberjack prints failures
// there): they join the report's background errors.
func (c *selfRotChildProc) wait() (procReport, error) {
	var rep procReport
	b, _ := io.ReadAll(c.out)
	if err := c.cmd.Wait(); err != nil {
		return rep, fmt.Errorf("writer process: %w: %s", err, c.stderr.String())
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return rep, fmt.Errorf("writer process report %q: %w", b, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(c.stderr.String()), "\n") {
		if line != "" {
			rep.Background = addCounts(rep.Background, map[string]int{"stderr: " + errorClass(line): 1})
		}
	}
	return rep, nil
}

// kill ends a process that wait will not reap.
func (c *selfRotChildProc) kill() {
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

// lockedBuffer is a bytes.Buffer for a child's stderr, read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// selfRotChild is a writing process: it opens the writer, says "ready",
// starts at "go", writes until stdin closes, closes the writer and prints
// its report as JSON.
func selfRotChild(stdin io.Reader, stdout io.Writer) error {
	var a selfRotChildArgs
	if err := json.Unmarshal([]byte(os.Getenv(childArgsEnv)), &a); err != nil {
		return err
	}
	var ev selfRotEvents
	w, ok, err := shippingWriter(a, &ev)
	if !ok {
		var ws []selfRotWriter
		if ws, err = selectSelfRotWriters(a.Writer); err != nil {
			return err
		}
		w, err = ws[0].open(a.Path, a.MaxMiB, a.Compress, &ev)
	}
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if _, err := io.WriteString(stdout, "ready\n"); err != nil {
		return err
	}
	in := bufio.NewReader(stdin)
	if line, err := in.ReadString('\n'); err != nil || line != "go\n" {
		return fmt.Errorf("want go, got %q, %v", line, err)
	}
	stop := make(chan struct{})
	done := make(chan []writerLog, 1)
	l := load{proc: a.Proc, goroutines: a.Goroutines, rate: a.Rate, size: a.Size}
	go func() { done <- l.run(w, stop) }()
	io.Copy(io.Discard, in) // the parent closes stdin to stop us
	close(stop)
	logs := <-done
	rep := procReport{WriteErrors: map[string]int{}, Rotations: -1}
	for _, l := range logs {
		rep.Attempted += l.ok + uint64(len(l.failed))
		rep.Failed = append(rep.Failed, l.failed...)
		rep.WriteErrors = addCounts(rep.WriteErrors, l.errors)
	}
	if err := w.Close(); err != nil {
		rep.CloseError = errorClass(err.Error())
	}
	switch a.Writer {
	case "watchedfile", "ship-watchedfile-rotate":
		rep.Rotations = ev.rotations.Load()
		fallthrough
	case "ship-watchedfile":
		rep.Background = ev.errorCounts()
	}
	return json.NewEncoder(stdout).Encode(rep)
}
