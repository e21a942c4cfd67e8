package watchedfile

import "golang.org/x/sys/unix"

// renameatNoReplace gives the file old, in the directory held open as dir,
// the name new, unless new exists: renameat2(RENAME_NOREPLACE), or, on a
// file system without it, a hard link and the old name removed.
func renameatNoReplace(dir int, old, new string) error {
	err := unix.Renameat2(dir, old, dir, new, unix.RENAME_NOREPLACE)
	if err != unix.EINVAL && err != unix.ENOSYS {
		return err
	}
	return linkatUnlink(dir, old, new)
}
