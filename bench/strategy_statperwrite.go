//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// statPerWriteStrategy is a Go port of Python 3's WatchedFileHandler
// (Lib/logging/handlers.py): before every record, stat the path and compare
// device and inode with the open file's; if they differ or the path is gone,
// close the stream, set it to nil, and open the path again. A failed open
// fails that record; the next record tries again (FileHandler.emit opens a
// nil stream).
func statPerWriteStrategy() strategy {
	return strategy{
		name: "statperwrite",
		desc: "Go port of Python 3's WatchedFileHandler: stat(2) the path before every record",
		open: func(path string) (sink, error) {
			s := &statPerWrite{path: path}
			if err := s.openStream(); err != nil {
				return nil, err
			}
			return s, nil
		},
	}
}

type statPerWrite struct {
	mu       sync.Mutex // the Handler's lock, held around emit
	path     string
	f        *os.File // nil: closed, opened again by the next record
	dev, ino uint64
}

func (s *statPerWrite) openStream() error {
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	s.f = f
	// _statstream: fstat the new stream.
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("statperwrite: %w", err)
	}
	s.dev, s.ino = devIno(fi)
	return nil
}

// reopenIfNeeded is WatchedFileHandler.reopenIfNeeded.
func (s *statPerWrite) reopenIfNeeded() error {
	fi, err := os.Stat(s.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err == nil {
		if dev, ino := devIno(fi); dev == s.dev && ino == s.ino {
			return nil
		}
	}
	if s.f != nil {
		s.f.Close()
		s.f = nil
		return s.openStream()
	}
	return nil
}

func (s *statPerWrite) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reopenIfNeeded(); err != nil {
		return 0, fmt.Errorf("statperwrite: %w", err)
	}
	if s.f == nil { // FileHandler.emit: open a stream that is None
		if err := s.openStream(); err != nil {
			return 0, fmt.Errorf("statperwrite: %w", err)
		}
	}
	return s.f.Write(p)
}

func (s *statPerWrite) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

func devIno(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}
