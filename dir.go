package watchedfile

import (
	"io/fs"
	"time"
)

// A logDir is the directory of a rotated path, opened through the walk
// (open_*.go) under the rules of safety.go for one rotation or one pass of
// the maintenance: every name the rotation looks at, makes, renames or
// removes is taken in that directory, held open, whatever its path names
// meanwhile (a user who may rename the directory cannot turn a removal or
// a rename to another one). dir_unix.go works from the descriptor
// (openat(2) and the like); dir_other.go, where the rules do not apply,
// by path.

// An entry is what a logDir knows of a name in it, not following a link.
type entry struct {
	name    string
	node    node
	size    int64
	modTime time.Time
	id      [2]uint64 // device and inode, where the system has them
}

// ours reports whether e is one of the rotation's own files of kind (see
// trust.ours).
func (d *logDir) ours(e entry, kind fs.FileMode) bool {
	if !d.owners {
		return e.node.mode.Type() == kind
	}
	return d.trust.ours(d.node, e.node, kind)
}

// made reports whether e was made by a Writer of the path (see trust.made).
func (d *logDir) made(e entry) bool { return !d.owners || d.trust.made(d.node, e.node) }
