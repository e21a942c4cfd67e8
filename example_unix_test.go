//go:build unix

package watchedfile_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/watchedfile/watchedfile"
)

// Signals are Unix's: Windows has no SIGHUP to send.

// A service whose logrotate postrotate script runs "kill -HUP" reopens its
// logs on the signal. Polling once a minute here, only the signal makes the
// switch in time.
func ExampleReopenOnSignal() {
	dir := exTempDir()
	defer os.RemoveAll(dir)
	access := filepath.Join(dir, "access.log")
	errs := filepath.Join(dir, "error.log")

	aw, err := watchedfile.Open(access, watchedfile.WithPolling(time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer aw.Close()
	ew, err := watchedfile.Open(errs, watchedfile.WithPolling(time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer ew.Close()

	// SIGHUP unless other signals are named.
	stop := watchedfile.ReopenOnSignal([]*watchedfile.Writer{aw, ew})
	defer stop()

	fmt.Fprintln(aw, "GET / 200")
	fmt.Fprintln(ew, "upstream timed out")

	// logrotate: rename both logs, then "postrotate kill -HUP <pid>".
	for _, path := range []string{access, errs} {
		if err := os.Rename(path, path+".1"); err != nil {
			log.Fatal(err)
		}
	}
	self, err := os.FindProcess(os.Getpid())
	if err != nil {
		log.Fatal(err)
	}
	if err := self.Signal(syscall.SIGHUP); err != nil {
		log.Fatal(err)
	}
	exWaitReopens(aw, 1)
	exWaitReopens(ew, 1)

	fmt.Fprintln(aw, "GET /about 200")
	fmt.Fprintln(ew, "upstream recovered")

	exPrint(dir, access+".1", access, errs+".1", errs)
	// Output:
	// access.log.1: GET / 200
	// access.log: GET /about 200
	// error.log.1: upstream timed out
	// error.log: upstream recovered
}
