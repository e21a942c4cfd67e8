package watchedfile

import (
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// openFile opens path as how says, resolving it one component at a time
// from descriptors it holds (O_PATH), so that nothing can be swapped between
// a check and its use, and judging every symlink on the way and the file at
// its end by the rules of safety.go. A link in /proc (a magic link such as
// /proc/self/fd/N) is judged, then left to the kernel to follow. A path
// that ends in a slash must name a directory, as in open(2). With mkdirs, a
// missing directory on the way is made (mode dirPerm) where the walk finds
// it missing, so a refused link cannot lead it elsewhere either. The final
// open uses O_NONBLOCK, so that a FIFO without a reader fails (ENXIO)
// instead of hanging the Writer.
func openFile(path string, how openHow) (*os.File, error) {
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

	var links ownerChecks // links of other users' on the way: what they lead to must be theirs
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
			if how.flag&unix.O_CREAT != 0 { // the kernel's answer, before looking name up
				return fail(lastDirError(dir, true)) // EISDIR, once dir is one
			}
			last = false // open it as a directory; then the empty name fails
		}
		if last {
			f, err := openLast(dir, name, how, &links)
			if err == nil {
				return f, nil
			}
			if err != unix.ELOOP {
				return fail(err)
			}
			if how.noLink {
				return fail(fmt.Errorf("%w (%s is a symlink)", ErrUnsafeSymlink, name))
			}
		}
		fd, err := openComponent(dir, name)
		if err == unix.ENOENT && how.mkdirs && !last && len(links) == 0 {
			if err := unix.Mkdirat(dir, name, uint32(how.dirPerm.Perm())); err != nil && err != unix.EEXIST {
				return fail(err)
			}
			fd, err = openComponent(dir, name)
		}
		if err != nil {
			return fail(err)
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return fail(err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				unix.Close(fd)
				return fail(unix.ENOTDIR) // a name follows it, as open(2) would say
			}
			unix.Close(dir)
			dir = fd // a directory: go on from it
			if err := links.reached(statNode(&st), pending(rest)); err != nil {
				return fail(err)
			}
			continue
		}
		target, err := readLink(fd)
		unix.Close(fd)
		if err != nil {
			return fail(err)
		}
		if err := how.trust.linkHere(fdNode(dir), statNode(&st)); err != nil {
			return fail(err)
		}
		if !how.trust.link(statNode(&st)) {
			links = append(links, ownerCheck{owner: st.Uid, after: pending(rest)})
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
				f, err := openLast(dir, name, how.following(), &links)
				if err != nil {
					return fail(err)
				}
				return f, nil
			}
			fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fail(err)
			}
			unix.Close(dir)
			dir = fd
			if err := links.reached(fdNode(dir), pending(rest)); err != nil {
				return fail(err)
			}
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
		// A target with no component ("/", "."): the link leads to dir.
		if err := links.reached(fdNode(dir), pending(rest)); err != nil {
			return fail(err)
		}
	}
}

// An ownerCheck is a symlink of another user's that the walk followed: what
// it leads to, reached when no more than after bytes of the path are left
// to resolve, must be owner's.
type ownerCheck struct {
	owner uint32
	after int
}

type ownerChecks []ownerCheck

// reached judges n, reached with left bytes of the path still to resolve,
// against the links whose targets it completes, and drops them.
func (cs *ownerChecks) reached(n node, left int) error {
	for len(*cs) > 0 {
		c := (*cs)[len(*cs)-1]
		if c.after < left {
			return nil
		}
		*cs = (*cs)[:len(*cs)-1]
		if err := leadsTo(c.owner, n); err != nil {
			return err
		}
	}
	return nil
}

// pending is how much of rest a walk still has to resolve: rest without
// the slashes and "." components that lead it.
func pending(rest string) int {
	for {
		rest = strings.TrimLeft(rest, "/")
		after, ok := strings.CutPrefix(rest, ".")
		if !ok || (after != "" && after[0] != '/') {
			return len(rest)
		}
		rest = after
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

// openLast opens name in dir as how says (see openLastName), the links of
// other users' on the way (links) to be completed by what it opens.
func openLast(dir int, name string, how openHow, links *ownerChecks) (*os.File, error) {
	return openLastName(atName(dir, name), how, len(*links) > 0, func(f node) error { return links.reached(f, 0) })
}

// atName is name in the directory held open as dir, for openLastName: it
// can be judged as a path (O_PATH) before it is opened, and reopened
// through /proc/self/fd, or, without /proc, opened again and checked to be
// the same file.
func atName(dir int, name string) lastName {
	open := func(flag int, perm uint32) (int, error) {
		return retryEINTR(func() (int, error) { return unix.Openat(dir, name, flag, perm) })
	}
	return lastName{
		name:   name,
		open:   open,
		remove: func() { unix.Unlinkat(dir, name, 0) },
		mkdir:  func(perm uint32) error { return unix.Mkdirat(dir, name, perm) },
		dir:    fdNode(dir),
		peek: func(follow bool) (int, error) {
			flag := unix.O_PATH | unix.O_CLOEXEC
			if !follow {
				flag |= unix.O_NOFOLLOW
			}
			return open(flag, 0)
		},
		reopen: func(pathFd, flag int) (int, error) {
			fd, err := retryEINTR(func() (int, error) { return unix.Open("/proc/self/fd/"+strconv.Itoa(pathFd), flag, 0) })
			if err != unix.ENOENT {
				return fd, err
			}
			// No /proc: open it again, and make sure it is what was judged.
			if fd, err = open(flag|unix.O_NOFOLLOW, 0); err != nil {
				return -1, err
			}
			var a, b unix.Stat_t
			if unix.Fstat(pathFd, &a) != nil || unix.Fstat(fd, &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino {
				unix.Close(fd)
				return -1, unix.EAGAIN // swapped between the look and the open
			}
			return fd, nil
		},
	}
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

// readLink returns the target of the symlink held open as link.
func readLink(link int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(link, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
