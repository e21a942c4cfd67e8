package examples_test

import (
	"bufio"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/watchedfile/watchedfile"
)

// tempDir returns a new directory for an example's log files.
func tempDir() string {
	dir, err := os.MkdirTemp("", "watchedfile-example-")
	if err != nil {
		log.Fatal(err)
	}
	return dir
}

// rotate does what logrotate's create mode does: rename the log to path.1
// and create a new, empty log at the path.
func rotate(path string) {
	if err := os.Rename(path, path+".1"); err != nil {
		log.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	f.Close()
}

// waitReopens waits until w has switched files n times in all: milliseconds
// with inotify, up to one interval when polling.
func waitReopens(w *watchedfile.Writer, n uint64) {
	for deadline := time.Now().Add(10 * time.Second); w.Stats().Reopens < n; {
		if time.Now().After(deadline) {
			log.Fatalf("the writer did not switch files: %+v", w.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// printFiles prints each line of the files at paths after the file's base
// name.
func printFiles(paths ...string) {
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			log.Fatal(err)
		}
		for sc := bufio.NewScanner(f); sc.Scan(); {
			fmt.Printf("%s: %s\n", filepath.Base(path), sc.Text())
		}
		f.Close()
	}
}
