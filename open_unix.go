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

// openLast opens name, not following a symlink there, with O_NONBLOCK so
// that a FIFO without a reader fails (ENXIO) instead of hanging the
// goroutine that holds the Writer's lock (see blockingIfRegular). With
// O_CREAT it opens the file that is there or creates one with O_EXCL,
// chowning only a file it created, and none at the end of another user's
// link; a file it did not create must pass the rules for its directory and
// belong to the owner of each such link.
func openLast(name string, how openHow, owners []uint32) (*os.File, error) {
	fail := func(err error) (*os.File, error) { return nil, &fs.PathError{Op: "open", Path: name, Err: err} }
	di, err := os.Stat(linkDir(name))
	if err != nil {
		return nil, err
	}
	d, _ := nodeOf(di)
	flag := how.flag&^(syscall.O_CREAT|syscall.O_EXCL) | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	excl := how.flag&syscall.O_EXCL != 0
	create := how.flag&syscall.O_CREAT != 0 && len(owners) == 0
	for range maxLinkHops { // each turn, another made or removed the file meanwhile
		if !excl {
			fd, err := openRetry(name, flag, 0)
			if err == nil {
				return usable(fd, name, func(f node) error {
					if err := how.trust.dir(d); err != nil {
						return err
					}
					if err := how.trust.file(d, f); err != nil {
						return err
					}
					for _, o := range owners {
						if err := leadsTo(o, f); err != nil {
							return err
						}
					}
					return nil
				})
			}
			if err == syscall.ENOENT && how.flag&syscall.O_CREAT != 0 && len(owners) > 0 {
				return fail(fmt.Errorf("%w (it leads to nothing, which would be created)", ErrUnsafeSymlink))
			}
			if err != syscall.ENOENT || !create {
				return fail(err)
			}
		}
		if err := how.trust.dir(d); err != nil { // nothing made in a directory refused
			return fail(err)
		}
		fd, err := openRetry(name, flag|syscall.O_CREAT|syscall.O_EXCL, uint32(how.perm.Perm()))
		if err == nil {
			f, err := usable(fd, name, func(node) error { return fchown(fd, how.uid, how.gid) })
			if err != nil {
				os.Remove(name) // made just now, with O_EXCL
			}
			return f, err
		}
		if err != syscall.EEXIST || excl {
			return fail(err)
		}
	}
	return fail(syscall.EEXIST)
}

// openRetry is open(2), retried on EINTR.
func openRetry(name string, flag int, perm uint32) (int, error) {
	for {
		fd, err := syscall.Open(name, flag, perm)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// usable makes fd a file once check passes, blocking if it is regular.
func usable(fd int, name string, check func(node) error) (*os.File, error) {
	var st syscall.Stat_t
	err := syscall.Fstat(fd, &st)
	if err == nil {
		err = check(statNode(&st))
	}
	if err == nil {
		err = blockingIfRegular(fd)
	}
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// statNode is what the rules need of st.
func statNode(st *syscall.Stat_t) node {
	mode := fs.FileMode(st.Mode & 0o777)
	switch uint32(st.Mode) & syscall.S_IFMT {
	case syscall.S_IFDIR:
		mode |= fs.ModeDir
	case syscall.S_IFLNK:
		mode |= fs.ModeSymlink
	case syscall.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		mode |= fs.ModeSocket
	case syscall.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		mode |= fs.ModeDevice
	}
	return node{uid: st.Uid, mode: mode, nlink: uint64(st.Nlink)}
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
