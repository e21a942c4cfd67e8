//go:build !unix

package watchedfile

import (
	"io/fs"
	"os"
)

// openFile opens path like os.OpenFile. Symlink ownership is not checked on
// systems without Unix owners.
func openFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag, perm)
}

// linkCount is unknown here; a deleted file is noticed by its path instead.
func linkCount(fs.FileInfo) (uint64, bool) { return 0, false }
