//go:build linux

package main

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/DeRuina/timberjack"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/watchedfile/watchedfile"
)

// The writers that rotate their file by themselves, compared in the
// self-rotation tables (selfrot_procs.go, selfrot_pause.go): each set to
// rotate at the same size and to gzip what it rotated.

// A selfRotWriter is one self-rotating writer under test.
type selfRotWriter struct {
	name, desc string
	// open opens it on path, to rotate at maxMiB MiB, compressing when
	// compress is set; what it tells of its work goes to ev.
	open func(path string, maxMiB int, compress bool, ev *selfRotEvents) (sink, error)
	// compressesAfterClose: its compression goes on in a goroutine of its
	// own after Close (lumberjack, timberjack), so that the files are not
	// all there yet when Close returns.
	compressesAfterClose bool
}

// selfRotEvents is what a writer tells of its own work: the rotations it
// made and the failures it reported outside Write (watchedfile only: the
// others have no hook for either).
type selfRotEvents struct {
	rotations atomic.Int64
	mu        sync.Mutex
	errors    map[string]int
}

func (ev *selfRotEvents) error(err error) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.errors == nil {
		ev.errors = map[string]int{}
	}
	ev.errors[errorClass(err.Error())]++
}

func (ev *selfRotEvents) errorCounts() map[string]int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	out := make(map[string]int, len(ev.errors))
	for k, v := range ev.errors {
		out[k] = v
	}
	return out
}

func selfRotWriters() []selfRotWriter {
	return []selfRotWriter{
		{
			name: "watchedfile",
			desc: "watchedfile.WithRotation(Rotation{MaxSize: N MiB, Compress: true, CompressDelay: -1}): dated files, a symlink repointed under a flock, compression once no process has the file open for writing",
			open: func(path string, maxMiB int, compress bool, ev *selfRotEvents) (sink, error) {
				return watchedfile.Open(path,
					watchedfile.WithErrorHandler(ev.error),
					watchedfile.WithRotation(watchedfile.Rotation{
						MaxSize:  int64(maxMiB) << 20,
						Compress: compress,
						// At once, as the others do: the harder case
						// (the default waits a minute).
						CompressDelay: -1,
						OnRotate:      func(watchedfile.Rotated) { ev.rotations.Add(1) },
					}))
			},
		},
		{
			name:                 "lumberjack",
			compressesAfterClose: true,
			desc:                 "gopkg.in/natefinch/lumberjack.v2 v2.2.1, Logger{MaxSize: N, Compress: true}",
			open: func(path string, maxMiB int, compress bool, _ *selfRotEvents) (sink, error) {
				return &lumberjack.Logger{Filename: path, MaxSize: maxMiB, Compress: compress}, nil
			},
		},
		{
			name:                 "timberjack",
			compressesAfterClose: true,
			desc:                 "github.com/DeRuina/timberjack v1.4.10, Logger{MaxSize: N, Compression: \"gzip\"}",
			open: func(path string, maxMiB int, compress bool, _ *selfRotEvents) (sink, error) {
				c := "none"
				if compress {
					c = "gzip"
				}
				return &timberjack.Logger{Filename: path, MaxSize: maxMiB, Compression: c}, nil
			},
		},
	}
}

// selectSelfRotWriters returns the writers named in a comma-separated list,
// or all of them for "all".
func selectSelfRotWriters(list string) ([]selfRotWriter, error) {
	all := selfRotWriters()
	if list == "" || list == "all" {
		return all, nil
	}
	var out []selfRotWriter
	var names []string
	for _, w := range all {
		names = append(names, w.name)
	}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, w := range all {
			if w.name == name {
				out = append(out, w)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown self-rotating writer %q (have %s)", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}

var (
	classTime   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(\.\d+)?Z?`)
	classDigits = regexp.MustCompile(`\d+`)
	classPath   = regexp.MustCompile(`/[^ :]*/`)
)

// errorClass makes messages that differ only in file names, times and
// numbers one: "rename DIR/app.log DIR/app-T.log: no such file or directory".
func errorClass(msg string) string {
	msg = classPath.ReplaceAllString(msg, "DIR/")
	msg = classTime.ReplaceAllString(msg, "T")
	return classDigits.ReplaceAllString(msg, "N")
}
