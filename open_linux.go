package watchedfile

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// openFile opens path like os.OpenFile, resolving it one component at a time
// from descriptors it holds (O_PATH), so that nothing can be swapped between
// a check and its use. Every symlink on the way, not only the last one, is
// followed only when it is owned by root, by the effective uid, or by the
// owner of the directory holding it (Linux's protected_symlinks rule, applied
// to every directory). A link in /proc (a magic link such as
// /proc/self/fd/N) is checked, then left to the kernel to follow. A path
// that ends in a slash must name a directory, as in open(2). With mkdirs, a missing directory on the way is made
// (mode dirPerm) where the walk finds it missing, so a refused link cannot
// lead it elsewhere either. The final open uses O_NONBLOCK, so that a FIFO
// without a reader fails (ENXIO) instead of hanging the Writer.
func openFile(path string, flag int, perm fs.FileMode, mkdirs bool, dirPerm fs.FileMode) (*os.File, error) {
	fail := func(err error) (*os.File, error) {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if !strings.HasPrefix(path, "/") {
		return fail(unix.EINVAL) // Open made it absolute
	}
	dir, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	defer func() { unix.Close(dir) }()

	rest := path
	for hops := 0; ; {
		var name string
		var slash bool
		dot := strings.Contains(rest, ".") // when it turns out to be only "/" and "."
		name, rest, slash = firstComponent(rest)
		if name == "" { // the path ends in "/" or "/.": dir is the last
			return fail(lastDirError(dir, dot))
		}
		last := rest == ""
		if last && slash { // "name/": as the kernel, name must be a directory
			if flag&unix.O_CREAT != 0 { // the kernel's answer, before looking name up
				return fail(lastDirError(dir, true)) // EISDIR, once dir is one
			}
			last = false // open it as a directory; then the empty name fails
		}
		if last {
			fd, err := openLast(dir, name, flag|unix.O_NOFOLLOW, perm)
			if err == nil {
				return os.NewFile(uintptr(fd), path), nil
			}
			if err != unix.ELOOP {
				return fail(err)
			}
		}
		fd, err := openComponent(dir, name)
		if err == unix.ENOENT && mkdirs && !last {
			if err := unix.Mkdirat(dir, name, uint32(dirPerm.Perm())); err != nil && err != unix.EEXIST {
				return fail(err)
			}
			fd, err = openComponent(dir, name)
		}
		if err != nil {
			return fail(err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return fail(err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			unix.Close(dir)
			dir = fd // a directory: go on from it (openat fails ENOTDIR if not)
			continue
		}
		target, err := readTrustedLink(dir, fd, &st)
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		if hops++; hops > maxLinkHops {
			return fail(unix.ELOOP)
		}
		if onProcfs(dir) {
			// A magic link such as /proc/self/fd/1 (where /dev/stdout
			// leads) names no path but a file held open, which its text
			// may not lead to (deleted, mounted over, another mount
			// namespace): let the kernel follow it.
			if last {
				fd, err := openLast(dir, name, flag, perm)
				if err != nil {
					return fail(err)
				}
				return os.NewFile(uintptr(fd), path), nil
			}
			fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fail(err)
			}
			unix.Close(dir)
			dir = fd
			continue
		}
		if strings.HasPrefix(target, "/") {
			root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fail(err)
			}
			unix.Close(dir)
			dir = root
		}
		if rest != "" || slash {
			rest = target + "/" + rest
		} else {
			rest = target
		}
	}
}

// lastDirError is how open(2) for writing fails on a path that ends in
// "/", "/." or, with O_CREAT, "name/": ENOTDIR if dir is not a directory
// (openFile goes on from a non-directory and lets the next openat fail),
// with lookup EACCES if it may not be searched (the kernel looks "." or
// name up in it first), else EISDIR.
func lastDirError(dir int, lookup bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	if lookup {
		if err := unix.Faccessat(dir, ".", unix.X_OK, unix.AT_EACCESS); err != nil {
			return err
		}
	}
	return unix.EISDIR
}

// openLast opens name in dir with flag, non-blocking (a FIFO without a
// reader fails, ENXIO); see blockingIfRegular.
func openLast(dir int, name string, flag int, perm fs.FileMode) (int, error) {
	fd, err := unix.Openat(dir, name, flag|unix.O_NONBLOCK|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return -1, err
	}
	if err := blockingIfRegular(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// openComponent opens name in dir as a path (O_PATH), without following it.
// A directory is opened with O_DIRECTORY, which, unlike O_PATH alone, mounts
// an automount point (autofs) as any path walk through it would.
func openComponent(dir int, name string) (int, error) {
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == unix.ENOTDIR { // a symlink, or not a directory: fstat tells
		fd, err = unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	return fd, err
}

func onProcfs(fd int) bool {
	var st unix.Statfs_t
	return unix.Fstatfs(fd, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// firstComponent splits p into its first component and the rest, skipping
// slashes and "." components. slash reports that a slash follows name,
// which matters when nothing else does: "dir/" must name a directory.
func firstComponent(p string) (name, rest string, slash bool) {
	for {
		p = strings.TrimLeft(p, "/")
		name, rest, slash = strings.Cut(p, "/")
		if name != "." {
			return name, strings.TrimLeft(rest, "/"), slash
		}
		p = rest
	}
}

// readTrustedLink returns the target of the symlink held open as link (with
// its stat st) in the directory held open as dir, if the link is trusted.
func readTrustedLink(dir, link int, st *unix.Stat_t) (string, error) {
	if st.Uid != 0 && st.Uid != uint32(os.Geteuid()) {
		var ds unix.Stat_t
		if err := unix.Fstat(dir, &ds); err != nil {
			return "", err
		}
		if ds.Uid != st.Uid {
			return "", fmt.Errorf("%w (uid %d)", ErrUnsafeSymlink, st.Uid)
		}
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(link, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
