//go:build linux

package main

import (
	"errors"
	"os"
	"time"

	"go.uber.org/zap/zapcore"
)

// zapBufferedStrategy is zap's BufferedWriteSyncer (256 KiB, flushed every
// second) over the raw file: the buffered writer zap users reach for. Like
// bufio, it follows nothing; records still in its buffer are lost if the
// process dies.
func zapBufferedStrategy() strategy {
	return strategy{
		name:      "zap-buffered",
		desc:      "zapcore.BufferedWriteSyncer (256 KiB, 1s) over the raw file; follows nothing",
		reference: true,
		open: func(path string) (sink, error) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				return nil, err
			}
			ws := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(f), Size: 256 << 10, FlushInterval: time.Second}
			return &zapSink{f: f, ws: ws}, nil
		},
	}
}

type zapSink struct {
	f  *os.File
	ws *zapcore.BufferedWriteSyncer
}

func (z *zapSink) Write(p []byte) (int, error) { return z.ws.Write(p) }

// Close flushes and stops zap's goroutine, then closes the file.
func (z *zapSink) Close() error { return errors.Join(z.ws.Stop(), z.f.Close()) }
