//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The bench runs some measurements in a child process: itself, re-executed
// with these variables set (so a test binary can be the child too).
const (
	childEnv     = "WATCHEDFILE_BENCH_CHILD"
	childArgsEnv = "WATCHEDFILE_BENCH_ARGS"
)

// childArgs are what a child is told, as JSON in childArgsEnv.
type childArgs struct {
	Strategy   string `json:"strategy"`
	Path       string `json:"path"`
	Size       int    `json:"size"`
	Records    int    `json:"records,omitempty"`    // count
	Goroutines int    `json:"goroutines,omitempty"` // count, rotation
	PaceNs     int64  `json:"pace_ns,omitempty"`    // rotation
}

// rotationReport is what a rotation child (Go or Python) prints at the end.
type rotationReport struct {
	Attempted  uint64         `json:"attempted"`
	Failed     []uint64       `json:"failed"`
	TailFailed int            `json:"tail_failed"`
	Errors     map[string]int `json:"errors"`
}

// runChildIfAsked runs the child named in the environment and reports
// whether it did; the caller then exits with code.
func runChildIfAsked() (ran bool, code int) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return false, 0
	}
	var a childArgs
	if err := json.Unmarshal([]byte(os.Getenv(childArgsEnv)), &a); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return true, 2
	}
	var err error
	switch mode {
	case "count":
		err = countChild(a)
	case "rotation":
		err = rotationChild(a, os.Stdin, os.Stdout)
	case "selfrot":
		err = selfRotChild(os.Stdin, os.Stdout)
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return true, 1
	}
	return true, 0
}

func strategyByName(name string) (strategy, error) {
	ss, err := selectStrategies(name)
	if err != nil {
		return strategy{}, err
	}
	if ss[0].open == nil {
		return strategy{}, fmt.Errorf("%s is not a Go strategy", name)
	}
	return ss[0], nil
}

// countChild writes a.Records records, shared among a.Goroutines goroutines
// (one if unset), for strace.
func countChild(a childArgs) error {
	s, err := strategyByName(a.Strategy)
	if err != nil {
		return err
	}
	w, err := s.open(a.Path)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	rec := record(a.Size)
	g := max(a.Goroutines, 1)
	errs := make([]error, g)
	var wg sync.WaitGroup
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range a.Records/g + btoi(i < a.Records%g) {
				if _, err := w.Write(rec); err != nil {
					errs[i] = fmt.Errorf("write: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, w.Close())...)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// monotonic is CLOCK_MONOTONIC in nanoseconds, the clock Python's
// time.monotonic_ns reads too, so parent and children share a time line.
func monotonic() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// rotationChild writes sequence-numbered, time-stamped records, paced, from
// a.Goroutines goroutines until stdin closes, then reports.
func rotationChild(a childArgs, stdin io.Reader, stdout io.Writer) error {
	hup := make(chan os.Signal, 1) // the rotator's postrotate signal must not kill us
	signal.Notify(hup, syscall.SIGHUP)
	s, err := strategyByName(a.Strategy)
	if err != nil {
		return err
	}
	w, err := s.open(a.Path)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	var (
		mu   sync.Mutex
		rep  = rotationReport{Errors: map[string]int{}}
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	for range max(a.Goroutines, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, a.Size+64)
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				seq := rep.Attempted
				rep.Attempted++
				mu.Unlock()
				buf = appendRecord(buf[:0], seq, 0, a.Size)
				stampTime(buf, monotonic()) // the moment the Write starts
				_, err := w.Write(buf)
				mu.Lock()
				if err != nil {
					rep.Failed = append(rep.Failed, seq)
					rep.TailFailed++
					rep.Errors[err.Error()]++
				} else {
					rep.TailFailed = 0
				}
				mu.Unlock()
				time.Sleep(time.Duration(a.PaceNs))
			}
		}()
	}
	if _, err := io.WriteString(stdout, "ready\n"); err != nil {
		return err
	}
	io.Copy(io.Discard, stdin) // the parent closes stdin to stop us
	close(stop)
	wg.Wait()
	w.Close() // errors here are the strategy's business; the report says what failed
	signal.Stop(hup)
	return json.NewEncoder(stdout).Encode(rep)
}

// appendRecord appends "seq=NNNNNNNNN t=TTTTTTTTTTTTTTTTTTT xxx…\n",
// padded to size bytes, t zero-padded to tDigits so that stampTime can
// rewrite it in place.
func appendRecord(b []byte, seq uint64, t int64, size int) []byte {
	start := len(b)
	b = fmt.Appendf(b, "seq=%09d t=%0*d ", seq, tDigits, t)
	for len(b)-start < size-1 {
		b = append(b, 'x')
	}
	return append(b, '\n')
}

// tDigits is the width of a record's time: an int64 of nanoseconds.
const tDigits = 19

// stampTime rewrites the time of a record made by appendRecord, so that the
// time is read after the record is formatted, just before it is written.
func stampTime(rec []byte, t int64) {
	i := bytes.Index(rec, []byte(" t="))
	if i < 0 || i+3+tDigits > len(rec) || t < 0 {
		return
	}
	for j := i + 3 + tDigits - 1; j >= i+3; j-- {
		rec[j] = '0' + byte(t%10)
		t /= 10
	}
}
