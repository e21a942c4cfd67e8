package examples_test

import (
	"log"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/watchedfile/watchedfile"
)

// zerolog writes each event with one Write call, so an event goes whole to
// one file.
func Example_zerolog() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	w, err := watchedfile.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	// A real service adds .With().Timestamp().Logger().
	logger := zerolog.New(w)

	logger.Info().Int("request", 1).Msg("served")
	rotate(path)
	waitReopens(w, 1)
	logger.Info().Int("request", 2).Msg("served")

	printFiles(path+".1", path)
	// Output:
	// app.log.1: {"level":"info","request":1,"message":"served"}
	// app.log: {"level":"info","request":2,"message":"served"}
}
