package watchedfile

import "io/fs"

// openHow says how openFile (one per system: open_*.go) opens a file.
type openHow struct {
	// flag is os.OpenFile's. With O_CREATE, a missing file is created, with
	// O_EXCL, so never through a symlink; with O_EXCL too, only a new one.
	flag     int
	perm     fs.FileMode // a created file's, before the umask
	uid, gid int         // a created file's owner and group, when set (0: the process's)
	mkdirs   bool        // make missing directories on the way, with dirPerm
	dirPerm  fs.FileMode
	noLink   bool // refuse a symlink at the last component: the rotation's own files
	follow   bool // follow a symlink at the last component without looking (a magic link in /proc)
	dir      bool // the last component is a directory, opened to work in (logDir), judged as one
	trust    trust
}

// following is how, for a last component the kernel must follow itself.
func (how openHow) following() openHow {
	how.follow = true
	return how
}
