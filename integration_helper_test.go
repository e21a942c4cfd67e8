//go:build linux

package watchedfile_test

// The writer process of the integration suite: the test binary re-executed
// with -test.run=^TestIntegrationHelperProcess$ and INTEG_ROLE=writer. It
// opens one Writer per path, writes sequence-numbered records from several
// goroutines per Writer, and answers commands on stdin, one per line:
//
//	stats    → "stats <json>": counters, each Writer's Stats, fd counts
//	exhaust  → opens /dev/null until EMFILE, "exhausted <n>"
//	release  → closes those again, "released"
//	quit/EOF → stops writing, closes every Writer, "result <json>", exits
//
// SIGHUP makes it call Reopen on every Writer (what a postrotate script asks
// of a service); SIGTERM is like quit. Every record that Write acknowledged
// is in the result, so the test can account for it in the files.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/watchedfile/watchedfile"
)

// integWriterResult is what the writer process reports when it stops.
type integWriterResult struct {
	// Attempted[i] is how many records writer goroutine i tried: seqs
	// 0..Attempted[i]-1. Failed and Partial list, per goroutine, the seqs
	// whose Write returned an error (Partial: an error after some bytes).
	Attempted []int
	Failed    map[int][]int
	Partial   map[int][]int
	Stats     integStatsReply
}

// integStatsReply is the answer to "stats", and part of the result.
type integStatsReply struct {
	Acked, WriteFailures int64
	WriteErrors          map[string]int // Write errors by class
	BackgroundErrors     map[string]int // error handler calls by class
	LastErrors           []string       // a few error handler messages
	Hups, HupErrors      int64
	Rotations            int64 // made by this process's Writers (WithRotation)
	Writers              []integWriterStats
	InotifyFDs, FDs      int
}

type integWriterStats struct {
	Path          string
	Backend       string
	Reopens       uint64
	FailedReopens uint64
	Pending       bool
	LastError     string
}

// integRecord formats record seq of writer goroutine id; the padding's
// letter and length depend on both, so a torn or mixed line does not parse.
func integRecord(id, seq int) string {
	return fmt.Sprintf("w%03d %07d %s\n", id, seq, integPad(id, seq))
}

func integPad(id, seq int) string {
	return strings.Repeat(string(rune('a'+(id+seq)%26)), 24+(id*7+seq)%48)
}

// integErrClass names the errno (or sentinel) an error wraps.
func integErrClass(err error) string {
	switch {
	case errors.Is(err, watchedfile.ErrUnsafeSymlink):
		return "unsafe-symlink"
	case errors.Is(err, syscall.ENOSPC):
		return "ENOSPC"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "EACCES"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "EMFILE"
	case errors.Is(err, syscall.ENOENT):
		return "ENOENT"
	case errors.Is(err, os.ErrClosed):
		return "closed"
	}
	return "other"
}

func integCountFDs() (all, inotify int) {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		all++
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && strings.Contains(l, "inotify") {
			inotify++
		}
	}
	return all, inotify
}

func integEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func integEnvDur(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// TestIntegrationHelperProcess is not a test: it is the writer process the
// integration tests start. Run alone it returns at once.
func TestIntegrationHelperProcess(t *testing.T) {
	if os.Getenv("INTEG_ROLE") != "writer" {
		t.Skip("the integration suite's writer process; started by the other tests")
	}
	os.Exit(integWriterMain())
}

func integWriterMain() int {
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}
	fail := func(err error) int {
		say("fatal %v", err)
		return 2
	}

	if n := integEnvInt("INTEG_NOFILE", 0); n > 0 {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fail(err)
		}
		lim.Cur = uint64(n)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fail(err)
		}
	}

	var (
		errMu     sync.Mutex
		bgErrors  = map[string]int{}
		lastErrs  []string
		wrErrors  = map[string]int{}
		acked     atomic.Int64
		wrFail    atomic.Int64
		hups      atomic.Int64
		hupErrors atomic.Int64
		rotations atomic.Int64
	)
	opts := []watchedfile.Option{
		watchedfile.WithErrorHandler(func(err error) {
			errMu.Lock()
			defer errMu.Unlock()
			bgErrors[integErrClass(err)]++
			if len(lastErrs) < 8 {
				lastErrs = append(lastErrs, err.Error())
			}
		}),
		watchedfile.WithRetry(2*time.Millisecond, integEnvDur("INTEG_RETRY_MAX", 50*time.Millisecond)),
	}
	if d := integEnvDur("INTEG_POLL", 0); d > 0 {
		opts = append(opts, watchedfile.WithPolling(d))
	}
	if d := integEnvDur("INTEG_CHECK", 0); d > 0 {
		opts = append(opts, watchedfile.WithCheckInterval(d))
	}
	if d := integEnvDur("INTEG_CREATE_DELAY", -1); d >= 0 {
		opts = append(opts, watchedfile.WithCreateDelay(d))
	}
	if os.Getenv("INTEG_SHARED_DIR") != "" {
		opts = append(opts, watchedfile.WithSharedDir())
	}
	if os.Getenv("INTEG_MKDIR") != "" {
		opts = append(opts, watchedfile.WithMkdirAll(0o755))
	}
	if size := integEnvInt("INTEG_ROTATE_SIZE", 0); size > 0 {
		opts = append(opts, watchedfile.WithRotation(watchedfile.Rotation{
			MaxSize:  int64(size),
			Compress: os.Getenv("INTEG_ROTATE_COMPRESS") != "", CompressDelay: -1,
			OnRotate: func(watchedfile.Rotated) { rotations.Add(1) },
		}))
	}

	paths := filepath.SplitList(os.Getenv("INTEG_PATHS"))
	writers := make([]*watchedfile.Writer, len(paths))
	for i, p := range paths {
		w, err := watchedfile.Open(p, opts...)
		if err != nil {
			return fail(err)
		}
		writers[i] = w
	}

	perWriter := integEnvInt("INTEG_GOROUTINES", 4)
	pace := integEnvDur("INTEG_PACE", time.Millisecond)
	base := integEnvInt("INTEG_ID_BASE", 0) // other writer processes use the ids below
	n := base + len(writers)*perWriter
	attempted := make([]int, n)
	failed := make([][]int, n)
	partial := make([][]int, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for id := base; id < n; id++ {
		w := writers[(id-base)/perWriter]
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(pace)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				rec := integRecord(id, seq)
				k, err := w.WriteString(rec)
				attempted[id] = seq + 1
				if err != nil {
					failed[id] = append(failed[id], seq)
					if k > 0 {
						partial[id] = append(partial[id], seq)
					}
					wrFail.Add(1)
					errMu.Lock()
					wrErrors[integErrClass(err)]++
					errMu.Unlock()
					continue
				}
				acked.Add(1)
			}
		}()
	}

	stats := func() integStatsReply {
		// The Writers first, then the counters: a Writer seen settled
		// has switched, so every record it wrote to the old file is
		// in Acked (the bound the scenarios put on what an rm loses).
		var ws []integWriterStats
		for _, w := range writers {
			s := w.Stats()
			st := integWriterStats{Path: w.Path(), Backend: string(s.Backend), Reopens: s.Reopens,
				FailedReopens: s.FailedReopens, Pending: s.ReopenPending}
			if s.LastError != nil {
				st.LastError = s.LastError.Error()
			}
			ws = append(ws, st)
		}
		errMu.Lock()
		r := integStatsReply{
			Acked:            acked.Load(),
			WriteFailures:    wrFail.Load(),
			WriteErrors:      integCopyMap(wrErrors),
			BackgroundErrors: integCopyMap(bgErrors),
			LastErrors:       append([]string(nil), lastErrs...),
			Hups:             hups.Load(),
			HupErrors:        hupErrors.Load(),
			Rotations:        rotations.Load(),
			Writers:          ws,
		}
		errMu.Unlock()
		r.FDs, r.InotifyFDs = integCountFDs()
		return r
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM)
	quit := make(chan struct{})
	var quitOnce sync.Once
	doQuit := func() { quitOnce.Do(func() { close(quit) }) }
	go func() {
		for s := range sigs {
			if s == syscall.SIGTERM {
				doQuit()
				continue
			}
			hups.Add(1)
			for _, w := range writers {
				if err := w.Reopen(); err != nil {
					hupErrors.Add(1)
				}
			}
		}
	}()

	var held []*os.File
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			switch sc.Text() {
			case "stats":
				b, _ := json.Marshal(stats())
				say("stats %s", b)
			case "exhaust":
				for {
					f, err := os.Open(os.DevNull)
					if err != nil {
						break
					}
					held = append(held, f)
				}
				say("exhausted %d", len(held))
			case "release":
				for _, f := range held {
					f.Close()
				}
				held = nil
				say("released")
			case "quit":
				doQuit()
				return
			}
		}
		doQuit()
	}()

	say("ready %d", os.Getpid())
	<-quit
	close(stop)
	wg.Wait()
	res := integWriterResult{Attempted: attempted, Failed: map[int][]int{}, Partial: map[int][]int{}}
	for id := range n {
		if len(failed[id]) > 0 {
			res.Failed[id] = failed[id]
		}
		if len(partial[id]) > 0 {
			res.Partial[id] = partial[id]
		}
	}
	res.Stats = stats()
	for _, w := range writers {
		if err := w.Close(); err != nil {
			say("close-error %v", err)
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fail(err)
	}
	say("result %s", b)
	return 0
}

func integCopyMap(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
