package watchedfile

import (
	"errors"
	"io/fs"
	"os"
)

// errLockBusy is lockFile's answer when another holds the lock and the caller
// would not wait.
var errLockBusy = errors.New("watchedfile: lock held by another process")

// lockHow says which lock lock (one per system: lockfile_*.go) takes, and
// whether it waits for it or fails with errLockBusy.
type lockHow struct {
	shared bool // a shared lock, else an exclusive one
	wait   bool
}

// lockFile takes an exclusive lock on the file at path, opening it as how
// says (the rotation's own file: no symlink, created with O_EXCL and its
// owner, or one the rules take as the Writer's), and returns the function
// that lets go of it. Without wait it fails with errLockBusy when another
// holds the lock. The lock belongs to the descriptor it opens: two Writers
// of one process exclude each other as two processes do, and a process
// that dies lets go of it.
func lockFile(path string, how openHow, wait bool) (unlock func(), err error) {
	how.flag, how.noLink = os.O_RDWR|os.O_CREATE, true
	f, err := openFile(path, how)
	if err != nil {
		return nil, err
	}
	if err := lock(f, lockHow{wait: wait}); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing lets go
}

// lockPerm is the mode of a log's lock files: for its owner and, where the
// log's group may write the log (several users write it), for that group.
// Anyone who can open a lock file can hold its lock, so no one who may only
// read the log, or not even that, may open them.
func lockPerm(logPerm fs.FileMode) fs.FileMode {
	if logPerm&0o020 != 0 {
		return 0o660
	}
	return 0o600
}
