package watchedfile_test

import (
	"bufio"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/watchedfile/watchedfile"
)

// Each example writes a record, rotates the file the way logrotate's create
// mode does, writes again, and prints both files: the Writer followed the
// rotation by itself.

// exTempDir returns a new directory for an example's log files.
func exTempDir() string {
	dir, err := os.MkdirTemp("", "watchedfile-example-")
	if err != nil {
		log.Fatal(err)
	}
	return dir
}

// exRotate does what logrotate's create mode does: rename the log to
// path.1 and create a new, empty log at the path.
func exRotate(path string) {
	if err := os.Rename(path, path+".1"); err != nil {
		log.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	f.Close()
}

// exWaitReopens waits until w has switched files n times in all. With
// inotify that takes milliseconds; when polling, up to one interval.
func exWaitReopens(w *watchedfile.Writer, n uint64) {
	for deadline := time.Now().Add(10 * time.Second); w.Stats().Reopens < n; {
		if time.Now().After(deadline) {
			log.Fatalf("the writer did not switch files: %+v", w.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// exPrint prints each line of the files at paths, after the file's name
// relative to dir.
func exPrint(dir string, paths ...string) {
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			log.Fatal(err)
		}
		name, _ := filepath.Rel(dir, path)
		for sc := bufio.NewScanner(f); sc.Scan(); {
			fmt.Printf("%s: %s\n", filepath.ToSlash(name), sc.Text())
		}
		f.Close()
	}
}

func ExampleOpen() {
	dir := exTempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	w, err := watchedfile.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	fmt.Fprintln(w, "before rotation")

	// logrotate (create mode) renames the file and creates a new one.
	if err := os.Rename(path, path+".1"); err != nil {
		log.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	f.Close()

	// The Writer notices in the background. The example waits for it only
	// to show the second record in the new file.
	exWaitReopens(w, 1)
	fmt.Fprintln(w, "after rotation")

	exPrint(dir, path+".1", path)
	// Output:
	// app.log.1: before rotation
	// app.log: after rotation
}

// The standard library's log package writes each record with one Write
// call, so a record never straddles two files.
func Example_log() {
	dir := exTempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	w, err := watchedfile.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	logger := log.New(w, "app: ", 0) // flags 0: no timestamps, for the example's output

	logger.Printf("request %d served", 1)
	exRotate(path)
	exWaitReopens(w, 1)
	logger.Printf("request %d served", 2)

	exPrint(dir, path+".1", path)
	// Output:
	// app.log.1: app: request 1 served
	// app.log: app: request 2 served
}

// exNoTime drops slog's time attribute so the example's output is the same
// on every run. A real service keeps it.
func exNoTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

// A *Writer is an io.Writer for any slog handler; the JSON handler writes
// each record with one Write call.
func Example_slogJSON() {
	dir := exTempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	w, err := watchedfile.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	logger := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: exNoTime}))

	logger.Info("served", "request", 1)
	exRotate(path)
	exWaitReopens(w, 1)
	logger.Info("served", "request", 2)

	exPrint(dir, path+".1", path)
	// Output:
	// app.log.1: {"level":"INFO","msg":"served","request":1}
	// app.log: {"level":"INFO","msg":"served","request":2}
}

// The same with slog's text handler, as slog.SetDefault would use it for the
// whole program.
func Example_slogText() {
	dir := exTempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	w, err := watchedfile.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: exNoTime}))

	logger.Warn("disk almost full", "free", "3%")
	exRotate(path)
	exWaitReopens(w, 1)
	logger.Warn("disk almost full", "free", "2%")

	exPrint(dir, path+".1", path)
	// Output:
	// app.log.1: level=WARN msg="disk almost full" free=3%
	// app.log: level=WARN msg="disk almost full" free=2%
}

// Reopen switches files at once, without waiting for the background check:
// call it when a rotation tool tells the process it has rotated. When the
// path is missing, Reopen creates the file.
func ExampleWriter_Reopen() {
	dir := exTempDir()
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")

	w, err := watchedfile.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	fmt.Fprintln(w, "before rotation")
	if err := os.Rename(path, path+".1"); err != nil {
		log.Fatal(err)
	}
	if err := w.Reopen(); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(w, "after rotation")

	exPrint(dir, path+".1", path)
	// Output:
	// app.log.1: before rotation
	// app.log: after rotation
}

// WithMkdirAll creates the log's directory when it is missing, at Open and
// whenever the Writer reopens the file. Here the whole log directory is
// moved away; the Writer creates it again. Both modes are reduced by the
// process umask, as with os.OpenFile and os.MkdirAll: with the common umask
// 022 they are used as given.
func ExampleWithMkdirAll() {
	dir := exTempDir()
	defer os.RemoveAll(dir)
	logs := filepath.Join(dir, "logs", "app")
	path := filepath.Join(logs, "app.log")

	w, err := watchedfile.Open(path,
		watchedfile.WithMkdirAll(0o750), // the directories, when created
		watchedfile.WithMode(0o640),     // the file, when created
		watchedfile.WithCreateDelay(0),  // nobody else creates it: at once
	)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	fmt.Fprintln(w, "before the move")
	if err := os.Rename(logs, logs+".old"); err != nil {
		log.Fatal(err)
	}
	exWaitReopens(w, 1)
	fmt.Fprintln(w, "after the move")

	exPrint(dir, filepath.Join(logs+".old", "app.log"), path)
	// Output:
	// logs/app.old/app.log: before the move
	// logs/app/app.log: after the move
}
