package watchedfile_test

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/watchedfile/watchedfile"
)

// The attacks of docs/guarantees.md#security, each as the hostile user
// would make it: the Writer runs as root, the attacker is nobody, who owns
// the log directory or may write to it, and plants files as nobody.

// attackerDir returns a directory owned by nobody (mode 0755) that nobody
// can reach, and a root-owned secret file outside it that nobody must not
// be able to make root write to.
func attackerDir(t *testing.T) (dir, secret string) {
	t.Helper()
	requireRoot(t)
	base := reachableTempDir(t)
	dir = filepath.Join(base, "log")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chown(dir, nobody, nobody))
	secret = filepath.Join(base, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("root's secret\n"), 0o600))
	return dir, secret
}

// sharedDir returns a directory every user may write to, sticky like /tmp
// (mode 1777, owned by root), that nobody can reach.
func sharedDir(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	dir := filepath.Join(reachableTempDir(t), "shared")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chmod(dir, 0o777|fs.ModeSticky))
	return dir
}

// reachableTempDir is a temporary directory every user may search (0755,
// like its parents up to the system's temporary directory).
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir(); d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	return dir
}

// asNobody runs the shell script as user nobody in dir, with args as $1...
func asNobody(t *testing.T, dir, script string, args ...string) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-ec", script, "sh"}, args...)...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "as nobody: %s\n%s", script, out)
}

// owner returns the uid and gid of the file at path, not following a link.
func owner(t *testing.T, path string) (uid, gid uint32) {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

// Item 1: nobody, who owns the log directory, swaps the log for a link to
// root's file while a root Writer writes: nothing goes to root's file, the
// refusal is reported, and writing goes on to the file the Writer has.
// The same link planted before Open fails Open. A link nobody makes to
// nobody's own file is followed (the owners match).
func TestSecurityPlantedLinkToRootsFile(t *testing.T) {
	dir, secret := attackerDir(t)
	path := filepath.Join(dir, "app.log")
	var reported errorLog
	w := openWriter(t, path, watchedfile.WithErrorHandler(reported.add), watchedfile.WithCreateDelay(0))
	writeLine(t, w, "before")
	asNobody(t, dir, `ln -s "$1" app.log.new && mv -T app.log.new app.log`, secret)
	require.Eventually(t, func() bool { return errors.Is(reported.first(), watchedfile.ErrUnsafeSymlink) }, waitFor, waitTick,
		"the link was not refused: %v", reported.first())
	for i := range 10 {
		writeLine(t, w, fmt.Sprintf("record %d", i))
	}
	require.NoError(t, w.Close())
	assert.Equal(t, "root's secret\n", readFile(t, secret), "root's file was written through nobody's link")

	_, err := watchedfile.Open(path)
	require.ErrorIs(t, err, watchedfile.ErrUnsafeSymlink)
	assert.Equal(t, "root's secret\n", readFile(t, secret))

	// nobody's link to nobody's own file: followed.
	asNobody(t, dir, `: > mine.log && ln -sfn mine.log app.log`)
	w = openWriter(t, path)
	writeLine(t, w, "into nobody's file, through nobody's link")
	assert.Equal(t, "into nobody's file, through nobody's link\n", readFile(t, filepath.Join(dir, "mine.log")))
}

// Item 1, on the way: nobody replaces a directory on the way to the log
// with a link to root's directory; the Writer creates nothing there.
func TestSecurityPlantedLinkToRootsDirectory(t *testing.T) {
	dir, _ := attackerDir(t)
	rootsDir := filepath.Join(reachableTempDir(t), "etc")
	require.NoError(t, os.Mkdir(rootsDir, 0o755))
	asNobody(t, dir, `ln -s "$1" sub`, rootsDir)
	_, err := watchedfile.Open(filepath.Join(dir, "sub", "app.log"))
	require.ErrorIs(t, err, watchedfile.ErrUnsafeSymlink)
	assert.NoFileExists(t, filepath.Join(rootsDir, "app.log"))
}

// Item 1, by hard link: nobody links root's file into the directory under
// the log's name (where fs.protected_hardlinks is off; here it is made by
// root, as the attacker would where it is off).
func TestSecurityPlantedHardLink(t *testing.T) {
	dir, secret := attackerDir(t)
	require.NoError(t, os.Link(secret, filepath.Join(dir, "app.log")))
	_, err := watchedfile.Open(filepath.Join(dir, "app.log"))
	require.ErrorIs(t, err, watchedfile.ErrUnsafeFile)
	assert.Equal(t, "root's secret\n", readFile(t, secret))
}

// Item 2: nobody plants the lock files as links, one to a root file, one
// to a missing path, before a root Writer that rotates and chowns its
// files to nobody opens: root's file is not chowned, nothing is created
// through the link, and the refusal is Open's error or reported.
func TestSecurityPlantedLockLinks(t *testing.T) {
	rot := watchedfile.Rotation{MaxSize: 1 << 20, UID: nobody, GID: nobody}
	t.Run("rotation lock", func(t *testing.T) {
		dir, secret := attackerDir(t)
		missingPath := filepath.Join(filepath.Dir(secret), "created")
		asNobody(t, dir, `ln -s "$1" .app.log.lock`, missingPath)
		_, err := watchedfile.Open(filepath.Join(dir, "app.log"), watchedfile.WithRotation(rot))
		require.ErrorIs(t, err, watchedfile.ErrUnsafeSymlink)
		assert.NoFileExists(t, missingPath)
	})
	t.Run("maintenance lock", func(t *testing.T) {
		dir, secret := attackerDir(t)
		asNobody(t, dir, `ln -s "$1" .app.log.maintenance.lock`, secret)
		var reported errorLog
		w := openWriter(t, filepath.Join(dir, "app.log"), watchedfile.WithRotation(rot), watchedfile.WithErrorHandler(reported.add))
		require.Eventually(t, func() bool { return errors.Is(reported.first(), watchedfile.ErrUnsafeSymlink) }, waitFor, waitTick,
			"the maintenance lock's link was not refused: %v", reported.first())
		require.NoError(t, w.Close())
		uid, gid := owner(t, secret)
		assert.Equal(t, [2]uint32{0, 0}, [2]uint32{uid, gid}, "root's file was chowned through nobody's link")
	})
}

// Item 3: a directory that group or others may write is refused unless the
// caller says it is meant (WithSharedDir), as logrotate refuses one
// without su.
func TestSecuritySharedDirRefused(t *testing.T) {
	for _, mode := range []fs.FileMode{0o777 | fs.ModeSticky, 0o775, 0o757} {
		t.Run(fmt.Sprintf("%o", mode), func(t *testing.T) {
			dir := filepath.Join(reachableTempDir(t), "log")
			require.NoError(t, os.Mkdir(dir, 0o755))
			require.NoError(t, os.Chmod(dir, mode))
			path := filepath.Join(dir, "app.log")
			_, err := watchedfile.Open(path)
			require.ErrorIs(t, err, watchedfile.ErrSharedDir)
			assert.NoFileExists(t, path)

			w := openWriter(t, path, watchedfile.WithSharedDir())
			writeLine(t, w, "meant")
			assert.Equal(t, "meant\n", readFile(t, path))
		})
	}
}

// Item 4: in a shared directory (opted in), a log nobody made before the
// Writer opened is not adopted: root's records never go to nobody's file.
func TestSecurityPremadeLogRefused(t *testing.T) {
	dir := sharedDir(t)
	path := filepath.Join(dir, "app.log")
	asNobody(t, dir, `: > app.log && chmod 666 app.log`)
	_, err := watchedfile.Open(path, watchedfile.WithSharedDir(), watchedfile.WithMode(0o600))
	require.ErrorIs(t, err, watchedfile.ErrUnsafeFile)
	_, err = watchedfile.Open(path, watchedfile.WithSharedDir(), watchedfile.WithMode(0o600),
		watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1 << 20}))
	require.ErrorIs(t, err, watchedfile.ErrUnsafeFile)
	assert.Equal(t, "", readFile(t, path))
	matches, _ := filepath.Glob(filepath.Join(dir, "app-*.log"))
	assert.Empty(t, matches, "nobody's file became a backup")
}

// Item 5: retention counts and removes only the Writer's own files: a file
// nobody names like a backup is neither removed nor counted, so planted
// names cannot make the Writer delete its own backups.
func TestSecurityRetentionIgnoresOthersFiles(t *testing.T) {
	dir := sharedDir(t)
	path := filepath.Join(dir, "app.log")
	asNobody(t, dir, `for d in 2000-01-01 2099-01-01 2099-01-02 2099-01-03; do echo planted > "app-${d}T00-00-00.000Z.log"; done`)
	w := openWriter(t, path, watchedfile.WithSharedDir(),
		watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1000, MaxBackups: 3}))
	record := strings.Repeat("x", 99)
	for range 150 {
		writeLine(t, w, record) // 100 bytes: a rotation every 10 records
	}
	require.Eventually(t, func() bool { return len(rootsBackups(t, dir)) == 3 }, waitFor, waitTick,
		"want 3 backups of root's: %v", rootsBackups(t, dir))
	planted, _ := filepath.Glob(filepath.Join(dir, "app-2*-01-0*T00-00-00.000Z.log"))
	assert.Len(t, planted, 4, "nobody's files are not the Writer's to remove")
	for _, b := range rootsBackups(t, dir) {
		assert.Equal(t, strings.Repeat(record+"\n", 10), readFile(t, b), b)
	}
}

// rootsBackups returns the dated files in dir that root owns, but the live one.
func rootsBackups(t *testing.T, dir string) []string {
	t.Helper()
	live, _ := os.Readlink(filepath.Join(dir, "app.log"))
	all, _ := filepath.Glob(filepath.Join(dir, "app-*.log"))
	var mine []string
	for _, f := range all {
		fi, err := os.Lstat(f)
		if err == nil && fi.Sys().(*syscall.Stat_t).Uid == 0 && filepath.Base(f) != live {
			mine = append(mine, f) // root's; one removed meanwhile is not
		}
	}
	return mine
}

// Item 6: a .gz nobody plants beside a rotated file is not taken for its
// compressed copy: the rotated file and its records stay.
func TestSecurityPlantedCompressedCopy(t *testing.T) {
	for _, how := range []string{"empty", "link"} {
		t.Run(how, func(t *testing.T) {
			dir, secret := attackerDir(t)
			path := filepath.Join(dir, "app.log")
			var reported errorLog
			rot := watchedfile.Rotation{MaxSize: 1000, Compress: true, CompressDelay: time.Hour}
			w := openWriter(t, path, watchedfile.WithRotation(rot), watchedfile.WithErrorHandler(reported.add))
			first, err := os.Readlink(path)
			require.NoError(t, err)
			if how == "empty" {
				asNobody(t, dir, `: > "$1.gz"`, first)
			} else {
				asNobody(t, dir, `ln -s "$2" "$1.gz"`, first, secret)
			}
			record := strings.Repeat("y", 99)
			for range 10 {
				writeLine(t, w, record)
			}
			writeLine(t, w, "next file") // the rotation wakes the maintenance
			require.NoError(t, w.Close())
			// A Writer opened after the rotation runs the maintenance once
			// at Open: it must leave the rotated file alone.
			w = openWriter(t, path, watchedfile.WithRotation(rot))
			require.NoError(t, w.Close())
			assert.Equal(t, strings.Repeat(record+"\n", 10), readFile(t, filepath.Join(dir, first)))
		})
	}
}

// Item 7: the lock files are the Writer's user's alone (no read for group
// or others by default), so nobody cannot hold flock on them; a rotation
// that cannot get its lock for long is reported instead of silently never
// happening.
func TestSecurityLocksOnlyForTheWriter(t *testing.T) {
	dir, _ := attackerDir(t)
	path := filepath.Join(dir, "app.log")
	var reported errorLog
	w := openWriter(t, path, watchedfile.WithErrorHandler(reported.add),
		watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1000}))
	lockPath := filepath.Join(dir, ".app.log.lock")
	fi, err := os.Stat(lockPath)
	require.NoError(t, err)
	assert.Zero(t, fi.Mode().Perm()&0o077, "the lock file's mode: %v", fi.Mode())
	cmd := exec.Command("flock", "-n", lockPath, "true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "nobody could open and lock the rotation lock: %s", out)

	// Root's own process holds the lock: the Writer cannot rotate, and says so.
	lock, err := os.Open(lockPath)
	require.NoError(t, err)
	defer lock.Close()
	require.NoError(t, unix.Flock(int(lock.Fd()), unix.LOCK_EX))
	record := strings.Repeat("z", 99)
	for range 30 { // three times MaxSize
		writeLine(t, w, record)
	}
	require.Eventually(t, func() bool { return errors.Is(reported.first(), watchedfile.ErrRotationStalled) }, waitFor, waitTick,
		"a rotation held up by its lock was not reported: %v", reported.first())
}

// Item 8: a compressed copy gets the mode of the file it compresses, as
// gzip and logrotate give it, not the Writer's mode.
func TestSecurityCompressedKeepsSourceMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	compressed := make(chan watchedfile.Compressed, 1)
	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1000, Compress: true, CompressDelay: -1,
		OnCompress: func(c watchedfile.Compressed) { compressed <- c }}))
	first, err := os.Readlink(path)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(filepath.Join(dir, first), 0o600)) // an administrator's choice for this file
	for range 11 {
		writeLine(t, w, strings.Repeat("m", 99))
	}
	var c watchedfile.Compressed
	select {
	case c = <-compressed:
	case <-time.After(waitFor):
		t.Fatal("never compressed")
	}
	fi, err := os.Stat(c.Compressed)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
}

// Item 9: a writer that opens a rotated file while its last chunk is being
// compressed does not lose its record: the compressor looks once more
// after its last read and leaves the file as it was.
func TestSecurityCompressionKeepsLateRecord(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	gz := &pausingGzip{read: make(chan struct{}), resume: make(chan struct{})}
	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1000, Compress: true, CompressDelay: -1,
		Compressor: gz}))
	first, err := os.Readlink(path)
	require.NoError(t, err)
	for range 11 {
		writeLine(t, w, strings.Repeat("l", 99))
	}
	select {
	case <-gz.read: // the compressor has read the whole file, and waits
	case <-time.After(waitFor):
		t.Fatal("compression never began")
	}
	opened := make(chan error, 1)
	go func() { // breaks the lease: waits for the compressor to let go
		f, err := os.OpenFile(filepath.Join(dir, first), os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			_, err = f.WriteString("late\n")
			f.Close()
		}
		opened <- err
	}()
	require.Eventually(t, func() bool { return leaseBreaking(t) }, waitFor, waitTick, "the open did not break the lease")
	close(gz.resume)
	require.NoError(t, <-opened)
	require.NoError(t, w.Close())
	got := readAll(t, filepath.Join(dir, first)) + readAll(t, filepath.Join(dir, first+".gz"))
	assert.Contains(t, got, "late\n", "the record written after the compressor's last read is lost")
}

// pausingGzip reads the whole source, says so, and waits to be resumed
// before it writes the compressed copy.
type pausingGzip struct {
	once         sync.Once
	read, resume chan struct{}
}

func (*pausingGzip) Extension() string { return ".gz" }

func (g *pausingGzip) Compress(dst io.Writer, src io.Reader) error {
	b, err := io.ReadAll(src)
	if err != nil {
		return err
	}
	g.once.Do(func() {
		close(g.read)
		<-g.resume
	})
	zw := gzip.NewWriter(dst)
	zw.Write(b)
	return zw.Close()
}

// leaseBreaking reports whether a lease in this system is being broken.
func leaseBreaking(t *testing.T) bool {
	b, err := os.ReadFile("/proc/locks")
	require.NoError(t, err)
	return strings.Contains(string(b), "BREAKING")
}

// readAll returns the content of path, gunzipped if it ends in .gz, or ""
// if it does not exist.
func readAll(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	require.NoError(t, err)
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		require.NoError(t, err)
		r = zr
	}
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

// Item 10: a dated file named ahead of the clock (a clock that was set
// ahead, or a name planted) does not stop time rotation, and new files are
// named when they start.
func TestSecurityFutureDatedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app-2099-01-01T00-00-00.000Z.log"), []byte("from the future\n"), 0o644))
	rotated := make(chan watchedfile.Rotated, 16)
	w := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{Every: time.Second,
		OnRotate: func(r watchedfile.Rotated) { rotated <- r }}))
	writeLine(t, w, "now")
	select {
	case r := <-rotated:
		assert.NotContains(t, r.New, "2099", "the new file's name does not say when it started")
		assert.Contains(t, r.New, time.Now().UTC().Format("2006-01-02T"), r.New)
	case <-time.After(waitFor):
		t.Fatal("no time rotation: the file named in 2099 stopped it")
	}
}

// Item 11: a Writer whose rotation settings differ from those of another
// Writer of the same path, in this process or another, is refused at Open,
// and the two never delete what the other was told to keep; once the
// first is closed, the second may open with its own.
func TestSecurityRotationSettingsMismatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	a := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1000, MaxBackups: 2}))
	_, err := watchedfile.Open(path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1000, MaxBackups: 100, Compress: true}))
	require.ErrorIs(t, err, watchedfile.ErrRotationMismatch)
	assert.Contains(t, err.Error(), "MaxBackups")
	same := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1000, MaxBackups: 2}))
	require.NoError(t, same.Close())
	require.NoError(t, a.Close())
	b := openWriter(t, path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1000, MaxBackups: 100, Compress: true}))
	require.NoError(t, b.Close())
}

// Item 13: a link a rollover killed midway left (.app.log.<hex>.link) is
// removed by the next rotation, and files nobody plants in bulk make one
// report per pass of the maintenance, not one each.
func TestSecurityLitterAndFloods(t *testing.T) {
	dir := sharedDir(t)
	path := filepath.Join(dir, "app.log")
	require.NoError(t, os.Symlink("app-2026-12-07T00-00-00.000Z.log", filepath.Join(dir, ".app.log.0123456789abcdef.link")))
	for i := range 400 { // as nobody would, by the hundred
		link := filepath.Join(dir, fmt.Sprintf("app-2001-01-01T00-00-00.%03dZ.log", i))
		require.NoError(t, os.Symlink("/etc/shadow", link))
		require.NoError(t, os.Lchown(link, nobody, nobody))
	}
	var reported errorLog
	rotated := make(chan watchedfile.Rotated, 64)
	w := openWriter(t, path, watchedfile.WithSharedDir(), watchedfile.WithErrorHandler(reported.add),
		watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1000, MaxBackups: 1, Compress: true, CompressDelay: -1,
			OnRotate: func(r watchedfile.Rotated) { rotated <- r }}))
	for range 3 {
		for range 10 {
			writeLine(t, w, strings.Repeat("f", 99))
		}
		select {
		case <-rotated:
		case <-time.After(waitFor):
			t.Fatal("no rotation")
		}
	}
	require.Eventually(t, func() bool {
		gz, _ := filepath.Glob(filepath.Join(dir, "app-*.log.gz"))
		return len(rootsBackups(t, dir)) == 0 && len(gz) == 1
	}, waitFor, waitTick, "want one compressed backup of root's")
	require.NoError(t, w.Close())
	assert.NoFileExists(t, filepath.Join(dir, ".app.log.0123456789abcdef.link"), "a killed rollover's link is litter")
	planted, _ := filepath.Glob(filepath.Join(dir, "app-2001-*.log"))
	assert.Len(t, planted, 400)
	s := w.Stats()
	assert.LessOrEqual(t, uint64(reported.len())+s.DroppedErrors, uint64(8), "reports: %d, dropped: %d", reported.len(), s.DroppedErrors)
}

// The attacks of the review of the rules (December 2026), as tests.

// swapDirOnOpen is the attacker of TestSecurityDirSwap, run as nobody in a
// child process (TestChildProcess): it watches WATCHEDFILE_DIR, nobody's
// directory in a sticky one, and the moment the Writer opens the file
// WATCHEDFILE_TRIGGER there, exchanges the directory with WATCHEDFILE_LINK,
// nobody's link to root's directory; it says "ready" and then "swapped".
func swapDirOnOpen(t *testing.T) {
	dir, link, trigger := os.Getenv("WATCHEDFILE_DIR"), os.Getenv("WATCHEDFILE_LINK"), os.Getenv("WATCHEDFILE_TRIGGER")
	fd, err := unix.InotifyInit1(0)
	require.NoError(t, err)
	_, err = unix.InotifyAddWatch(fd, dir, unix.IN_OPEN)
	require.NoError(t, err)
	fmt.Println("ready")
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		require.NoError(t, err)
		for off := 0; off < n; {
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+nameLen]), "\x00")
			off += unix.SizeofInotifyEvent + nameLen
			if name == trigger {
				require.NoError(t, unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE))
				fmt.Println("swapped")
				return
			}
		}
	}
}

// TestSecurityDirSwap: nobody, who owns the log directory's entry in a
// sticky directory, exchanges it with a link to root's directory just as
// the rotation has opened its lock there; the rotation goes on in the
// directory it opened, and nothing happens to root's files.
func TestSecurityDirSwap(t *testing.T) {
	for _, tc := range []struct{ name, trigger string }{
		{"maintenance", ".app.log.maintenance.lock"},
		{"rotation", ".app.log.lock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireRoot(t)
			base := reachableTempDir(t)
			shared := filepath.Join(base, "shared")
			require.NoError(t, os.Mkdir(shared, 0o755))
			require.NoError(t, os.Chmod(shared, 0o777|fs.ModeSticky))
			victim := filepath.Join(base, "victim")
			require.NoError(t, os.Mkdir(victim, 0o755))
			old := []string{"app-2020-01-01T00-00-00.000Z.log", "app-2020-01-02T00-00-00.000Z.log", "app-2020-01-03T00-00-00.000Z.log"}
			for _, name := range append(old, "app.log") {
				require.NoError(t, os.WriteFile(filepath.Join(victim, name), []byte("root's\n"), 0o600))
			}
			asNobody(t, shared, `mkdir logs && ln -s "$1" link`, victim)
			logs := filepath.Join(shared, "logs")
			for _, name := range old { // the Writer's own old files, in its own directory
				require.NoError(t, os.WriteFile(filepath.Join(logs, name), []byte("the Writer's\n"), 0o600))
			}
			cmd := exec.Command(worldCopyOfTestBinary(t), "-test.run=^TestChildProcess$")
			cmd.Env = append(os.Environ(), "WATCHEDFILE_CHILD=swap-dir", "WATCHEDFILE_DIR="+logs,
				"WATCHEDFILE_LINK="+filepath.Join(shared, "link"), "WATCHEDFILE_TRIGGER="+tc.trigger)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			cmd.Dir = base
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			lines := bufio.NewScanner(out)
			require.True(t, lines.Scan())
			require.Equal(t, "ready", lines.Text())
			w, err := watchedfile.Open(filepath.Join(logs, "app.log"), watchedfile.WithSharedDir(),
				watchedfile.WithRotation(watchedfile.Rotation{MaxBackups: 1}))
			if err != nil {
				// The first file made in the directory opened, the path
				// then followed to it through nobody's link: refused.
				require.ErrorIs(t, err, watchedfile.ErrUnsafeSymlink)
			} else {
				defer w.Close()
			}
			require.True(t, lines.Scan(), "the attacker never swapped")
			require.Equal(t, "swapped", lines.Text())
			// The directory the maintenance opened is now at shared/link:
			// its retention ran there, on the Writer's own old files. (The
			// rotation's, at Open, made the first file there.)
			moved := filepath.Join(shared, "link")
			require.Eventually(t, func() bool {
				if tc.name == "rotation" {
					return true
				}
				left := 0
				for _, name := range old {
					if _, err := os.Stat(filepath.Join(moved, name)); err == nil {
						left++
					}
				}
				return left <= 1
			}, waitFor, waitTick, "retention never ran in the Writer's directory")
			for _, name := range append(old, "app.log") {
				assert.Equal(t, "root's\n", readFile(t, filepath.Join(victim, name)), "root's %s", name)
			}
		})
	}
}

// TestSecurityHardLinkedRootSymlink: root's own symlink, hard-linked into
// nobody's directory under the log's name (where fs.protected_hardlinks is
// off; made here by root, as the attacker would), is not followed.
func TestSecurityHardLinkedRootSymlink(t *testing.T) {
	dir, secret := attackerDir(t)
	rootLinks := filepath.Join(filepath.Dir(secret), "rootlinks")
	require.NoError(t, os.Mkdir(rootLinks, 0o755))
	require.NoError(t, os.Symlink(secret, filepath.Join(rootLinks, "l")))
	require.NoError(t, unix.Linkat(unix.AT_FDCWD, filepath.Join(rootLinks, "l"), unix.AT_FDCWD, filepath.Join(dir, "app.log"), 0))
	_, err := watchedfile.Open(filepath.Join(dir, "app.log"))
	require.ErrorIs(t, err, watchedfile.ErrUnsafeSymlink)
	assert.Equal(t, "root's secret\n", readFile(t, secret))
}

// TestSecurityJudgedBeforeOpened: a file the Writer refuses is never opened
// for writing (a device's open does things: a watchdog arms itself): no
// IN_OPEN on root's file behind nobody's link.
func TestSecurityJudgedBeforeOpened(t *testing.T) {
	dir, secret := attackerDir(t)
	in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(in)
	_, err = unix.InotifyAddWatch(in, secret, unix.IN_OPEN)
	require.NoError(t, err)
	asNobody(t, dir, `ln -s "$1" app.log`, secret)
	_, err = watchedfile.Open(filepath.Join(dir, "app.log"))
	require.ErrorIs(t, err, watchedfile.ErrUnsafeSymlink)
	n, err := unix.Read(in, make([]byte, 4096))
	assert.ErrorIs(t, err, unix.EAGAIN, "root's file was opened (%d bytes of events) before the link was refused", n)
}

// TestSecurityWriteAfterCloseRotatesNothing: a Write after Close fails and
// makes no file, though the file it would have written is full.
func TestSecurityWriteAfterCloseRotatesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	rot := watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1000})
	w, err := watchedfile.Open(path, rot)
	require.NoError(t, err)
	_, err = w.Write(make([]byte, 999))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 2000)) // full
	require.NoError(t, err)
	require.NoError(t, f.Close())
	w, err = watchedfile.Open(path, rot)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	before, err := os.ReadDir(dir)
	require.NoError(t, err)
	_, err = w.Write([]byte("after Close\n"))
	require.ErrorIs(t, err, os.ErrClosed)
	after, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Equal(t, len(before), len(after), "a Write after Close made a file")
}

// TestSecuritySettingsLockHeld: the directory's owner holds the settings
// file's lock for good: Open waits a while (lockWait, 10 s), then fails
// with ErrRotationStalled, instead of hanging.
func TestSecuritySettingsLockHeld(t *testing.T) {
	dir, _ := attackerDir(t)
	lock := filepath.Join(dir, ".app.log.settings.lock")
	asNobody(t, dir, `: > "$1"`, lock)
	cmd := exec.Command("flock", "-x", lock, "sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	require.Eventually(t, func() bool { return lockHeld(t, lock) }, waitFor, waitTick)
	opened := make(chan error, 1)
	go func() {
		w, err := watchedfile.Open(filepath.Join(dir, "app.log"), watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1 << 20}))
		if err == nil {
			w.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		require.ErrorIs(t, err, watchedfile.ErrRotationStalled)
	case <-time.After(6 * waitFor): // 60 s: only if Open hangs for good
		t.Fatal("Open hangs while another user holds the settings lock")
	}
}

// lockHeld reports whether someone holds flock's lock on the file at path.
func lockHeld(t *testing.T, path string) bool {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return true
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// TestSecurityCompressedCopyKeepsOwner: root's 0600 dated file, compressed
// by a Writer whose files go to nobody (Rotation.UID), stays root's as a
// compressed copy, as gzip keeps it: nobody cannot read it.
func TestSecurityCompressedCopyKeepsOwner(t *testing.T) {
	requireRoot(t)
	dir := reachableTempDir(t)
	old := filepath.Join(dir, "app-2020-01-01T00-00-00.000Z.log")
	require.NoError(t, os.WriteFile(old, []byte("root only\n"), 0o600))
	compressed := make(chan watchedfile.Compressed, 4)
	w := openWriter(t, filepath.Join(dir, "app.log"), watchedfile.WithRotation(watchedfile.Rotation{UID: nobody, GID: nobody,
		Compress: true, CompressDelay: -1, OnCompress: func(c watchedfile.Compressed) { compressed <- c }}))
	select {
	case <-compressed:
	case <-time.After(waitFor):
		t.Fatal("never compressed")
	}
	require.NoError(t, w.Close())
	uid, gid := owner(t, old+".gz")
	assert.Equal(t, [2]uint32{0, 0}, [2]uint32{uid, gid})
	fi, err := os.Stat(old + ".gz")
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
}
