//go:build unix

package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// maxLinkHops bounds how many symlinks openFile follows, as the kernel's
// MAXSYMLINKS does.
const maxLinkHops = 40

// openFile opens path like os.OpenFile, following a symlink at the last
// component only when it is trusted (see trustedLink). It resolves such links
// itself and opens every target with O_NOFOLLOW, so a link swapped in between
// the check and the open is refused by the kernel rather than followed.
func openFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	name := path
	for range maxLinkHops {
		f, err := os.OpenFile(name, flag|syscall.O_NOFOLLOW, perm)
		// O_NOFOLLOW on a symlink fails with ELOOP (EMLINK on FreeBSD).
		if err == nil || !(errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK)) {
			return f, err
		}
		target, err := trustedLink(name)
		if err != nil {
			return nil, err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(name), target)
		}
		name = target
	}
	return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.ELOOP}
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
	dir, err := os.Stat(filepath.Dir(name))
	if err != nil {
		return "", err
	}
	if st, ok := dir.Sys().(*syscall.Stat_t); ok && st.Uid == owner {
		return target, nil
	}
	return "", fmt.Errorf("open %s: link owned by uid %d: %w", name, owner, ErrUnsafeSymlink)
}

// linkCount returns the number of names the file has; 0 means deleted.
func linkCount(fi fs.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Nlink), true
}
