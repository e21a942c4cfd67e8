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
// dated name, final from then on, and a new file created at the path. All
// in d, the path's directory. Called with the rotation lock held.
func (r *rotator) rollover(d *logDir, t time.Time) (f *os.File, info fs.FileInfo, old, name string, err error) {
	n := r.names
	if e, err := d.lstat(n.live); err == nil {
		if !d.ours(e, 0) {
			return nil, nil, "", "", fmt.Errorf("rename %s to its dated name: %w", r.path, ErrUnsafeFile)
		}
		old = n.dated(t)
		if err := d.renameNoReplace(n.live, old); err != nil {
			return nil, nil, "", "", err
		}
		old = filepath.Join(n.dir, old)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, "", "", err
	}
	f, info, err = r.createFile(d, n.live)
	if err != nil {
		return nil, nil, "", "", err
	}
	r.created = t
	return f, info, old, n.live, nil
}

// liveStart returns when the file at the path, cur, which has no dated
// name yet, was started: when this Writer created it, or else its creation
// time. Called with making held.
func (r *rotator) liveStart(cur fs.FileInfo) time.Time {
	if !r.created.IsZero() {
		return r.created
	}
	return creationTime(cur)
}
