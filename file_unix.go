//go:build unix

package watchedfile

import (
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

// openRead opens path for reading, not following a symlink there.
func openRead(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
