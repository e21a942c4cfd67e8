package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
)

// The rules that keep a Writer, above all one running as root, from being
// turned against its machine by a user who may write to a directory on the
// way to its log (docs/guarantees.md, "Security"). Every file the Writer
// opens, creates, chowns, compresses or removes is judged here; the path
// walks (open_*.go) and the rotation's file operations (rotator.go,
// maintain.go) ask, and do what the answer says.
//
//   - A directory that group or others may write is refused unless the
//     caller says it is meant (WithSharedDir), as logrotate refuses one
//     unless told whom to act as (su).
//   - A symlink is followed if root or the Writer's own user made it, or
//     if what it leads to belongs to the link's owner (Apache's
//     SymLinksIfOwnerMatch): a user can point the Writer only at their own
//     files and directories, which they could write anyway. In a directory
//     another user may change, a symlink with other names (a hard link of
//     root's) is not followed.
//   - In a directory someone else may change (owned by another user, or
//     shared), an existing file is used only if it is a regular file owned
//     by the Writer's user, the rotation's owner or the directory's owner,
//     and, unless it is the directory owner's, has no other name (a hard
//     link to a file elsewhere); it is judged before it is opened for
//     writing (Linux), so that a device's open never happens.
//   - A file is created only with O_EXCL|O_NOFOLLOW, and chowned only
//     then, through its descriptor; never through a symlink another user
//     made.
//   - The rotation takes a dated file, a compressed copy or a lock as its
//     own only if it is a regular file owned by one of those users, and
//     removes nothing else.
//
// Windows has no Unix owners: there the rules do not apply (nodeOf reports
// none), and the directory's ACL is what protects it.

var (
	// ErrUnsafeSymlink is returned, wrapped, when the path leads through a
	// symlink the Writer refuses to follow: one made by a user other than
	// root and the Writer's own, to something that user does not own, or
	// to nothing (a missing file it would create); or a symlink where a
	// file of the rotation's own must be.
	ErrUnsafeSymlink = errors.New("watchedfile: refusing to follow a symlink another user made to what is not theirs")

	// ErrUnsafeFile is returned, wrapped, when the file at the path, in a
	// directory another user may change, is not one the Writer takes as
	// its own: not a regular file, another user's, or a hard link to a
	// file elsewhere.
	ErrUnsafeFile = errors.New("watchedfile: refusing a file another user could have planted")

	// ErrSharedDir is returned, wrapped, when the log's directory may be
	// written by group or others and [WithSharedDir] was not given.
	ErrSharedDir = errors.New("watchedfile: refusing a directory that group or others may write (see WithSharedDir)")
)

// A node is what the rules need to know of a file or directory.
type node struct {
	uid   uint32
	mode  fs.FileMode // type and permission bits, as fs.FileInfo's
	nlink uint64
}

// trust is whose files a Writer takes for its own, and whether it may use a
// directory that group or others may write.
type trust struct {
	euid   uint32 // the process's effective user
	owner  uint32 // the user the Writer's files are given to (Rotation.UID), or euid
	shared bool   // WithSharedDir
}

// dir reports whether the Writer may use directory d for its files.
func (t trust) dir(d node) error {
	if !t.shared && d.mode.Perm()&0o022 != 0 {
		return fmt.Errorf("%w (mode %v)", ErrSharedDir, d.mode)
	}
	return nil
}

// link reports whether a symlink l is followed without looking at what it
// leads to: root or the Writer's user made it. Any other link must lead to
// something its owner owns.
func (t trust) link(l node) bool {
	return l.uid == 0 || l.uid == t.euid
}

// linkHere reports whether the symlink l, an entry of directory d, may be
// followed at all: in a directory another user may change, not a symlink
// with other names, which could be a hard link of root's own symlink (to
// anywhere) that another user planted there.
func (t trust) linkHere(d, l node) error {
	if l.nlink > 1 && t.guarded(d) {
		return fmt.Errorf("%w (a symlink with %d names in a directory another user may change)", ErrUnsafeSymlink, l.nlink)
	}
	return nil
}

// leadsTo reports whether a link owned by linkOwner, followed because
// [trust.link] did not trust it at once, may lead to n.
func leadsTo(linkOwner uint32, n node) error {
	if n.uid != linkOwner {
		return fmt.Errorf("%w (the link is uid %d's, what it leads to uid %d's)", ErrUnsafeSymlink, linkOwner, n.uid)
	}
	return nil
}

// guarded reports whether a user other than root and the Writer's may add,
// remove or replace entries in directory d.
func (t trust) guarded(d node) bool {
	return d.mode.Perm()&0o022 != 0 || (d.uid != 0 && d.uid != t.euid)
}

// file reports whether the Writer may use f, an existing entry of directory
// d that it did not create just now.
func (t trust) file(d, f node) error {
	if !t.guarded(d) {
		return nil
	}
	switch {
	case !f.mode.IsRegular():
		return fmt.Errorf("%w (a %v, not a regular file)", ErrUnsafeFile, f.mode.Type())
	case f.uid != t.euid && f.uid != t.owner && f.uid != d.uid:
		// The directory's owner's own file: they could write it anyway
		// (logrotate's "create 0640 app app" in app's directory).
		return fmt.Errorf("%w (owned by uid %d)", ErrUnsafeFile, f.uid)
	case f.nlink > 1 && !(f.uid == d.uid && d.uid != t.euid):
		return fmt.Errorf("%w (%d hard links: it has a name elsewhere)", ErrUnsafeFile, f.nlink)
	}
	return nil
}

// ours reports whether f, an entry of directory d, is one of the
// rotation's files of kind (0 for a regular file, fs.ModeSymlink for a
// link), which it may count, compress, rename and remove: any of that kind
// where only root and the Writer's user may make entries; elsewhere one
// with a single name, owned by the Writer's user, the rotation's owner or
// the directory's owner (whose Writers, running as that user, made it; who
// could remove or replace it anyway). Not a hard link: root's /etc/shadow
// linked in under a dated name is not a file to compress.
func (t trust) ours(d, f node, kind fs.FileMode) bool {
	if f.mode.Type() != kind {
		return false
	}
	if !t.guarded(d) {
		return true
	}
	return f.nlink == 1 && (f.uid == t.euid || f.uid == t.owner || f.uid == d.uid)
}

// made reports whether f, one of the rotation's files in d (see ours), was
// made by a Writer of the path, running as the Writer's user or giving its
// files to the rotation's owner, and not by the directory's owner: only
// such a compressed copy is known to be complete (a planted X.log.gz must
// not pass for X.log's).
func (t trust) made(d, f node) bool {
	return !t.guarded(d) || f.uid == t.euid || f.uid == t.owner
}
