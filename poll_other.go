//go:build !linux

package watchedfile

// newWatcher reports that this system has no event source for files: every
// Writer polls (see the goroutine in switch.go).
func newWatcher(flag func()) (watcher, error) { return nil, nil }
