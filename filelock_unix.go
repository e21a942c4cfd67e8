//go:build unix

package watchedfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// takeLock takes flock(2)'s lock on f, exclusive unless how.shared.
func takeLock(f *os.File, how lockHow) error {
	op := unix.LOCK_EX
	if how.shared {
		op = unix.LOCK_SH
	}
	if !how.wait {
		op |= unix.LOCK_NB
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	cerr := rc.Control(func(fd uintptr) {
		for {
			if err = unix.Flock(int(fd), op); err != unix.EINTR {
				return
			}
		}
	})
	switch {
	case cerr != nil:
		return cerr
	case err == unix.EWOULDBLOCK:
		return errLockBusy
	case err != nil:
		return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return nil
}
