//go:build !unix && !windows

package watchedfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// openFile opens path as how says, like os.OpenFile, with mkdirs making
// missing directories first (mode dirPerm). The rules of safety.go do not
// apply on systems without Unix owners.
func openFile(path string, how openHow) (*os.File, error) {
	if how.mkdirs {
		if err := os.MkdirAll(filepath.Dir(path), how.dirPerm); err != nil {
			return nil, err
		}
	}
	return os.OpenFile(path, how.flag, how.perm)
}

// unlinked is unknown here; a deleted file is noticed by its path instead.
func unlinked(*os.File) bool { return false }

// deletePending is unknown here: false.
func deletePending(*os.File) bool { return false }

// dupFile is not available here: Sync fails.
func dupFile(*os.File) (*os.File, error) { return nil, errors.ErrUnsupported }

// lock does nothing here: there is no file lock to take.
func lock(*os.File, lockHow) error { return nil }

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
