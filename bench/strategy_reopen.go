//go:build linux

package main

import (
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/client9/reopen"
)

// reopenStrategy is github.com/client9/reopen's FileWriter, reopened on
// SIGHUP the way its README shows. The rotation test sends SIGHUP after each
// rotation, as a logrotate postrotate script would.
func reopenStrategy() strategy {
	return strategy{
		name: "reopen",
		desc: "github.com/client9/reopen v1.0.0 FileWriter, Reopen on SIGHUP",
		open: func(path string) (sink, error) {
			f, err := reopen.NewFileWriterMode(path, 0o644)
			if err != nil {
				return nil, err
			}
			s := &reopenSink{w: f, sig: make(chan os.Signal, 1), done: make(chan struct{})}
			signal.Notify(s.sig, syscall.SIGHUP)
			s.wg.Add(1)
			go s.loop()
			return s, nil
		},
	}
}

type reopenSink struct {
	w    *reopen.FileWriter
	sig  chan os.Signal
	done chan struct{}
	wg   sync.WaitGroup
}

func (s *reopenSink) loop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case <-s.sig:
			s.w.Reopen() // on failure its file is gone until the next signal
		}
	}
}

func (s *reopenSink) Write(p []byte) (int, error) { return s.w.Write(p) }

func (s *reopenSink) Close() error {
	signal.Stop(s.sig)
	close(s.done)
	s.wg.Wait()
	err := s.w.Close()
	if errors.Is(err, os.ErrInvalid) { // its file was gone after a failed reopen
		return nil
	}
	return err
}
