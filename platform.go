package watchedfile

import (
	"io/fs"
	"os"
	"time"
)

// The platform seam: everything that differs between systems, and nothing
// else, lives in files named for a family of primitives and the systems
// they serve. A name ending in _linux or _windows builds for that system
// alone; _unix for the Unix systems (less Linux where the family has a
// _linux file); _other for every system the family's other files leave out,
// as its build line says. A family's shared part, if any, is in the file
// with the family's name alone (open.go, filelock.go). A port provides each
// family; the declarations below hold every system's to one signature.
//
//	family    files                                    what it provides
//	open      open_linux, open_unix, open_windows,     openFile: the path walk that opens or creates a file
//	          open_other                               under the rules of safety.go
//	dir       dir_unix (openat and the like),          logDir: a directory held open, where the rotation
//	          dir_other (by path)                      looks at, makes, renames and removes its files
//	rename    rename_linux (renameat2), rename_unix    renameatNoReplace: a new name only if nobody has it
//	          (link and unlink); where dir works by    (dir_unix)
//	          path, renameNoReplace in file_windows
//	          and file_other
//	file      file_unix, file_windows, file_other      facts and small acts on a file: unlinked,
//	                                                   deletePending, dupFile, nodeOf, euid, idOf,
//	                                                   giveLike; creationTime where rollover renames
//	                                                   (not Unix)
//	filelock  filelock_unix (flock), filelock_windows  takeLock: a lock processes share; refused on other
//	          (LockFileEx), filelock_other             systems, which then cannot rotate
//	lease     lease_linux, lease_other                 holdAlone: whether nobody has a file open for writing
//	watch     inotify_linux, poll_other                newWatcher: the event source, or none (the Writer polls)
//	output    output_linux, output_other               how records reach the file: directFd, write, writev
//	rollover  rollover_unix (a symlink to dated        how the rotation makes the next file
//	          files), rollover_other (renames)
var (
	_ func(path string, how openHow) (*os.File, error) = openFile

	_ func(path string, how openHow) (*logDir, error)             = openLogDir
	_ func(d *logDir, name string, how openHow) (*os.File, error) = (*logDir).open
	_ func(d *logDir, old, new string) error                      = (*logDir).renameNoReplace
	_ func(d *logDir, name string) (entry, error)                 = (*logDir).lstat
	_ func(fi fs.FileInfo) [2]uint64                              = idOf
	_ func(f *os.File, fi fs.FileInfo) error                      = giveLike

	_ func(f *os.File) bool                                                                   = unlinked
	_ func(f *os.File) bool                                                                   = deletePending
	_ func(f *os.File) (*os.File, error)                                                      = dupFile
	_ func(fi fs.FileInfo) (node, bool)                                                       = nodeOf
	_ func() uint32                                                                           = euid
	_ func(f *os.File, how lockHow) error                                                     = takeLock
	_ func(f *os.File) (alone bool, still func() bool, release func(), err error)             = holdAlone
	_ func(changed func()) (watcher, error)                                                   = newWatcher
	_ func(f *os.File, info fs.FileInfo) int                                                  = directFd
	_ func(o *output, p []byte) (int, error)                                                  = (*output).write
	_ func(o *output, ws []*waiter) (int, error)                                              = (*output).writev
	_ func(r *rotator, d *logDir, t time.Time) (*os.File, fs.FileInfo, string, string, error) = (*rotator).rollover
	_ func(r *rotator, cur fs.FileInfo) time.Time                                             = (*rotator).liveStart
)
