//go:build !unix

package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// rollover makes the path name a new file started at t, and returns it open
// and the names of the old file and the new one. Without symlinks (Windows
// grants them only to some users), the file at the path is renamed to its
// dated name, final from then on, and a new file created at the path.
// Called with the rotation lock held.
func (w *Writer) rollover(t time.Time) (f *os.File, info fs.FileInfo, old, name string, err error) {
	n := w.rot.names
	if _, err := os.Lstat(w.path); err == nil {
		if !w.rot.files.trust.own(w.path, 0) {
			return nil, nil, "", "", fmt.Errorf("rename %s to its dated name: %w", w.path, ErrUnsafeFile)
		}
		old = filepath.Join(n.dir, n.dated(t))
		if err := renameNoReplace(w.path, old); err != nil {
			return nil, nil, "", "", err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, "", "", err
	}
	f, info, err = w.createFile(w.path)
	if err != nil {
		return nil, nil, "", "", err
	}
	w.rot.created = t
	return f, info, old, filepath.Base(w.path), nil
}

// liveStart returns when the file at the path, which has no dated name yet,
// was started: when this Writer created it, or else its creation time.
// Called with the write lock held.
func (w *Writer) liveStart() time.Time {
	if !w.rot.created.IsZero() {
		return w.rot.created
	}
	return creationTime(w.out.info)
}
