//go:build unix

package watchedfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// rollover makes the path name a new file started at t, and returns it open
// and the names of the old file and the new one: a new dated file, and the
// path, a symlink, pointed at it. A regular file found at the path (the
// first rotation of a log written before) is given its dated name first.
// Called with the rotation lock held.
//
// Records are written straight to the file's final name, which never
// changes: a reader that follows the dated names loses and repeats nothing,
// however late it reads (see the package documentation).
func (w *Writer) rollover(t time.Time) (f *os.File, info fs.FileInfo, old, name string, err error) {
	n := w.rot.names
	fi, err := os.Lstat(w.path)
	switch {
	case err == nil && fi.Mode().IsRegular():
		old = n.dated(t)
		if _, err := os.Lstat(filepath.Join(n.dir, old)); !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, "", "", fmt.Errorf("rename %s: %s exists", w.path, old)
		}
		if err := os.Rename(w.path, filepath.Join(n.dir, old)); err != nil {
			return nil, nil, "", "", err
		}
		t = t.Add(time.Millisecond)
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		if target, err := os.Readlink(w.path); err == nil {
			old = filepath.Base(target)
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, nil, "", "", err
	}
	if old != "" {
		old = filepath.Join(n.dir, old)
	}
	name = n.dated(t)
	f, info, err = w.createFile(filepath.Join(n.dir, name))
	if err != nil {
		return nil, nil, "", "", err
	}
	if err := symlinkOver(name, w.path); err != nil {
		f.Close()
		os.Remove(filepath.Join(n.dir, name))
		return nil, nil, "", "", err
	}
	return f, info, old, name, nil
}

// symlinkOver makes path a symlink to target, atomically: a new link under
// a temporary name, renamed over path.
func symlinkOver(target, path string) error {
	var b [8]byte
	for {
		rand.Read(b[:])
		tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+hex.EncodeToString(b[:])+".link")
		err := os.Symlink(target, tmp)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return err
		}
		return nil
	}
}

// liveStart is zero: the live file's dated name says when it was started.
func (w *Writer) liveStart() time.Time { return time.Time{} }
