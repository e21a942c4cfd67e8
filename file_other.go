//go:build !unix && !windows

package watchedfile

import (
	"errors"
	"io/fs"
	"os"
	"time"
)

// unlinked is unknown here; a deleted file is noticed by its path instead.
func unlinked(*os.File) bool { return false }

// deletePending is unknown here: false.
func deletePending(*os.File) bool { return false }

// dupFile is not available here: Sync fails.
func dupFile(*os.File) (*os.File, error) { return nil, errors.ErrUnsupported }

// nodeOf reports that this system has no Unix owners: the rules do not apply.
func nodeOf(fs.FileInfo) (node, bool) { return node{}, false }

// euid is a user no file belongs to here.
func euid() uint32 { return ^uint32(0) }

// creationTime is unknown here.
func creationTime(fs.FileInfo) time.Time { return time.Time{} }

// renameNoReplace gives the file at old the name new, unless new exists:
// it looks first, so a name made in between is replaced.
func renameNoReplace(old, new string) error {
	if _, err := os.Lstat(new); !errors.Is(err, fs.ErrNotExist) {
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: fs.ErrExist}
	}
	return os.Rename(old, new)
}

// idOf is zero here: a logDir's entries have no device and inode either.
func idOf(fs.FileInfo) [2]uint64 { return [2]uint64{} }

// giveLike gives f, just created, the mode of the file fi describes.
func giveLike(f *os.File, fi fs.FileInfo) error { return f.Chmod(fi.Mode().Perm()) }
