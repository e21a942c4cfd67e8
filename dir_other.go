//go:build !unix

package watchedfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// logDir is a directory the rotation works in; see dir.go. Here, without
// Unix owners or openat(2), it works by path, and the rules do not apply.
type logDir struct {
	path   string
	node   node
	trust  trust
	owners bool // false: the rules do not apply
}

// openLogDir makes sure path is a directory (making it with how.mkdirs).
func openLogDir(path string, how openHow) (*logDir, error) {
	if how.mkdirs {
		if err := os.MkdirAll(path, how.dirPerm); err != nil {
			return nil, err
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("not a directory")}
	}
	return &logDir{path: path, node: node{mode: fi.Mode()}, trust: how.trust}, nil
}

func (d *logDir) close() error { return nil }

func (d *logDir) names() ([]string, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (d *logDir) lstat(name string) (entry, error) {
	fi, err := os.Lstat(d.join(name))
	if err != nil {
		return entry{}, err
	}
	return entry{name: name, node: node{mode: fi.Mode(), nlink: 1}, size: fi.Size(), modTime: fi.ModTime()}, nil
}

func (d *logDir) remove(name string, kind fs.FileMode) error {
	e, err := d.lstat(name)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	if !d.ours(e, kind) {
		return fmt.Errorf("remove %s: %w", d.join(name), ErrUnsafeFile)
	}
	return d.unlink(name)
}

func (d *logDir) removeIfSame(name string, _ entry) error { return d.unlink(name) }

func (d *logDir) unlink(name string) error {
	if err := os.Remove(d.join(name)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func (d *logDir) renameNoReplace(old, new string) error {
	return renameNoReplace(d.join(old), d.join(new))
}

func (d *logDir) replace(old, new string) error { return os.Rename(d.join(old), d.join(new)) }

func (d *logDir) symlink(target, name string) error { return os.Symlink(target, d.join(name)) }

func (d *logDir) readlink(name string) (string, error) { return os.Readlink(d.join(name)) }

func (d *logDir) open(name string, how openHow) (*os.File, error) {
	return openFile(d.join(name), how)
}

func (d *logDir) sync() {}

func (d *logDir) join(name string) string { return filepath.Join(d.path, name) }
