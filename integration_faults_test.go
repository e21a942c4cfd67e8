//go:build linux

package watchedfile_test

// Integration scenarios beyond logrotate's configurations: an unprivileged
// writer, a real consumer (tail -F), faults, a hostile symlink, scale and a
// soak. See integration_test.go for the harness.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The production failure: the writer runs as nobody, logrotate as root
// creates the new file with an owner and mode nobody cannot open.
func TestIntegrationUnprivileged(t *testing.T) {
	integSetup(t, "logrotate")
	for _, b := range []struct {
		name string
		poll time.Duration
	}{{"inotify", 0}, {"polling", 50 * time.Millisecond}} {
		t.Run(b.name, func(t *testing.T) { integUnprivileged(t, b.poll) })
	}
}

func integUnprivileged(t *testing.T, poll time.Duration) {
	start := time.Now()
	dir := integTempDir(t)
	logDir := filepath.Join(dir, "log")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(logDir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(logDir, "app.log")
	p := integStartWriter(t, integWriterConfig{Paths: []string{log}, Uid: nobody, Poll: poll})
	p.waitAcked(50)

	// Phase 1: a new file only root may open. The writer keeps writing to
	// the rotated file, reports EACCES, and switches once it may open it.
	conf := integConf(t, "unprivileged.conf", map[string]string{"LOG": log, "CREATE": "0600 root root"})
	integLogrotate(t, conf)
	integEventually(t, 10*time.Second, "the writer to report EACCES", func() bool {
		s := p.stats()
		return s.BackgroundErrors["EACCES"] > 0 && s.Writers[0].Pending
	})
	rotated := log + ".1"
	size := func(name string) int64 {
		fi, err := os.Stat(name)
		if err != nil {
			return -1
		}
		return fi.Size()
	}
	before := size(rotated)
	integEventually(t, 10*time.Second, "records in the rotated file while the new one is unwritable", func() bool {
		return size(rotated) > before+1000
	})
	if s := size(log); s != 0 {
		t.Fatalf("the unwritable new file has %d bytes", s)
	}
	if err := os.Chown(log, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	integEventually(t, 10*time.Second, "the writer to switch to the new file once it is writable", func() bool {
		return size(log) > 0
	})
	s := p.waitSettled()
	t.Logf("after the unwritable file: %+v, background errors %v", s.Writers[0], s.BackgroundErrors)

	// Phase 2: the usual configuration for such a service, forced many
	// times: logrotate's file is root's and 0600 for an instant before
	// its fchown and fchmod.
	conf = integConf(t, "unprivileged.conf", map[string]string{"LOG": log, "CREATE": "0640 nobody nogroup"})
	integRotateLoop(20, 100*time.Millisecond, func(int) { integLogrotate(t, conf) })
	p.waitSettled()
	p.waitAcked(50)
	res := p.stop()
	c := integTally(t, res, nil, logDir)
	integReport(t, "unprivileged writer, logrotate as root creates a file it cannot open, then 20 x create 0640 nobody", c, start)
	integExpectClean(t, c)
	// Polling may see two rotations within one interval as one.
	if w := res.Stats.Writers[0]; w.Reopens < 21 && (poll == 0 || w.Reopens < 11) {
		t.Errorf("want a switch per rotation (21; polling at least 11), got %+v", w)
	}
}

// A real consumer follows the path across rotations: every record appears
// in tail -F's output exactly once, except what GNU tail itself misses. On
// the rename it closes the old file as soon as the name is gone, without
// reading what was written to it since its last read: the records the writer
// wrote between tail's last read and its own switch to the new file (which
// logrotate creates a moment after the rename) are in the rotated file but
// not in tail's output. The test reports that figure and checks they are
// only those: at the very end of a rotated file.
func TestIntegrationTailF(t *testing.T) {
	integSetup(t, "logrotate", "tail")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"inotify", []string{"-F"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			dir := integTempDir(t)
			log := filepath.Join(dir, "app.log")
			p := integStartWriter(t, integWriterConfig{Paths: []string{log}})

			var out syncBuffer
			tail := exec.Command("tail", append(tc.args, "-n", "+1", log)...)
			tail.Stdout = &out
			if err := tail.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				tail.Process.Kill()
				tail.Wait()
			})
			p.waitAcked(50)
			conf := integConf(t, "plain.conf", map[string]string{"LOG": log})
			integRotateLoop(20, 150*time.Millisecond, func(int) { integLogrotate(t, conf) })
			p.waitSettled()
			p.waitAcked(50)
			res := p.stop()

			// Wait for tail to print everything the writer acknowledged,
			// or to print nothing more for a second.
			var c integCounts
			var found map[[2]int]int
			last, lastChange := -1, time.Now()
			integEventually(t, 30*time.Second, "tail -F to print every acknowledged record or stop printing", func() bool {
				found = make(map[[2]int]int)
				data := out.Bytes()
				if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
					data = data[:i+1]
				}
				if len(data) != last {
					last, lastChange = len(data), time.Now()
				}
				torn := integScan(data, found)
				c = integAccount(res, found, torn, 1)
				return c.Lost == 0 || time.Since(lastChange) > time.Second
			})
			integReport(t, "tail -F ("+tc.name+") across 20 logrotate create rotations: tail's output", c, start)
			if c.Lost > 0 {
				where, maxFromEnd := integLocate(t, dir, res, found)
				t.Logf("where tail's missing records are: %s", where)
				// The writer writes about 4 records a millisecond:
				// 40 lines is 10ms after the rename.
				if maxFromEnd > 40 {
					t.Errorf("tail missed records written long before the rotation: %s", where)
				}
			}
			if c.Duplicated != 0 || c.Torn != 0 {
				t.Errorf("want nothing duplicated or torn: %v", c)
			}

			// The files themselves hold everything.
			integExpectClean(t, integTally(t, res, nil, dir))
		})
	}
}

// integLocate says in which files the acknowledged records missing from
// found are, and how far from the end of their file.
func integLocate(t *testing.T, dir string, res integWriterResult, found map[[2]int]int) (string, int) {
	t.Helper()
	missing := make(map[[2]int]bool)
	for id, n := range res.Attempted {
		for seq := range n {
			if found[[2]int{id, seq}] == 0 {
				missing[[2]int{id, seq}] = true
			}
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "app.log*"))
	var b strings.Builder
	inFiles, maxFromEnd := 0, 0
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		k := 0
		for i, line := range lines {
			if id, seq, ok, _ := integParse(line); ok && missing[[2]int{id, seq}] {
				k++
				maxFromEnd = max(maxFromEnd, len(lines)-1-i)
			}
		}
		if k > 0 {
			inFiles++
		}
	}
	fmt.Fprintf(&b, "%d missing records, in %d of %d files, each within the last %d lines of its file (the rotated file's tail)",
		len(missing), inFiles, len(names), maxFromEnd+1)
	return b.String(), maxFromEnd + 1
}

// syncBuffer is a bytes.Buffer that a command writes and the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// The disk fills: writes fail with an error wrapping ENOSPC, then succeed
// once space is freed.
func TestIntegrationDiskFull(t *testing.T) {
	integSetup(t, "mount", "umount")
	start := time.Now()
	mnt := mountTmpfs(t, integTempDir(t), "8m")
	logDir := filepath.Join(mnt, "log")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := integStartWriter(t, integWriterConfig{Paths: []string{filepath.Join(logDir, "app.log")}})
	p.waitAcked(50)

	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errorsIsErrno(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	integEventually(t, 10*time.Second, "writes to fail with ENOSPC", func() bool {
		return p.stats().WriteErrors["ENOSPC"] >= 50
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	p.waitAcked(200)
	res := p.stop()
	c := integTally(t, res, nil, logDir)
	integReport(t, "disk full (tmpfs), then space freed", c, start)
	t.Logf("write errors by class: %v", res.Stats.WriteErrors)
	for class := range res.Stats.WriteErrors {
		if class != "ENOSPC" {
			t.Errorf("a write failed with %s, want only ENOSPC: %v", class, res.Stats.WriteErrors)
		}
	}
	// A record the kernel cut short when the disk filled is held by the
	// Writer and completed in the same file once space is freed: none torn.
	if c.Acked == 0 || c.Lost != 0 || c.Duplicated != 0 || c.Torn != 0 {
		t.Errorf("want nothing lost, duplicated or torn (%d writes cut short): %v", c.Partial, c)
	}
}

func errorsIsErrno(err error, errno syscall.Errno) bool {
	var e syscall.Errno
	for err != nil {
		if x, ok := err.(syscall.Errno); ok {
			e = x
			break
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return e == errno
}

// The log directory disappears and comes back.
func TestIntegrationDirectoryGone(t *testing.T) {
	integSetup(t)
	t.Run("moved away, then made again", func(t *testing.T) {
		start := time.Now()
		dir := integTempDir(t)
		logDir := filepath.Join(dir, "log")
		if err := os.Mkdir(logDir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := integStartWriter(t, integWriterConfig{Paths: []string{filepath.Join(logDir, "app.log")},
			HasCreate: true, CreateDelay: 100 * time.Millisecond})
		p.waitAcked(50)
		if err := os.Rename(logDir, logDir+".old"); err != nil {
			t.Fatal(err)
		}
		integEventually(t, 10*time.Second, "the writer to report the missing directory", func() bool {
			s := p.stats()
			return s.Writers[0].Pending && s.BackgroundErrors["ENOENT"] > 0
		})
		p.waitAcked(200) // still writing, to the moved file
		if err := os.Mkdir(logDir, 0o755); err != nil {
			t.Fatal(err)
		}
		p.waitSettled()
		p.waitAcked(100)
		res := p.stop()
		c := integTally(t, res, nil, dir)
		integReport(t, "log directory renamed away, made again later", c, start)
		integExpectClean(t, c)
	})
	t.Run("removed, WithMkdirAll", func(t *testing.T) {
		start := time.Now()
		dir := integTempDir(t)
		logDir := filepath.Join(dir, "log")
		if err := os.Mkdir(logDir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := integStartWriter(t, integWriterConfig{Paths: []string{filepath.Join(logDir, "app.log")}, MkdirAll: true})
		p.waitAcked(50)
		// rm -rf: what the writer wrote to the removed file is gone with
		// it. The writer may make the directory again at once.
		integEventually(t, 10*time.Second, "the directory removed", func() bool {
			os.RemoveAll(logDir)
			_, err := os.Stat(filepath.Join(logDir, "app.log"))
			return err != nil
		})
		// Only the writer makes the file again, and it does so holding the
		// lock that Stats takes until the new file is the one Write uses:
		// every record acknowledged after the next stats went to the new file.
		integEventually(t, 10*time.Second, "the writer to make the file again", func() bool {
			_, err := os.Stat(filepath.Join(logDir, "app.log"))
			return err == nil
		})
		switched := p.stats().Acked
		p.waitSettled()
		p.waitAcked(200)
		res := p.stop()
		c := integTally(t, res, nil, dir)
		integReport(t, "log directory removed (rm -rf), WithMkdirAll makes it again", c, start)
		// Records acknowledged before the writer switched were deleted with
		// the directory; those after it must all be there.
		// (+4: a record each goroutine had in flight when the count was read.)
		if c.Lost > int(switched)+4 || c.Duplicated != 0 || c.Torn != 0 {
			t.Errorf("want at most the %d records acknowledged before the switch lost: %v", switched, c)
		}
		if _, err := os.Stat(filepath.Join(logDir, "app.log")); err != nil {
			t.Errorf("the writer did not make the file again: %v", err)
		}
	})
}

// The process runs out of file descriptors during a reopen: the writer keeps
// its file, reports EMFILE, and switches once descriptors are free.
func TestIntegrationFDExhaustion(t *testing.T) {
	integSetup(t, "logrotate")
	start := time.Now()
	dir := integTempDir(t)
	log := filepath.Join(dir, "app.log")
	p := integStartWriter(t, integWriterConfig{Paths: []string{log}, Nofile: 64})
	p.waitAcked(50)
	p.send("exhaust")
	t.Logf("descriptors opened to reach RLIMIT_NOFILE 64: %s", p.expect("exhausted", 10*time.Second))
	integLogrotate(t, integConf(t, "plain.conf", map[string]string{"LOG": log}))
	integEventually(t, 10*time.Second, "the writer to report EMFILE", func() bool {
		s := p.stats()
		return s.Writers[0].Pending && s.BackgroundErrors["EMFILE"] > 0
	})
	p.waitAcked(200) // still writing, to the rotated file
	p.send("release")
	p.expect("released", 10*time.Second)
	p.waitSettled()
	p.waitAcked(100)
	res := p.stop()
	c := integTally(t, res, nil, dir)
	integReport(t, "RLIMIT_NOFILE exhausted during a reopen, then descriptors freed", c, start)
	integExpectClean(t, c)
	if res.Stats.Writers[0].Reopens != 1 {
		t.Errorf("want one switch: %+v", res.Stats.Writers[0])
	}
}

// A service running as root writes into a directory another user may write
// to. That user replaces the log with a symlink to a file they must not be
// able to write through the service.
func TestIntegrationSymlink(t *testing.T) {
	integSetup(t, "ln", "mv")
	start := time.Now()
	dir := integTempDir(t)
	logDir := filepath.Join(dir, "log")
	if err := os.Mkdir(logDir, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(logDir, 0, nobody); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(logDir, 0o775); err != nil { // root:nogroup, group-writable
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	const secretText = "root's file\n"
	if err := os.WriteFile(secret, []byte(secretText), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(logDir, "app.log")
	p := integStartWriter(t, integWriterConfig{Paths: []string{log}, SharedDir: true})
	p.waitAcked(50)

	// The attack, as nobody: a symlink renamed over the log.
	attack := exec.Command("sh", "-c", `ln -s "$1" "$2.tmp" && mv -T "$2.tmp" "$2"`, "sh", secret, log)
	attack.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	attack.Dir = dir // not the checkout, which nobody may not enter
	if out, err := attack.CombinedOutput(); err != nil {
		t.Fatalf("attack as nobody: %v: %s", err, out)
	}
	integEventually(t, 10*time.Second, "the writer to refuse the link", func() bool {
		s := p.stats()
		return s.Writers[0].Pending && s.BackgroundErrors["unsafe-symlink"] > 0
	})
	// SIGHUP: an explicit Reopen refuses it too.
	if err := syscall.Kill(p.Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	integEventually(t, 10*time.Second, "Reopen to fail", func() bool { return p.stats().HupErrors > 0 })
	p.waitAcked(200) // the writer keeps writing, to the file it has
	if data, _ := os.ReadFile(secret); string(data) != secretText {
		t.Fatalf("the writer wrote through the attacker's link: %q", data)
	}
	attacked := p.stats()
	t.Logf("refusal reported: %s", attacked.LastErrors[0])

	// The administrator removes the link: the writer makes a new file.
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	removed := p.waitSettled() // Acked: what the writer wrote until then
	p.waitAcked(50)

	// A link the administrator made (owned by root) is followed.
	target := filepath.Join(dir, "target.log")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Keep the writer's current file under another name: the link
	// replaces it.
	kept := filepath.Join(dir, "kept.log")
	if err := os.Link(log, kept); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, log+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(log+".tmp", log); err != nil {
		t.Fatal(err)
	}
	integEventually(t, 10*time.Second, "records through root's link", func() bool {
		fi, err := os.Stat(target)
		return err == nil && fi.Size() > 0
	})
	p.waitSettled()
	res := p.stop()
	if data, _ := os.ReadFile(secret); string(data) != secretText {
		t.Fatalf("the writer wrote through the attacker's link: %q", data)
	}
	c := integTally(t, res, func(name string) bool { return name == secret }, logDir, target, kept)
	integReport(t, "symlink attack by a user of a group-writable log dir; root's own link followed", c, start)
	// The attacker's rename unlinked the log: what was in it, and what the
	// writer went on writing to it while the link was refused, is lost with
	// it, bounded by what was written until the administrator removed the
	// link. Everything written after that is there.
	// (+4: a record each goroutine had in flight when the count was read.)
	t.Logf("lost with the file the attacker unlinked: %d of the %d written until the link was removed", c.Lost, removed.Acked)
	if c.Lost > int(removed.Acked)+4 || c.Duplicated != 0 || c.Torn != 0 {
		t.Errorf("want nothing duplicated or torn, and nothing lost but what went to the unlinked file: %v", c)
	}
}

// Several hundred Writers in one process, all rotated, all recover, with one
// inotify instance.
func TestIntegrationScale(t *testing.T) {
	integSetup(t, "logrotate")
	start := time.Now()
	const n = 300
	dir := integTempDir(t)
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%03d.log", i))
	}
	p := integStartWriter(t, integWriterConfig{Paths: paths, Goroutines: 1, Pace: 20 * time.Millisecond})
	before := p.stats()
	if before.InotifyFDs != 1 {
		t.Errorf("want 1 inotify instance for %d Writers, have %d", n, before.InotifyFDs)
	}
	p.waitAcked(n)
	// rotate 5, not the default 1000: logrotate looks for every one of
	// the kept names of every file, on each run.
	conf := integConf(t, "plain.conf", map[string]string{"LOG": filepath.Join(dir, "*.log"), "ROTATE": "5"})
	// logrotate looks at every file of the set (notifempty) before it
	// rotates any: each run starts once every Writer has written to the
	// file the previous run made.
	integRotateLoop(3, 500*time.Millisecond, func(int) {
		t0 := time.Now()
		integLogrotate(t, conf)
		t.Logf("logrotate run over %d files took %v", n, time.Since(t0))
		p.waitSettled()
		integEventually(t, 20*time.Second, "a record in every new file", func() bool {
			for _, path := range paths {
				if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
					return false
				}
			}
			return true
		})
	})
	after := p.waitSettled()
	p.waitAcked(n)
	for _, w := range after.Writers {
		if w.Reopens != 3 || w.Backend != "inotify" {
			t.Errorf("want 3 switches with inotify: %+v", w)
		}
	}
	if after.InotifyFDs != 1 || after.FDs > before.FDs+2 {
		t.Errorf("descriptors: %d (inotify %d) before, %d (inotify %d) after", before.FDs, before.InotifyFDs, after.FDs, after.InotifyFDs)
	}
	t.Logf("descriptors: %d (inotify %d) before, %d (inotify %d) after", before.FDs, before.InotifyFDs, after.FDs, after.InotifyFDs)
	res := p.stop()
	c := integTally(t, res, nil, dir)
	integReport(t, fmt.Sprintf("%d Writers in one process, 3 logrotate runs over all", n), c, start)
	integExpectClean(t, c)
}

// A few minutes of churn: renames every few milliseconds under 64 writers,
// the new file made sometimes by the "rotator" (as logrotate does: 0600 then
// chmod) and sometimes left to the Writer. -soak sets the duration.
func TestIntegrationSoak(t *testing.T) {
	integSetup(t)
	start := time.Now()
	const n = 64
	dir := integTempDir(t)
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("s%02d.log", i))
	}
	p := integStartWriter(t, integWriterConfig{Paths: paths, Goroutines: 1, Pace: 2 * time.Millisecond,
		HasCreate: true, CreateDelay: 5 * time.Millisecond})
	before := p.stats()
	p.waitAcked(n)
	rotations := 0
	tick := time.NewTicker(2 * time.Millisecond)
	for end := time.Now().Add(*integSoak); time.Now().Before(end); {
		<-tick.C
		path := paths[rotations%n]
		if err := os.Rename(path, path+"."+strconv.Itoa(rotations)); err != nil {
			if os.IsNotExist(err) {
				continue // the writer has not made it again yet
			}
			t.Fatal(err)
		}
		if rotations%2 == 0 {
			if f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
				f.Chmod(0o644)
				f.Close()
			}
		}
		rotations++
	}
	tick.Stop()
	after := p.waitSettled()
	p.waitAcked(n)
	res := p.stop()
	var reopens uint64
	for _, w := range after.Writers {
		reopens += w.Reopens
	}
	t.Logf("%d renames in %v, %d switches; descriptors %d (inotify %d) before, %d (inotify %d) after",
		rotations, *integSoak, reopens, before.FDs, before.InotifyFDs, after.FDs, after.InotifyFDs)
	if after.InotifyFDs != 1 || after.FDs > before.FDs+2 {
		t.Errorf("descriptors leaked: %d before, %d after", before.FDs, after.FDs)
	}
	c := integTally(t, res, nil, dir)
	integReport(t, fmt.Sprintf("soak %v: %d renames among %d Writers", *integSoak, rotations, n), c, start)
	integExpectClean(t, c)
}

// How soon after the rename gzip reads the rotated file, measured on the
// real logrotate with strace: the window a writer has to switch files when
// compress is used without delaycompress.
func TestIntegrationGzipWindow(t *testing.T) {
	integSetup(t, "logrotate", "gzip", "strace")
	dir := integTempDir(t)
	log := filepath.Join(dir, "app.log")
	if err := os.WriteFile(log, []byte(integRecord(0, 0)), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := integConf(t, "compress.conf", map[string]string{"LOG": log})
	trace := filepath.Join(dir, "trace")
	out, err := exec.Command("strace", "-f", "-ttt", "-o", trace, "-e", "trace=rename,renameat,renameat2,openat,execve,unlink,unlinkat",
		"logrotate", "-f", "-s", filepath.Join(dir, "state"), conf).CombinedOutput()
	if err != nil {
		t.Fatalf("strace logrotate: %v\n%s", err, out)
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	var renamed, opened, gzipped, unlinked float64
	stamp := func(line string) float64 {
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[1], 64)
		return v
	}
	rotated := strconv.Quote(log + ".1")
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case renamed == 0 && strings.Contains(line, "rename") && strings.Contains(line, rotated):
			renamed = stamp(line)
		case renamed != 0 && opened == 0 && strings.Contains(line, "openat(") && strings.Contains(line, rotated):
			opened = stamp(line)
		case renamed != 0 && gzipped == 0 && strings.Contains(line, "execve(") && strings.Contains(line, "gzip"):
			gzipped = stamp(line)
		case renamed != 0 && unlinked == 0 && strings.Contains(line, "unlink") && strings.Contains(line, rotated):
			unlinked = stamp(line)
		}
	}
	if renamed == 0 || opened == 0 || unlinked == 0 {
		t.Fatalf("did not find rename, open and unlink of %s in the trace:\n%s", rotated, data)
	}
	ms := func(v float64) string { return fmt.Sprintf("%.2fms", (v-renamed)*1000) }
	t.Logf("RESULT-GZIP after the rename (under strace, which slows it): rotated file opened for gzip %s, gzip exec %s, rotated file unlinked %s",
		ms(opened), ms(gzipped), ms(unlinked))
}
