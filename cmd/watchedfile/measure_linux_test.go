package main

// The harness behind the figures in docs/command.md ("Measured"). It is not part of the test suite: it runs only with
// WATCHEDFILE_MEASURE=1, as root, and prints MEASURE lines:
//
//	WATCHEDFILE_MEASURE=1 go test -count=1 -run Measure -v -timeout 30m ./cmd/watchedfile | grep MEASURE
//
// WATCHEDFILE_MEASURE_DIR puts the 1 GiB input and output there (default: a
// temporary directory); WATCHEDFILE_MEASURE_ROUNDS sets the rounds (7).

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func measuring(t *testing.T) {
	t.Helper()
	if os.Getenv("WATCHEDFILE_MEASURE") != "1" {
		t.Skip("a measurement: run with WATCHEDFILE_MEASURE=1")
	}
}

// buildCommand builds cmd/watchedfile without the race detector.
func buildCommand(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "watchedfile")
	out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return exe
}

// TestMeasureThroughput: 1 GiB of 100-byte lines through a pipe into `cat >
// file` and into `watchedfile file`, best of 3; wall time and the consumer's
// CPU time.
func TestMeasureThroughput(t *testing.T) {
	measuring(t)
	exe := buildCommand(t)
	dir := os.Getenv("WATCHEDFILE_MEASURE_DIR") // default: a temporary directory
	if dir == "" {
		dir = t.TempDir()
	}
	in := filepath.Join(dir, "in")
	f, err := os.Create(in)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	line := []byte(strings.Repeat("x", 99) + "\n")
	for range (1 << 30) / 100 {
		w.Write(line)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
	defer os.Remove(in)
	out := filepath.Join(dir, "out")
	rounds := 7
	if r, err := strconv.Atoi(os.Getenv("WATCHEDFILE_MEASURE_ROUNDS")); err == nil && r > 0 {
		rounds = r
	}
	walls := map[string][]time.Duration{}
	cpus := map[string][]time.Duration{}
	for round := range rounds {
		for _, c := range []struct {
			name string
			args []string
		}{{"cat", []string{"cat"}}, {"watchedfile", []string{exe, out}}} {
			os.Remove(out)
			src := exec.Command("cat", in)
			pipe, err := src.StdoutPipe()
			require.NoError(t, err)
			dst := exec.Command(c.args[0], c.args[1:]...)
			dst.Stdin = pipe
			if c.name == "cat" {
				o, err := os.Create(out)
				require.NoError(t, err)
				dst.Stdout = o
				defer o.Close() // the file is removed: close it now too, or a tmpfs fills
			}
			start := time.Now()
			require.NoError(t, src.Start())
			require.NoError(t, dst.Run())
			require.NoError(t, src.Wait())
			wall := time.Since(start)
			if f, ok := dst.Stdout.(*os.File); ok {
				f.Close()
			}
			fi, err := os.Stat(out)
			require.NoError(t, err)
			require.Equal(t, int64(((1<<30)/100)*100), fi.Size())
			cpu := dst.ProcessState.UserTime() + dst.ProcessState.SystemTime()
			walls[c.name] = append(walls[c.name], wall)
			cpus[c.name] = append(cpus[c.name], cpu)
			t.Logf("MEASURE throughput round %d %-11s wall %6.2fs cpu %5.2fs (user %.2fs sys %.2fs) %4.0f MiB/s", round, c.name,
				wall.Seconds(), cpu.Seconds(), dst.ProcessState.UserTime().Seconds(), dst.ProcessState.SystemTime().Seconds(),
				float64(fi.Size())/(1<<20)/wall.Seconds())
		}
	}
	os.Remove(out)
	for _, name := range []string{"cat", "watchedfile"} {
		slices.Sort(walls[name])
		slices.Sort(cpus[name])
		t.Logf("MEASURE throughput %-11s %d rounds: wall min %.2fs median %.2fs; cpu min %.2fs median %.2fs", name, rounds,
			walls[name][0].Seconds(), walls[name][rounds/2].Seconds(), cpus[name][0].Seconds(), cpus[name][rounds/2].Seconds())
	}
	t.Logf("MEASURE throughput watchedfile/cat: wall min %.2fx median %.2fx",
		walls["watchedfile"][0].Seconds()/walls["cat"][0].Seconds(), walls["watchedfile"][rounds/2].Seconds()/walls["cat"][rounds/2].Seconds())
}

// TestMeasureLatency: one 100-byte line every 2 ms into the pipe; the time
// from the write into the pipe until the file has grown by it (the file's
// size watched in a busy loop).
func TestMeasureLatency(t *testing.T) {
	measuring(t)
	exe := buildCommand(t)
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(exe, out)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line := []byte(strings.Repeat("l", 99) + "\n")
	var lat []time.Duration
	for i := range 2000 {
		start := time.Now()
		_, err := in.Write(line)
		require.NoError(t, err)
		want := int64(i+1) * 100
		for {
			fi, err := os.Stat(out)
			if err == nil && fi.Size() >= want {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("line not written in 5s")
			}
		}
		lat = append(lat, time.Since(start))
		time.Sleep(2 * time.Millisecond)
	}
	require.NoError(t, in.Close())
	require.NoError(t, cmd.Wait())
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("MEASURE latency %d lines: p50 %v p90 %v p99 %v max %v", len(lat), q(0.5), q(0.9), q(0.99), lat[len(lat)-1])
}

// TestMeasureRotation: numbered lines at a steady rate into each way of
// writing a log from a pipe, while logrotate (create, compress,
// delaycompress) is forced 20 times; then where every line ended up.
func TestMeasureRotation(t *testing.T) {
	measuring(t)
	if os.Geteuid() != 0 {
		t.Fatal("run as root (logrotate create with an owner)")
	}
	exe := buildCommand(t)
	for _, c := range []struct{ name, script string }{
		{"sh -c 'cat >> app.log'", "exec cat >> app.log"},
		{"tee -a app.log", "exec tee -a app.log >/dev/null"},
		{"rotatelogs -f -n 100 app.log 1G", "exec rotatelogs -f -n 100 app.log 1G"},
		{"watchedfile app.log", "exec " + exe + " app.log"},
	} {
		dir := t.TempDir()
		conf := filepath.Join(dir, "logrotate.conf")
		require.NoError(t, os.WriteFile(conf, []byte(filepath.Join(dir, "app.log")+` {
    create 0640 root root
    compress
    delaycompress
    rotate 100
    missingok
}
`), 0o644))
		cmd := exec.Command("sh", "-c", c.script)
		cmd.Dir = dir
		in, err := cmd.StdinPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		var sent atomic.Int64
		done := make(chan struct{})
		fed := make(chan struct{})
		go func() { // about 5,000 lines a second
			defer close(fed)
			for i := int64(0); ; i++ {
				select {
				case <-done:
					return
				default:
				}
				fmt.Fprintf(in, "SEQ %08d %s\n", i, strings.Repeat("s", 80))
				sent.Store(i + 1)
				time.Sleep(200 * time.Microsecond)
			}
		}()
		errs := 0
		var errText strings.Builder
		for range 20 {
			time.Sleep(100 * time.Millisecond)
			out, err := exec.Command("logrotate", "-f", "-s", filepath.Join(dir, "state"), conf).CombinedOutput()
			if err != nil || len(out) > 0 {
				errs++
				errText.Write(out)
			}
		}
		time.Sleep(100 * time.Millisecond)
		close(done)
		<-fed
		in.Close()
		require.NoError(t, cmd.Wait())

		seq := regexp.MustCompile(`^SEQ (\d{8}) s{80}$`)
		found := map[int64]int{}
		where := map[string]int{}
		torn := 0
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			name := e.Name()
			if name == "logrotate.conf" || name == "state" {
				continue
			}
			kind := "rotated"
			if name == "app.log" {
				kind = "app.log"
			}
			for _, l := range readLines(t, filepath.Join(dir, name)) {
				m := seq.FindStringSubmatch(l)
				if m == nil {
					torn++
					continue
				}
				n, _ := strconv.ParseInt(m[1], 10, 64)
				found[n]++
				where[kind]++
			}
		}
		lost, dup := 0, 0
		for i := range sent.Load() {
			switch found[i] {
			case 0:
				lost++
			case 1:
			default:
				dup++
			}
		}
		firstErr, _, _ := strings.Cut(errText.String(), "\n")
		t.Logf("MEASURE rotation | %s | %d sent | %d in app.log | %d in rotated files | %d lost | %d dup | %d torn | %d logrotate errors | %s",
			c.name, sent.Load(), where["app.log"], where["rotated"], lost, dup, torn, errs, firstErr)
	}
}
