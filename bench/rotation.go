//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// rotationConfig sets up the rotation table.
type rotationConfig struct {
	Duration   time.Duration // how long the rotator works
	Interval   time.Duration // between renames
	Pace       time.Duration // each writer goroutine's pause between records
	Goroutines int
	Hold       time.Duration // how long the unopenable file stays so
	Settle     time.Duration // quiet time after the last rotation
	Rms        int           // how many times the file is removed (rm)
}

// rotationResult is one strategy's row of the rotation table.
type rotationResult struct {
	Strategy  string `json:"strategy"`
	Attempted uint64 `json:"attempted"`
	Failed    uint64 `json:"failed"`     // writes that returned an error
	Lost      uint64 `json:"lost"`       // acknowledged, not in any file left in the directory
	ToDeleted uint64 `json:"to_deleted"` // of Lost: written to a deleted file after its rm
	// Stranded records are in a renamed file, written there after the
	// next rotation (the next rename or rm at the path): logrotate with
	// compress and delaycompress compresses and deletes that file then, and
	// no reader of the path reads it any more. They are counted in
	// Misdirected too.
	Stranded uint64 `json:"stranded"`
	// LostPerRm is ToDeleted rm by rm: the records written to each deleted
	// file after its rm.
	LostPerRm []uint64 `json:"lost_per_rm"`
	// Misdirected records were written to a file after it was renamed
	// away: the record starts at or beyond the file's size just after the
	// rename, or its Write started after the rename.
	Misdirected uint64 `json:"misdirected"`
	// StartedAfter is the misdirected records whose Write started after
	// the rename, and WhileLocked those of them that started while the new
	// file could not be opened (from its creation, root's and mode 0600,
	// until its chmod), which a writer cannot help.
	StartedAfter uint64 `json:"started_after"`
	WhileLocked  uint64 `json:"while_locked"`
	// AfterUnlock is those that started after the unopenable file became
	// writable, in a file renamed before it was put there (in the JSON
	// only).
	AfterUnlock uint64 `json:"after_unlock"`
	// MisdirectedDelayNs and MisdirectedDelayP99Ns are the median and 99th
	// percentile, over the records StartedAfter less WhileLocked, of how
	// long after the rename each Write started, not counting the time the
	// new file could not be opened.
	MisdirectedDelayNs    int64          `json:"misdirected_delay_ns"`
	MisdirectedDelayP99Ns int64          `json:"misdirected_delay_p99_ns"`
	Duplicates            uint64         `json:"duplicates"`
	Garbled               uint64         `json:"garbled"` // lines that do not parse
	Stuck                 bool           `json:"stuck"`   // still failing at the end
	Renames               int            `json:"renames"`
	Errors                map[string]int `json:"errors,omitempty"`
	Skipped               string         `json:"skipped,omitempty"`
}

const nobody = 65534

// runRotation runs one strategy under rotation in a child process that runs
// as uid 65534 (when we are root), so that a file owned by root with mode
// 0600 is really unopenable for it, as logrotate's new file is until its
// fchown.
func runRotation(s strategy, cfg rotationConfig, root string, py pythonEnv) (rotationResult, error) {
	res := rotationResult{Strategy: s.name}
	asRoot := os.Geteuid() == 0
	dir, err := os.MkdirTemp(root, "rot-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	uid, gid := os.Getuid(), os.Getgid()
	if asRoot {
		uid, gid = nobody, nobody
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return res, fmt.Errorf("chown %s: %w", dir, err)
	}
	path := filepath.Join(dir, "app.log")
	if err := createLog(path, uid, gid, false); err != nil {
		return res, err
	}

	a := childArgs{Strategy: s.name, Path: path, Size: 100, Goroutines: cfg.Goroutines, PaceNs: cfg.Pace.Nanoseconds()}
	var cmd *exec.Cmd
	if s.python != "" {
		cmd, err = pythonCommand(py.python, py.script, map[string]any{
			"mode": "rotation", "kind": s.python, "path": path, "size": a.Size,
			"goroutines": a.Goroutines, "pace_ns": a.PaceNs,
		})
		if err != nil {
			return res, err
		}
	} else {
		b, err := json.Marshal(a)
		if err != nil {
			return res, err
		}
		cmd = exec.Command(filepath.Join(root, "bench-child"))
		cmd.Env = append(os.Environ(), childEnv+"=rotation", childArgsEnv+"="+string(b))
	}
	if asRoot {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return res, err
	}
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start %s child: %w", s.name, err)
	}
	defer cmd.Process.Kill() // after Wait, harmless
	out := bufio.NewReader(stdoutPipe)
	ready := make(chan error, 1)
	go func() {
		line, err := out.ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("child said %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Wait()
			return res, fmt.Errorf("%s child: %w: %s", s.name, err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		return res, fmt.Errorf("%s child: not ready after 30s: %s", s.name, stderr.String())
	}

	rot, err := rotate(path, cfg, uid, gid, asRoot, cmd.Process)
	stdin.Close()
	if err != nil {
		cmd.Wait()
		return res, err
	}
	reportBytes, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		return res, fmt.Errorf("%s child: %w: %s", s.name, err, stderr.String())
	}
	var rep rotationReport
	if err := json.Unmarshal(reportBytes, &rep); err != nil {
		return res, fmt.Errorf("%s child report %q: %w", s.name, reportBytes, err)
	}
	defer rot.close()
	if err := tally(&res, rep, dir, rot); err != nil {
		return res, err
	}
	if !asRoot {
		res.Skipped = "not root: the unopenable-file step was skipped"
	}
	return res, nil
}

// rotation is what the rotator did, for the tally. Times are
// CLOCK_MONOTONIC (see monotonic), which the writer child stamps its records
// with: one clock for every process on the machine.
type rotation struct {
	gone    map[uint64]mark // inode → when it was renamed away
	deleted []deletion      // in the order of the rms
	renames int
	// retired is, for each renamed file, when the next rotation took place
	// (after which a record written to it is stranded) and its size then;
	// last is the file renamed last, which the next rotation retires.
	retired map[uint64]mark
	last    struct {
		name string
		ino  uint64
	}
	// The file at the path could not be opened from lockedAt to
	// unlockedAt; both are zero if it never was so.
	lockedAt, unlockedAt int64
}

// A mark is the moment a file left the path: when (after the rename or
// unlink returned) and the file's size just after. A record that starts at
// or beyond size, or whose Write started after at, was written after.
type mark struct {
	at   int64
	size int64
}

// A deletion is one rm: the deleted file, held open to read it back.
type deletion struct {
	f   *os.File
	ino uint64
	mark
}

func (r rotation) close() {
	for _, d := range r.deleted {
		d.f.Close()
	}
}

// rmAt is when the i-th of n rms is due: evenly spread over the part of the
// run before the unopenable file, lockAt.
func rmAt(i, n int, lockAt time.Duration) time.Duration {
	return lockAt * time.Duration(i+1) / time.Duration(n+1)
}

// remove deletes the file at path, holding it open to read it back; done
// is false when there is no file to delete (the writer has not recreated
// it since the last rm).
func (r *rotation) remove(path string) (done bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open before rm: %w", err)
	}
	if err := os.Remove(path); err != nil {
		f.Close()
		return false, fmt.Errorf("rm: %w", err)
	}
	d := deletion{f: f, mark: mark{at: monotonic()}}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return false, err
	}
	_, d.ino = devIno(fi)
	d.size = fi.Size()
	r.deleted = append(r.deleted, d)
	return true, r.retire(d.at)
}

// rename renames the file at path to the generation's name, if there is
// one, and marks it.
func (r *rotation) rename(path string, gen int) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil // deleted and not recreated yet: nothing to rename
	}
	to := fmt.Sprintf("%s.%04d", path, gen)
	if err := os.Rename(path, to); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	m := mark{at: monotonic()}
	after, err := os.Stat(to)
	if err != nil {
		return err
	}
	m.size = after.Size()
	_, ino := devIno(fi)
	r.gone[ino] = m
	r.renames++
	if err := r.retire(m.at); err != nil {
		return err
	}
	r.last.name, r.last.ino = to, ino
	return nil
}

// retire marks the file renamed last as left behind by the rotation made
// at the moment at: a record written to it from then on is stranded.
func (r *rotation) retire(at int64) error {
	if r.last.name == "" {
		return nil
	}
	fi, err := os.Stat(r.last.name)
	if err != nil {
		return fmt.Errorf("stat the file renamed before: %w", err)
	}
	r.retired[r.last.ino] = mark{at: at, size: fi.Size()}
	r.last.name = ""
	return nil
}

// createLog creates the log file as logrotate's create mode does: O_EXCL,
// mode 0600, then fchown and fchmod 0644 unless locked. An existing file
// (a writer created it first) is left alone.
func createLog(path string, uid, gid int, locked bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer f.Close()
	if locked {
		return nil
	}
	if err := f.Chown(uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}

// rotate renames the log every interval and signals the writer, deletes it
// cfg.Rms times in the first two thirds of the run, and two thirds of the way
// puts an unopenable file at the path that becomes writable after cfg.Hold.
func rotate(path string, cfg rotationConfig, uid, gid int, asRoot bool, proc *os.Process) (rotation, error) {
	r := rotation{gone: map[uint64]mark{}, retired: map[uint64]mark{}}
	start := time.Now()
	lockAt := 2 * cfg.Duration / 3
	locked := !asRoot
	for gen := 1; time.Since(start) < cfg.Duration; gen++ {
		time.Sleep(cfg.Interval) // the rotator's pace
		el := time.Since(start)
		if len(r.deleted) < cfg.Rms && el >= rmAt(len(r.deleted), cfg.Rms, lockAt) {
			done, err := r.remove(path)
			if err != nil {
				return r, err
			}
			if done {
				continue // nobody recreates it: the writer must
			}
		}
		if err := r.rename(path, gen); err != nil {
			return r, err
		}
		if !locked && el >= lockAt {
			locked = true
			r.lockedAt = monotonic()
			if err := createLog(path, uid, gid, true); err != nil {
				return r, err
			}
			proc.Signal(syscall.SIGHUP)
			time.Sleep(cfg.Hold) // the file stays unopenable this long
			if err := os.Chown(path, uid, gid); err != nil {
				return r, fmt.Errorf("chown: %w", err)
			}
			if err := os.Chmod(path, 0o644); err != nil {
				return r, fmt.Errorf("chmod: %w", err)
			}
			r.unlockedAt = monotonic()
			continue
		}
		if err := createLog(path, uid, gid, false); err != nil {
			return r, err
		}
		proc.Signal(syscall.SIGHUP) // postrotate
	}
	time.Sleep(cfg.Settle) // quiet time: a writer that recovers has written by now
	if len(r.deleted) < cfg.Rms {
		return r, fmt.Errorf("rotation too short: %d of %d rms done", len(r.deleted), cfg.Rms)
	}
	return r, nil
}

// tally reads every file left in dir and the deleted files and fills res.
func tally(res *rotationResult, rep rotationReport, dir string, rot rotation) error {
	res.Attempted = rep.Attempted
	res.Failed = uint64(len(rep.Failed))
	res.Errors = rep.Errors
	res.Renames = rot.renames
	res.Stuck = rep.TailFailed >= 10
	res.LostPerRm = make([]uint64, len(rot.deleted))
	found := make([]uint16, rep.Attempted)
	var delays []float64
	// scan reads one file; left is when and at what size it left the
	// path (renamed or deleted), if it did; retired, when and at what size
	// the next rotation left it behind, if one did; rm is the rm's index if
	// it was deleted, else -1.
	scan := func(r io.Reader, left mark, gone bool, retired mark, isRetired bool, rm int) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var off int64 // where the line starts in the file
		for sc.Scan() {
			line := sc.Bytes()
			start := off
			off += int64(len(line)) + 1
			seq, t, ok := parseRecord(line)
			if !ok || seq >= uint64(len(found)) {
				res.Garbled++
				continue
			}
			after := gone && (start >= left.size || t > left.at)
			switch {
			case after && rm >= 0:
				res.ToDeleted++
				res.LostPerRm[rm]++
				continue // lost: not counted as found
			case after:
				res.Misdirected++
				if isRetired && (start >= retired.size || t > retired.at) {
					res.Stranded++
				}
				if t > left.at {
					res.StartedAfter++
					locked := rot.unlockedAt > 0
					switch {
					case locked && t >= rot.lockedAt && t <= rot.unlockedAt:
						res.WhileLocked++
					case locked && t > rot.unlockedAt && left.at <= rot.lockedAt:
						// Late, not counting the time the new
						// file could not be opened.
						res.AfterUnlock++
						delays = append(delays, float64(t-left.at-(rot.unlockedAt-rot.lockedAt)))
					default:
						delays = append(delays, float64(t-left.at))
					}
				}
			}
			found[seq]++
		}
		return sc.Err()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err == nil {
			_, ino := devIno(fi)
			m, gone := rot.gone[ino]
			ret, isRetired := rot.retired[ino]
			err = scan(f, m, gone, ret, isRetired, -1)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", e.Name(), err)
		}
	}
	for i, d := range rot.deleted {
		if _, err := d.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := scan(d.f, d.mark, true, mark{}, false, i); err != nil {
			return fmt.Errorf("read deleted file %d: %w", i+1, err)
		}
	}
	if len(delays) > 0 {
		res.MisdirectedDelayNs = int64(median(delays))
		res.MisdirectedDelayP99Ns = int64(percentile(delays, 0.99))
	}
	failed := make(map[uint64]bool, len(rep.Failed))
	for _, s := range rep.Failed {
		failed[s] = true
	}
	for seq, n := range found {
		switch {
		case n == 0 && !failed[uint64(seq)]:
			res.Lost++
		case n > 1:
			res.Duplicates += uint64(n - 1)
		}
	}
	return nil
}

// percentile is the smallest of xs with a fraction q of xs at or below it.
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s), max(1, int(math.Ceil(q*float64(len(s))))))-1]
}

// parseRecord reads "seq=N t=T ...".
func parseRecord(line []byte) (seq uint64, t int64, ok bool) {
	rest, found := bytes.CutPrefix(line, []byte("seq="))
	if !found {
		return 0, 0, false
	}
	a, rest, found := bytes.Cut(rest, []byte(" t="))
	if !found {
		return 0, 0, false
	}
	b, _, _ := bytes.Cut(rest, []byte(" "))
	s, err1 := strconv.ParseUint(string(a), 10, 64)
	tt, err2 := strconv.ParseInt(string(b), 10, 64)
	return s, tt, err1 == nil && err2 == nil
}

// copySelf copies this binary to dir/bench-child, mode 0755, so that an
// unprivileged child can execute it.
func copySelf(dir string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	src, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(dir, "bench-child"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("copy own binary: %w", err)
	}
	return dst.Close()
}
