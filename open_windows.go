package watchedfile

import (
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// openFile opens path as how says, as os.OpenFile does, but shares it for
// deletion too: os.OpenFile shares read and write only, so while the Writer
// holds the file another program's rename or delete of it (any rotator)
// fails with a sharing violation. With mkdirs, missing directories are made
// first (mode dirPerm). The rules of safety.go do not apply: Windows has no
// Unix owners, and the directory's ACL is what protects it.
func openFile(path string, how openHow) (*os.File, error) {
	fail := func(err error) (*os.File, error) {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	flag, perm := how.flag, how.perm
	if how.mkdirs {
		if err := os.MkdirAll(filepath.Dir(path), how.dirPerm); err != nil {
			return nil, err
		}
	}
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return fail(err)
	}
	// FILE_APPEND_DATA without FILE_WRITE_DATA: every write lands at the
	// end, as O_APPEND does. Attributes for Stat, SYNCHRONIZE for
	// synchronous I/O.
	access := uint32(windows.FILE_APPEND_DATA | windows.FILE_READ_ATTRIBUTES |
		windows.FILE_WRITE_ATTRIBUTES | windows.SYNCHRONIZE)
	switch flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR) {
	case os.O_RDWR: // a lock file: LockFileEx wants read or write access
		access |= windows.GENERIC_READ | windows.GENERIC_WRITE
	case os.O_RDONLY: // a rotated file, to compress
		access = windows.GENERIC_READ | windows.FILE_READ_ATTRIBUTES | windows.SYNCHRONIZE
	}
	share := uint32(windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE)
	create := uint32(windows.OPEN_EXISTING)
	switch {
	case flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		create = windows.CREATE_NEW
	case flag&os.O_CREATE != 0:
		create = windows.OPEN_ALWAYS
	}
	attrs := uint32(windows.FILE_ATTRIBUTE_NORMAL)
	if perm&0o200 == 0 { // as syscall.Open: no write bit, a read-only file
		attrs = windows.FILE_ATTRIBUTE_READONLY
	}
	h, err := windows.CreateFile(name, access, share, nil, create, attrs, 0)
	if err != nil {
		return fail(err)
	}
	return os.NewFile(uintptr(h), path), nil
}
