//go:build !linux

package watchedfile

// newWatcher reports that this system has no event source for files: every
// Writer polls (see the goroutine in life.go).
func newWatcher(changed func()) (watcher, error) { return nil, nil }
