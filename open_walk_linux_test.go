package watchedfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// What FuzzOpenFile found in the path walk, each as a plain test: the walk
// must do what open(2) does with the same path and flags.

// openBoth opens path with open(2) and with openFile (each on the tree as it
// was: what open(2) made is removed first) and returns both outcomes.
func openBoth(t *testing.T, path string, flag int) (kst, wst *unix.Stat_t, kerr, werr error) {
	t.Helper()
	kfd, kerr := unix.Open(path, flag|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o644)
	if kerr == nil {
		kst = new(unix.Stat_t)
		if err := unix.Fstat(kfd, kst); err != nil {
			t.Fatal(err)
		}
		made, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(kfd))
		unix.Close(kfd)
		if flag&os.O_CREATE != 0 && kst.Mode&unix.S_IFMT == unix.S_IFREG && kst.Size == 0 {
			os.Remove(made) // every file these tests make beforehand has data
		}
	}
	f, werr := openFile(path, testHow(flag, 0o644))
	if werr == nil {
		defer f.Close()
		wst = new(unix.Stat_t)
		if err := unix.Fstat(int(f.Fd()), wst); err != nil {
			t.Fatal(err)
		}
	}
	return kst, wst, kerr, werr
}

// requireSameOpen fails unless openFile and open(2) opened the same file, or
// failed with the same errno.
func requireSameOpen(t *testing.T, path string, flag int) {
	t.Helper()
	kst, wst, kerr, werr := openBoth(t, path, flag)
	var kno unix.Errno
	switch {
	case kerr != nil && errors.As(kerr, &kno):
		if !errors.Is(werr, kno) {
			t.Fatalf("open %s: open(2) fails with %v, openFile with %v", path, kerr, werr)
		}
	case werr != nil:
		t.Fatalf("open %s: open(2) opens it, openFile fails with %v", path, werr)
	case flag&os.O_CREATE != 0 && kst.Size == 0: // made: same place, new inode
		if wst.Size != 0 {
			t.Fatalf("open %s: open(2) made a file, openFile opened one with data", path)
		}
	case kst.Dev != wst.Dev || kst.Ino != wst.Ino:
		t.Fatalf("open %s: open(2) opens %d:%d, openFile %d:%d", path, kst.Dev, kst.Ino, wst.Dev, wst.Ino)
	}
}

// TestOpenFileTrailingSlash: a path that ends in a slash (the Writer cleans
// its own path, but a link's target may end so) names a directory: the walk
// used to drop the slash, so it opened "file/" and, with O_CREATE, made
// "missing/" as a file, where open(2) fails.
func TestOpenFileTrailingSlash(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("file")
	for _, err := range []error{
		os.Mkdir(filepath.Join(dir, "dir"), 0o755),
		unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644),
		os.Symlink("file", filepath.Join(dir, "to-file")),
		os.Symlink("file/", filepath.Join(dir, "to-file-slash")),
		os.Symlink("dir/", filepath.Join(dir, "to-dir-slash")),
		os.Symlink("missing/", filepath.Join(dir, "to-missing-slash")),
		os.Symlink("missing", filepath.Join(dir, "dangling")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{
		"file/", "file//", "file/.", "file/..", "missing/", "missing/.", "dir/", "dir/.", "fifo/",
		"to-file/", "to-file-slash", "to-dir-slash", "to-missing-slash", "dangling/", "fifo/x/",
	} {
		for _, create := range []bool{false, true} {
			flag := os.O_WRONLY | os.O_APPEND
			if create {
				flag |= os.O_CREATE
			}
			t.Run(fmt.Sprintf("%s,create=%v", name, create), func(t *testing.T) {
				requireSameOpen(t, dir+"/"+name, flag) // not Join: it drops the slash
				if err := os.Remove(filepath.Join(dir, "missing")); err == nil {
					t.Fatal("made missing")
				}
			})
		}
	}
}

// TestOpenFileProcLinkIsAHop: a link in /proc counts against the limit of
// 40 links like any other. The walk used to count /proc/self/fd/N only when
// it was not the last, so a chain of 37 links to a link to /proc/self/fd/N
// (41 links with /proc/self) opened the file where open(2) fails ELOOP.
func TestOpenFileProcLinkIsAHop(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := os.Symlink(fmt.Sprintf("/proc/self/fd/%d", held.Fd()), filepath.Join(dir, "fd")); err != nil {
		t.Fatal(err)
	}
	target := "fd"
	for i := 1; i <= 38; i++ {
		link := "z" + strconv.Itoa(i)
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
		target = link
	}
	// z37 and what it leads to: 37 + fd + /proc/self + /proc/self/fd/N: 40.
	requireSameOpen(t, filepath.Join(dir, "z37"), os.O_WRONLY|os.O_APPEND)
	_, err = openFile(filepath.Join(dir, "z37"), testHow(os.O_WRONLY|os.O_APPEND, 0))
	if err != nil {
		t.Fatalf("40 links: %v", err)
	}
	// z38: 41.
	requireSameOpen(t, filepath.Join(dir, "z38"), os.O_WRONLY|os.O_APPEND)
	_, err = openFile(filepath.Join(dir, "z38"), testHow(os.O_WRONLY|os.O_APPEND, 0))
	if !errors.Is(err, unix.ELOOP) {
		t.Fatalf("41 links: %v, want ELOOP", err)
	}
}

// TestOpenFileProcLinkOnTheWay: a magic link in /proc on the way (a name
// follows it) is followed by the kernel, to the file held open, not by its
// text. The walk used to follow the text: "pipe:[N]" failed ENOENT where
// open(2) fails ENOTDIR, and the text of a directory another file system is
// now mounted over led into that file system.
func TestOpenFileProcLinkOnTheWay(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	requireSameOpen(t, fmt.Sprintf("/proc/self/fd/%d/x", w.Fd()), os.O_WRONLY|os.O_APPEND|os.O_CREATE)

	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: mounting needs root")
		}
		t.Skip("mounting needs root")
	}
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.log"), []byte("under\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0755"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	if err := os.WriteFile(filepath.Join(dir, "app.log"), []byte("over\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/proc/self/fd/%d/app.log", held.Fd())
	requireSameOpen(t, path, os.O_WRONLY|os.O_APPEND)
	f, err := openFile(path, testHow(os.O_WRONLY|os.O_APPEND, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		t.Fatal("opened the file on the tmpfs mounted over the directory held open")
	}
}
