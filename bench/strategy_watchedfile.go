//go:build linux

package main

import (
	"time"

	"github.com/watchedfile/watchedfile"
)

// watchedfileInotifyStrategy is this library with its Linux default, inotify.
// The create delay is the default (1s): the rotator creates the new file
// itself, as logrotate does.
func watchedfileInotifyStrategy() strategy {
	return strategy{
		name: "watchedfile",
		desc: "watchedfile.Open, inotify (the Linux default)",
		open: func(path string) (sink, error) {
			return watchedfile.Open(path)
		},
	}
}

// watchedfileGroupCommitStrategy is this library with WithGroupCommit:
// concurrent Writes share writev(2) calls.
func watchedfileGroupCommitStrategy() strategy {
	return strategy{
		name: "watchedfile-gc",
		desc: "watchedfile.Open with WithGroupCommit, inotify",
		open: func(path string) (sink, error) {
			return watchedfile.Open(path, watchedfile.WithGroupCommit())
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
