//go:build unix

package watchedfile

import (
	"io/fs"
	"syscall"
)

// maxLinkHops bounds how many symlinks openFile follows, as the kernel's
// MAXSYMLINKS does.
const maxLinkHops = 40

// linkCount returns the number of names the file has; 0 means deleted.
func linkCount(fi fs.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Nlink), true
}
