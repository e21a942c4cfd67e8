//go:build linux

package main

import (
	"fmt"
	"io"
	"strings"
)

// A sink is one opened log writer under test.
type sink interface {
	io.Writer
	Close() error
}

// A strategy is one way of writing a log file, compared with the others.
type strategy struct {
	name string
	desc string
	// python names the handler the python3 subprocess uses ("watched",
	// "file"); empty for the strategies written in Go, which use open.
	python string
	open   func(path string) (sink, error)
	// reference marks rows that are not contenders (the buffered ceiling).
	reference bool
	// rotates marks writers that rotate the file by themselves: the
	// rotation table, whose rotator renames the file, is not for them.
	rotates bool
}

// strategies lists every strategy in the order the tables show them.
func strategies() []strategy {
	return []strategy{
		rawStrategy(),
		watchedfileInotifyStrategy(),
		watchedfileOwnWritesStrategy(),
		watchedfilePollingStrategy(),
		watchedfileRotateStrategy(),
		statPerWriteStrategy(),
		python2PortStrategy(),
		lumberjackStrategy(),
		reopenStrategy(),
		pythonStrategy("python-watched", "watched", "Python logging.handlers.WatchedFileHandler (python3 subprocess)"),
		pythonStrategy("python-file", "file", "Python logging.FileHandler (python3 subprocess)"),
		bufferedStrategy(),
		watchedfileBufferedStrategy(),
		zapBufferedStrategy(),
	}
}

// selectStrategies returns the strategies named in a comma-separated list,
// or all of them for "all".
func selectStrategies(list string) ([]strategy, error) {
	all := strategies()
	if list == "" || list == "all" {
		return all, nil
	}
	var out []strategy
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, s := range all {
			if s.name == name {
				out = append(out, s)
				found = true
				break
			}
		}
		if !found {
			var names []string
			for _, s := range all {
				names = append(names, s.name)
			}
			return nil, fmt.Errorf("unknown strategy %q (have %s)", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}
