//go:build linux

package main

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// load is how the goroutines of one process write the numbered records of
// the self-rotation tables.
type load struct {
	proc       int // the process's number, in every record
	goroutines int
	rate       int // records per second, all goroutines together; 0: as fast as they can
	size       int // bytes per record
	// timeFrom, when set, makes every Write timed, against it; expect is
	// then how many records a goroutine should write, to size its log
	// beforehand (a log that grows while timed would time its copying).
	timeFrom time.Time
	expect   int
}

// writerLog is what one goroutine did.
type writerLog struct {
	ok     uint64         // Writes that returned no error
	failed []uint64       // the records whose Write failed
	errors map[string]int // their errors, by class
	timed  []timedWrite   // every Write that returned no error, when timed
}

// timedWrite is one Write: its record, and when it started and how long it
// took, in ns from load.timeFrom.
type timedWrite struct {
	seq        uint64
	start, dur int64
}

// run writes records 0, 1, 2… to w from l.goroutines goroutines, each
// taking the next number, until stop closes. With a rate, each goroutine
// keeps to a schedule of its own (staggered from the others'), and one
// that falls behind catches up, up to a second's worth.
func (l load) run(w io.Writer, stop <-chan struct{}) []writerLog {
	var (
		next atomic.Uint64
		wg   sync.WaitGroup
	)
	logs := make([]writerLog, l.goroutines)
	var interval time.Duration
	if l.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(l.goroutines) / float64(l.rate))
	}
	start := time.Now()
	for g := range l.goroutines {
		wg.Add(1)
		go func(lg *writerLog) {
			defer wg.Done()
			if !l.timeFrom.IsZero() {
				lg.timed = make([]timedWrite, 0, l.expect+l.expect/4+1024)
			}
			buf := make([]byte, 0, l.size)
			due := start.Add(interval * time.Duration(g) / time.Duration(l.goroutines))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if interval > 0 {
					switch d := time.Until(due); {
					case d > 0:
						time.Sleep(d)
					case d < -time.Second:
						due = time.Now()
					}
					due = due.Add(interval)
				}
				seq := next.Add(1) - 1
				buf = appendSelfRotRecord(buf[:0], l.proc, seq, l.size)
				t0 := time.Now()
				_, err := w.Write(buf)
				t1 := time.Now()
				if err != nil {
					lg.failed = append(lg.failed, seq)
					if lg.errors == nil {
						lg.errors = map[string]int{}
					}
					lg.errors[errorClass(err.Error())]++
					continue
				}
				lg.ok++
				if lg.timed != nil {
					lg.timed = append(lg.timed, timedWrite{seq, t0.Sub(l.timeFrom).Nanoseconds(), t1.Sub(t0).Nanoseconds()})
				}
			}
		}(&logs[g])
	}
	wg.Wait()
	return logs
}
