//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/watchedfile/watchedfile"
)

// The writers of the shipping test (shipping_test.go), run in the same
// child processes as the self-rotation table's (selfRotChild): the shipper
// reads what they write and forwards it to a central server.

// shippingWriter opens the writer a names for the shipping test, or
// returns ok false when the name is not one of them.
//
// WATCHEDFILE_SHIPPING_DROP_EVERY=N makes it a writer that loses records:
// it drops every Nth record and says it wrote it, to show that the test
// catches a lost record.
func shippingWriter(a selfRotChildArgs, ev *selfRotEvents) (w sink, ok bool, err error) {
	w, ok, err = openShippingWriter(a, ev)
	if s := os.Getenv("WATCHEDFILE_SHIPPING_DROP_EVERY"); ok && err == nil && s != "" {
		n, perr := strconv.ParseUint(s, 10, 64)
		if perr != nil || n == 0 {
			return w, ok, fmt.Errorf("WATCHEDFILE_SHIPPING_DROP_EVERY=%q: want a positive number", s)
		}
		w = &droppingWriter{sink: w, every: n, size: a.Size}
	}
	return w, ok, err
}

// droppingWriter drops the records whose sequence number is one less
// than a multiple of every, and says it wrote them.
type droppingWriter struct {
	sink
	every uint64
	size  int
}

func (d *droppingWriter) Write(p []byte) (int, error) {
	if _, seq, ok := parseSelfRotRecord(p[:len(p)-1], d.size); ok && seq%d.every == d.every-1 {
		return len(p), nil
	}
	return d.sink.Write(p)
}

// shipCreateDelay is WithCreateDelay(WATCHEDFILE_SHIPPING_CREATE_DELAY)
// if that is set (to measure another delay than the default), or no
// option.
func shipCreateDelay() watchedfile.Option {
	d, err := time.ParseDuration(os.Getenv(shipCreateDelayEnv))
	if err != nil {
		return watchedfile.WithCreateDelay(-1) // negative: the default stays
	}
	return watchedfile.WithCreateDelay(d)
}

const shipCreateDelayEnv = "WATCHEDFILE_SHIPPING_CREATE_DELAY"

func openShippingWriter(a selfRotChildArgs, ev *selfRotEvents) (w sink, ok bool, err error) {
	switch a.Writer {
	case "ship-watchedfile":
		// The library as a service opens it, others rotating the file.
		w, err = watchedfile.Open(a.Path, watchedfile.WithErrorHandler(ev.error), shipCreateDelay())
	case "ship-watchedfile-rotate":
		// The library rotating by itself, as docs/shipping.md sets it.
		w, err = watchedfile.Open(a.Path,
			watchedfile.WithErrorHandler(ev.error), shipCreateDelay(),
			watchedfile.WithRotation(watchedfile.Rotation{
				MaxSize:       int64(a.MaxKiB) << 10,
				Compress:      a.Compress,
				CompressDelay: time.Duration(a.CompressDelayMs) * time.Millisecond,
				OnRotate:      func(watchedfile.Rotated) { ev.rotations.Add(1) },
			}))
	case "ship-lumberjack":
		w = &lumberjack.Logger{Filename: a.Path, MaxSize: max(1, a.MaxKiB>>10), Compress: a.Compress}
	case "ship-append":
		// What `app >> file` does: one descriptor in append mode.
		w, err = os.OpenFile(a.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	case "ship-pipe":
		// Records to descriptor 3, a pipe into the watchedfile command.
		f := os.NewFile(3, "pipe")
		if f == nil {
			err = errors.New("no descriptor 3 to write to")
		}
		w = f
	default:
		return nil, false, nil
	}
	return w, true, err
}
