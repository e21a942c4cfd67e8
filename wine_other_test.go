//go:build !windows

package watchedfile_test

// underWine is false: wine runs Windows binaries only.
func underWine() bool { return false }
