package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// reporter writes one line per event to stderr, at most one line per kind
// per interval; the lines it held back are counted in the next one.
type reporter struct {
	mu       sync.Mutex
	w        io.Writer
	interval time.Duration
	now      func() time.Time
	last     map[string]time.Time
	held     map[string]int
}

func newReporter(w io.Writer, interval time.Duration) *reporter {
	return &reporter{w: w, interval: interval, now: time.Now,
		last: map[string]time.Time{}, held: map[string]int{}}
}

// report prints "watchedfile: " and the message unless a line of the same
// kind was printed less than interval ago.
func (r *reporter) report(kind, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if t, ok := r.last[kind]; ok && now.Sub(t) < r.interval {
		r.held[kind]++
		return
	}
	r.last[kind] = now
	msg := fmt.Sprintf(format, args...)
	if n := r.held[kind]; n > 0 {
		msg += fmt.Sprintf(" (%d more like it not shown)", n)
		r.held[kind] = 0
	}
	fmt.Fprintf(r.w, "watchedfile: %s\n", msg)
}

// always prints a line whatever the rate.
func (r *reporter) always(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, "watchedfile: "+format+"\n", args...)
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("watchedfile: "+format, args...)
}

// errText is err's text without the package's "watchedfile: " prefix, for
// lines that already start with it.
func errText(err error) string {
	return strings.TrimPrefix(err.Error(), "watchedfile: ")
}
