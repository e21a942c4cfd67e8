//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
}

// rotationResult is one strategy's row of the rotation table.
type rotationResult struct {
	Strategy    string `json:"strategy"`
	Attempted   uint64 `json:"attempted"`
	Failed      uint64 `json:"failed"`      // writes that returned an error
	Lost        uint64 `json:"lost"`        // acknowledged, not in any file left in the directory
	ToDeleted   uint64 `json:"to_deleted"`  // of Lost: written to the deleted file after the rm
	Misdirected uint64 `json:"misdirected"` // in a file already renamed away when written
	// MisdirectedDelayNs is the median, over misdirected records, of how
	// long after its file was renamed away each was written.
	MisdirectedDelayNs int64          `json:"misdirected_delay_ns"`
	Duplicates         uint64         `json:"duplicates"`
	Garbled            uint64         `json:"garbled"` // lines that do not parse
	Stuck              bool           `json:"stuck"`   // still failing at the end
	Renames            int            `json:"renames"`
	Errors             map[string]int `json:"errors,omitempty"`
	Skipped            string         `json:"skipped,omitempty"`
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
	defer rot.deleted.Close()
	if err := tally(&res, rep, dir, rot); err != nil {
		return res, err
	}
	if !asRoot {
		res.Skipped = "not root: the unopenable-file step was skipped"
	}
	return res, nil
}

// rotation is what the rotator did, for the tally.
type rotation struct {
	gone       map[uint64]int64 // inode → when it was renamed away
	deleted    *os.File         // the deleted file, held open to read it
	deletedIno uint64
	deletedAt  int64
	renames    int
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
// once a third of the way, and two thirds of the way puts an unopenable file
// at the path that becomes writable after cfg.Hold.
func rotate(path string, cfg rotationConfig, uid, gid int, asRoot bool, proc *os.Process) (rotation, error) {
	r := rotation{gone: map[uint64]int64{}}
	start := time.Now()
	deleteAt, lockAt := cfg.Duration/3, 2*cfg.Duration/3
	deleted, locked := false, !asRoot
	for gen := 1; time.Since(start) < cfg.Duration; gen++ {
		time.Sleep(cfg.Interval) // the rotator's pace
		el := time.Since(start)
		if !deleted && el >= deleteAt {
			deleted = true
			f, err := os.Open(path)
			if err != nil {
				return r, fmt.Errorf("open before rm: %w", err)
			}
			fi, err := f.Stat()
			if err != nil {
				return r, err
			}
			if err := os.Remove(path); err != nil {
				return r, fmt.Errorf("rm: %w", err)
			}
			r.deleted, r.deletedAt = f, monotonic()
			_, r.deletedIno = devIno(fi)
			continue // nobody recreates it: the writer must
		}
		if fi, err := os.Lstat(path); err == nil {
			if err := os.Rename(path, fmt.Sprintf("%s.%04d", path, gen)); err != nil {
				return r, fmt.Errorf("rename: %w", err)
			}
			_, ino := devIno(fi)
			r.gone[ino] = monotonic()
			r.renames++
		}
		if !locked && el >= lockAt {
			locked = true
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
			continue
		}
		if err := createLog(path, uid, gid, false); err != nil {
			return r, err
		}
		proc.Signal(syscall.SIGHUP) // postrotate
	}
	time.Sleep(cfg.Settle) // quiet time: a writer that recovers has written by now
	if r.deleted == nil {
		return r, errors.New("rotation too short to delete the file")
	}
	return r, nil
}

// tally reads every file left in dir and the deleted file and fills res.
func tally(res *rotationResult, rep rotationReport, dir string, rot rotation) error {
	res.Attempted = rep.Attempted
	res.Failed = uint64(len(rep.Failed))
	res.Errors = rep.Errors
	res.Renames = rot.renames
	res.Stuck = rep.TailFailed >= 10
	found := make([]uint16, rep.Attempted)
	var delays []float64
	scan := func(r io.Reader, ino uint64, isDeleted bool) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		gone, renamed := rot.gone[ino]
		for sc.Scan() {
			seq, t, ok := parseRecord(sc.Bytes())
			if !ok || seq >= uint64(len(found)) {
				res.Garbled++
				continue
			}
			switch {
			case isDeleted && t > rot.deletedAt:
				res.ToDeleted++
				continue // lost: not counted as found
			case renamed && t > gone:
				res.Misdirected++
				delays = append(delays, float64(t-gone))
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
			err = scan(f, ino, false)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", e.Name(), err)
		}
	}
	if _, err := rot.deleted.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := scan(rot.deleted, rot.deletedIno, true); err != nil {
		return fmt.Errorf("read the deleted file: %w", err)
	}
	if len(delays) > 0 {
		res.MisdirectedDelayNs = int64(median(delays))
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
