package watchedfile

import (
	"errors"
	"io/fs"
	"os"
)

// errLockBusy is lockFile's answer when another holds the lock and the caller
// would not wait.
var errLockBusy = errors.New("watchedfile: lock held by another process")

// lockFile takes an exclusive lock on the file at path, creating it with
// mode perm and the owner uid and gid (0: the process's), and returns the
// function that lets go of it. Without wait it fails with errLockBusy when
// another holds the lock. The lock belongs to the descriptor it opens: two
// Writers of one process exclude each other as two processes do, and a
// process that dies lets go of it.
func lockFile(path string, perm fs.FileMode, uid, gid int, mkdirs bool, dirPerm fs.FileMode, wait bool) (unlock func(), err error) {
	f, err := openFile(path, os.O_RDWR|os.O_CREATE, perm, mkdirs, dirPerm)
	if err != nil {
		return nil, err
	}
	if err := chown(f, uid, gid); err != nil {
		f.Close()
		return nil, err
	}
	if err := lock(f, wait); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing lets go
}
