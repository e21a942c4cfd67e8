package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The service from the story, for real: Debian's Django and gunicorn with 4
// workers logging every request to stdout, under `watchedfile -o FILE --`,
// all as the unprivileged user app, while logrotate (create 0640 app app,
// compress, delaycompress) is forced 20 times under HTTP load. Every request
// must be answered 200 and its line found exactly once, whole, across the
// files; logrotate must not fail. The same app with WatchedFileHandler in
// each worker is run beside it and reported (not asserted).
func TestDjangoGunicornLogrotate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if os.Geteuid() != 0 {
		missing(t, "needs root: runs the service as user app and logrotate create with an owner")
	}
	const python = "/usr/bin/python3" // Debian's, where python3-django and gunicorn are
	if out, err := exec.Command(python, "-c", "import django, gunicorn").CombinedOutput(); err != nil {
		missing(t, fmt.Sprintf("Debian's python3-django and gunicorn (apt-get install python3-django gunicorn): %v %s", err, out))
	}
	if _, err := exec.LookPath("logrotate"); err != nil {
		missing(t, "logrotate not installed")
	}
	uid, gid := appUser(t)

	with := runStory(t, story{python: python, uid: uid, gid: gid, watchedfile: true})
	without := runStory(t, story{python: python, uid: uid, gid: gid})
	for _, r := range []result{with, without} {
		t.Logf("RESULT | %s | %d | %d | %d | %d | %d | %d | %d | %d |", r.name, r.requests, r.non200,
			r.lost, r.dup, r.torn, r.loggingErrors, r.backups, r.logrotateErrors)
	}

	require.Zero(t, with.non200, "requests not answered 200")
	require.Zero(t, with.lost, "request lines lost")
	require.Zero(t, with.dup, "request lines found twice")
	require.Zero(t, with.torn, "torn lines")
	require.Zero(t, with.logrotateErrors, "logrotate failed: %s", with.logrotateOutput)
	require.Zero(t, with.backups, ".backup files")
	require.Equal(t, requests, with.requests, "every request sent")
	require.GreaterOrEqual(t, with.files, 20, "20 rotations, 20 files besides the log")
}

// appUser returns the uid and gid of user and group app, creating them if
// missing (a system user without a home or shell).
func appUser(t *testing.T) (uint32, uint32) {
	t.Helper()
	if _, err := user.Lookup("app"); err != nil {
		args := []string{"--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", "app"}
		if _, gerr := user.LookupGroup("app"); gerr == nil {
			args = []string{"--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--gid", "app", "app"}
		}
		out, err := exec.Command("useradd", args...).CombinedOutput()
		// Another test run may have made it meanwhile (exit 9: exists).
		if err != nil && !strings.Contains(string(out), "already exists") {
			require.NoError(t, err, "useradd: %s", out)
		}
	}
	u, err := user.Lookup("app")
	require.NoError(t, err)
	g, err := user.LookupGroup("app")
	require.NoError(t, err)
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	require.NoError(t, err)
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	require.NoError(t, err)
	return uint32(uid), uint32(gid)
}

// The story's load: a fixed number of requests, in blocks, with a rotation
// between two blocks.
const (
	rotations = 20
	block     = 100
	requests  = (rotations + 1) * block
)

type story struct {
	python      string
	uid, gid    uint32
	watchedfile bool // else WatchedFileHandler in each worker
}

type result struct {
	name                          string
	requests, non200              int
	lost, dup, torn               int
	loggingErrors, backups, files int
	logrotateErrors               int
	logrotateOutput               string
}

var (
	reqLine      = regexp.MustCompile(`^REQ (\d+) x{64} END$`)
	gunicornLine = regexp.MustCompile(`^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[[A-Z]+\] `)
)

// runStory runs the app, the load and the 20 rotations, stops the app and
// accounts for every request's line.
func runStory(t *testing.T, s story) result {
	t.Helper()
	r := result{name: "watchedfile -o app.log -- gunicorn"}
	if !s.watchedfile {
		r.name = "gunicorn, WatchedFileHandler in each worker"
	}
	base := t.TempDir()
	for d := base; d != os.TempDir(); d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755)) // app must reach its files
	}
	logDir := filepath.Join(base, "log")
	require.NoError(t, os.Mkdir(logDir, 0o755))
	require.NoError(t, os.Chown(logDir, int(s.uid), int(s.gid)))
	log := filepath.Join(logDir, "app.log")
	appDir := filepath.Join(base, "app")
	require.NoError(t, os.Mkdir(appDir, 0o755))
	src, err := os.ReadFile("testdata/django/logapp.py")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(appDir, "logapp.py"), src, 0o644))

	port := freePort(t)
	gunicorn := []string{s.python, "-m", "gunicorn", "--workers", "4", "--bind", "127.0.0.1:" + port,
		"--chdir", appDir, "--graceful-timeout", "10", "logapp:application"}
	var cmd *exec.Cmd
	stderrFile := filepath.Join(base, "stderr")
	stderr, err := os.Create(stderrFile)
	require.NoError(t, err)
	defer stderr.Close()
	if s.watchedfile {
		exe := filepath.Join(base, "watchedfile")
		copyExecutable(t, exe)
		cmd = exec.Command(exe, append([]string{"-o", log, "--"}, gunicorn...)...)
		cmd.Env = []string{"WATCHEDFILE_RUN_MAIN=1", "LOG_MODE=stdout", "PYTHONDONTWRITEBYTECODE=1", "PATH=/usr/bin:/bin"}
	} else {
		cmd = exec.Command(gunicorn[0], gunicorn[1:]...)
		cmd.Env = []string{"LOG_MODE=watched", "LOG_FILE=" + log, "PYTHONDONTWRITEBYTECODE=1", "PATH=/usr/bin:/bin"}
	}
	cmd.Stdout = stderr
	cmd.Stderr = stderr                                   // Python's "--- Logging error ---" reports land here
	cmd.Dir = appDir                                      // not the checkout's directory, which app may not enter
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, // cleanup kills gunicorn too
		Credential: &syscall.Credential{Uid: s.uid, Gid: s.gid, Groups: []uint32{}}}
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	// output is what the service said: on its stderr, and under
	// watchedfile in the log, where gunicorn's own output goes.
	output := func() string {
		out := "stderr:\n" + readFile(stderrFile)
		if s.watchedfile {
			out += "\nthe log's last lines:\n" + lastLines(readFile(log), 20)
		}
		return out
	}
	// waitFor waits for cond, failing the test with the service's exit
	// status and output if it exits first or the deadline passes.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			select {
			case err := <-exited:
				stopped = true
				t.Fatalf("%s: the service exited (%v); %s", what, err, output())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within a minute; the service's %s", what, output())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	url := "http://127.0.0.1:" + port + "/r?id="
	client := &http.Client{Timeout: 10 * time.Second}
	waitFor("gunicorn to answer", func() bool {
		resp, err := client.Get(url + "0")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	conf := filepath.Join(base, "logrotate.conf")
	require.NoError(t, os.WriteFile(conf, []byte(log+` {
    create 0640 app app
    compress
    delaycompress
    rotate 100
    missingok
}
`), 0o644))

	// The load: a fixed number of requests from 8 clients, in 21 blocks,
	// with a rotation between two blocks while the next one is under way:
	// the clients may run one block ahead of the rotations, never more, so
	// every rotation meets requests in flight, however fast or loaded the
	// machine is.
	var (
		mu       sync.Mutex
		gate     = sync.NewCond(&mu)
		allowed  = int64(2 * block) // ids the clients may send now
		answered = map[int64]int{}  // id -> status
		wg       sync.WaitGroup
		next     atomic.Int64 // request ids; 0 is the readiness probe's
		count    atomic.Int64
	)
	next.Store(1)
	t.Cleanup(func() { // a test that failed midway lets its clients go
		mu.Lock()
		allowed = requests
		gate.Broadcast()
		mu.Unlock()
	})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id := next.Add(1) - 1
				if id > requests {
					return
				}
				mu.Lock()
				for id > allowed {
					gate.Wait()
				}
				mu.Unlock()
				status := 0
				resp, err := client.Get(url + strconv.FormatInt(id, 10))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				answered[id] = status
				mu.Unlock()
				count.Add(1)
			}
		}()
	}
	var rotateOut bytes.Buffer
	for k := int64(1); k <= rotations; k++ {
		waitFor(fmt.Sprintf("block %d of the requests", k), func() bool { return count.Load() >= k*block })
		out, err := exec.Command("logrotate", "-f", "-s", filepath.Join(base, "state"), conf).CombinedOutput()
		if err != nil || len(out) > 0 {
			r.logrotateErrors++
			fmt.Fprintf(&rotateOut, "%v: %s\n", err, out)
		}
		mu.Lock()
		allowed = (k + 2) * block
		gate.Broadcast()
		mu.Unlock()
	}
	wg.Wait()
	r.logrotateOutput = rotateOut.String()

	// Stop the service as systemd would: SIGTERM, and wait.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		stopped = true
		if s.watchedfile {
			require.NoError(t, err, "watchedfile passes on gunicorn's status 0; %s", output())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the service did not stop on SIGTERM")
	}

	// Account: every file in the log directory, gzip ones included.
	found := map[int64]int{}
	entries, err := os.ReadDir(logDir)
	require.NoError(t, err)
	for _, e := range entries {
		name := e.Name()
		if strings.Contains(name, ".backup") {
			r.backups++
		}
		if name != "app.log" {
			r.files++
		}
		for _, line := range readLines(t, filepath.Join(logDir, name)) {
			if m := reqLine.FindStringSubmatch(line); m != nil {
				id, _ := strconv.ParseInt(m[1], 10, 64)
				found[id]++
			} else if !gunicornLine.MatchString(line) && !strings.HasPrefix(line, "watchedfile: ") {
				r.torn++
				t.Logf("%s: torn or unknown line %q", name, line)
			}
		}
	}
	for id, status := range answered {
		r.requests++
		if status != 200 {
			r.non200++
		}
		switch found[id] {
		case 0:
			r.lost++
		case 1:
		default:
			r.dup++
		}
	}
	r.loggingErrors = strings.Count(readFile(stderrFile), "--- Logging error ---")
	return r
}

// readLines returns the lines of a log file, gunzipped if it ends in .gz.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		require.NoError(t, err, path)
		defer z.Close()
		r = z
	}
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err(), path)
	return lines
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "")
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// freePort returns a TCP port on 127.0.0.1 nobody listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// copyExecutable copies the test binary (which runs the command under
// WATCHEDFILE_RUN_MAIN=1) where user app can run it.
func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	b, err := os.ReadFile(exe)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o755))
}
