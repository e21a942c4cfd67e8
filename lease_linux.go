package watchedfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// holdAlone reports whether no process has f's file open for writing (a
// writer that has not switched yet), and if so returns a check that this
// is still so and the release. It takes a read lease (fcntl F_SETLEASE),
// which Linux grants only then, and which breaks when someone opens the
// file for writing; that opener waits until the lease is let go of.
// Readers do not count: one that has the file open goes on reading it
// through its descriptor after the compression removes its name. Where no
// lease can be had (the file is another user's, a file system without
// leases), it falls back to the file's age, as on other systems.
func holdAlone(f *os.File) (alone bool, still func() bool, release func(), err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, nil, nil, err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { _, lerr = unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_RDLCK) }); err != nil {
		return false, nil, nil, err
	}
	switch lerr {
	case nil:
	case unix.EAGAIN:
		return false, nil, nil, nil
	default:
		return oldEnough(f)
	}
	still = func() bool {
		held := false
		rc.Control(func(fd uintptr) {
			t, err := unix.FcntlInt(fd, unix.F_GETLEASE, 0)
			held = err == nil && t == unix.F_RDLCK // a breaking lease reads as what it breaks to
		})
		return held
	}
	release = func() {
		rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_UNLCK) })
	}
	return true, still, release, nil
}
