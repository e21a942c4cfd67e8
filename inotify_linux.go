package watchedfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// What a Writer needs to hear of. Its own file: renamed, deleted, or
// IN_ATTRIB, which is all an open file gets when it is unlinked or another
// file is renamed over it (link count changed). Not IN_MODIFY: every write
// would wake the Writer. The directory: entries created, deleted or moved
// (filtered to the file's name), and the directory itself moved or deleted.
// Not IN_ATTRIB on the directory: an event a directory receives for its
// children makes the kernel take a slower path on every write to every file
// in it (measured: +15% per 100-byte write). A new file that cannot be
// opened yet (logrotate fixes its owner after creating it) is retried on a
// short backoff instead.
const (
	fileMask = unix.IN_ATTRIB | unix.IN_MOVE_SELF | unix.IN_DELETE_SELF
	dirMask  = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_MOVE_SELF | unix.IN_DELETE_SELF | unix.IN_ONLYDIR
)

// errNoEvents wraps the reason a file cannot be watched with inotify.
var errNoEvents = errors.New("watchedfile: inotify cannot watch this file")

// instance is the process's inotify instance, shared by every Writer (the
// default limit is 128 instances per user). It exists while some Writer uses
// it; the last one to let go of it closes it and stops its goroutine.
var instance struct {
	sync.Mutex
	in *inotify
}

type inotify struct {
	fd     int
	file   *os.File      // fd, for the runtime poller: Close wakes the read
	exited chan struct{} // closed when the read loop returns
	users  int           // guarded by instance's lock

	mu      sync.Mutex
	watches map[int32]*watch
	failed  error // why the read loop stopped, if not closed
}

// A watch is one inotify watch descriptor and the Writers it serves. Two
// Writers of the same file or directory share it: the kernel gives both the
// same descriptor.
type watch struct {
	dir  bool
	subs map[*inotifyWatcher]string // Writer → file name, for a directory
	path string                     // a directory's, to change its mask
	mask uint32                     // a directory's: dirMask, and IN_ATTRIB while a Writer wants it
}

// inotifyWatcher is one Writer's use of the shared instance.
type inotifyWatcher struct {
	in         *inotify
	changed    func()
	fileWd     int32 // -1: none
	dirWd      int32
	dirName    string
	wantAttrib bool // IN_ATTRIB on the directory: see attrib
}

func newWatcher(changed func()) (watcher, error) {
	in, err := acquireInotify()
	if err != nil {
		return nil, err
	}
	return &inotifyWatcher{in: in, changed: changed, fileWd: -1, dirWd: -1}, nil
}

// acquireInotify returns the shared instance, making one if there is none
// or if the one there stopped reading.
func acquireInotify() (*inotify, error) {
	instance.Lock()
	defer instance.Unlock()
	if instance.in == nil || instance.in.err() != nil {
		fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("%w: inotify_init1: %w", errNoEvents, err)
		}
		in := &inotify{
			fd:      fd,
			file:    os.NewFile(uintptr(fd), "inotify"),
			exited:  make(chan struct{}),
			watches: make(map[int32]*watch),
		}
		go in.readEvents()
		instance.in = in
	}
	instance.in.users++
	return instance.in, nil
}

func (in *inotify) release() error {
	instance.Lock()
	defer instance.Unlock()
	in.users--
	if in.users > 0 {
		return nil
	}
	if instance.in == in {
		instance.in = nil
	}
	err := in.file.Close()
	<-in.exited
	return err
}

// err reports why the instance no longer reads events, or nil.
func (in *inotify) err() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.failed
}

func (iw *inotifyWatcher) err() error { return iw.in.err() }

func (iw *inotifyWatcher) watch(f *os.File, path string) error {
	if fsName, ok := remoteFS(f); ok {
		return fmt.Errorf("%w: %s is on %s, which does not report changes made elsewhere", errNoEvents, path, fsName)
	}
	in := iw.in
	in.mu.Lock()
	defer in.mu.Unlock()

	// Watch the open file's inode through /proc/self/fd, so the watch is
	// on the file we hold even if the path changed since we opened it.
	var fileWd int
	var err error
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			fileWd, err = unix.InotifyAddWatch(in.fd, "/proc/self/fd/"+strconv.Itoa(int(fd)), fileMask)
		})
		if cerr != nil {
			err = cerr
		}
	}
	if errors.Is(err, unix.ENOENT) { // no /proc: watch by name
		fileWd, err = unix.InotifyAddWatch(in.fd, path, fileMask)
	}
	if err != nil {
		return fmt.Errorf("%w: inotify_add_watch %s: %w", errNoEvents, path, err)
	}
	in.subscribe(int32(fileWd), iw, "", "")

	// IN_MASK_ADD: another Writer's IN_ATTRIB on a shared watch stays.
	dir := filepath.Dir(path)
	dirWd, err := unix.InotifyAddWatch(in.fd, dir, dirMask|unix.IN_MASK_ADD)
	if err != nil {
		in.unsubscribe(int32(fileWd), iw)
		return fmt.Errorf("%w: inotify_add_watch %s: %w", errNoEvents, dir, err)
	}
	in.subscribe(int32(dirWd), iw, filepath.Base(path), dir)
	if iw.wantAttrib {
		in.setDirMask(int32(dirWd))
	}

	// Drop the old watches only now, so a watch shared with the new ones
	// is not removed and added again.
	if iw.fileWd >= 0 && iw.fileWd != int32(fileWd) {
		in.unsubscribe(iw.fileWd, iw)
	}
	if iw.dirWd >= 0 && iw.dirWd != int32(dirWd) {
		in.unsubscribe(iw.dirWd, iw)
	}
	iw.fileWd, iw.dirWd, iw.dirName = int32(fileWd), int32(dirWd), filepath.Base(path)
	return nil
}

func (iw *inotifyWatcher) close() error {
	in := iw.in
	in.mu.Lock()
	for _, wd := range []int32{iw.fileWd, iw.dirWd} {
		if wd >= 0 {
			in.unsubscribe(wd, iw)
		}
	}
	iw.fileWd, iw.dirWd = -1, -1
	in.mu.Unlock()
	return in.release()
}

// attrib adds IN_ATTRIB to the directory watch while on, so that a file at
// the path that the Writer cannot open yet (logrotate's, before its fchown
// and fchmod) flags the Writer when its owner or mode changes. Only while
// on: see dirMask.
func (iw *inotifyWatcher) attrib(on bool) {
	in := iw.in
	in.mu.Lock()
	defer in.mu.Unlock()
	iw.wantAttrib = on
	in.setDirMask(iw.dirWd)
}

// setDirMask sets the mask of directory watch wd to what its Writers want.
// Called with in.mu held.
func (in *inotify) setDirMask(wd int32) {
	w := in.watches[wd]
	if w == nil || !w.dir {
		return
	}
	mask := uint32(dirMask)
	for iw := range w.subs {
		if iw.wantAttrib {
			mask |= unix.IN_ATTRIB
		}
	}
	if mask == w.mask {
		return
	}
	got, err := unix.InotifyAddWatch(in.fd, w.path, mask)
	switch {
	case err != nil: // the directory is gone: its watch goes with it
	case int32(got) != wd: // the path names another directory now
		if in.watches[int32(got)] == nil {
			unix.InotifyRmWatch(in.fd, uint32(got))
		}
	default:
		w.mask = mask
	}
}

// subscribe and unsubscribe are called with in.mu held. dir is the path of
// a directory watch, empty for a file's.
func (in *inotify) subscribe(wd int32, iw *inotifyWatcher, name string, dir string) {
	w := in.watches[wd]
	if w == nil {
		w = &watch{dir: dir != "", path: dir, mask: dirMask, subs: make(map[*inotifyWatcher]string)}
		in.watches[wd] = w
	}
	w.subs[iw] = name
}

func (in *inotify) unsubscribe(wd int32, iw *inotifyWatcher) {
	w := in.watches[wd]
	if w == nil {
		return // the kernel removed it already (IN_IGNORED)
	}
	delete(w.subs, iw)
	if len(w.subs) == 0 {
		delete(in.watches, wd)
		unix.InotifyRmWatch(in.fd, uint32(wd)) // EINVAL if already gone: nothing to do
		return
	}
	if iw.wantAttrib {
		in.setDirMask(wd)
	}
}

// readEvents is the instance's goroutine. It returns when the file is
// closed, or on an error no read can cure (the runtime poller owns the
// descriptor, so EINTR and EAGAIN never reach it): then every Writer is told,
// and the next to start watching gets a new instance.
func (in *inotify) readEvents() {
	defer close(in.exited)
	buf := make([]byte, 64*1024)
	for {
		n, err := in.file.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				in.fail(err)
			}
			return
		}
		in.dispatch(buf[:n])
	}
}

// fail records why the instance stopped and flags every Writer it served.
func (in *inotify) fail(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.failed = fmt.Errorf("%w: reading events: %w", errNoEvents, err)
	in.changedAll()
}

func (in *inotify) changedAll() {
	for _, w := range in.watches {
		for iw := range w.subs {
			iw.changed()
		}
	}
}

// dispatch flags the Writers that events in buf concern, as it reads them.
func (in *inotify) dispatch(buf []byte) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for len(buf) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(buf[0:]))
		mask := binary.NativeEndian.Uint32(buf[4:])
		nameLen := int(binary.NativeEndian.Uint32(buf[12:]))
		end := min(unix.SizeofInotifyEvent+nameLen, len(buf))
		name := buf[unix.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		buf = buf[end:]

		if mask&unix.IN_Q_OVERFLOW != 0 { // events were lost: everyone looks
			in.changedAll()
			continue
		}
		w := in.watches[wd]
		if w == nil {
			continue
		}
		for iw, want := range w.subs {
			if w.dir && len(name) > 0 && string(name) != want {
				continue // another file in the directory
			}
			iw.changed()
		}
		if mask&unix.IN_IGNORED != 0 { // the kernel dropped the watch
			delete(in.watches, wd)
			for iw := range w.subs {
				if iw.fileWd == wd {
					iw.fileWd = -1
				}
				if iw.dirWd == wd {
					iw.dirWd = -1
				}
			}
		}
	}
}

// remoteFS reports whether f is on a file system whose changes made by other
// machines or processes inotify does not report, and names it.
func remoteFS(f *os.File) (string, bool) {
	var st unix.Statfs_t
	rc, err := f.SyscallConn()
	if err != nil {
		return "", false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstatfs(int(fd), &st) }); err != nil || serr != nil {
		return "", false
	}
	switch uint32(st.Type) {
	case unix.NFS_SUPER_MAGIC:
		return "NFS", true
	case unix.SMB_SUPER_MAGIC, unix.SMB2_SUPER_MAGIC, unix.CIFS_SUPER_MAGIC:
		return "SMB/CIFS", true
	case unix.FUSE_SUPER_MAGIC:
		return "FUSE", true
	case unix.CEPH_SUPER_MAGIC:
		return "Ceph", true
	case unix.V9FS_MAGIC:
		return "9P", true
	case unix.AFS_SUPER_MAGIC, unix.AFS_FS_MAGIC:
		return "AFS", true
	case unix.CODA_SUPER_MAGIC:
		return "Coda", true
	case unix.OCFS2_SUPER_MAGIC:
		return "OCFS2", true
	}
	return "", false
}
