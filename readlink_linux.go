package watchedfile

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// readLink returns the owner and target of the symlink at name. It holds the
// link itself open (O_PATH|O_NOFOLLOW) while it reads both, so they belong to
// the same link even if another is renamed into its place meanwhile.
func readLink(name string) (owner uint32, target string, err error) {
	fd, err := unix.Open(name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, "", &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, "", &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return 0, "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return st.Uid, string(buf[:n]), nil
}
