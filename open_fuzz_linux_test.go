package watchedfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The path walk (openFile) fuzzed against the kernel: each input is decoded
// into a tree of directories, files, FIFOs and symlinks in a temporary
// directory and a path into it. openFile must open exactly the file open(2)
// opens for the same path and flags, create the same file, or fail with the
// same class of error.
//
// Where the two are meant to differ, and how the check allows for it:
//   - The walk always opens with O_NONBLOCK (a FIFO without a reader fails
//     ENXIO instead of hanging the Writer), so the kernel's open gets it too.
//   - O_CREATE through a dangling link makes the link's target on both sides
//     (the fuzzer checks they make the same file); no difference.
//   - mkdirs has no kernel counterpart: the walk makes a missing directory
//     where it finds one (also a dangling link's target, where os.MkdirAll
//     fails EEXIST), so it is checked against open(2) on the tree it leaves,
//     and its own mkdir may be denied where open(2) finds the name missing.
//   - A link the rule refuses is checked before it counts against the
//     40-link limit: the 41st link, if untrusted, is refused, not ELOOP.

// FuzzOpenFile: every entry is owned by the caller, so the symlink rule never
// refuses and the walk must agree with the kernel on every input.
func FuzzOpenFile(f *testing.F) {
	env := fuzzPad(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		tr, path, flag, mkdirs := decodeTree(t, env, in, false)
		tr.check(path, flag, mkdirs, false)
	})
}

// FuzzOpenFileOwners: links and directories are owned by root, by nobody
// (65534) or by 1000, so the symlink rule refuses some links. The walk must
// fail with ErrUnsafeSymlink exactly when the model (refusedByRule) says a
// link it follows is owned by neither root, the euid, nor the owner of the
// directory holding it; otherwise it must agree with the kernel.
func FuzzOpenFileOwners(f *testing.F) {
	env := fuzzPad(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		if os.Geteuid() != 0 {
			if os.Getenv("CI") == "true" {
				t.Fatal("CI=true: lchown to other uids needs root")
			}
			t.Skip("lchown to other uids needs root")
		}
		tr, path, flag, mkdirs := decodeTree(t, env, in, true)
		tr.check(path, flag, mkdirs, true)
	})
}

// snapshot is every entry in the tree, or with padding in f.TempDir() (the
// padding and the tree), by path, with its inode.
type snapshot map[string]uint64

func (tr *fuzzTree) snapshot(padding bool) snapshot {
	s := snapshot{}
	top := tr.root
	if padding {
		top = tr.base
	}
	filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a directory without permission: nothing can be made in it either
		}
		if info, err := d.Info(); err == nil {
			s[p] = info.Sys().(*syscall.Stat_t).Ino
		}
		return nil
	})
	return s
}

// added lists what is in s and not in before (or another inode there).
func (s snapshot) added(before snapshot) []string {
	var add []string
	for p, ino := range s {
		if old, ok := before[p]; !ok || old != ino {
			add = append(add, p)
		}
	}
	return add
}

// fstat returns the device and inode fd is open on.
func (tr *fuzzTree) fstat(fd int) unix.Stat_t {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		tr.t.Fatal(err)
	}
	return st
}

// created returns the path of the file fd holds if the open made it (it was
// not in the snapshot), or "".
func (tr *fuzzTree) created(fd int, before snapshot) string {
	st := tr.fstat(fd)
	var rootSt unix.Stat_t
	if err := unix.Stat(tr.root, &rootSt); err != nil {
		tr.t.Fatal(err)
	}
	if st.Dev != rootSt.Dev || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "" // a pipe, or not made by the open
	}
	for _, ino := range before {
		if ino == st.Ino {
			return ""
		}
	}
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		tr.t.Fatal(err)
	}
	if !strings.HasPrefix(p, tr.base+"/") {
		tr.t.Fatalf("made %s, outside the test's directory %s", p, tr.base)
	}
	return p
}

// check opens path with openFile and with open(2) and compares what they
// open, make, or fail with. With owners, the model says first whether the
// walk must refuse; then the kernel is not asked.
func (tr *fuzzTree) check(path string, flag int, mkdirs, owners bool) {
	t := tr.t
	refused, want := false, error(nil)
	if owners {
		want = refusedByRule(path, flag&os.O_CREATE != 0, false)
		refused = want != nil
	}
	before := tr.snapshot(mkdirs)

	var kerr error
	var kst unix.Stat_t
	kmade := ""
	if !refused {
		var kfd int
		kfd, kerr = unix.Open(path, flag|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o644)
		if kerr == nil {
			kst = tr.fstat(kfd)
			kmade = tr.created(kfd, before)
			unix.Close(kfd)
			if kmade != "" { // so that the walk sees the tree the kernel saw
				if err := os.Remove(kmade); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	f, werr := openFile(path, testHow(flag, 0o644))
	wmade := ""
	if werr == nil {
		wst := tr.fstat(int(f.Fd()))
		wmade = tr.created(int(f.Fd()), before)
		f.Close()
		switch {
		case refused || kerr != nil:
		case kmade != wmade:
			t.Errorf("open(2) of %s made %q, openFile made %q", path, kmade, wmade)
		case kmade == "" && (kst.Dev != wst.Dev || kst.Ino != wst.Ino):
			t.Errorf("open(2) of %s opened %d:%d, openFile opened %d:%d (%s)",
				path, kst.Dev, kst.Ino, wst.Dev, wst.Ino, fdPath(int(f.Fd())))
		}
		if wmade != "" {
			if err := os.Remove(wmade); err != nil {
				t.Fatal(err)
			}
		}
	}
	if refused {
		if !errors.Is(werr, want) {
			t.Fatalf("openFile(%s): %v, want %v", path, werr, want)
		}
	} else if kc, wc := errClass(kerr), errClass(werr); kc != wc {
		t.Fatalf("open %s: open(2) %s (%v), openFile %s (%v)", path, kc, kerr, wc, werr)
	}
	if add := tr.snapshot(mkdirs).added(before); len(add) > 0 {
		t.Fatalf("open %s without mkdirs made %q", path, add)
	}
	if mkdirs {
		tr.checkMkdirs(path, flag, kerr, before, owners)
	}
}

// checkMkdirs opens path with mkdirs (on the tree as it was before check).
// Where open(2) opened a file or failed other than not-exist, it must do
// the same and make nothing. Then, whatever it made, open(2) on the tree as
// it left it must open the same file, or fail as it failed; and it may have
// made only directories and the file it opened.
func (tr *fuzzTree) checkMkdirs(path string, flag int, kerr error, before snapshot, owners bool) {
	t := tr.t
	refused, want := false, error(nil)
	if owners {
		want = refusedByRule(path, true, true)
		refused = want != nil
	}
	f, werr := openFile(path, testHowMkdirs(flag, 0o644))
	var wst unix.Stat_t
	if werr == nil {
		defer f.Close()
		wst = tr.fstat(int(f.Fd()))
	}
	added := tr.snapshot(true).added(before)
	defer func() { // what a path climbing out of the tree made: gone for the next input
		for _, p := range added {
			if !strings.HasPrefix(p, tr.root+"/") {
				os.RemoveAll(p)
			}
		}
	}()
	for _, p := range added {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() && (werr != nil || fi.Sys().(*syscall.Stat_t).Ino != wst.Ino) {
			t.Fatalf("open %s with mkdirs made %s, %v, not a directory nor the file it opened", path, p, fi.Mode())
		}
		if fi.IsDir() && kerr != nil && !errors.Is(kerr, unix.ENOENT) {
			t.Fatalf("open %s with mkdirs made %s where open(2) failed with %v", path, p, kerr)
		}
		if fi.IsDir() && kerr == nil && !refused {
			t.Fatalf("open %s with mkdirs made %s where open(2) needed none", path, p)
		}
	}
	if refused {
		if !errors.Is(werr, want) {
			t.Fatalf("openFile(%s) with mkdirs: %v, want %v", path, werr, want)
		}
		return
	}
	if kerr != nil && !errors.Is(kerr, unix.ENOENT) && errClass(kerr) != errClass(werr) {
		t.Fatalf("open %s: open(2) %v, openFile with mkdirs %v", path, kerr, werr)
	}
	kfd, kerr2 := unix.Open(path, flag|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o644)
	if kerr2 == nil {
		kst := tr.fstat(kfd)
		unix.Close(kfd)
		if werr == nil && (kst.Dev != wst.Dev || kst.Ino != wst.Ino) {
			t.Fatalf("open %s: after openFile with mkdirs opened %d:%d, open(2) opens %d:%d",
				path, wst.Dev, wst.Ino, kst.Dev, kst.Ino)
		}
	}
	// The walk's own mkdir may fail where open(2), which makes none, finds
	// the name missing: a directory the caller may not write to.
	mkdirDenied := errors.Is(kerr2, unix.ENOENT) && errClass(werr) == "permission"
	if kc, wc := errClass(kerr2), errClass(werr); kc != wc && !mkdirDenied {
		t.Fatalf("open %s: openFile with mkdirs %s (%v), then open(2) %s (%v)", path, wc, werr, kc, kerr2)
	}
}

// errClass is the kind of failure, as a caller would tell it.
func errClass(err error) string {
	var errno unix.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUnsafeSymlink):
		return "unsafe symlink"
	case errors.Is(err, unix.ENOENT):
		return "not-exist"
	case errors.Is(err, unix.ENOTDIR):
		return "not-dir"
	case errors.Is(err, unix.ELOOP):
		return "loop"
	case errors.Is(err, unix.EISDIR):
		return "is-dir"
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return "permission"
	case errors.As(err, &errno):
		return "other: " + errno.Error()
	}
	return "other: " + err.Error()
}

func fdPath(fd int) string {
	p, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return p
}

// refusedByRule is the rules of safety.go for the walk, as an independent
// model: it resolves path by names (lstat and readlink of whole paths, ".."
// by dropping the last name of the directory it is in), and returns the
// error the walk must refuse with, or nil. ErrUnsafeSymlink: it follows a
// link owned by neither root nor the euid whose target, once resolved, is
// a directory or file not owned by the link's owner, or is missing where
// the open would create it. ErrUnsafeFile: the last component, in a
// directory another user may change, is neither a regular file nor a
// directory (a FIFO: the walk judges it before it opens it). A link is
// counted against the hop limit as it is met. With create, a name followed
// by nothing but a slash is not looked up (open(2) fails EISDIR). With
// mkdirs, a missing directory on the way counts as made (by root), unless
// such a link's target is still being resolved. A directory at the end
// fails EISDIR first. The trees' files are the caller's with one link, and
// no directory is writable by group or others.
func refusedByRule(path string, create, mkdirs bool) error {
	euid := uint32(os.Geteuid())
	type pend struct {
		owner uint32
		after int // names of the path left once the link's target is resolved
	}
	var pending []pend
	// reached judges the object reached with left names to go (its owner
	// uid) against the links whose targets it completes.
	reached := func(uid uint32, left int) error {
		for len(pending) > 0 && pending[len(pending)-1].after >= left {
			if pending[len(pending)-1].owner != uid {
				return ErrUnsafeSymlink
			}
			pending = pending[:len(pending)-1]
		}
		return nil
	}
	stat := func(p string, follow bool) (*syscall.Stat_t, bool) {
		var fi fs.FileInfo
		var err error
		if follow {
			fi, err = os.Stat(p)
		} else {
			fi, err = os.Lstat(p)
		}
		if err != nil {
			return nil, false
		}
		return fi.Sys().(*syscall.Stat_t), true
	}
	ownerOf := func(p string) uint32 {
		if st, ok := stat(p, true); ok {
			return st.Uid
		}
		return ^uint32(0)
	}
	onProc := func(dir string) bool {
		var sfs unix.Statfs_t
		return unix.Statfs(dir, &sfs) == nil && sfs.Type == unix.PROC_SUPER_MAGIC
	}
	guarded := func(dir string) bool {
		st, ok := stat(dir, true)
		return ok && (st.Mode&0o022 != 0 || (st.Uid != 0 && st.Uid != euid))
	}
	// last judges the last component, st (followed or not), in dir.
	last := func(dir string, st *syscall.Stat_t) error {
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFDIR:
			return nil // EISDIR
		case syscall.S_IFREG:
			return reached(st.Uid, 0)
		}
		// A FIFO or the like: the walk judges it first only where it is
		// careful; elsewhere the open fails (ENXIO) before any rule.
		switch {
		case guarded(dir):
			return ErrUnsafeFile
		case len(pending) > 0:
			return reached(st.Uid, 0)
		}
		return nil
	}
	var cur []string // the directory reached, as names from /
	here := func() string { return "/" + strings.Join(cur, "/") }
	todo := strings.Split(path, "/")
	for hops := 0; len(todo) > 0; {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			if err := reached(ownerOf(here()), len(todo)); err != nil {
				return err
			}
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			if len(todo) == 0 {
				return nil // the last name, a directory: EISDIR, as in last
			}
			if err := reached(ownerOf(here()), len(todo)); err != nil {
				return err
			}
			continue
		}
		isLast, slash := true, true // nothing but "/" and "." after name; only "/"
		for _, n := range todo {
			if n != "" && n != "." {
				isLast = false
			}
			if n != "" {
				slash = false
			}
		}
		if create && len(todo) > 0 && slash {
			return nil // "name/" with O_CREAT: EISDIR, name not looked up
		}
		dir := here()
		p := filepath.Join(dir, name)
		st, ok := stat(p, false)
		if !ok {
			if mkdirs && !isLast && len(pending) == 0 {
				if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
					cur = append(cur, name)
					continue
				}
			}
			// Where the open would make the file, at the end of a link
			// whose owner cannot be matched: refused. Not with "/." after
			// the name, which open(2) looks up and never makes.
			if _, err := os.Lstat(p); len(todo) == 0 && create && len(pending) > 0 && errors.Is(err, fs.ErrNotExist) {
				return ErrUnsafeSymlink
			}
			return nil
		}
		if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
			if st.Uid != 0 && st.Uid != euid {
				pending = append(pending, pend{st.Uid, len(todo)})
			}
			if hops++; hops > maxLinkHops {
				return nil
			}
			if isLast && onProc(dir) {
				// A magic link (/proc/self/fd/N, /proc/<pid>/fd/N once
				// "self" is followed), followed by the kernel: what it
				// holds open is what it leads to (a pipe has no path).
				t, ok := stat(p, true)
				switch {
				case !ok:
					return nil
				case len(todo) == 0:
					return last(dir, t)
				case t.Mode&syscall.S_IFMT == syscall.S_IFDIR:
					// "N/": the walk opens it as a directory and
					// judges it, then fails as open(2) does.
					return reached(t.Uid, 0)
				}
				return nil // ENOTDIR
			}
			target, err := os.Readlink(p)
			if err != nil {
				return nil
			}
			if strings.HasPrefix(target, "/") {
				cur = nil
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		if len(todo) == 0 {
			return last(dir, st)
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			return nil
		}
		cur = append(cur, name)
		if err := reached(st.Uid, len(todo)); err != nil {
			return err
		}
	}
	return nil
}
