package watchedfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"

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

// fileStandardInfo is FILE_STANDARD_INFO, which x/sys/windows does not
// declare.
type fileStandardInfo struct {
	AllocationSize int64
	EndOfFile      int64
	NumberOfLinks  uint32
	DeletePending  bool
	Directory      bool
}

// unlinked reports whether the open file f has been deleted: its handle says
// the delete is pending (the name lingers until the last handle closes) or,
// with POSIX delete semantics, that it has no name left.
func unlinked(f *os.File) bool {
	info, err := standardInfo(f)
	return err == nil && (info.DeletePending || info.NumberOfLinks == 0)
}

// deletePending reports whether the open file f is deleted but keeps its name
// until its last handle closes (Windows without POSIX delete semantics:
// before Windows 10 1809 on NTFS, FAT, many SMB shares). Nothing can be
// created at that name meanwhile, and the Writer's own handle may be what
// keeps it.
func deletePending(f *os.File) bool {
	info, err := standardInfo(f)
	return err == nil && info.DeletePending
}

// standardInfo asks the handle of f for its FILE_STANDARD_INFO.
func standardInfo(f *os.File) (fileStandardInfo, error) {
	var info fileStandardInfo
	rc, err := f.SyscallConn()
	if err != nil {
		return info, err
	}
	cerr := rc.Control(func(fd uintptr) {
		err = windows.GetFileInformationByHandleEx(windows.Handle(fd), windows.FileStandardInfo,
			(*byte)(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
	})
	if cerr != nil {
		return info, cerr
	}
	return info, err
}

// dupFile returns a second handle for f's open file.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var dup windows.Handle
	cerr := rc.Control(func(h uintptr) {
		p := windows.CurrentProcess()
		err = windows.DuplicateHandle(p, windows.Handle(h), p, &dup, 0, false, windows.DUPLICATE_SAME_ACCESS)
	})
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, &os.SyscallError{Syscall: "DuplicateHandle", Err: err}
	}
	return os.NewFile(uintptr(dup), f.Name()), nil
}

// nodeOf reports that Windows has no Unix owners: the rules do not apply.
func nodeOf(fs.FileInfo) (node, bool) { return node{}, false }

// euid is a user no file belongs to: Windows has no Unix owners.
func euid() uint32 { return ^uint32(0) }

// creationTime returns when the file of info was created.
func creationTime(info fs.FileInfo) time.Time {
	if d, ok := info.Sys().(*syscall.Win32FileAttributeData); ok {
		return time.Unix(0, d.CreationTime.Nanoseconds())
	}
	return time.Time{}
}

// renameNoReplace gives the file at old the name new, unless new exists
// (MoveFileEx without MOVEFILE_REPLACE_EXISTING).
func renameNoReplace(old, new string) error {
	from, err := windows.UTF16PtrFromString(old)
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(new)
	if err != nil {
		return err
	}
	if err := windows.MoveFileEx(from, to, 0); err != nil {
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
	}
	return nil
}
