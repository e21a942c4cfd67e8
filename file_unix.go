//go:build unix

package watchedfile

import (
	"errors"
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
