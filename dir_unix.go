//go:build unix

package watchedfile

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// logDir is a directory held open; see dir.go.
type logDir struct {
	f      *os.File
	fd     int
	path   string
	node   node
	trust  trust
	owners bool // the system has Unix owners: the rules apply
}

// openLogDir opens the directory at path through the walk, as how says
// (its trust; mkdirs makes it and the missing ones on the way), judged by
// the rules: a shared directory is refused without WithSharedDir.
func openLogDir(path string, how openHow) (*logDir, error) {
	how.dir = true
	f, err := openFile(path, how)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	d := &logDir{f: f, path: path, trust: how.trust, owners: true}
	var st syscall.Stat_t
	var serr error
	rc.Control(func(fd uintptr) {
		d.fd = int(fd)
		serr = syscall.Fstat(d.fd, &st)
	})
	if serr != nil {
		f.Close()
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: serr}
	}
	d.node = statNode(&st)
	return d, nil
}

func (d *logDir) close() error { return d.f.Close() }

// names returns the names in the directory, read from its descriptor.
func (d *logDir) names() ([]string, error) {
	if _, err := d.f.Seek(0, 0); err != nil {
		return nil, err
	}
	return d.f.Readdirnames(-1)
}

// lstat looks at name, not following a link.
func (d *logDir) lstat(name string) (entry, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return entry{}, &fs.PathError{Op: "lstat", Path: d.join(name), Err: err}
	}
	return entry{
		name: name,
		node: modeNode(st.Uid, uint32(st.Mode), uint64(st.Nlink)),
		size: st.Size, modTime: time.Unix(st.Mtim.Unix()),
		id: [2]uint64{uint64(st.Dev), uint64(st.Ino)},
	}, nil
}

// remove removes name if it is one of the rotation's own files of kind; a
// name already gone is no error.
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

// removeIfSame removes name if it still names the file e described.
func (d *logDir) removeIfSame(name string, e entry) error {
	now, err := d.lstat(name)
	if err != nil {
		return err
	}
	if now.id != e.id {
		return fmt.Errorf("remove %s: %w (replaced meanwhile)", d.join(name), ErrUnsafeFile)
	}
	return d.unlink(name)
}

func (d *logDir) unlink(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil && err != unix.ENOENT {
		return &fs.PathError{Op: "unlink", Path: d.join(name), Err: err}
	}
	return nil
}

// renameNoReplace gives the file old the name new, unless new exists.
func (d *logDir) renameNoReplace(old, new string) error {
	if err := renameatNoReplace(d.fd, old, new); err != nil {
		return &os.LinkError{Op: "rename", Old: d.join(old), New: d.join(new), Err: err}
	}
	return nil
}

// replace renames old over new, atomically: the link to the live file.
func (d *logDir) replace(old, new string) error {
	if err := unix.Renameat(d.fd, old, d.fd, new); err != nil {
		return &os.LinkError{Op: "rename", Old: d.join(old), New: d.join(new), Err: err}
	}
	return nil
}

// symlink makes name a symlink to target; it fails if name exists.
func (d *logDir) symlink(target, name string) error {
	if err := unix.Symlinkat(target, d.fd, name); err != nil {
		return &os.LinkError{Op: "symlink", Old: target, New: d.join(name), Err: err}
	}
	return nil
}

// readlink returns the target of the symlink name.
func (d *logDir) readlink(name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(d.fd, name, buf)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: d.join(name), Err: err}
	}
	return string(buf[:n]), nil
}

// open opens name as how says (see openLastName): the rotation's own file,
// never through a symlink.
func (d *logDir) open(name string, how openHow) (*os.File, error) {
	ln := atName(d.fd, name)
	ln.name = d.join(name)
	f, err := openLastName(ln, how, false, func(node) error { return nil })
	if err == unix.ELOOP && how.noLink {
		err = fmt.Errorf("%w (a symlink)", ErrUnsafeSymlink)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.join(name), Err: err}
	}
	return f, nil
}

// sync commits the directory's names to stable storage.
func (d *logDir) sync() { d.f.Sync() }

func (d *logDir) join(name string) string { return d.path + string(os.PathSeparator) + name }
