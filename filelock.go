package watchedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
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

// lock opens the lock file name in d as how says (the rotation's own file:
// no symlink, created with O_EXCL and its owner, or one the rules take as
// the Writer's), takes the lock lock says, and returns the function that
// lets go of it. With lock.wait it waits, but no longer than lockWait
// (another user may hold a lock file that is theirs: see
// docs/guarantees.md#security), then fails with an error wrapping
// ErrRotationStalled. The lock belongs to the descriptor it opens: two
// Writers of one process exclude each other as two processes do, and a
// process that dies lets go of it. A lock file of its own that an earlier
// version left readable by others is given lockPerm.
func (d *logDir) lock(name string, how openHow, lock lockHow) (unlock func(), err error) {
	how.flag, how.noLink = os.O_RDWR|os.O_CREATE, true
	f, err := d.open(name, how)
	if err != nil {
		return nil, err
	}
	if err := takeLockWaiting(f, lock); err != nil {
		f.Close()
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&^how.perm != 0 {
		if n, ok := nodeOf(fi); !ok || n.uid == how.trust.euid {
			f.Chmod(how.perm)
		}
	}
	return func() { f.Close() }, nil // closing lets go
}

// lockWait bounds how long a lock is waited for.
const lockWait = 10 * time.Second

// takeLockWaiting is takeLock, but with lock.wait it tries again on a short
// backoff for lockWait, instead of waiting for the lock with no bound.
func takeLockWaiting(f *os.File, lock lockHow) error {
	if !lock.wait {
		return takeLock(f, lock)
	}
	lock.wait = false
	deadline := time.Now().Add(lockWait)
	for backoff := time.Millisecond; ; backoff = min(2*backoff, 100*time.Millisecond) {
		err := takeLock(f, lock)
		if !errors.Is(err, errLockBusy) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (%s held by another process for %v)", ErrRotationStalled, f.Name(), lockWait)
		}
		time.Sleep(backoff)
	}
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
