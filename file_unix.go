//go:build unix

package watchedfile

import (
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

// statNode is what the rules of safety.go need of st.
func statNode(st *syscall.Stat_t) node {
	return modeNode(st.Uid, uint32(st.Mode), uint64(st.Nlink))
}

// modeNode is the node of a file of owner uid, stat mode and links nlink.
func modeNode(uid, mode uint32, nlink uint64) node {
	m := fs.FileMode(mode & 0o777)
	switch mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	}
	return node{uid: uid, mode: m, nlink: nlink}
}

// lastName is the last component of a path as the walk (open_linux.go,
// open_unix.go) or a logDir reaches it: opened by openat(2) from its
// directory, held open.
type lastName struct {
	name   string
	open   func(flag int, perm uint32) (int, error) // retried on EINTR
	remove func()                                   // removes the name, just made with O_EXCL
	mkdir  func(perm uint32) error                  // makes it a directory
	dir    node                                     // the directory it is in
	// peek opens it as a path only (O_PATH), following it with follow, so
	// that it is judged before it is opened for real, and reopen opens such
	// a descriptor with flag (through /proc/self/fd). nil where the system
	// has no O_PATH: there a file is judged once it is open.
	peek   func(follow bool) (int, error)
	reopen func(pathFd, flag int) (int, error)
}

// openLastName opens ln as how says, not following a symlink there (ELOOP)
// unless how.follow, non-blocking (a FIFO without a reader fails, ENXIO; a
// regular file is made blocking again, anything else stays under the
// runtime poller, where Close can cut a write that hangs). With O_CREAT it
// opens the file that is there, or creates one with O_EXCL, and chowns only
// a file it created; it creates none where pending says a link of another
// user's led here (refused: ErrUnsafeSymlink). A file it did not create
// must pass the rules for its directory, and reached; where the directory
// is another user's to change or such a link led here, it is judged before
// it is opened for writing (peek), so that opening what it is not (a device
// whose open does something) never happens. With how.dir the last
// component is a directory, judged as one.
func openLastName(ln lastName, how openHow, pending bool, reached func(node) error) (*os.File, error) {
	flag := how.flag&^(syscall.O_CREAT|syscall.O_EXCL) | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if how.dir {
		flag = syscall.O_RDONLY | syscall.O_DIRECTORY | syscall.O_CLOEXEC
	}
	if !how.follow {
		flag |= syscall.O_NOFOLLOW
	}
	judge := func(f node) error {
		if how.dir {
			if err := how.trust.dir(f); err != nil {
				return err
			}
			return reached(f)
		}
		if err := how.trust.dir(ln.dir); err != nil {
			return err
		}
		if err := how.trust.file(ln.dir, f); err != nil {
			return err
		}
		return reached(f)
	}
	excl := how.flag&syscall.O_EXCL != 0 && !how.dir
	mayCreate := how.flag&syscall.O_CREAT != 0 && !how.follow && !how.dir
	create := mayCreate && !pending
	careful := ln.peek != nil && (pending || how.trust.guarded(ln.dir))
	if how.dir {
		fd, err := ln.open(flag, 0)
		if err == syscall.ENOENT && how.mkdirs && !pending {
			if err := ln.mkdir(uint32(how.dirPerm.Perm())); err != nil && err != syscall.EEXIST {
				return nil, err
			}
			fd, err = ln.open(flag, 0)
		}
		if err != nil {
			return nil, err
		}
		return usable(fd, ln.name, judge)
	}
	for range maxLinkHops { // each turn, another made or removed the file meanwhile
		if !excl {
			var fd int
			var err error
			if careful {
				fd, err = openJudged(ln, flag, how.follow, judge)
			} else {
				fd, err = ln.open(flag, 0)
			}
			if err == nil {
				return usable(fd, ln.name, judge)
			}
			if err == syscall.ENOENT && mayCreate && pending {
				return nil, fmt.Errorf("%w (it leads to nothing, which would be created)", ErrUnsafeSymlink)
			}
			if err != syscall.ENOENT || !create {
				return nil, err
			}
		}
		if pending {
			return nil, fmt.Errorf("%w (a file would be created at its end)", ErrUnsafeSymlink)
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

// openJudged opens ln with flag only once what it names, opened as a path
// (peek), passes judge: a symlink there fails ELOOP, as the open would
// (unless follow), and the real open is of the very file judged.
func openJudged(ln lastName, flag int, follow bool, judge func(node) error) (int, error) {
	pfd, err := ln.peek(follow)
	if err != nil {
		return -1, err
	}
	defer syscall.Close(pfd)
	var st syscall.Stat_t
	if err := syscall.Fstat(pfd, &st); err != nil {
		return -1, err
	}
	n := statNode(&st)
	switch {
	case n.mode&fs.ModeSymlink != 0:
		return -1, syscall.ELOOP
	case n.mode.IsDir() && flag&syscall.O_DIRECTORY == 0:
		return -1, syscall.EISDIR // as the open for writing would say
	}
	if err := judge(n); err != nil {
		return -1, err
	}
	return ln.reopen(pfd, flag&^syscall.O_NOFOLLOW)
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

// linkatUnlink gives the file old, in the directory held open as dir, the
// name new, unless new exists: a hard link, then the old name removed.
func linkatUnlink(dir int, old, new string) error {
	if err := unix.Linkat(dir, old, dir, new, 0); err != nil {
		return err
	}
	return unix.Unlinkat(dir, old, 0)
}

// fdNode is statNode of the file fd holds open; a failed fstat gives a node
// no rule accepts as anyone's.
func fdNode(fd int) node {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return node{uid: ^uint32(0), mode: fs.ModeIrregular}
	}
	return statNode(&st)
}

// idOf is the device and inode of the file fi describes.
func idOf(fi fs.FileInfo) [2]uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return [2]uint64{uint64(st.Dev), uint64(st.Ino)}
	}
	return [2]uint64{}
}

// giveLike gives f, just created, the mode of the file fi describes and, as
// root, its owner and group, as gzip gives a compressed copy: a copy of
// root's 0600 file stays root's, whatever Rotation.UID says.
func giveLike(f *os.File, fi fs.FileInfo) error {
	if err := f.Chmod(fi.Mode().Perm()); err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}
