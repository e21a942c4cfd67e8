//go:build unix

package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxLinkHops bounds how many symlinks openFile follows, as the kernel's
// MAXSYMLINKS does.
const maxLinkHops = 40

// unlinked reports whether the open file f has no name left (rm, or another
// file renamed over it): fstat says its link count is 0.
func unlinked(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}

// deletePending is false: a Unix unlink removes the name at once, whatever
// holds the file open.
func deletePending(*os.File) bool { return false }

// dupFile returns a second descriptor for f's open file, close-on-exec.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	cerr := rc.Control(func(sysfd uintptr) { fd, err = unix.FcntlInt(sysfd, unix.F_DUPFD_CLOEXEC, 0) })
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, &os.SyscallError{Syscall: "fcntl", Err: err}
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// blockingIfRegular makes the descriptor fd, opened with O_NONBLOCK (so that
// a FIFO without a reader fails instead of hanging the open), blocking again
// if it is a regular file. Any other kind stays non-blocking, so that
// os.NewFile puts it under the runtime poller, where Close can cut a write
// that hangs.
func blockingIfRegular(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	return unix.SetNonblock(fd, false)
}

// nodeOf returns what the rules of safety.go need of fi, from lstat or stat.
func nodeOf(fi fs.FileInfo) (node, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return node{}, false
	}
	return node{uid: st.Uid, mode: fi.Mode(), nlink: uint64(st.Nlink)}, true
}

// euid is the process's effective user.
func euid() uint32 { return uint32(os.Geteuid()) }

// fchown gives the file fd holds, which the caller just created, to uid and
// gid, where set (0 leaves it to the process).
func fchown(fd, uid, gid int) error {
	if uid == 0 && gid == 0 {
		return nil
	}
	if err := unix.Fchown(fd, orUnchanged(uid), orUnchanged(gid)); err != nil {
		return &os.SyscallError{Syscall: "fchown", Err: err}
	}
	return nil
}

// orUnchanged is id, or -1 (unchanged, for chown) if id is 0.
func orUnchanged(id int) int {
	if id == 0 {
		return -1
	}
	return id
}

// renameNoReplace gives the file at old the name new, unless new exists:
// a hard link, then old removed. Where the file system has no hard links,
// it looks first and renames: a name made in between is replaced.
func renameNoReplace(old, new string) error {
	err := os.Link(old, new)
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) {
		if _, lerr := os.Lstat(new); !errors.Is(lerr, fs.ErrNotExist) {
			return &os.LinkError{Op: "rename", Old: old, New: new, Err: fs.ErrExist}
		}
		return os.Rename(old, new)
	}
	if err != nil {
		return err
	}
	return os.Remove(old)
}

// statNode is what the rules of safety.go need of st.
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

// lastName is the last component of a path as the walk (open_linux.go,
// open_unix.go) reaches it: opened by openat(2) from a directory it holds,
// or by open(2) of the path.
type lastName struct {
	name   string
	open   func(flag int, perm uint32) (int, error) // retried on EINTR
	remove func()                                   // removes the name, just made with O_EXCL
	dir    node                                     // the directory it is in
}

// openLastName opens ln as how says, not following a symlink there (ELOOP)
// unless how.follow, non-blocking (a FIFO without a reader fails, ENXIO; a
// regular file is made blocking again, anything else stays under the
// runtime poller, where Close can cut a write that hangs). With O_CREAT it
// opens the file that is there, or creates one with O_EXCL, and chowns only
// a file it created; it creates none where pending says a link of another
// user's led here (refused: ErrUnsafeSymlink). A file it did not create
// must pass the rules for its directory, and reached.
func openLastName(ln lastName, how openHow, pending bool, reached func(node) error) (*os.File, error) {
	flag := how.flag&^(syscall.O_CREAT|syscall.O_EXCL) | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if !how.follow {
		flag |= syscall.O_NOFOLLOW
	}
	excl := how.flag&syscall.O_EXCL != 0
	create := how.flag&syscall.O_CREAT != 0 && !how.follow && !pending
	for range maxLinkHops { // each turn, another made or removed the file meanwhile
		if !excl {
			fd, err := ln.open(flag, 0)
			if err == nil {
				return usable(fd, ln.name, func(f node) error {
					if err := how.trust.dir(ln.dir); err != nil {
						return err
					}
					if err := how.trust.file(ln.dir, f); err != nil {
						return err
					}
					return reached(f)
				})
			}
			if err == syscall.ENOENT && how.flag&syscall.O_CREAT != 0 && pending {
				return nil, fmt.Errorf("%w (it leads to nothing, which would be created)", ErrUnsafeSymlink)
			}
			if err != syscall.ENOENT || !create {
				return nil, err
			}
		}
		if err := how.trust.dir(ln.dir); err != nil { // nothing made in a directory refused
			return nil, err
		}
		fd, err := ln.open(flag|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW, uint32(how.perm.Perm()))
		if err == nil {
			f, err := usable(fd, ln.name, func(node) error { return fchown(fd, how.uid, how.gid) })
			if err != nil {
				ln.remove()
			}
			return f, err
		}
		if err != syscall.EEXIST || excl {
			return nil, err
		}
	}
	return nil, syscall.EEXIST
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

// retryEINTR calls open until it fails with another error than EINTR.
func retryEINTR(open func() (int, error)) (int, error) {
	for {
		fd, err := open()
		if err != syscall.EINTR {
			return fd, err
		}
	}
}
