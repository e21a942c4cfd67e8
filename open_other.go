//go:build !unix && !windows

package watchedfile

import (
	"os"
	"path/filepath"
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
