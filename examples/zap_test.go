package examples_test

import (
	"log"
	"os"
	"path/filepath"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/watchedfile/watchedfile"
)

// A *Writer has Write and Sync, so it is a zapcore.WriteSyncer as it is: no
// zapcore.AddSync, and logger.Sync reaches the file's fsync.
var _ zapcore.WriteSyncer = (*watchedfile.Writer)(nil)

// zap's core writes each entry with one Write call, so an entry goes whole
// to one file.
func Example_zap() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	w, err := watchedfile.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "" // no timestamps, for the example's output
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), w, zap.InfoLevel))

	logger.Info("served", zap.Int("request", 1))
	rotate(path)
	waitReopens(w, 1)
	logger.Info("served", zap.Int("request", 2))
	if err := logger.Sync(); err != nil {
		log.Fatal(err)
	}

	printFiles(path+".1", path)
	// Output:
	// app.log.1: {"level":"info","msg":"served","request":1}
	// app.log: {"level":"info","msg":"served","request":2}
}
