//go:build unix

package watchedfile

import (
	"os"
	"syscall"
)

// maxLinkHops bounds how many symlinks openFile follows, as the kernel's
// MAXSYMLINKS does.
const maxLinkHops = 40

// unlinked reports whether the open file f has no name left (rm, or another
// file renamed over it): fstat says its link count is 0.
func unlinked(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}

// deletePending is false: a Unix unlink removes the name at once, whatever
// holds the file open.
func deletePending(*os.File) bool { return false }
