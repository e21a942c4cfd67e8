package watchedfile

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// takeLock takes LockFileEx's lock on the first byte of f, exclusive unless
// how.shared.
func takeLock(f *os.File, how lockHow) error {
	var flags uint32
	if !how.shared {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	if !how.wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	cerr := rc.Control(func(h uintptr) {
		err = windows.LockFileEx(windows.Handle(h), flags, 0, 1, 0, new(windows.Overlapped))
	})
	switch {
	case cerr != nil:
		return cerr
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION):
		return errLockBusy
	case err != nil:
		return &os.PathError{Op: "LockFileEx", Path: f.Name(), Err: err}
	}
	return nil
}
