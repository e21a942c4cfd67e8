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
// first rotation of a log written before) is given its dated name first,
// if it is the rotation's own. All in d, the path's directory, held open.
// Called with the rotation lock held.
//
// Records are written straight to the file's final name, which never
// changes: a reader that follows the dated names loses and repeats nothing,
// however late it reads (see the package documentation).
func (r *rotator) rollover(d *logDir, t time.Time) (f *os.File, info fs.FileInfo, old, name string, err error) {
	n := r.names
	r.removeStaleLinks(d)
	e, err := d.lstat(n.live)
	switch {
	case err == nil && e.node.mode.IsRegular():
		if !d.ours(e, 0) {
			return nil, nil, "", "", fmt.Errorf("rename %s to its dated name: %w", r.path, ErrUnsafeFile)
		}
		old = n.dated(t)
		if err := d.renameNoReplace(n.live, old); err != nil {
			return nil, nil, "", "", err
		}
		t = t.Add(time.Millisecond)
	case err == nil && e.node.mode&fs.ModeSymlink != 0:
		if target, err := d.readlink(n.live); err == nil {
			old = filepath.Base(target)
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, nil, "", "", err
	}
	if old != "" {
		old = filepath.Join(n.dir, old)
	}
	name = n.dated(t)
	f, info, err = r.createFile(d, name)
	if err != nil {
		return nil, nil, "", "", err
	}
	if err := symlinkOver(d, name, n.live); err != nil {
		f.Close()
		d.remove(name, 0)
		return nil, nil, "", "", err
	}
	return f, info, old, name, nil
}

// symlinkOver makes name in d a symlink to target, atomically: a new link
// under a temporary name (linkName), renamed over name.
func symlinkOver(d *logDir, target, name string) error {
	var b [8]byte
	for {
		rand.Read(b[:])
		tmp := linkName(name, hex.EncodeToString(b[:]))
		err := d.symlink(target, tmp)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := d.replace(tmp, name); err != nil {
			d.unlink(tmp)
			return err
		}
		return nil
	}
}

// linkName is the temporary name of a new link to the live file: hidden,
// beside the path base, with 16 hexadecimal digits.
func linkName(base, hexDigits string) string { return "." + base + "." + hexDigits + ".link" }

// removeStaleLinks removes the rotation's own temporary links that a
// process killed between making one and renaming it left in d. Called
// with the rotation lock held: no other process is making one.
func (r *rotator) removeStaleLinks(d *logDir) {
	names, err := d.names()
	if err != nil {
		return
	}
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, "."+r.names.live+".")
		digits, ok2 := strings.CutSuffix(rest, ".link")
		if ok && ok2 && len(digits) == 16 && strings.Trim(digits, "0123456789abcdef") == "" {
			d.remove(name, fs.ModeSymlink)
		}
	}
}

// liveStart is zero: the live file's dated name says when it was started.
func (r *rotator) liveStart(fs.FileInfo) time.Time { return time.Time{} }
