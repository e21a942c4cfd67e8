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
	"strings"
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
func (r *rotator) rollover(t time.Time) (f *os.File, info fs.FileInfo, old, name string, err error) {
	n := r.names
	r.removeStaleLinks()
	fi, err := os.Lstat(r.path)
	switch {
	case err == nil && fi.Mode().IsRegular():
		if !r.files.trust.own(r.path, 0) {
			return nil, nil, "", "", fmt.Errorf("rename %s to its dated name: %w", r.path, ErrUnsafeFile)
		}
		old = n.dated(t)
		if err := renameNoReplace(r.path, filepath.Join(n.dir, old)); err != nil {
			return nil, nil, "", "", err
		}
		t = t.Add(time.Millisecond)
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		if target, err := os.Readlink(r.path); err == nil {
			old = filepath.Base(target)
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, nil, "", "", err
	}
	if old != "" {
		old = filepath.Join(n.dir, old)
	}
	name = n.dated(t)
	f, info, err = r.createFile(filepath.Join(n.dir, name))
	if err != nil {
		return nil, nil, "", "", err
	}
	if err := symlinkOver(name, r.path); err != nil {
		f.Close()
		r.files.trust.removeOwn(filepath.Join(n.dir, name), 0)
		return nil, nil, "", "", err
	}
	return f, info, old, name, nil
}

// symlinkOver makes path a symlink to target, atomically: a new link under
// a temporary name (linkName), renamed over path.
func symlinkOver(target, path string) error {
	var b [8]byte
	for {
		rand.Read(b[:])
		tmp := filepath.Join(filepath.Dir(path), linkName(filepath.Base(path), hex.EncodeToString(b[:])))
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

// linkName is the temporary name of a new link to the live file: hidden,
// beside the path base, with 16 hexadecimal digits.
func linkName(base, hexDigits string) string { return "." + base + "." + hexDigits + ".link" }

// removeStaleLinks removes the rotation's own temporary links that a
// process killed between making one and renaming it left. Called with the
// rotation lock held: no other process is making one.
func (r *rotator) removeStaleLinks() {
	entries, err := os.ReadDir(r.names.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "."+r.names.live+".")
		digits, ok2 := strings.CutSuffix(rest, ".link")
		if ok && ok2 && len(digits) == 16 && strings.Trim(digits, "0123456789abcdef") == "" {
			r.files.trust.removeOwn(filepath.Join(r.names.dir, e.Name()), fs.ModeSymlink)
		}
	}
}

// liveStart is zero: the live file's dated name says when it was started.
func (r *rotator) liveStart(fs.FileInfo) time.Time { return time.Time{} }
