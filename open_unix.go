//go:build unix && !linux

package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// openFile opens path like os.OpenFile, following a symlink at the last
// component only when it is trusted (see trustedLink). It resolves such links
// itself and opens every target with O_NOFOLLOW, so a link swapped in between
// the check and the open is refused by the kernel rather than followed. With
// mkdirs, missing directories are made first (mode dirPerm), as os.MkdirAll
// does: through any link on the way.
func openFile(path string, flag int, perm fs.FileMode, mkdirs bool, dirPerm fs.FileMode) (*os.File, error) {
	if mkdirs {
		if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
			return nil, err
		}
	}
	name := path
	for range maxLinkHops {
		f, err := openNoFollow(name, flag, perm)
		if err == nil {
			return f, nil
		}
		// O_NOFOLLOW on a symlink fails with ELOOP (EMLINK on FreeBSD).
		if !(errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK)) {
			return nil, err
		}
		target, err := trustedLink(name)
		if err != nil {
			return nil, err
		}
		if !filepath.IsAbs(target) {
			// Not filepath.Join: its Clean would resolve ".." lexically,
			// where the kernel goes through symlinked directories.
			target = linkDir(name) + target
		}
		name = target
	}
	return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.ELOOP}
}

// openNoFollow opens name, not following a symlink there, with O_NONBLOCK
// so that a FIFO without a reader fails (ENXIO) instead of hanging the
// goroutine that holds the Writer's lock; see blockingIfRegular.
func openNoFollow(name string, flag int, perm fs.FileMode) (*os.File, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(name, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if err := blockingIfRegular(fd); err != nil {
		syscall.Close(fd)
		return nil, &fs.PathError{Op: "fcntl", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// trustedLink returns the target of the symlink at name if the link is owned
// by root, by the effective uid, or by the owner of its directory.
func trustedLink(name string) (string, error) {
	owner, target, err := readLink(name)
	if err != nil {
		return "", err
	}
	euid := uint32(os.Geteuid())
	if owner == 0 || owner == euid {
		return target, nil
	}
	dir, err := os.Stat(linkDir(name))
	if err != nil {
		return "", err
	}
	if st, ok := dir.Sys().(*syscall.Stat_t); ok && st.Uid == owner {
		return target, nil
	}
	return "", fmt.Errorf("open %s: %w (uid %d)", name, ErrUnsafeSymlink, owner)
}

// linkDir is the directory part of name, ending in a slash, as the kernel
// resolves it: not cleaned.
func linkDir(name string) string {
	return name[:strings.LastIndexByte(name, '/')+1]
}
