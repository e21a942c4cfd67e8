package watchedfile

import (
	"errors"
	"io/fs"
	"os"
)

// errLockBusy is takeLock's answer when another holds the lock and the caller
// would not wait.
var errLockBusy = errors.New("watchedfile: lock held by another process")

// lockHow says which lock takeLock (one per system: filelock_*.go) takes,
// and whether it waits for it or fails with errLockBusy.
type lockHow struct {
	shared bool // a shared lock, else an exclusive one
	wait   bool
}

// openLock opens the lock file at path as how says (the rotation's own
// file: no symlink, created with O_EXCL and its owner, or one the rules
// take as the Writer's), takes the lock lock says, and returns the function
// that lets go of it. The lock belongs to the descriptor it opens: two
// Writers of one process exclude each other as two processes do, and a
// process that dies lets go of it.
func openLock(path string, how openHow, lock lockHow) (unlock func(), err error) {
	how.flag, how.noLink = os.O_RDWR|os.O_CREATE, true
	f, err := openFile(path, how)
	if err != nil {
		return nil, err
	}
	if err := takeLock(f, lock); err != nil {
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
