package watchedfile_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/procfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/watchedfile/watchedfile"
)

// These tests count what the process holds (descriptors, inotify watches,
// goroutines), so none of them runs in parallel with other tests.

// resources is what this process holds, read from /proc by procfs.
type resources struct {
	fds        int
	inotifies  int // inotify instances
	watches    int // inotify watches, over all instances
	goroutines int
}

func (r resources) String() string {
	return fmt.Sprintf("%d fds, %d inotify instances with %d watches, %d goroutines",
		r.fds, r.inotifies, r.watches, r.goroutines)
}

func held(t *testing.T) resources {
	t.Helper()
	p, err := procfs.Self()
	require.NoError(t, err)
	targets, err := p.FileDescriptorTargets()
	require.NoError(t, err)
	fds, err := p.FileDescriptors()
	require.NoError(t, err)
	r := resources{goroutines: runtime.NumGoroutine()}
	for i, target := range targets {
		if target == "" {
			continue // closed between the two reads
		}
		r.fds++
		if target == "anon_inode:inotify" {
			info, err := p.FDInfo(strconv.FormatUint(uint64(fds[i]), 10))
			if errors.Is(err, fs.ErrNotExist) {
				r.fds--
				continue // closed between the two reads
			}
			require.NoError(t, err)
			r.inotifies++
			r.watches += len(info.InotifyInfos)
		}
	}
	return r
}

// requireBackTo waits until the process holds no more than it did at base.
// It polls by itself: require.Eventually would add a goroutine to the count.
func requireBackTo(t *testing.T, base resources) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		now := held(t)
		if now.fds <= base.fds && now.inotifies <= base.inotifies &&
			now.watches <= base.watches && now.goroutines <= base.goroutines {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: had %v, now %v", base, now)
		}
		time.Sleep(waitTick) // a deadline loop: what is awaited is in other goroutines
	}
}

func TestNoLeaksAfterRotationsAndClose(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			base := held(t)
			path := filepath.Join(t.TempDir(), "app.log")
			w, err := watchedfile.Open(path, b.opts...)
			require.NoError(t, err)
			const rotations = 300
			for i := range rotations {
				writeLine(t, w, "x")
				rotated := fmt.Sprintf("%s.%d", path, i%3) // renamed over each other
				require.NoError(t, os.Rename(path, rotated))
				if i%2 == 0 {
					require.NoError(t, os.WriteFile(path, nil, 0o644))
				} else {
					require.NoError(t, os.Remove(rotated)) // deleted: replaced at once
				}
				waitReopens(t, w, uint64(i+1))
			}
			during := held(t)
			if b.backend == watchedfile.BackendInotify {
				assert.Equal(t, base.inotifies+1, during.inotifies, "one instance")
				assert.Equal(t, base.watches+2, during.watches, "the file and its directory")
			}
			assert.LessOrEqual(t, during.fds, base.fds+2, "the file, and the inotify instance")
			require.NoError(t, w.Close())
			requireBackTo(t, base)
		})
	}
}

// TestOneInotifyInstanceForManyWriters: the default limit is 128 instances
// per user; a service with 300 log files must work, on one instance.
func TestOneInotifyInstanceForManyWriters(t *testing.T) {
	base := held(t)
	root := t.TempDir()
	var writers []*watchedfile.Writer
	for i := range 300 {
		dir := filepath.Join(root, strconv.Itoa(i%10)) // 10 directories, 30 files each
		require.NoError(t, os.MkdirAll(dir, 0o755))
		w, err := watchedfile.Open(filepath.Join(dir, fmt.Sprintf("%d.log", i)))
		require.NoError(t, err)
		require.Equal(t, watchedfile.BackendInotify, w.Stats().Backend)
		writers = append(writers, w)
	}
	now := held(t)
	assert.Equal(t, base.inotifies+1, now.inotifies)
	assert.Equal(t, base.watches+300+10, now.watches, "a watch per file, one per directory shared")

	// Every Writer still hears of its own rotation.
	for _, w := range writers {
		require.NoError(t, os.Rename(w.Path(), w.Path()+".1"))
		require.NoError(t, os.WriteFile(w.Path(), nil, 0o644))
	}
	for _, w := range writers {
		waitReopens(t, w, 1)
	}
	for _, w := range writers {
		require.NoError(t, w.Close())
	}
	requireBackTo(t, base)
}

// TestWritersOfOneFileShareWatches: the kernel gives both the same watch
// descriptor; closing one must not remove the other's.
func TestWritersOfOneFileShareWatches(t *testing.T) {
	base := held(t)
	path := filepath.Join(t.TempDir(), "app.log")
	a, err := watchedfile.Open(path)
	require.NoError(t, err)
	b, err := watchedfile.Open(path)
	require.NoError(t, err)
	assert.Equal(t, base.watches+2, held(t).watches)

	require.NoError(t, a.Close())
	assert.Equal(t, base.watches+2, held(t).watches, "b still needs both watches")
	require.NoError(t, os.Rename(path, path+".1"))
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	waitReopens(t, b, 1)
	writeLine(t, b, "b")
	assert.Equal(t, "b\n", readFile(t, path))
	require.NoError(t, b.Close())
	requireBackTo(t, base)
}

// TestWriteAllocatesNothing is the hot path's promise, on both backends.
func TestWriteAllocatesNothing(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			w := openWriter(t, filepath.Join(t.TempDir(), "app.log"), b.opts...)
			record := []byte("a log record of a typical length, with a few fields: level=info msg=ok\n")
			assert.Zero(t, testing.AllocsPerRun(1000, func() { w.Write(record) }))
			assert.Zero(t, testing.AllocsPerRun(1000, func() { w.WriteString("a string record\n") }))
		})
	}
}

// TestWriteIsOneSyscall runs a writer under strace and counts: one write(2)
// per record, and no stat of any kind per record.
func TestWriteIsOneSyscall(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		requireTool(t, "strace")
	}
	const records = 5000
	path := filepath.Join(t.TempDir(), "app.log")
	writes, stats := straceRecords(t, "TestChildProcess", "WATCHEDFILE_CHILD=write-records",
		"WATCHEDFILE_PATH="+path, "WATCHEDFILE_RECORDS="+strconv.Itoa(records))
	t.Logf("%d records: %d write(2) or writev(2) of a record, %d stat-family calls in the whole process", records, writes, stats)
	assert.Equal(t, records, writes, "one system call per record")
	assert.Less(t, stats, 100, "stats do not grow with records")
	assert.Equal(t, records, strings.Count(readFile(t, path), "\n"))
}

// A record goes by write(2), or by writev(2) when it waited for the
// Writer's goroutine, which looks at the path now and then.
var (
	recordWrite = regexp.MustCompile(`\b(write\(\d+, |writev\(\d+, \[\{iov_base=)"record \d+`)
	statCall    = regexp.MustCompile(`\b(stat|lstat|fstat|newfstatat|statx|fstatfs|statfs)\(`)
)

// straceRecords runs the test binary's test run as a child under strace -f,
// with env added to its environment, and counts the write(2) or writev(2)
// calls that carried a record ("record N…") and the stat-family calls in
// the whole process.
func straceRecords(t *testing.T, run string, env ...string) (writes, stats int) {
	t.Helper()
	trace := filepath.Join(t.TempDir(), "strace.out")
	cmd := exec.Command("strace", "-f", "-qq", "-o", trace,
		"-e", "trace=write,writev,pwrite64,stat,lstat,fstat,newfstatat,statx,fstatfs,statfs",
		os.Args[0], "-test.run=^"+run+"$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	data, err := os.ReadFile(trace)
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if recordWrite.MatchString(line) {
			writes++
		}
		if statCall.MatchString(line) {
			stats++
		}
	}
	return writes, stats
}

// TestFallsBackToPollingWithoutInotify: a user who has used up their inotify
// instances still gets a working Writer, which polls and says why, and goes
// back to inotify at the switch after the limit clears.
func TestFallsBackToPollingWithoutInotify(t *testing.T) {
	requireRoot(t) // to run the child as another user, whose limit it may use up
	dir := filepath.Join(worldTempDir(t), "log")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chown(dir, nobody, nobody)) // the child's own log directory
	path := filepath.Join(dir, "app.log")
	cmd := exec.Command(worldCopyOfTestBinary(t), "-test.run=^TestChildProcess$")
	cmd.Env = append(os.Environ(), "WATCHEDFILE_CHILD=no-inotify", "WATCHEDFILE_PATH="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	cmd.Dir = dir // not the checkout, which nobody may not enter
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "backend=polling")
	assert.Contains(t, string(out), "too many open files")
	assert.Contains(t, string(out), "switched")
	assert.Contains(t, string(out), `after the limit cleared: backend=inotify reason=""`)
	assert.Equal(t, "after\n", readFile(t, path+".2"))
	assert.Equal(t, "again\n", readFile(t, path))
}

// TestFallsBackToPollingOnFUSE: a FUSE file system (bindfs here; NFS and
// CIFS alike) does not report changes made beneath it, so the Writer polls.
func TestFallsBackToPollingOnFUSE(t *testing.T) {
	src, mnt := bindfsMount(t)

	w := openWriter(t, filepath.Join(mnt, "app.log"), watchedfile.WithCheckInterval(20*time.Millisecond))
	s := w.Stats()
	assert.Equal(t, watchedfile.BackendPolling, s.Backend)
	assert.Contains(t, s.FallbackReason, "FUSE")
	writeLine(t, w, "before")

	// Rotate beneath the mount, where no event reaches the mount's inode.
	require.NoError(t, os.Rename(filepath.Join(src, "app.log"), filepath.Join(src, "app.log.1")))
	require.NoError(t, os.WriteFile(filepath.Join(src, "app.log"), nil, 0o644))
	waitReopens(t, w, 1)
	writeLine(t, w, "after")
	assert.Equal(t, "after\n", readFile(t, filepath.Join(src, "app.log")))
	assert.Equal(t, "before\n", readFile(t, filepath.Join(src, "app.log.1")))
}

// bindfsMount mounts a new directory src on another, mnt, through bindfs: a
// FUSE file system, which reports no change made beneath it.
func bindfsMount(t *testing.T) (src, mnt string) {
	t.Helper()
	requireRoot(t)
	requireTool(t, "bindfs")
	src, mnt = t.TempDir(), t.TempDir()
	if out, err := exec.Command("bindfs", src, mnt).CombinedOutput(); err != nil {
		unsupported(t, fmt.Sprintf("no working bindfs mount (%v: %s)", err, out))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	return src, mnt
}

// TestChildProcess is not a test: it is the process other tests start, as
// another user or under strace. Run alone it returns at once.
func TestChildProcess(t *testing.T) {
	path := os.Getenv("WATCHEDFILE_PATH")
	switch os.Getenv("WATCHEDFILE_CHILD") {
	case "swap-dir":
		swapDirOnOpen(t)
	case "write-records":
		n, _ := strconv.Atoi(os.Getenv("WATCHEDFILE_RECORDS"))
		w, err := watchedfile.Open(path)
		require.NoError(t, err)
		require.Equal(t, watchedfile.BackendInotify, w.Stats().Backend)
		record := []byte("record 0000000\n")
		for i := range n {
			copy(record[7:14], fmt.Sprintf("%07d", i)) // formatting outside the traced call
			_, err := w.Write(record)
			require.NoError(t, err)
		}
		require.NoError(t, w.Close())
	case "sync-close":
		// Sync and Close at once, many times: each Sync that returns nil
		// must have synced (the parent counts fsync calls under strace).
		nilSyncs := 0
		for i := range 500 {
			w, err := watchedfile.Open(fmt.Sprintf("%s.%d", path, i))
			require.NoError(t, err)
			writeLine(t, w, "record")
			synced := make(chan error)
			go func() { synced <- w.Sync() }()
			require.NoError(t, w.Close())
			if <-synced == nil {
				nilSyncs++
			}
		}
		fmt.Printf("nil-syncs=%d\n", nilSyncs)
	case "retention":
		// Opens a Writer that keeps 2 rotated files where there are 10: its
		// maintenance removes 8 at once. The parent runs it under strace,
		// which kills it (SIGKILL) as it removes the sixth newest.
		w, err := watchedfile.Open(path, watchedfile.WithRotation(retentionKillRotation))
		require.NoError(t, err)
		defer w.Close()
		require.Eventually(t, func() bool {
			names, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "app-*"))
			return len(names) <= 3 // two rotated and the live one
		}, waitFor, waitTick)
		fmt.Println("retention finished") // the kill never came
	case "compress-hang":
		// Rotates once, and hangs in the middle of compressing: the parent
		// kills it there.
		w, err := watchedfile.Open(path, watchedfile.WithRotation(watchedfile.Rotation{
			MaxSize: 4096, Compress: true, CompressDelay: -1, Compressor: hangingCompressor{}}))
		require.NoError(t, err)
		for i := range 100 {
			fmt.Fprintf(w, "record %03d %s\n", i, strings.Repeat("x", 80))
		}
		select {} // the parent kills the process
	case "no-inotify":
		var held []int
		for { // use up this user's inotify instances
			fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
			if err != nil {
				require.ErrorIs(t, err, unix.EMFILE)
				break
			}
			held = append(held, fd)
		}
		w, err := watchedfile.Open(path, watchedfile.WithCheckInterval(20*time.Millisecond))
		require.NoError(t, err)
		defer w.Close()
		s := w.Stats()
		fmt.Printf("backend=%s reason=%q\n", s.Backend, s.FallbackReason)
		writeLine(t, w, "before")
		require.NoError(t, os.Rename(path, path+".1"))
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		waitReopens(t, w, 1)
		writeLine(t, w, "after")
		fmt.Println("switched")

		// The limit clears: the next switch brings inotify back.
		for _, fd := range held {
			unix.Close(fd)
		}
		require.NoError(t, os.Rename(path, path+".2"))
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		waitReopens(t, w, 2)
		// The Writer's goroutine watches the new file just after the
		// switch (the switch is what records wait for, not the watch).
		assert.Eventually(t, func() bool { return w.Stats().Backend == watchedfile.BackendInotify },
			waitFor, waitTick)
		s = w.Stats()
		fmt.Printf("after the limit cleared: backend=%s reason=%q\n", s.Backend, s.FallbackReason)
		writeLine(t, w, "again")
	}
}

const nobody = 65534 // nobody:nogroup on Debian

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "needs root: runs a child as another user, mounts")
	}
}

func requireTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		missing(t, tool+" is not installed; .ci/run installs it")
	}
}

// missing skips the test, or fails it under CI=true, where everything the
// tests need is installed.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

// unsupported skips the test, under CI=true too: the kernel lacks what it
// needs (a feature, a file system, loop devices), which no install can
// mend. A missing tool or privilege is missing instead.
func unsupported(t *testing.T, why string) {
	t.Helper()
	t.Skip("the kernel here cannot: " + why)
}

// worldTempDir is a temporary directory every user may write to.
func worldTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir(); d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o777|os.ModeSticky))
	}
	return dir
}

// worldCopyOfTestBinary copies the test binary where every user may run it
// (go test builds it in a directory only its owner may enter).
func worldCopyOfTestBinary(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	bin := filepath.Join(worldTempDir(t), "watchedfile.test")
	require.NoError(t, os.WriteFile(bin, data, 0o755))
	return bin
}

// TestFIFOWithoutReaderDoesNotHang: opening a FIFO for writing blocks until
// a reader comes; the Writer must fail instead, and stay usable.
func TestFIFOWithoutReaderDoesNotHang(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	require.NoError(t, unix.Mkfifo(path, 0o644))
	_, err := watchedfile.Open(path)
	require.ErrorIs(t, err, unix.ENXIO)

	require.NoError(t, os.Remove(path))
	var reported errorLog
	w := openWriter(t, path, watchedfile.WithErrorHandler(reported.add), watchedfile.WithRetry(time.Millisecond, 10*time.Millisecond))
	require.NoError(t, os.Rename(path, path+".1"))
	require.NoError(t, unix.Mkfifo(path, 0o644))
	require.Eventually(t, func() bool { return reported.len() > 0 }, waitFor, waitTick)
	assert.ErrorIs(t, reported.first(), unix.ENXIO)
	writeLine(t, w, "still here")
	assert.True(t, w.Stats().ReopenPending, "Stats answers while the FIFO stays unopenable")
	require.NoError(t, w.Close(), "Close does not hang")
	assert.Equal(t, "still here\n", readFile(t, path+".1"))
}

// TestRelativeSymlinkResolvedLikeTheKernel: a relative target with ".." is
// resolved through symlinked directories, as open(2) would, not lexically.
func TestRelativeSymlinkResolvedLikeTheKernel(t *testing.T) {
	base := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(base, "real", "logs"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join("real", "logs"), filepath.Join(base, "link")))
	require.NoError(t, os.Symlink(filepath.Join("..", "shared.log"), filepath.Join(base, "real", "logs", "app.log")))
	w := openWriter(t, filepath.Join(base, "link", "app.log"))
	writeLine(t, w, "x")
	assert.Equal(t, "x\n", readFile(t, filepath.Join(base, "real", "shared.log")))
	assert.NoFileExists(t, filepath.Join(base, "shared.log"))
}

// TestProcFdPath: /dev/stdout leads to a magic link in /proc/self/fd, which
// names no path; the Writer opens it all the same (a container logging to
// its stdout through a file path).
func TestProcFdPath(t *testing.T) {
	r, pw, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer pw.Close()
	w := openWriter(t, fmt.Sprintf("/proc/self/fd/%d", pw.Fd()))
	writeLine(t, w, "through the pipe")
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "through the pipe\n", string(buf[:n]))
}

// TestUntrustedSymlinkOnTheWay: a symlink in a directory on the way to the
// log, made by a user who does not own that directory, is refused like one
// at the log's own name.
func TestUntrustedSymlinkOnTheWay(t *testing.T) {
	requireRoot(t)
	root := worldTempDir(t) // owned by root, writable by all
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.Mkdir(victim, 0o755))
	require.NoError(t, os.Symlink(filepath.Join("current", "app.log"), filepath.Join(root, "app.log"))) // root's link
	require.NoError(t, os.Symlink(victim, filepath.Join(root, "current")))
	require.NoError(t, os.Lchown(filepath.Join(root, "current"), nobody, nobody)) // an attacker's link
	_, err := watchedfile.Open(filepath.Join(root, "app.log"))
	require.ErrorIs(t, err, watchedfile.ErrUnsafeSymlink)
	assert.NoFileExists(t, filepath.Join(victim, "app.log"))

	require.NoError(t, os.Lchown(filepath.Join(root, "current"), 0, 0)) // the administrator's
	w := openWriter(t, filepath.Join(root, "app.log"))
	writeLine(t, w, "ok")
	assert.Equal(t, "ok\n", readFile(t, filepath.Join(victim, "app.log")))
}

// TestMkdirAllRefusesUntrustedSymlink: WithMkdirAll makes missing directories
// on the same checked walk as the file, so a link another user made in a
// directory they may write to leads no directory elsewhere either.
func TestMkdirAllRefusesUntrustedSymlink(t *testing.T) {
	requireRoot(t)
	root := worldTempDir(t) // owned by root, writable by all
	victim := t.TempDir()
	link := filepath.Join(root, "app")
	require.NoError(t, os.Symlink(victim, link))
	require.NoError(t, os.Lchown(link, nobody, nobody)) // an attacker's link
	path := filepath.Join(link, "sub", "app.log")
	_, err := watchedfile.Open(path, watchedfile.WithMkdirAll(0o750))
	require.ErrorIs(t, err, watchedfile.ErrUnsafeSymlink)
	assert.NoDirExists(t, filepath.Join(victim, "sub"))

	require.NoError(t, os.Lchown(link, 0, 0)) // the administrator's
	w := openWriter(t, path, watchedfile.WithMkdirAll(0o750))
	writeLine(t, w, "ok")
	assert.Equal(t, "ok\n", readFile(t, filepath.Join(victim, "sub", "app.log")))
	fi, err := os.Stat(filepath.Join(victim, "sub"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o750)&^umask(), fi.Mode().Perm())
}

// TestReopenOntoUnwatchableFileIsReported: when Reopen (not the Writer's own
// check) switches to a file inotify cannot watch, the change to polling
// reaches the error handler all the same.
func TestReopenOntoUnwatchableFileIsReported(t *testing.T) {
	src, mnt := bindfsMount(t)

	// The log's directory is a link; repointing it changes no inode the
	// Writer watches, so only Reopen (or the slow check) sees it.
	dir := t.TempDir()
	local := filepath.Join(dir, "local")
	require.NoError(t, os.Mkdir(local, 0o755))
	cur := filepath.Join(dir, "cur")
	require.NoError(t, os.Symlink(local, cur))
	var reported errorLog
	w := openWriter(t, filepath.Join(cur, "app.log"), watchedfile.WithErrorHandler(reported.add))
	require.Equal(t, watchedfile.BackendInotify, w.Stats().Backend)

	require.NoError(t, os.Symlink(mnt, cur+".new"))
	require.NoError(t, os.Rename(cur+".new", cur))
	require.NoError(t, w.Reopen())
	require.Eventually(t, func() bool { return reported.len() > 0 }, 5*time.Second, time.Millisecond,
		"the switch to polling was not reported")
	assert.Contains(t, reported.first().Error(), "FUSE")
	s := w.Stats()
	assert.Equal(t, watchedfile.BackendPolling, s.Backend)
	assert.Contains(t, s.FallbackReason, "FUSE")
	writeLine(t, w, "on the mount")
	assert.Equal(t, "on the mount\n", readFile(t, filepath.Join(src, "app.log")))
}

// TestAutomountOnTheWay: a directory on the way that autofs mounts on first
// use (NFS home and data directories often are) is mounted by the Writer's
// walk, as by any open of the path; an O_PATH open alone would stop at the
// unmounted directory.
func TestAutomountOnTheWay(t *testing.T) {
	requireRoot(t)
	requireTool(t, "automount")
	dir := t.TempDir()
	src, mnt := filepath.Join(dir, "src"), filepath.Join(dir, "auto")
	require.NoError(t, os.Mkdir(src, 0o755))
	require.NoError(t, os.Mkdir(mnt, 0o755))
	master, table := filepath.Join(dir, "auto.master"), filepath.Join(dir, "auto.data")
	// --ghost (browse mode): the map's keys are directories before they are
	// mounted, which is when O_PATH alone would not mount them.
	require.NoError(t, os.WriteFile(master, []byte(mnt+" "+table+" --ghost\n"), 0o644))
	require.NoError(t, os.WriteFile(table, []byte("data -fstype=bind :"+src+"\n"), 0o644))

	daemon := exec.Command("automount", "-f", "-p", filepath.Join(dir, "pid"), master)
	// autofs mounts nothing for its daemon's own process group: not ours.
	daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &strings.Builder{}
	daemon.Stdout, daemon.Stderr = out, out
	require.NoError(t, daemon.Start())
	exited := make(chan struct{})
	go func() { daemon.Wait(); close(exited) }()
	t.Cleanup(func() {
		daemon.Process.Signal(syscall.SIGTERM) // unmounts what it mounted
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			daemon.Process.Kill()
		}
		exec.Command("umount", "-l", filepath.Join(mnt, "data")).Run()
		exec.Command("umount", "-l", mnt).Run()
	})
	mountedOn := func(path string) (fstype string) { // the top one, "" if none
		data, _ := os.ReadFile("/proc/self/mounts")
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[1] == path {
				fstype = f[2]
			}
		}
		return fstype
	}
	// Not assert.Eventually: it would mark the test failed before the skip.
	// The daemon exits at once where the kernel refuses it ("kernel
	// protocol version 5.00 or above required"), or where the system's own
	// automount runs: a missing kernel feature, a skip even under CI=true.
	mounted := false
	for deadline := time.Now().Add(10 * time.Second); !mounted && time.Now().Before(deadline); {
		select {
		case <-exited:
			deadline = time.Now() // one last look
		case <-time.After(10 * time.Millisecond):
		}
		mounted = mountedOn(mnt) == "autofs"
	}
	if !mounted {
		unsupported(t, fmt.Sprintf("automount did not mount %s here: %s", mnt, out))
	}
	require.DirExists(t, filepath.Join(mnt, "data"))
	require.Empty(t, mountedOn(filepath.Join(mnt, "data")), "mounted before use")

	w := openWriter(t, filepath.Join(mnt, "data", "app.log"))
	writeLine(t, w, "through autofs")
	assert.Equal(t, "through autofs\n", readFile(t, filepath.Join(src, "app.log")))
}

// TestFastRenamesKeepInotify: renames as fast as they can be made, with the
// Writer creating each next file itself (no create delay), leave it nothing
// to report: a watch that fails because its file was switched away from
// meanwhile is not a lost watcher, and the Writer stays on inotify.
func TestFastRenamesKeepInotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	var reports atomic.Int64
	var first atomic.Value
	w := openWriter(t, path, watchedfile.WithCreateDelay(0), watchedfile.WithErrorHandler(func(err error) {
		if reports.Add(1) == 1 {
			first.Store(err)
		}
	}))
	done := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for {
			select {
			case <-done:
				return
			default:
			}
			w.Write([]byte("record\n"))
		}
	}()
	renames, polling := 0, 0
	for deadline := time.Now().Add(time.Minute); renames < 3000 && time.Now().Before(deadline); {
		if os.Rename(path, path+".old") == nil {
			renames++
		}
		if w.Stats().Backend != watchedfile.BackendInotify {
			polling++
		}
	}
	close(done)
	<-wrote
	t.Logf("%d renames, %d reopens", renames, w.Stats().Reopens)
	assert.Zero(t, reports.Load(), "error handler reports, the first: %v", first.Load())
	assert.Zero(t, polling, "Stats samples that read polling")
	assert.Equal(t, watchedfile.BackendInotify, w.Stats().Backend)
}

// TestSyncRacingClose: a Sync that returns nil has synced the file, even
// when Close closes it at the same moment. Counted from outside: the
// successful fsync calls strace sees are at least the Syncs that said nil.
func TestSyncRacingClose(t *testing.T) {
	requireTool(t, "strace")
	dir := t.TempDir()
	trace := filepath.Join(dir, "strace.out")
	cmd := exec.Command("strace", "-f", "-qq", "-o", trace, "-e", "trace=fsync", "-e", "status=successful",
		os.Args[0], "-test.run=^TestChildProcess$")
	cmd.Env = append(os.Environ(), "WATCHEDFILE_CHILD=sync-close", "WATCHEDFILE_PATH="+filepath.Join(dir, "app.log"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`nil-syncs=(\d+)`).FindStringSubmatch(string(out))
	require.NotNil(t, m, "%s", out)
	nilSyncs, _ := strconv.Atoi(m[1])
	data, err := os.ReadFile(trace)
	require.NoError(t, err)
	fsyncs := strings.Count(string(data), "fsync(")
	t.Logf("500 Syncs racing Close: %d returned nil, %d fsync calls succeeded", nilSyncs, fsyncs)
	assert.GreaterOrEqual(t, fsyncs, nilSyncs, "a Sync returned nil without an fsync")
}

// TestCutRecordStaysInOneFile: the disk fills in the middle of a record and
// the file is rotated before space returns. The record is not split across
// the two files: the Writer holds its rest and writes it to the renamed file,
// where its head is, before it switches. The caller here completes a short
// write itself, as io.Writer lets it and as a pipe's copier does; the Writer
// answers len(p), so there is nothing left for it to send elsewhere.
func TestCutRecordStaysInOneFile(t *testing.T) {
	forEachWriteMode(t, func(t *testing.T, opts ...watchedfile.Option) {
		dir := mountTmpfs(t, t.TempDir(), "64k")
		path := filepath.Join(dir, "app.log")
		w := openWriter(t, path, opts...)
		filler := filepath.Join(dir, "filler")
		fillDisk(t, filler)
		fi, err := os.Stat(filler)
		require.NoError(t, err)
		require.NoError(t, os.Truncate(filler, (fi.Size()-1)/4096*4096)) // one page free
		record := []byte(strings.Repeat("r", 4999) + "\n")
		n, err := w.Write(record)
		require.ErrorIs(t, err, syscall.ENOSPC, "the disk was to fill in the middle of the record")
		var rest []byte
		if n < len(record) {
			rest = record[n:] // what a caller completing its record would send
		}

		require.NoError(t, os.Rename(path, path+".1"))
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		require.Eventually(t, func() bool { s := w.Stats(); return s.ReopenPending || s.Reopens > 0 },
			waitFor, waitTick, "the Writer never saw the rotation")
		require.NoError(t, os.Remove(filler)) // space again
		if rest != nil {
			_, err := w.Write(rest)
			require.NoError(t, err)
		}
		writeLine(t, w, "after")
		waitReopens(t, w, 1)

		rotated, current := readFile(t, path+".1"), readFile(t, path)
		assert.True(t, rotated == string(record), "the record, whole, where its head is: %d bytes there", len(rotated))
		assert.True(t, current == "after\n", "the new file has the next record only: %d bytes, ending %q",
			len(current), current[max(0, len(current)-20):])
	})
}

// hangingCompressor writes a gzip header, says so on stdout, and hangs.
type hangingCompressor struct{}

func (hangingCompressor) Extension() string { return ".gz" }

func (hangingCompressor) Compress(dst io.Writer, src io.Reader) error {
	dst.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}) // half a gzip stream
	fmt.Println("compressing")
	select {}
}

// TestKilledWhileCompressing: a process killed in the middle of a
// compression leaves the rotated file whole and a half-written temporary
// copy; the next Writer to open the path removes the copy and compresses
// the file again, and nothing of it is lost.
func TestKilledWhileCompressing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$")
	cmd.Env = append(os.Environ(), "WATCHEDFILE_CHILD=compress-hang", "WATCHEDFILE_PATH="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	said := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		said <- line
	}()
	select {
	case line := <-said:
		require.Equal(t, "compressing\n", line)
	case <-time.After(waitFor):
		t.Fatal("the child never began compressing")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()

	tmps, _ := filepath.Glob(filepath.Join(dir, ".app-*.log.gz.tmp"))
	require.Len(t, tmps, 1, "the half-written copy")
	rotated := filepath.Join(dir, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tmps[0]), "."), ".gz.tmp"))
	want := readFile(t, rotated)
	require.Contains(t, want, "record 000 ")

	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1 << 20, Compress: true, CompressDelay: -1}))
	require.Eventually(t, func() bool {
		_, err := os.Stat(rotated)
		return errors.Is(err, fs.ErrNotExist)
	}, waitFor, waitTick, "the rotated file was never compressed")
	require.NoError(t, w.Close())
	got, err := os.ReadFile(rotated + ".gz")
	require.NoError(t, err)
	zr, err := gzip.NewReader(bytes.NewReader(got))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, want, string(plain), "the compressed copy holds the whole file")
	tmps, _ = filepath.Glob(filepath.Join(dir, ".*.tmp"))
	assert.Empty(t, tmps, "the half-written copy is gone")
}

// retentionKillRotation is the rotation of TestKilledDuringRetention.
var retentionKillRotation = watchedfile.Rotation{MaxSize: 1 << 20, MaxBackups: 2, Compress: true, CompressDelay: -1}

// TestKilledDuringRetention: a process killed (SIGKILL) in the middle of
// removing old rotated files leaves the files it had not removed yet, and
// every file retention keeps whole; the next Writer to open the path
// finishes the job: MaxBackups holds again, and no record of the kept
// files or the live one is lost. strace kills the child as it enters the
// unlinkat(2) of one file, so the kill falls between two removals every
// time.
func TestKilledDuringRetention(t *testing.T) {
	requireTool(t, "strace")
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	now := time.Now()
	// backups[0] is the newest; every other one compressed.
	backups := make([]string, 10)
	want := map[string]int{}
	for i := range backups {
		at := now.Add(-time.Duration(i+2) * time.Hour)
		var text strings.Builder
		for j := range 100 {
			fmt.Fprintf(&text, "backup %d record %03d\n", i, j)
		}
		backups[i] = writeDated(t, dir, at, text.String(), i%2 == 1)
		if i < retentionKillRotation.MaxBackups {
			for _, line := range strings.SplitAfter(text.String(), "\n")[:100] {
				want[line]++
			}
		}
	}
	live := writeDated(t, dir, now.Add(-time.Hour), "live record\n", false)
	want["live record\n"]++
	require.NoError(t, os.Symlink(filepath.Base(live), path))

	// Removed newest first: 2, 3 and 4 go before backups[5], whose
	// unlinkat(2) is the one killed. strace -P matches its name as the
	// call passes it, relative to the directory the rotation holds open.
	// (Not "the fourth unlinkat in the directory": strace counts calls
	// for each thread apart, and the removals can move between threads.)
	cmd := exec.Command("strace", "-f", "-qq", "-o", os.DevNull, "-P", filepath.Base(backups[5]),
		"-e", "trace=unlinkat", "-e", "inject=unlinkat:signal=KILL",
		os.Args[0], "-test.run=^TestChildProcess$")
	cmd.Env = append(os.Environ(), "WATCHEDFILE_CHILD=retention", "WATCHEDFILE_PATH="+path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		require.Error(t, err, "the child was not killed: %s", out.String())
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		ws := ee.Sys().(syscall.WaitStatus) // strace dies of the child's signal
		assert.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL || ws.ExitStatus() == 128+int(syscall.SIGKILL),
			"the child was killed: %v: %s", err, out.String())
	case <-time.After(2 * waitFor):
		t.Fatalf("the child never finished: %s", out.String())
	}

	for i, b := range backups {
		if i >= 2 && i < 5 {
			assert.NoFileExists(t, b, "removed before the kill")
		} else {
			assert.FileExists(t, b, "not removed yet when killed, or kept")
		}
	}

	w := openWriter(t, path, watchedfile.WithRotation(retentionKillRotation))
	require.Eventually(t, func() bool {
		for _, b := range backups[retentionKillRotation.MaxBackups:] {
			if _, err := os.Stat(b); !errors.Is(err, fs.ErrNotExist) {
				return false
			}
		}
		return true
	}, waitFor, waitTick, "the next Writer never finished the retention")
	writeLine(t, w, "after the kill")
	want["after the kill\n"]++
	require.Eventually(t, func() bool { // and compressed the kept ones
		_, err := os.Stat(backups[0])
		return errors.Is(err, fs.ErrNotExist)
	}, waitFor, waitTick, "the newest rotated file was never compressed")
	require.NoError(t, w.Close())

	got, files := readRotated(t, dir)
	assert.Equal(t, want, got, "every record of the kept files and the live one, once")
	assert.Equal(t, 1+retentionKillRotation.MaxBackups, files, "the live file and MaxBackups rotated ones")
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	assert.Empty(t, tmps)
}

// writeDated makes a rotated file of app.log in dir started at at, holding
// text, gzipped if gz, last written at at.
func writeDated(t *testing.T, dir string, at time.Time, text string, gz bool) string {
	t.Helper()
	name := filepath.Join(dir, "app-"+at.UTC().Format("2006-01-02T15-04-05.000Z")+".log")
	data := []byte(text)
	if gz {
		name += ".gz"
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, err := zw.Write(data)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		data = buf.Bytes()
	}
	require.NoError(t, os.WriteFile(name, data, 0o644))
	require.NoError(t, os.Chtimes(name, at, at))
	return name
}
