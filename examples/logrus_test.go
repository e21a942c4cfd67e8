package examples_test

import (
	"log"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/watchedfile/watchedfile"
)

// logrus formats each entry and writes it with one Write call, under its
// own lock, so an entry goes whole to one file. For the package-level
// logger, call logrus.SetOutput(w) instead.
func Example_logrus() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	w, err := watchedfile.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	logger := logrus.New()
	logger.SetOutput(w)
	// No timestamps, for the example's output.
	logger.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})

	logger.WithField("request", 1).Info("served")
	rotate(path)
	waitReopens(w, 1)
	logger.WithField("request", 2).Info("served")

	printFiles(path+".1", path)
	// Output:
	// app.log.1: level=info msg=served request=1
	// app.log: level=info msg=served request=2
}
