//go:build linux

package main

import (
	"errors"
	"os"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/watchedfile/watchedfile"
)

// The writers of the shipping test (shipping_test.go), run in the same
// child processes as the self-rotation table's (selfRotChild): the shipper
// reads what they write and forwards it to a central server.

// shippingWriter opens the writer a names for the shipping test, or
// returns ok false when the name is not one of them.
func shippingWriter(a selfRotChildArgs, ev *selfRotEvents) (w sink, ok bool, err error) {
	switch a.Writer {
	case "ship-watchedfile":
		// The library as a service opens it, others rotating the file.
		w, err = watchedfile.Open(a.Path, watchedfile.WithErrorHandler(ev.error))
	case "ship-watchedfile-rotate":
		// The library rotating by itself, as docs/shipping.md sets it.
		w, err = watchedfile.Open(a.Path,
			watchedfile.WithErrorHandler(ev.error),
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
