package watchedfile

import (
	"io/fs"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

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

// idOf is zero here: a logDir's entries have no device and inode either.
func idOf(fs.FileInfo) [2]uint64 { return [2]uint64{} }

// giveLike gives f, just created, the mode of the file fi describes.
func giveLike(f *os.File, fi fs.FileInfo) error { return f.Chmod(fi.Mode().Perm()) }
