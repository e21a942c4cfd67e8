package watchedfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// This file makes the Writers that rotate one path, in one process or
// many, rotate it with the same settings: otherwise the smallest MaxSize
// and the strictest retention would win silently, and one Writer would
// delete what another was told to keep.
//
// The settings live in a file beside the log (.app.log.settings.lock). Every
// rotating Writer holds a shared lock on it while it is open. A Writer that
// can take the exclusive lock at Open is alone: its settings become the
// path's. Any other compares its settings with the file's, and Open fails
// with ErrRotationMismatch if they differ. To change the settings, close
// every Writer of the path (restart every process) and open them anew.

// ErrRotationMismatch is returned, wrapped, by [Open] when another Writer of
// the same path, in this process or another, rotates it with other
// [Rotation] settings (limits, schedule, retention, compression, owner).
// The error names the settings that differ.
var ErrRotationMismatch = errors.New("watchedfile: another Writer of this path rotates it with other settings")

// join makes the Writer one of the path's rotating Writers, as above,
// making the directory with mkdirs (mode dirPerm) if it is missing; the
// shared lock is let go of by leave. It waits for a lock a while
// (lockWait), no longer: the settings file may be another user's.
func (r *rotator) join(mkdirs bool, dirPerm fs.FileMode) error {
	d, err := openLogDir(r.names.dir, openHow{trust: r.files.trust, mkdirs: mkdirs, dirPerm: dirPerm})
	if err != nil {
		return err
	}
	defer d.close()
	how := r.locks
	how.flag, how.noLink = os.O_RDWR|os.O_CREATE, true
	f, err := d.open(r.names.settings, how)
	if err != nil {
		return err
	}
	mine := r.settings()
	err = takeLock(f, lockHow{}) // exclusive, at once: alone?
	switch {
	case err == nil:
		err = writeSettings(f, mine)
		if err == nil {
			// Not atomic: another Writer may find itself alone in
			// between and write its own, which the look below finds.
			err = takeLockWaiting(f, lockHow{shared: true, wait: true})
		}
	case errors.Is(err, errLockBusy):
		err = takeLockWaiting(f, lockHow{shared: true, wait: true})
	}
	var theirs string
	if err == nil {
		theirs, err = readSettings(f)
	}
	if err == nil && theirs != mine {
		err = fmt.Errorf("%w: %s (close every Writer of the path to change them)", ErrRotationMismatch, settingsDiff(theirs, mine))
	}
	if err != nil {
		f.Close()
		return err
	}
	r.members = f
	return nil
}

// leave lets go of the shared lock join took.
func (r *rotator) leave() error {
	if r.members == nil {
		return nil
	}
	return r.members.Close()
}

// settings is what Writers of one path must agree on, one "Name value" a
// line. Header, OnRotate and OnCompress are each Writer's own.
func (r *rotator) settings() string {
	var b strings.Builder
	line := func(name string, v any) { fmt.Fprintf(&b, "%s %v\n", name, v) }
	line("MaxSize", r.MaxSize)
	line("Every", r.Every)
	line("At", r.At)
	name, offset := time.Now().In(r.location()).Zone()
	line("Location", fmt.Sprintf("%s (%s, %+d s)", r.location(), name, offset)) // "Local" says nothing of TZ
	line("MaxBackups", r.MaxBackups)
	line("MaxAge", r.MaxAge)
	line("MaxTotalSize", r.MaxTotalSize)
	line("Compress", r.Compress)
	if r.Compress {
		line("Compressor", r.compressor().Extension())
		line("CompressDelay", r.compressDelay())
	}
	line("UID", r.UID)
	line("GID", r.GID)
	return b.String()
}

// writeSettings replaces the content of f with s, durably. It holds the
// exclusive lock: no one reads meanwhile, and one who finds half of it
// after a crash finds itself alone and writes it anew.
func writeSettings(f *os.File, s string) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(s), 0); err != nil {
		return err
	}
	return f.Sync()
}

func readSettings(f *os.File) (string, error) {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	return string(b), err
}

// settingsDiff names the settings that differ between theirs and mine.
func settingsDiff(theirs, mine string) string {
	t, m := settingsMap(theirs), settingsMap(mine)
	var diffs []string
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(mine+"\n"+theirs), "\n") {
		name, _, _ := strings.Cut(l, " ")
		if !seen[name] && t[name] != m[name] {
			diffs = append(diffs, fmt.Sprintf("%s %s for the others, %s for this one", name, orNone(t[name]), orNone(m[name])))
		}
		seen[name] = true
	}
	return strings.Join(diffs, "; ")
}

// settingsMap is the value of each setting in s, by name.
func settingsMap(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		name, v, _ := strings.Cut(l, " ")
		m[name] = v
	}
	return m
}

func orNone(v string) string {
	if v == "" {
		return "(unset)"
	}
	return v
}
