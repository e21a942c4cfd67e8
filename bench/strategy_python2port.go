//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// errClosedStream is what Python 2 raised: ValueError("I/O operation on
// closed file").
var errClosedStream = errors.New("I/O operation on closed file")

// python2PortStrategy is a faithful Go port of Python 2.7's
// WatchedFileHandler.emit, the production bug: on a changed path it does
// stream.flush(); stream.close(); stream = _open(). If _open raises (the new
// file is not yet writable), self.stream is still the closed stream, not
// None, so every later emit finds the path "changed", calls flush() on the
// closed stream, raises "I/O operation on closed file" and never reopens.
func python2PortStrategy() strategy {
	return strategy{
		name: "python2port",
		desc: "Go port of Python 2.7's WatchedFileHandler (closes, then reopens; stuck if the reopen fails)",
		open: func(path string) (sink, error) {
			s := &python2Port{path: path}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				return nil, err
			}
			s.f = f
			if err := s.statStream(); err != nil {
				f.Close()
				return nil, err
			}
			return s, nil
		},
	}
}

type python2Port struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	closed   bool // the Python file object's .closed
	dev, ino uint64
}

func (s *python2Port) statStream() error {
	fi, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("python2port: %w", err)
	}
	s.dev, s.ino = devIno(fi)
	return nil
}

func (s *python2Port) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// stat the file by path, checking for existence
	fi, err := os.Stat(s.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("python2port: %w", err)
	}
	changed := err != nil
	if !changed {
		dev, ino := devIno(fi)
		changed = dev != s.dev || ino != s.ino
	}
	if changed && s.f != nil {
		// we have an open file handle, clean it up
		if s.closed { // self.stream.flush() on a closed file
			return 0, fmt.Errorf("python2port: flush: %w", errClosedStream)
		}
		s.f.Close()
		s.closed = true
		// open a new file handle and get new stat info from that fd
		f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return 0, fmt.Errorf("python2port: %w", err) // self.stream stays the closed file
		}
		s.f, s.closed = f, false
		if err := s.statStream(); err != nil {
			return 0, err
		}
	}
	if s.closed {
		return 0, fmt.Errorf("python2port: write: %w", errClosedStream)
	}
	return s.f.Write(p)
}

func (s *python2Port) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.f.Close()
}
