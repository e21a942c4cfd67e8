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

	"golang.org/x/sys/unix"
)

// openFile opens path as how says, judging a symlink at the last component
// and the file it opens by the rules of safety.go. It opens the directory
// that holds the last component first, then the component from it
// (openat), so the directory judged is the one the file is in; it resolves
// a link there itself and opens every target the same way, with
// O_NOFOLLOW, so a link swapped in between the check and the open is
// refused by the kernel rather than followed. Links in the directories on
// the way are the kernel's to follow: without Linux's O_PATH they are not
// judged, and the file is judged once it is open. With mkdirs, missing
// directories are made first (mode dirPerm), as os.MkdirAll does: through
// any link on the way.
func openFile(path string, how openHow) (*os.File, error) {
	if how.mkdirs {
		parent := filepath.Dir(path)
		if how.dir {
			parent = path // the directory itself
		}
		if err := os.MkdirAll(parent, how.dirPerm); err != nil {
			return nil, err
		}
	}
	name := path
	var owners []uint32 // of links another user made: what they lead to must be theirs
	for range maxLinkHops {
		target, owner, err := openOrReadLink(name, how, owners)
		if err != nil || target == nil {
			return nil, err
		}
		f, ok := target.(*os.File)
		if ok {
			return f, nil
		}
		link := target.(string)
		if !how.trust.link(node{uid: owner}) {
			owners = append(owners, owner)
		}
		if !filepath.IsAbs(link) {
			// Not filepath.Join: its Clean would resolve ".." lexically,
			// where the kernel goes through symlinked directories.
			link = linkDir(name) + link
		}
		name = link
	}
	return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.ELOOP}
}

// openOrReadLink opens name as how says from the directory that holds it,
// and returns the file; or, where name is a symlink, its target (a string)
// and owner, if it may be followed.
func openOrReadLink(name string, how openHow, owners []uint32) (target any, owner uint32, err error) {
	fail := func(err error) (any, uint32, error) { return nil, 0, &fs.PathError{Op: "open", Path: name, Err: err} }
	dir, err := retryEINTR(func() (int, error) {
		return unix.Open(linkDir(name), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return fail(err)
	}
	defer unix.Close(dir)
	var ds syscall.Stat_t
	if err := syscall.Fstat(dir, &ds); err != nil {
		return fail(err)
	}
	base := name[len(linkDir(name)):]
	ln := atName(dir, base)
	ln.name = name
	f, err := openLastName(ln, how, len(owners) > 0, func(f node) error {
		for _, o := range owners {
			if err := leadsTo(o, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		return f, 0, nil
	}
	// O_NOFOLLOW on a symlink fails with ELOOP (EMLINK on FreeBSD).
	if !(errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK)) {
		return fail(err)
	}
	if how.noLink {
		return fail(fmt.Errorf("%w (a symlink)", ErrUnsafeSymlink))
	}
	var before, after unix.Stat_t
	if err := unix.Fstatat(dir, base, &before, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fail(err)
	}
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dir, base, buf)
	if err != nil {
		return fail(err)
	}
	if err := unix.Fstatat(dir, base, &after, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fail(err)
	}
	if before.Dev != after.Dev || before.Ino != after.Ino || uint32(after.Mode)&unix.S_IFMT != unix.S_IFLNK {
		return fail(syscall.EAGAIN) // changed while it was read
	}
	l := node{uid: after.Uid, mode: fs.ModeSymlink, nlink: uint64(after.Nlink)}
	if err := how.trust.linkHere(statNode(&ds), l); err != nil {
		return fail(err)
	}
	return string(buf[:n]), after.Uid, nil
}

// linkDir is the directory part of name, ending in a slash, as the kernel
// resolves it: not cleaned.
func linkDir(name string) string {
	return name[:strings.LastIndexByte(name, '/')+1]
}

// atName is name in the directory held open as dir, for openLastName.
// Without O_PATH it cannot be judged before it is opened: it is judged once
// open (no peek).
func atName(dir int, name string) lastName {
	return lastName{
		name: name,
		open: func(flag int, perm uint32) (int, error) {
			return retryEINTR(func() (int, error) { return unix.Openat(dir, name, flag, perm) })
		},
		remove: func() { unix.Unlinkat(dir, name, 0) },
		mkdir:  func(perm uint32) error { return unix.Mkdirat(dir, name, perm) },
		dir:    fdNode(dir),
	}
}
