//go:build !unix && !windows

package watchedfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// openFile opens path like os.OpenFile, with mkdirs making missing
// directories first (mode dirPerm). Symlink ownership is not checked on
// systems without Unix owners.
func openFile(path string, flag int, perm fs.FileMode, mkdirs bool, dirPerm fs.FileMode) (*os.File, error) {
	if mkdirs {
		if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
			return nil, err
		}
	}
	return os.OpenFile(path, flag, perm)
}

// unlinked is unknown here; a deleted file is noticed by its path instead.
func unlinked(*os.File) bool { return false }

// deletePending is unknown here: false.
func deletePending(*os.File) bool { return false }

// dupFile is not available here: Sync fails.
func dupFile(*os.File) (*os.File, error) { return nil, errors.ErrUnsupported }

// lock does nothing here: there is no file lock to take.
func lock(*os.File, bool) error { return nil }

// chown does nothing here.
func chown(*os.File, int, int) error { return nil }

// openRead opens path for reading.
func openRead(path string) (*os.File, error) { return os.Open(path) }

// creationTime is unknown here.
func creationTime(fs.FileInfo) time.Time { return time.Time{} }
