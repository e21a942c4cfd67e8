//go:build unix

package watchedfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// lock takes flock(2)'s exclusive lock on f.
func lock(f *os.File, wait bool) error {
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	cerr := rc.Control(func(fd uintptr) {
		for {
			if err = unix.Flock(int(fd), how); err != unix.EINTR {
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

// chown gives f to uid and gid, if either is set.
func chown(f *os.File, uid, gid int) error {
	if uid == 0 && gid == 0 {
		return nil
	}
	return f.Chown(orUnchanged(uid), orUnchanged(gid))
}

// orUnchanged is id, or -1 (unchanged, for chown) if id is 0.
func orUnchanged(id int) int {
	if id == 0 {
		return -1
	}
	return id
}
