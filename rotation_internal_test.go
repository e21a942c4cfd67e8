package watchedfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The schedule's boundaries, on the wall clock of each zone, across
// midnight and both daylight saving changes. The instants are written in
// UTC, as they happen.
func TestScheduleAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	utc := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return at
	}
	tests := []struct {
		name  string
		r     Rotation
		from  string
		wants []string // the boundaries after from, in order
	}{
		{"UTC daily across midnight", Rotation{Every: 24 * time.Hour, Location: time.UTC},
			"2026-12-05T23:59:00Z", []string{"2026-12-06T00:00:00Z", "2026-12-07T00:00:00Z"}},
		{"UTC hourly across midnight", Rotation{Every: time.Hour, Location: time.UTC},
			"2026-12-05T22:30:00Z", []string{"2026-12-05T23:00:00Z", "2026-12-06T00:00:00Z", "2026-12-06T01:00:00Z"}},
		{"UTC every 15 minutes at 5 past", Rotation{Every: 15 * time.Minute, At: 5 * time.Minute, Location: time.UTC},
			"2026-12-05T23:58:00Z", []string{"2026-12-06T00:05:00Z", "2026-12-06T00:20:00Z"}},
		// New York, 2026-03-08: 02:00 EST becomes 03:00 EDT.
		{"New York daily at 00:00, spring forward", Rotation{Every: 24 * time.Hour, Location: ny},
			"2026-03-07T12:00:00Z", []string{"2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"}},
		{"New York hourly, spring forward: 02:00 does not exist", Rotation{Every: time.Hour, Location: ny},
			"2026-03-08T05:30:00Z", []string{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}},
		{"New York daily at 02:30, spring forward: when clocks skip it, 03:00 EDT", Rotation{Every: 24 * time.Hour, At: 150 * time.Minute, Location: ny},
			"2026-03-08T05:00:00Z", []string{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
		// New York, 2026-11-01: 02:00 EDT becomes 01:00 EST; the repeated
		// hour is one period.
		{"New York daily, fall back: a 25-hour day", Rotation{Every: 24 * time.Hour, Location: ny},
			"2026-10-31T12:00:00Z", []string{"2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"}},
		{"New York hourly, fall back", Rotation{Every: time.Hour, Location: ny},
			"2026-11-01T04:30:00Z", []string{"2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"}},
		// Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST; 2026-10-25:
		// 03:00 CEST becomes 02:00 CET.
		{"Berlin daily, spring forward: a 23-hour day", Rotation{Every: 24 * time.Hour, Location: berlin},
			"2026-03-28T12:00:00Z", []string{"2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"}},
		{"Berlin every 6 hours, fall back", Rotation{Every: 6 * time.Hour, Location: berlin},
			"2026-10-24T21:00:00Z", []string{"2026-10-24T22:00:00Z", "2026-10-25T05:00:00Z", "2026-10-25T11:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.r.validate())
			at := utc(tt.from)
			for _, want := range tt.wants {
				next := tt.r.nextBoundary(at)
				assert.Equal(t, utc(want), next.UTC(), "after %s", at.UTC())
				assert.Equal(t, next, tt.r.periodStart(next), "a boundary starts its own period")
				assert.Equal(t, tt.r.periodStart(at), tt.r.periodStart(next.Add(-time.Nanosecond)),
					"every instant before the boundary is in the period before")
				at = next
			}
		})
	}
}

func TestRotationValidate(t *testing.T) {
	for _, r := range []Rotation{
		{MaxSize: -1},
		{MaxBackups: -1},
		{Every: 7 * time.Hour},
		{Every: 48 * time.Hour},
		{Every: time.Hour, At: time.Hour},
		{At: time.Minute},
	} {
		err := r.validate()
		assert.ErrorIs(t, err, fs.ErrInvalid, "%+v", r)
	}
	_, err := Open(t.TempDir()+"/app.log", WithRotation(Rotation{Every: 7 * time.Hour}))
	assert.True(t, errors.Is(err, fs.ErrInvalid), "Open refuses it: %v", err)
}

func TestDatedNames(t *testing.T) {
	r := &Rotation{Compress: true}
	n := newNames("/var/log/app.log", r)
	at := time.Date(2026, 12, 5, 10, 0, 0, 123e6, time.FixedZone("X", 3600))
	name := n.dated(at)
	assert.Equal(t, "app-2026-12-05T09-00-00.123Z.log", name, "UTC, milliseconds, no colons")
	got, compressed, ok := n.parse(name)
	assert.True(t, ok)
	assert.False(t, compressed)
	assert.True(t, got.Equal(at))
	_, compressed, ok = n.parse(name + ".gz")
	assert.True(t, ok && compressed)
	for _, other := range []string{"app.log", "app-2026-12-05T09-00-00.123Z.log.1", "app-x.log", ".app.log.lock", "app-2026-12-05T09-00-00.123Z.txt"} {
		_, _, ok := n.parse(other)
		assert.False(t, ok, other)
	}
	assert.Equal(t, "app-", newNames("/x/app", r).prefix)
	assert.Equal(t, ".hidden-", newNames("/x/.hidden", r).prefix)
}

// testClock is a clock a test sets.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *testClock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *testClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// Time rotation through the Writer's goroutine, with an injected clock:
// the period ends at midnight, the goroutine rotates, the next record goes
// to the new file.
func TestTimeRotationAtMidnight(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	var clock testClock
	clock.set(time.Date(2026, 3, 7, 23, 59, 0, 0, ny)) // the night before clocks go forward
	path := filepath.Join(t.TempDir(), "app.log")
	rotated := make(chan Rotated, 4)
	w, err := Open(path, WithRotation(Rotation{Every: 24 * time.Hour, Location: ny,
		OnRotate: func(r Rotated) { rotated <- r }}), withClock(clock.now))
	require.NoError(t, err)
	defer w.Close()
	_, err = w.Write([]byte("before midnight\n"))
	require.NoError(t, err)

	clock.set(time.Date(2026, 3, 8, 0, 0, 1, 0, ny))
	w.life.wake()
	var r Rotated
	select {
	case r = <-rotated:
	case <-time.After(10 * time.Second):
		t.Fatal("no rotation at midnight")
	}
	_, err = w.Write([]byte("after midnight\n"))
	require.NoError(t, err)

	assert.True(t, r.Time.Equal(clock.now()))
	assert.Equal(t, "before midnight\n", readFileString(t, r.Old))
	assert.Equal(t, "after midnight\n", readFileString(t, path))
	assert.Equal(t, "after midnight\n", readFileString(t, r.New))
	_, _, dated := w.rot.names.parse(filepath.Base(r.Old))
	assert.True(t, dated, "the old file has its final, dated name: %s", r.Old)
}

// One rotation per local day, whatever its length, in each zone: the clock
// walks 4 days across a daylight saving change in 20-minute steps, and the
// Writer rotates at the first step past each local midnight. In UTC too.
func TestTimeRotationOnePerDay(t *testing.T) {
	for _, tc := range []struct {
		zone  string
		first time.Time // a day before a change, local
	}{
		{"America/New_York", time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)},
		{"America/New_York", time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", time.Date(2026, 10, 23, 12, 0, 0, 0, time.UTC)},
		{"UTC", time.Date(2026, 12, 30, 12, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.zone+"/"+tc.first.Format("2006-01"), func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			require.NoError(t, err)
			y, m, d := tc.first.Date()
			var clock testClock
			clock.set(time.Date(y, m, d, 12, 0, 0, 0, loc))
			var rotations []time.Time
			w, err := Open(filepath.Join(t.TempDir(), "app.log"), withClock(clock.now),
				WithRotation(Rotation{Every: 24 * time.Hour, Location: loc}))
			require.NoError(t, err)
			defer w.Close()
			stopGoroutine(w) // this test plays its part
			var want []time.Time
			for range 4 * 24 * 3 {
				clock.add(20 * time.Minute)
				before := w.stats.reopens.Load()
				w.rotateIfDue()
				if w.stats.reopens.Load() != before {
					rotations = append(rotations, clock.now())
				}
				if lt := clock.now().In(loc); lt.Hour() == 0 && lt.Minute() < 20 {
					want = append(want, clock.now()) // the first step past local midnight
				}
			}
			assert.Equal(t, want, rotations)
			assert.Len(t, want, 4, "four midnights")
		})
	}
}

// A process that was not running at a boundary rotates at its first look:
// the live file's period is over.
func TestTimeRotationAfterDowntime(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("without symlinks the live file's start is its creation time, on the system's clock, not the test's")
	}
	var clock testClock
	clock.set(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), "app.log")
	rot := Rotation{Every: 24 * time.Hour, Location: time.UTC}
	w, err := Open(path, WithRotation(rot), withClock(clock.now))
	require.NoError(t, err)
	_, err = w.Write([]byte("yesterday\n"))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	clock.set(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	rotated := make(chan Rotated, 1)
	rot.OnRotate = func(r Rotated) { rotated <- r }
	w, err = Open(path, WithRotation(rot), withClock(clock.now))
	require.NoError(t, err)
	defer w.Close()
	select {
	case r := <-rotated:
		assert.Equal(t, "yesterday\n", readFileString(t, r.Old))
	case <-time.After(10 * time.Second):
		t.Fatal("no rotation at the first look")
	}
}

// A live file removed in the millisecond it was started is not followed by
// a file of the same name: its name was taken, whatever the clock says.
// (Seen once as TestRotationLiveFileRemoved/target failing in 0.01 s.)
func TestRemovedLiveFileNameNotReused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("without symlinks the live file has no dated name")
	}
	var clock testClock
	clock.set(time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)) // stands still
	path := filepath.Join(t.TempDir(), "app.log")
	w, err := Open(path, WithRotation(Rotation{MaxSize: 1 << 20}), WithCreateDelay(0), withClock(clock.now))
	require.NoError(t, err)
	defer w.Close()
	first, err := os.Readlink(path)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(filepath.Dir(path), first)))
	require.Eventually(t, func() bool { return w.Stats().Reopens > 0 }, 10*time.Second, time.Millisecond)
	now, err := os.Readlink(path)
	require.NoError(t, err)
	assert.NotEqual(t, first, now, "the removed file's name was given to the new one")
}

// A schedule whose boundaries pass while another process holds the rotation
// lock is reported (ErrRotationStalled), once, at the second boundary missed.
func TestRotationStalledBySchedule(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the lock is held through flock")
	}
	var clock testClock
	clock.set(time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC))
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	reported := make(chan error, 16)
	w, err := Open(path, WithRotation(Rotation{Every: time.Hour, Location: time.UTC}), withClock(clock.now),
		WithErrorHandler(func(err error) { reported <- err }))
	require.NoError(t, err)
	defer w.Close()
	// looked waits for the goroutine's look at the time the clock says.
	looked := func() {
		require.Eventually(t, func() bool { return w.rot.nextLook().After(clock.now()) },
			10*time.Second, time.Millisecond, "no look at %v", clock.now())
	}
	look := func(hour int) {
		clock.set(time.Date(2026, 12, 7, hour, 0, 1, 0, time.UTC))
		w.life.wake()
		looked()
	}
	looked() // the first, at Open
	held, err := os.OpenFile(filepath.Join(dir, ".app.log.lock"), os.O_RDWR, 0)
	require.NoError(t, err)
	defer held.Close()
	require.NoError(t, takeLock(held, lockHow{wait: true})) // another process's rotation, say, stopped midway
	look(11)
	assert.Empty(t, reported, "reported at the first boundary missed")
	look(12)
	select {
	case err := <-reported:
		require.ErrorIs(t, err, ErrRotationStalled)
	case <-time.After(10 * time.Second):
		t.Fatal("a schedule held up by the lock was never reported")
	}
	look(13)
	assert.Empty(t, reported, "reported again before a rotation")
}

// stopGoroutine stops the Writer's goroutine, so that a test can play its
// part; Close works as before.
func stopGoroutine(w *Writer) {
	w.life.stop()
	w.life.done = make(chan struct{}) // for Close, which stops it again
	w.life.exited = make(chan struct{})
	close(w.life.exited)
}
