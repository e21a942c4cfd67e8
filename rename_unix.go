//go:build unix && !linux

package watchedfile

// renameatNoReplace gives the file old, in the directory held open as dir,
// the name new, unless new exists: a hard link, and the old name removed
// (a process killed in between leaves both names).
func renameatNoReplace(dir int, old, new string) error {
	return linkatUnlink(dir, old, new)
}
