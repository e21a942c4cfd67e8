package watchedfile

// The trees FuzzOpenFile and FuzzOpenFileOwners decode their inputs into.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const (
	fuzzNames = "abcdef"
	// fuzzPadding directories lie between f.TempDir() and the trees,
	// deeper than any ".." the input can climb (at most fuzzMaxOps links
	// with fuzzMaxDotDot each, and the path's own), so whatever a path
	// with O_CREATE or mkdirs makes is inside f.TempDir().
	fuzzPadding = 48
	fuzzMaxOps  = 16
	// fuzzMaxDotDot ".." components at most in one link target.
	fuzzMaxDotDot = 2
	// fuzzMaxChain links at most in one chain: past maxLinkHops.
	fuzzMaxChain = 45
)

// fuzzInput hands out the input's bytes, then zeros.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) next() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

// fuzzTree is the tree an input built.
type fuzzTree struct {
	t     *testing.T
	base  string   // the top of the padding: f.TempDir()
	root  string   // the tree, fuzzPadding directories below base
	dirs  []string // directories, relative to root ("" is root)
	files []string // regular files, relative to root
}

// fuzzEnv is what the inputs of one fuzz target share: the padding, and the
// names in / when it began.
type fuzzEnv struct {
	pad string          // the directory trees are made in
	top map[string]bool // the entries of /
}

// fuzzPad makes the padding once per fuzz target (in each fuzzing
// process), below f.TempDir().
func fuzzPad(f *testing.F) *fuzzEnv {
	pad := filepath.Join(f.TempDir(), strings.Repeat("p/", fuzzPadding))
	if err := os.MkdirAll(pad, 0o755); err != nil {
		f.Fatal(err)
	}
	return &fuzzEnv{pad: pad, top: topNames()}
}

func topNames() map[string]bool {
	top := map[string]bool{}
	entries, _ := os.ReadDir("/")
	for _, e := range entries {
		top[e.Name()] = true
	}
	return top
}

// checkEscapes fails if / has an entry with a name the inputs use that it
// did not have: made by a path that got out of the tree (a harness bug).
func (env *fuzzEnv) checkEscapes(t *testing.T) {
	for name := range topNames() {
		fuzzed := len(name) == 1 && strings.Contains(fuzzNames, name) ||
			strings.HasPrefix(name, "z") && strings.Trim(name[1:], "0123456789") == "" && len(name) > 1
		if fuzzed && !env.top[name] {
			t.Errorf("/%s appeared: made out of the tree", name)
		}
	}
}

// decodeTree builds the tree the input describes in a new directory in pad
// and returns it with the path to open and openFile's flags. Layout of the
// input: a header byte (bit 0: O_CREATE, bit 1: mkdirs), the number of
// operations, the operations (see op), then the path's components (see
// relPath). With owners, the tree's root and each directory and link get an
// owner byte.
func decodeTree(t *testing.T, env *fuzzEnv, data []byte, owners bool) (tr *fuzzTree, path string, flag int, mkdirs bool) {
	in := &fuzzInput{b: data}
	root, err := os.MkdirTemp(env.pad, "r")
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(env.pad, strings.Repeat("/p", fuzzPadding))
	tr = &fuzzTree{t: t, base: base, root: root, dirs: []string{""}}
	t.Cleanup(func() {
		env.checkEscapes(t)
		if t.Failed() {
			tr.dump()
		}
		tr.restoreModes()
		os.RemoveAll(root)
	})

	hdr := in.next()
	flag = os.O_WRONLY | os.O_APPEND
	if hdr&1 != 0 {
		flag |= os.O_CREATE
		mkdirs = hdr&2 != 0
	}
	if owners {
		tr.chown(root, in)
	}
	for n := int(in.next() % (fuzzMaxOps + 1)); n > 0; n-- {
		tr.op(in, owners)
	}
	return tr, root + "/" + tr.relPath(in, 6, 3), flag, mkdirs
}

// op makes one entry: the operation byte chooses what, the next bytes
// where and how.
func (tr *fuzzTree) op(in *fuzzInput, owners bool) {
	kind := in.next() % 8
	dir := tr.dirs[int(in.next())%len(tr.dirs)]
	name := tr.name(in)
	rel := join(dir, name)
	p := filepath.Join(tr.root, rel)
	var err error
	switch kind {
	case 0, 1: // a directory; modes that matter when not run as root
		mode := []uint32{0o755, 0o755, 0o755, 0o700, 0o500, 0o555, 0o600, 0}[in.next()%8]
		if err = unix.Mkdir(p, 0o755); err == nil {
			tr.dirs = append(tr.dirs, rel)
			if owners {
				tr.chown(p, in)
			}
			err = unix.Chmod(p, mode)
		}
	case 2: // a regular file
		mode := []uint32{0o644, 0o644, 0o644, 0o444}[in.next()%4]
		var fd int
		if fd, err = unix.Open(p, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, mode); err == nil {
			unix.Close(fd)
			tr.files = append(tr.files, rel)
		}
	case 3: // a FIFO: no reader, so a non-blocking open for writing fails
		err = unix.Mkfifo(p, 0o644)
	case 4: // a relative symlink
		tr.symlink(p, tr.relPath(in, 4, fuzzMaxDotDot), in, owners)
	case 5: // an absolute symlink into the tree
		tr.symlink(p, tr.root+"/"+tr.relPath(in, 4, fuzzMaxDotDot), in, owners)
	case 6: // a chain of links, some as long as the kernel's limit and more
		n := int(in.next() % (fuzzMaxChain + 1))
		target := tr.relPath(in, 3, fuzzMaxDotDot)
		for i := n; i > 0; i-- {
			link := "z" + strconv.Itoa(i)
			tr.symlink(filepath.Join(tr.root, dir, link), target, in, owners)
			target = link
		}
		tr.symlink(p, target, in, owners)
	case 7: // a link to /proc/self/fd/N, or a loop
		switch in.next() % 4 {
		case 0: // loops: to itself, or a pair
			tr.symlink(p, name, in, owners)
			other := tr.name(in)
			tr.symlink(filepath.Join(tr.root, dir, other), name, in, owners)
		case 1: // a pipe's write end: a reader exists, so it opens
			r, w, perr := os.Pipe()
			if perr != nil {
				tr.t.Fatal(perr)
			}
			tr.t.Cleanup(func() { r.Close(); w.Close() })
			tr.symlink(p, fmt.Sprintf("/proc/self/fd/%d%s", w.Fd(), tr.suffix(in)), in, owners)
		default: // a file or directory of the tree held open
			var target string
			var oflag int
			if in.next()%2 == 0 && len(tr.files) > 0 {
				target = tr.files[int(in.next())%len(tr.files)]
				oflag = unix.O_RDONLY
			} else {
				target = tr.dirs[int(in.next())%len(tr.dirs)]
				oflag = unix.O_RDONLY | unix.O_DIRECTORY
			}
			if in.next()%2 == 0 {
				oflag = unix.O_PATH
			}
			fd, oerr := unix.Open(filepath.Join(tr.root, target), oflag|unix.O_CLOEXEC, 0)
			if oerr != nil {
				return // a directory without permission, when not root
			}
			tr.t.Cleanup(func() { unix.Close(fd) })
			tr.symlink(p, fmt.Sprintf("/proc/self/fd/%d%s", fd, tr.suffix(in)), in, owners)
		}
	}
	if err != nil && !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.EACCES) {
		tr.t.Fatalf("making %s: %v", p, err)
	}
}

// symlink makes a link (where nothing is yet), and gives it an owner. An
// absolute target leads into the tree or to /proc/self/fd: nothing the
// input makes can reach above the padding. Where a name is already taken,
// the owner byte is read but what has the name keeps its owner: regular
// files are the caller's.
func (tr *fuzzTree) symlink(p, target string, in *fuzzInput, owners bool) {
	if strings.HasPrefix(target, "/") && !strings.HasPrefix(target, tr.root+"/") &&
		!strings.HasPrefix(target, "/proc/self/fd/") {
		tr.t.Fatalf("link %s -> %s: out of the tree", p, target)
	}
	err := unix.Symlink(target, p)
	if err != nil && !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EACCES) {
		tr.t.Fatalf("symlink %s -> %s: %v", p, target, err)
	}
	if owners {
		uid := tr.owner(in)
		if err == nil {
			tr.lchown(p, uid)
		}
	}
}

// fuzzUIDs: the caller (root when owners are fuzzed) and two others.
var fuzzUIDs = [...]int{-1, 65534, 1000}

func (tr *fuzzTree) chown(p string, in *fuzzInput) {
	tr.lchown(p, tr.owner(in))
}

// owner reads an owner byte: a uid, or -1 for the caller.
func (tr *fuzzTree) owner(in *fuzzInput) int {
	return fuzzUIDs[in.next()%3]
}

func (tr *fuzzTree) lchown(p string, uid int) {
	if uid < 0 {
		return
	}
	if err := unix.Lchown(p, uid, uid); err != nil && !errors.Is(err, unix.ENOENT) {
		tr.t.Fatalf("lchown %s: %v", p, err)
	}
}

func (tr *fuzzTree) name(in *fuzzInput) string {
	return string(fuzzNames[in.next()%uint8(len(fuzzNames))])
}

// relPath reads up to max components: names, ".", "..", empty ones (a
// double slash), at most dotdot "..", and maybe a trailing slash. Never
// empty: "." instead.
func (tr *fuzzTree) relPath(in *fuzzInput, max, dotdot int) string {
	n := int(in.next()) % (max + 1)
	var parts []string
	for range n {
		switch c := in.next() % 10; {
		case c < 6:
			parts = append(parts, string(fuzzNames[c]))
		case c == 6:
			parts = append(parts, ".")
		case c == 7 && dotdot > 0:
			parts = append(parts, "..")
			dotdot--
		case c == 8:
			parts = append(parts, "")
		default: // a link of a chain
			parts = append(parts, "z"+strconv.Itoa(int(in.next()%(fuzzMaxChain+1))))
		}
	}
	if len(parts) > 0 && parts[0] == "" {
		parts[0] = "." // not "/...": relative stays relative
	}
	p := strings.Join(parts, "/")
	if in.next()%4 == 0 {
		p += "/"
	}
	if p == "" || p == "/" {
		p = "." + p
	}
	return p
}

// suffix is nothing or a path to follow a /proc/self/fd link with.
func (tr *fuzzTree) suffix(in *fuzzInput) string {
	if in.next()%2 == 0 {
		return ""
	}
	return "/" + tr.relPath(in, 2, fuzzMaxDotDot)
}

// restoreModes lets t.TempDir remove what a non-root caller made
// unreadable.
func (tr *fuzzTree) restoreModes() {
	for _, d := range tr.dirs {
		unix.Chmod(filepath.Join(tr.root, d), 0o755)
	}
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// dump logs the tree, for a failure's message.
func (tr *fuzzTree) dump() {
	filepath.WalkDir(tr.root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		line := fmt.Sprintf("%v %d %s", fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid, strings.TrimPrefix(p, tr.root))
		if target, err := os.Readlink(p); err == nil {
			line += " -> " + target
		}
		tr.t.Log(line)
		return nil
	})
}
