//go:build unix && !linux

package watchedfile

import (
	"io/fs"
	"os"
	"syscall"
)

// readLink returns the owner and target of the symlink at name. Without
// Linux's O_PATH it reads them separately and checks that the link did not
// change in between.
func readLink(name string) (owner uint32, target string, err error) {
	before, err := os.Lstat(name)
	if err != nil {
		return 0, "", err
	}
	target, err = os.Readlink(name)
	if err != nil {
		return 0, "", err
	}
	after, err := os.Lstat(name)
	if err != nil {
		return 0, "", err
	}
	st, ok := after.Sys().(*syscall.Stat_t)
	if !ok || !os.SameFile(before, after) || after.Mode()&fs.ModeSymlink == 0 {
		return 0, "", &fs.PathError{Op: "readlink", Path: name, Err: syscall.EAGAIN}
	}
	return st.Uid, target, nil
}
