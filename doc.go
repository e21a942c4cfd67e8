// Package watchedfile writes a log file that other programs rotate.
//
// A [Writer] is an [io.WriteCloser] for one path. When the file at the path
// is renamed (logrotate's create mode), deleted, replaced, or the path comes
// to name another file in any other way, the Writer notices it in the
// background and switches to the file now at the path, creating it when
// nobody else does. The file is opened with O_APPEND, so copytruncate leaves
// no holes, and no record pays for a stat of the path.
//
// A reopen that fails (permission denied while logrotate is still fixing the
// new file's owner, a missing directory, too many open files) never leaves
// the Writer without a file: it goes on writing to the file it has, retries
// with a short backoff, and reports each failure to the function set with
// [WithErrorHandler] and in [Writer.Stats].
//
// # Writing
//
// A Write is one record: its bytes go whole to one file, unmixed with other
// records, with one write(2), and allocates nothing. A record that a full
// disk cuts in the middle is completed by the Writer in that same file,
// before anything else, once there is room. When several goroutines write
// at once, the records that arrive while one write(2) is under way go
// together in the next writev(2) (group commit; [WithoutGroupCommit] turns
// it off); each Write still returns only once its own record is in the
// file, so a nil error means what it means without it.
//
// # Linux
//
// One inotify instance per process, shared by every Writer, watches each
// open file (IN_MOVE_SELF, IN_DELETE_SELF, IN_ATTRIB for unlink and rename
// over it) and its directory (entries created, deleted or moved under the
// file's name, the directory itself moved or deleted). The goroutine that
// reads the events sets a flag on the Writer as it reads one, and the next
// Write, finding it set, looks at the path (fstat, stat) and switches files
// before it writes its record. Without events, Write checks only that flag.
// The Writer's own goroutine switches a Writer that writes nothing, retries
// a failed reopen, waits out [WithCreateDelay], and once per
// [WithCheckInterval] (1s) stats the path to catch what inotify cannot see:
// a grandparent directory renamed, or a change made by another NFS client.
// While the path names a file the Writer has not switched to yet, the
// directory watch also hears of attribute changes (IN_ATTRIB), so that the
// chown that makes logrotate's new file openable flags the Writer at once.
// When inotify cannot be had (the per-user instance or watch limit is
// reached) or the file lives on a file system that does not deliver events
// (NFS, CIFS, FUSE and the like), the Writer polls instead and
// [Stats.Backend] says so. It tries inotify again at each switch of files,
// so a Writer that met a limit goes back to events once the limit clears.
//
// # Other platforms
//
// The Writer polls: its goroutine stats the path and the open file once per
// interval (1s; see [WithPolling]). Polling is also available on Linux
// through [WithPolling]. On Windows the file is opened sharing delete as well
// as read and write (os.OpenFile does not), so that a rotator may rename or
// delete it while the Writer holds it. The one case where a Writer lets go of
// its file without a new one: on Windows without POSIX delete semantics a
// deleted file keeps its name, and nothing can be created at it, until its
// last handle closes; when the create fails there, the Writer closes its own
// handle (what it wrote to the doomed file is lost anyway), and until a retry
// creates the file, writes fail with the reason instead of being lost.
//
// # Rotating by itself
//
// Where nobody rotates the log (containers, machines without logrotate),
// [WithRotation] makes the Writer rotate it: by size, on a wall-clock
// schedule, or both, keeping as many rotated files, for as long or as many
// bytes as asked, compressed or not. Records are written straight to a
// file with its final, dated name (app-2026-12-05T10-00-00.000Z.log: the
// time it was started, in UTC, so that names sort in time order); the path
// itself (app.log) is a symlink to the file being written, which the
// rotation repoints. A rotated file is never renamed again, so a log shipper
// that follows the dated names (a glob such as app-*.log) loses and repeats
// nothing, however late it reads. Without symlinks (Windows), the file at
// the path is renamed to its dated name when it is rotated.
//
// Several processes may write one path, each with its own Writer and the
// same Rotation: they rotate it once per threshold between them, without a
// lock or a stat per record. Each process counts the bytes it writes and
// looks at the file's size once per MaxSize/32 of them; whoever finds it
// due takes an advisory lock (flock(2) on .app.log.lock beside the log),
// checks that no other process rotated meanwhile, makes the new file
// (header first) and repoints the link; the others hear of it through
// inotify and switch at their next record. A file can exceed MaxSize by
// what the processes write before they look and before they switch.
//
// Rotated files are compressed and removed by one process at a time (a
// second lock, .app.log.maintenance.lock), in the background, never the
// live file. A file is compressed into a temporary name, synced, renamed,
// and only then its source removed, so a process killed midway leaves the
// source or the whole compressed copy, and the next Writer to open the path
// finishes the work. A file is compressed only once no process has it open
// for writing (on Linux a read lease, which the kernel grants only then;
// elsewhere, once it has not been written for a minute), and once
// CompressDelay (a minute) has passed, so that a log shipper that lags
// behind by less finds it under its name. A shipper that has it open goes
// on reading it after it is compressed and removed.
//
// # Signals
//
// A Writer needs no signal. For a service whose rotation tool signals it
// after rotating (logrotate's postrotate, nginx style), or one whose Writers
// poll, [ReopenOnSignal] reopens Writers on SIGHUP or signals of its choice.
//
// # Buffering
//
// Writes are unbuffered: a nil error from Write means the record is in the
// file. [WithBuffer] trades that for fewer, larger writes: records wait in a
// bounded buffer and go to the file that is current when they are flushed,
// so a buffered record written before a rotation may land in the new file.
//
// # File creation
//
// A file the Writer creates gets the mode set with [WithMode] (0644) and,
// with [WithMkdirAll], each missing directory the mode given there. Both are
// reduced by the process umask, as with [os.OpenFile] and [os.MkdirAll], and
// neither changes a file or directory that already exists. logrotate's
// create directive sets the mode and owner of the files it creates; the
// Writer just opens them.
//
// # Symlinks and other users
//
// The path may be a symlink; like Python's WatchedFileHandler, the Writer
// follows it and notices when it is repointed. On Unix a user who may write
// to a directory on the way cannot turn a Writer running as root against
// the machine (nginx's CVE-2016-1247): a symlink is followed only if root
// or the Writer's own user made it, or if what it leads to belongs to the
// link's owner; in a directory another user may change, an existing file is
// used only if it is a regular file owned by the Writer's user, the
// rotation's owner or the directory's owner, with one name unless it is the
// directory owner's, and (on Linux) it is judged before it is opened; files
// are created with O_EXCL and chowned only then; self-rotation touches only
// its own files, in the directory it holds open; a directory that group or others may write is refused unless
// [WithSharedDir] says it is meant. A refusal fails with [ErrUnsafeSymlink],
// [ErrUnsafeFile] or [ErrSharedDir] (at Open, or reported, while the Writer
// keeps the file it has). On Linux every symlink on the way to the file is
// judged, each read from a descriptor held open so that nothing can be
// swapped in between, and the directories [WithMkdirAll] makes are made on
// that same walk; on other Unix systems only the last component is. The
// rules in full: docs/guarantees.md, "Security".
package watchedfile
