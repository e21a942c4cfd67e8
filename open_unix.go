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

// openFile opens path as how says, judging a symlink at the last component
// and the file it opens by the rules of safety.go. It resolves such links
// itself and opens every target with O_NOFOLLOW, so a link swapped in
// between the check and the open is refused by the kernel rather than
// followed. Links in the directories on the way are the kernel's to follow:
// without Linux's O_PATH they are not judged. With mkdirs, missing
// directories are made first (mode dirPerm), as os.MkdirAll does: through
// any link on the way.
func openFile(path string, how openHow) (*os.File, error) {
	if how.mkdirs {
		if err := os.MkdirAll(filepath.Dir(path), how.dirPerm); err != nil {
			return nil, err
		}
	}
	name := path
	var owners []uint32 // of links another user made: what they lead to must be theirs
	for range maxLinkHops {
		f, err := openLast(name, how, owners)
		if err == nil {
			return f, nil
		}
		// O_NOFOLLOW on a symlink fails with ELOOP (EMLINK on FreeBSD).
		if !(errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK)) {
			return nil, err
		}
		if how.noLink {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (a symlink)", ErrUnsafeSymlink)}
		}
		owner, target, err := readLink(name)
		if err != nil {
			return nil, err
		}
		if !how.trust.link(node{uid: owner}) {
			owners = append(owners, owner)
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

// openLast opens name as how says (see openLastName); owners are those of
// the links of other users' that led here, whose owner what it opens must
// be.
func openLast(name string, how openHow, owners []uint32) (*os.File, error) {
	di, err := os.Stat(linkDir(name))
	if err != nil {
		return nil, err
	}
	d, _ := nodeOf(di)
	f, err := openLastName(lastName{
		name: name,
		open: func(flag int, perm uint32) (int, error) {
			return retryEINTR(func() (int, error) { return syscall.Open(name, flag, perm) })
		},
		remove: func() { os.Remove(name) },
		dir:    d,
	}, how, len(owners) > 0, func(f node) error {
		for _, o := range owners {
			if err := leadsTo(o, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, nil
}

// linkDir is the directory part of name, ending in a slash, as the kernel
// resolves it: not cleaned.
func linkDir(name string) string {
	return name[:strings.LastIndexByte(name, '/')+1]
}

// readLink returns the owner and target of the symlink at name. Without
// Linux's O_PATH it reads them separately and checks that the link did not
// change in between.
func readLink(name string) (owner uint32, target string, err error) {
	before, err := os.Lstat(name)
	if err != nil {
		return 0, "", err
	}
	target, err = os.Readlink(name)
	if err != nil {
		return 0, "", err
	}
	after, err := os.Lstat(name)
	if err != nil {
		return 0, "", err
	}
	st, ok := after.Sys().(*syscall.Stat_t)
	if !ok || !os.SameFile(before, after) || after.Mode()&fs.ModeSymlink == 0 {
		return 0, "", &fs.PathError{Op: "readlink", Path: name, Err: syscall.EAGAIN}
	}
	return st.Uid, target, nil
}
