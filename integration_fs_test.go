//go:build linux

package watchedfile_test

// The rotation scenarios on every Linux file system people log to: ext4,
// xfs and btrfs on loop devices, overlayfs as a container's root, and
// tmpfs. The test makes each file system itself in a temporary directory and
// takes every mount and loop device down again, failed or not. One RESULT
// line per file system and scenario feeds the table in
// docs/platforms.md:
//
//	go test -race -count=1 -run TestIntegrationFS -v . | grep RESULT

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// integFS is a file system the scenarios run on.
type integFS struct {
	name  string
	tools []string
	// mount makes the file system under dir and returns where it is mounted.
	mount func(t *testing.T, dir string) string
}

var integFileSystems = []integFS{
	{name: "ext4", tools: []string{"mkfs.ext4", "losetup"}, mount: func(t *testing.T, dir string) string {
		return integLoopFS(t, dir, 64, "mkfs.ext4", "-q", "-F")
	}},
	// mkfs.xfs refuses file systems under 300 MB.
	{name: "xfs", tools: []string{"mkfs.xfs", "losetup"}, mount: func(t *testing.T, dir string) string {
		return integLoopFS(t, dir, 300, "mkfs.xfs", "-q", "-f")
	}},
	{name: "btrfs", tools: []string{"mkfs.btrfs", "losetup"}, mount: func(t *testing.T, dir string) string {
		return integLoopFS(t, dir, 128, "mkfs.btrfs", "-q", "-f")
	}},
	// A container's root: the image's layer below, a writable layer on
	// ext4 above (where Docker keeps it), the log already in the image.
	{name: "overlayfs", tools: []string{"mkfs.ext4", "losetup"}, mount: integOverlayFS},
	{name: "tmpfs", mount: func(t *testing.T, dir string) string {
		mnt := filepath.Join(dir, "mnt")
		integRun(t, "mkdir", mnt)
		return mountTmpfs(t, mnt, "64m")
	}},
}

// integRun runs a command and fails the test if it fails.
func integRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// integMount mounts and unmounts at cleanup.
func integMount(t *testing.T, target string, args ...string) {
	t.Helper()
	if out, err := exec.Command("mount", append(args, target)...).CombinedOutput(); err != nil {
		unsupported(t, fmt.Sprintf("mount %s %s: %v: %s (kernel module missing?)", strings.Join(args, " "), target, err, out))
	}
	t.Cleanup(func() { integUmount(t, target) })
}

func integUmount(t *testing.T, target string) {
	if out, err := exec.Command("umount", target).CombinedOutput(); err != nil {
		t.Errorf("umount %s: %v: %s", target, err, out)
		exec.Command("umount", "-l", target).Run()
	}
}

// integLoopFS makes a file system of sizeMB on a sparse image under dir,
// attaches it to a loop device and mounts it.
func integLoopFS(t *testing.T, dir string, sizeMB int64, mkfs ...string) string {
	t.Helper()
	img := filepath.Join(dir, "image")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Truncate(sizeMB << 20)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	integRun(t, mkfs[0], append(mkfs[1:], img)...)
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		unsupported(t, fmt.Sprintf("losetup -f --show: %v: %s (no loop devices?)", err, out))
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { // after the unmount, registered below
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	integMount(t, mnt, dev)
	if err := os.Chmod(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	return mnt
}

// integOverlayFS mounts an overlay whose lower layer holds each scenario's
// log/app.log already, as a container image's would: the writer's open copies it up.
func integOverlayFS(t *testing.T, dir string) string {
	t.Helper()
	disk := integLoopFS(t, dir, 64, "mkfs.ext4", "-q", "-F")
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(disk, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, sc := range integFSScenarios {
		if sc.name == "directory renamed" {
			// Without redirect_dir (Docker's default) renaming a
			// directory of a lower layer fails with EXDEV: this one is
			// made in the container.
			continue
		}
		log := filepath.Join(disk, "lower", "s"+strconv.Itoa(i), "log")
		if err := os.MkdirAll(log, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(log, "app.log"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(disk, "merged")
	integMount(t, merged, "-t", "overlay", "overlay", "-o", fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s",
		filepath.Join(disk, "lower"), filepath.Join(disk, "upper"), filepath.Join(disk, "work")))
	return merged
}

// integFSReport logs one cell of the file system table in docs/platforms.md.
func integFSReport(t *testing.T, fsName, scenario string, res integWriterResult, c integCounts, start time.Time) {
	t.Helper()
	backend := "?"
	if len(res.Stats.Writers) > 0 {
		backend = res.Stats.Writers[0].Backend
	}
	t.Logf("RESULT | %s | %s | %d | %d | %d | %d | %s | %.1fs | %s", fsName, scenario, c.Acked, c.Lost, c.Duplicated, c.Torn,
		backend, time.Since(start).Seconds(), c)
}

// integFSScenario is one rotation scenario; dir is an empty directory on the
// file system under test, holding log/app.log (which may exist already).
type integFSScenario struct {
	name string
	run  func(t *testing.T, fsName, dir string)
}

var integFSScenarios = []integFSScenario{
	{"logrotate create", func(t *testing.T, fsName, dir string) {
		integFSLogrotate(t, fsName, dir, "create", "plain.conf", false)
	}},
	{"logrotate create+compress+delaycompress", func(t *testing.T, fsName, dir string) {
		integFSLogrotate(t, fsName, dir, "create+compress+delaycompress", "delaycompress.conf", false)
	}},
	{"logrotate copytruncate", func(t *testing.T, fsName, dir string) {
		integFSLogrotate(t, fsName, dir, "copytruncate", "copytruncate.conf", true)
	}},
	{"rm", integFSRemove},
	{"rename-over", integFSRenameOver},
	{"symlink repointed", integFSSymlink},
	{"directory renamed", integFSDirRenamed},
	{"ENOSPC, then freed", integFSDiskFull},
}

func TestIntegrationFS(t *testing.T) {
	integSetup(t, "logrotate", "gzip", "mount", "umount")
	for _, fsys := range integFileSystems {
		t.Run(fsys.name, func(t *testing.T) {
			t.Parallel()
			for _, tool := range fsys.tools {
				if _, err := exec.LookPath(tool); err != nil {
					missing(t, tool+" is not installed (apt-get install e2fsprogs xfsprogs btrfs-progs mount)")
				}
			}
			mnt := fsys.mount(t, integTempDir(t))
			for i, sc := range integFSScenarios {
				t.Run(sc.name, func(t *testing.T) {
					dir := filepath.Join(mnt, "s"+strconv.Itoa(i))
					if err := os.MkdirAll(filepath.Join(dir, "log"), 0o755); err != nil {
						t.Fatal(err)
					}
					if fsys.name == "overlayfs" && sc.name != "directory renamed" {
						// The writer opens the image's file: a copy-up.
						if _, err := os.Stat(filepath.Join(dir, "log", "app.log")); err != nil {
							t.Fatalf("the lower layer's log is not in the overlay: %v", err)
						}
					}
					sc.run(t, fsys.name, dir)
				})
			}
		})
	}
}

// integFSLogrotate runs logrotate with conf a few times while the writer
// writes; lossy says it may lose the records written while it runs
// (copytruncate, between its copy and its truncation).
func integFSLogrotate(t *testing.T, fsName, dir, mode, conf string, lossy bool) {
	start := time.Now()
	const n = 4
	log, p := integFSStartWriter(t, dir)
	confPath := integConf(t, conf, map[string]string{"LOG": log})
	var bound int64 // see writtenDuring
	integRotateLoop(n, 100*time.Millisecond, func(i int) {
		if lossy {
			bound += p.writtenDuring(func() { integLogrotate(t, confPath) })
			return
		}
		integLogrotate(t, confPath)
		// A switch per rotation: do not rotate the file the writer has
		// not left yet.
		integEventually(t, 10*time.Second, "the writer to switch", func() bool {
			return p.stats().Writers[0].Reopens >= uint64(i+1)
		})
	})
	res, c := integFSStop(t, p, fsName, "logrotate "+mode, dir, start)
	if !lossy {
		if res.Stats.Writers[0].Reopens < n {
			t.Errorf("the writer switched %d times in %d rotations", res.Stats.Writers[0].Reopens, n)
		}
		integExpectClean(t, c)
		return
	}
	// As in TestIntegrationLogrotate: at most the records written while
	// the rotations ran, and torn lines only at the unterminated end of a
	// file.
	tails := integUnterminatedFiles(t, dir)
	t.Logf("lost %d records in %d rotations (bound %d: the records written while they ran)", c.Lost, n, bound)
	if int64(c.Lost) > bound || c.Duplicated != 0 || c.Torn > tails || c.Acked == 0 {
		t.Errorf("want at most %d lost, none duplicated, and no torn line but the unterminated ends of %d files: %v",
			bound, tails, c)
	}
}

// integFSRemove removes the log a few times. The test keeps each removed
// file open to read back what the writer put there before it switched.
func integFSRemove(t *testing.T, fsName, dir string) {
	start := time.Now()
	log, p := integFSStartWriter(t, dir)
	var removed []*os.File
	defer func() {
		for _, f := range removed {
			f.Close()
		}
	}()
	const n = 4
	integRotateLoop(n, 100*time.Millisecond, func(int) {
		f, err := os.Open(log)
		if err != nil {
			t.Fatal(err)
		}
		removed = append(removed, f)
		if err := os.Remove(log); err != nil {
			t.Fatal(err)
		}
	})
	p.waitSettled()
	p.waitAcked(50)
	res := p.stop()
	found, torn, files := integReadDirs(t, nil, dir)
	for _, f := range removed {
		data, err := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
		if err != nil {
			t.Fatal(err)
		}
		torn += integScan(data, found)
		files++
	}
	c := integAccount(res, found, torn, files)
	integFSReport(t, fsName, "rm", res, c, start)
	integExpectSwitched(t, res, n)
	integExpectClean(t, c)
}

// integFSRenameOver renames a new file over the log (what an editor or a
// deploy does), the old one kept under another name by a hard link.
func integFSRenameOver(t *testing.T, fsName, dir string) {
	start := time.Now()
	log, p := integFSStartWriter(t, dir)
	const n = 4
	integRotateLoop(n, 100*time.Millisecond, func(i int) {
		if err := os.Link(log, fmt.Sprintf("%s.%d", log, i)); err != nil {
			t.Fatal(err)
		}
		tmp := log + ".new"
		if err := os.WriteFile(tmp, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, log); err != nil {
			t.Fatal(err)
		}
	})
	res, c := integFSStop(t, p, fsName, "rename-over", dir, start)
	integExpectSwitched(t, res, n)
	integExpectClean(t, c)
}

// integFSSymlink opens the log through a symlink and points the link at
// another file a few times (a new link renamed over the old one).
func integFSSymlink(t *testing.T, fsName, dir string) {
	start := time.Now()
	link := filepath.Join(dir, "app.log")
	if err := os.Symlink("log/app.log", link); err != nil {
		t.Fatal(err)
	}
	p := integStartWriter(t, integWriterConfig{Paths: []string{link}})
	p.waitAcked(50)
	const n = 4
	integRotateLoop(n, 100*time.Millisecond, func(i int) {
		target := fmt.Sprintf("log/app-%d.log", i)
		if err := os.WriteFile(filepath.Join(dir, target), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		tmp := link + ".new"
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			t.Fatal(err)
		}
	})
	res, c := integFSStop(t, p, fsName, "symlink repointed", dir, start)
	integExpectSwitched(t, res, n)
	integExpectClean(t, c)
	if fi, err := os.Stat(filepath.Join(dir, fmt.Sprintf("log/app-%d.log", n-1))); err != nil || fi.Size() == 0 {
		t.Errorf("the link's last target holds nothing: %v", err)
	}
}

// integFSDirRenamed renames the log's directory away and makes it again.
func integFSDirRenamed(t *testing.T, fsName, dir string) {
	start := time.Now()
	logDir := filepath.Join(dir, "log")
	p := integStartWriter(t, integWriterConfig{Paths: []string{filepath.Join(logDir, "app.log")},
		HasCreate: true, CreateDelay: 50 * time.Millisecond})
	p.waitAcked(50)
	const n = 2
	for i := range n {
		before := p.stats().Writers[0].Reopens
		if err := os.Rename(logDir, fmt.Sprintf("%s.%d", logDir, i)); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(logDir, 0o755); err != nil {
			t.Fatal(err)
		}
		integEventually(t, 10*time.Second, "the writer to switch to the new directory", func() bool {
			return p.stats().Writers[0].Reopens > before
		})
	}
	_, c := integFSStop(t, p, fsName, "directory renamed", dir, start)
	integExpectClean(t, c)
}

// integFSDiskFull fills the file system, waits for writes to fail with
// ENOSPC, frees the space and checks that the writer carries on.
func integFSDiskFull(t *testing.T, fsName, dir string) {
	start := time.Now()
	_, p := integFSStartWriter(t, dir)
	filler := filepath.Join(dir, "filler")
	fillDisk(t, filler)
	integEventually(t, 20*time.Second, "writes to fail with ENOSPC", func() bool {
		return p.stats().WriteErrors["ENOSPC"] >= 20
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	syscall.Sync() // btrfs returns freed extents at the transaction's commit
	p.waitAcked(200)
	res := p.stop()
	c := integTally(t, res, nil, filepath.Join(dir, "log"))
	integFSReport(t, fsName, "ENOSPC, then freed", res, c, start)
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

// integExpectSwitched fails unless the writer switched files at least n times.
func integExpectSwitched(t *testing.T, res integWriterResult, n int) {
	t.Helper()
	if w := res.Stats.Writers[0]; w.Reopens < uint64(n) {
		t.Errorf("the writer switched %d times in %d rotations: %+v", w.Reopens, n, w)
	}
}

// Containers: logrotate runs on the host against a file in a volume that a
// process in a container writes through a bind mount. inotify watches
// inodes, not paths, so the host's rename must reach the Writer through the
// other mount. The writer checks the path only once an hour: a switch within
// the test's deadline can only come from an inotify event.
func TestIntegrationFSContainer(t *testing.T) {
	integSetup(t, "logrotate", "mount", "umount")
	t.Run("bind mount at a second path", func(t *testing.T) {
		t.Parallel()
		dir := integTempDir(t)
		vol, inContainer := filepath.Join(dir, "volume"), filepath.Join(dir, "container", "log")
		for _, d := range []string{vol, inContainer} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		integMount(t, inContainer, "--bind", vol)
		p := integStartWriter(t, integWriterConfig{Paths: []string{filepath.Join(inContainer, "app.log")}, Check: time.Hour})
		integHostRotations(t, "bind mount at a second path", p, vol)
	})
	t.Run("writer in its own mount namespace", func(t *testing.T) {
		t.Parallel()
		dir := integTempDir(t)
		vol, inContainer := filepath.Join(dir, "volume"), filepath.Join(dir, "container", "log")
		for _, d := range []string{vol, inContainer} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// The writer's namespace copies the bind mount when it starts
		// (os/exec makes its mounts private); the host then drops its own.
		if out, err := exec.Command("mount", "--bind", vol, inContainer).CombinedOutput(); err != nil {
			unsupported(t, fmt.Sprintf("mount --bind: %v: %s", err, out))
		}
		mounted := true
		t.Cleanup(func() {
			if mounted {
				integUmount(t, inContainer)
			}
		})
		p := integStartWriter(t, integWriterConfig{Paths: []string{filepath.Join(inContainer, "app.log")},
			Check: time.Hour, Unshare: syscall.CLONE_NEWNS})
		integUmount(t, inContainer)
		mounted = false
		if _, err := os.Stat(filepath.Join(inContainer, "app.log")); !os.IsNotExist(err) {
			t.Fatalf("the host still sees the container's mount: %v", err)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/root%s/app.log", p.Pid, inContainer)); err != nil {
			t.Fatalf("the writer's namespace lost its mount: %v", err)
		}
		integHostRotations(t, "writer in its own mount namespace", p, vol)
	})
}

// integHostRotations rotates vol/app.log with logrotate create on the host a
// few times, waits for the writer to switch after each and checks that
// every record is in the volume.
func integHostRotations(t *testing.T, scenario string, p *integProc, vol string) {
	t.Helper()
	start := time.Now()
	conf := integConf(t, "plain.conf", map[string]string{"LOG": filepath.Join(vol, "app.log")})
	p.waitAcked(50)
	var latencies []string
	for range 3 {
		before := p.stats().Writers[0].Reopens
		rotated := time.Now()
		integLogrotate(t, conf)
		integEventually(t, 5*time.Second, "the writer to switch to the host's new file (no check for an hour: by inotify)", func() bool {
			return p.stats().Writers[0].Reopens > before
		})
		latencies = append(latencies, time.Since(rotated).Round(time.Millisecond).String())
		p.waitAcked(50)
	}
	res := p.stop()
	c := integTally(t, res, nil, vol)
	integFSReport(t, "container volume", scenario+", 3 x logrotate create on the host, switched within "+strings.Join(latencies, ", ")+" of logrotate's start", res, c, start)
	if b := res.Stats.Writers[0].Backend; b != "inotify" {
		t.Errorf("backend %s, want inotify", b)
	}
	integExpectClean(t, c)
}

// integFSStartWriter starts a writer on dir/log/app.log and waits for its
// first records.
func integFSStartWriter(t *testing.T, dir string) (string, *integProc) {
	log := filepath.Join(dir, "log", "app.log")
	p := integStartWriter(t, integWriterConfig{Paths: []string{log}})
	p.waitAcked(50)
	return log, p
}

// integFSStop lets the writer settle and write some more, stops it, and
// accounts for and reports what it wrote in dir.
func integFSStop(t *testing.T, p *integProc, fsName, scenario, dir string, start time.Time) (integWriterResult, integCounts) {
	t.Helper()
	p.waitSettled()
	p.waitAcked(50)
	res := p.stop()
	c := integTally(t, res, nil, dir)
	integFSReport(t, fsName, scenario, res, c, start)
	return res, c
}
