//go:build linux

package main

import (
	"time"

	"github.com/watchedfile/watchedfile"
)

// watchedfileInotifyStrategy is this library with its Linux defaults:
// inotify, and group commit (concurrent Writes share writev(2) calls). The
// create delay is the default (1s): the rotator creates the new file itself,
// as logrotate does.
func watchedfileInotifyStrategy() strategy {
	return strategy{
		name: "watchedfile",
		desc: "watchedfile.Open, inotify and group commit (the Linux defaults)",
		open: func(path string) (sink, error) {
			return watchedfile.Open(path)
		},
	}
}

// watchedfileOwnWritesStrategy is this library WithoutGroupCommit: each
// Write makes its own write(2), in turn.
func watchedfileOwnWritesStrategy() strategy {
	return strategy{
		name: "watchedfile-own",
		desc: "watchedfile.Open with WithoutGroupCommit (a write(2) per Write), inotify",
		open: func(path string) (sink, error) {
			return watchedfile.Open(path, watchedfile.WithoutGroupCommit())
		},
	}
}

// watchedfilePollingStrategy is this library polling the path once a second.
func watchedfilePollingStrategy() strategy {
	return strategy{
		name: "watchedfile-poll",
		desc: "watchedfile.Open with WithPolling(1s)",
		open: func(path string) (sink, error) {
			return watchedfile.Open(path, watchedfile.WithPolling(time.Second))
		},
	}
}

// watchedfileBufferedStrategy is this library, inotify, with WithBuffer
// (256 KiB, flushed every second), to compare with bufio and zap's
// BufferedWriteSyncer. Unlike them it follows rotations: buffered records go
// to the file that is current when they are flushed.
func watchedfileBufferedStrategy() strategy {
	return strategy{
		name: "watchedfile-buffered",
		desc: "watchedfile.Open with WithBuffer(256 KiB, 1s), inotify",
		open: func(path string) (sink, error) {
			return watchedfile.Open(path, watchedfile.WithBuffer(256<<10, time.Second))
		},
	}
}
