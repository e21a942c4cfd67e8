// Command watchedfile writes its standard input, or the output of a command
// it runs, to a log file that logrotate (or anything else) may rotate: it
// follows every rotation with the watchedfile package, writes whole lines
// only, and never blocks its input for long on a slow or full disk.
//
//	app 2>&1 | watchedfile [flags] /var/log/app/app.log
//	watchedfile [flags] -o /var/log/app/app.log -- app args...
//
// See docs/command.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/watchedfile/watchedfile"
)

// config holds the parsed command line.
type config struct {
	out            string
	args           []string // the command to run; empty: read stdin
	mode           os.FileMode
	mkdir          os.FileMode // 0: no
	sharedDir      bool
	poll           time.Duration
	checkInterval  time.Duration
	createDelay    time.Duration
	tee            bool
	maxLine        int
	maxBuffer      int
	stats          time.Duration
	reportInterval time.Duration
	version        bool
	rotation       watchedfile.Option // nil: the command never rotates the file itself
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parse(argv, stdout, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, err)
		return 2
	}
	if cfg.version {
		fmt.Fprintln(stdout, version())
		return 0
	}
	if len(cfg.args) > 0 {
		// Before the log file is created: a command that cannot run
		// leaves nothing behind.
		if _, err := exec.LookPath(cfg.args[0]); err != nil {
			var ee *exec.Error
			if errors.As(err, &ee) {
				err = ee.Err
			}
			fmt.Fprintln(stderr, errorf("cannot run %s: %v", cfg.args[0], err))
			return 127
		}
	}
	keepBrokenPipes() // -tee: a reader of stdout that goes away ends the copy, not the command
	rep := newReporter(stderr, cfg.reportInterval)
	reopens := newReopenNotes(rep)
	opts := []watchedfile.Option{
		watchedfile.WithMode(cfg.mode),
		watchedfile.WithCreateDelay(cfg.createDelay),
		watchedfile.WithErrorHandler(reopens.handle),
	}
	if cfg.sharedDir {
		opts = append(opts, watchedfile.WithSharedDir())
	}
	if cfg.mkdir != 0 {
		opts = append(opts, watchedfile.WithMkdirAll(cfg.mkdir))
	}
	if cfg.poll > 0 {
		opts = append(opts, watchedfile.WithPolling(cfg.poll))
	}
	if cfg.checkInterval > 0 {
		opts = append(opts, watchedfile.WithCheckInterval(cfg.checkInterval))
	}
	if cfg.rotation != nil {
		opts = append(opts, cfg.rotation)
	}
	w, err := watchedfile.Open(cfg.out, opts...)
	if err != nil {
		fmt.Fprintln(stderr, err) // the package's errors say "watchedfile:"
		return 1
	}
	stopReopens := reopens.start(w)
	p := newPump(w, cfg.maxLine, cfg.maxBuffer, rep)
	if cfg.rotation != nil {
		p.writeCap = rotationWriteCap // a file exceeds -max-size by no more
	}
	if cfg.tee {
		p.tee = stdout
	}
	stopStats := startStats(w, p, rep, cfg.stats)

	var status int
	if len(cfg.args) > 0 {
		status, err = runChild(cfg.args, stdin, p, rep)
	} else {
		stop := handleSignals(w, rep)
		if f, ok := stdin.(*os.File); ok {
			growPipe(f)
			p.newSlices = true // os.Stdin: a blocking read, unless it came non-blocking
		}
		err = p.run(stdin)
		stop()
	}
	stopStats()
	if err != nil {
		fmt.Fprintln(stderr, err)
		if status == 0 {
			status = 1
		}
	}
	stopReopens()
	if err := w.Close(); err != nil {
		fmt.Fprintln(stderr, err)
		if status == 0 {
			status = 1
		}
	}
	if dropped := p.droppedLines(); dropped > 0 || cfg.stats > 0 {
		rep.always("%s", statsLine(w.Stats(), dropped))
	}
	return status
}

// parse reads the command line. The usage goes to stdout when asked for
// (-h, --help: flag.ErrHelp), to stderr with an error.
func parse(argv []string, stdout, stderr io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("watchedfile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	usage := func(w io.Writer) {
		fmt.Fprint(w, `usage: app 2>&1 | watchedfile [flags] FILE
       watchedfile [flags] -o FILE -- command [args...]

Writes stdin, or the command's stdout and stderr, to FILE, following every
rotation of FILE (logrotate create, copytruncate, mv, rm). Whole lines only.
With -max-size or -every it rotates FILE itself.

`)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	fs.Usage = func() {} // printed below, where it belongs
	mode := fs.String("mode", "0644", "permission bits (octal) of a log file it creates, before umask")
	mkdir := fs.String("mkdir", "", "create missing parent directories with these permission bits (octal), e.g. 0755")
	fs.BoolVar(&cfg.sharedDir, "shared-dir", false, "use a log directory that group or others may write (refused without it; see docs/guarantees.md#security)")
	fs.StringVar(&cfg.out, "o", "", "the log file, when running a command after --")
	fs.DurationVar(&cfg.poll, "poll", 0, "find rotations by checking the path at this interval instead of inotify (0: inotify on Linux)")
	fs.DurationVar(&cfg.checkInterval, "check-interval", 0, "how often the path is checked besides inotify events (0: the package's 1s)")
	fs.DurationVar(&cfg.createDelay, "create-delay", time.Second, "after a rename, wait this long for the rotator to create the new file before creating it")
	fs.BoolVar(&cfg.tee, "tee", false, "also copy the lines to stdout")
	fs.IntVar(&cfg.maxLine, "max-line", 64<<10, "longest line in bytes, its newline not counted; a longer line is cut into pieces of this length, each ending in the cut marker")
	fs.IntVar(&cfg.maxBuffer, "max-buffer", 4<<20, "bytes kept while the file cannot be written; past it whole lines are dropped and counted")
	fs.DurationVar(&cfg.stats, "stats", 0, "print the writer's counters to stderr at this interval and at exit (0: only at exit when watchedfile dropped lines)")
	fs.DurationVar(&cfg.reportInterval, "report-interval", time.Second, "at most one error line of each kind per interval on stderr")
	fs.BoolVar(&cfg.version, "version", false, "print the version and exit")
	var rot rotationFlags
	rot.define(fs)
	if err := fs.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
		} else {
			usage(stderr) // after the flag package's line saying what is wrong
		}
		return cfg, err
	}
	if cfg.version {
		return cfg, nil
	}
	rest := fs.Args()
	if cfg.out == "" {
		if len(rest) != 1 {
			usage(stderr)
			return cfg, errorf("want exactly one FILE, or -o FILE -- command")
		}
		cfg.out = rest[0]
	} else {
		if len(rest) == 0 {
			return cfg, errorf("-o FILE needs a command after --")
		}
		cfg.args = rest
	}
	if namesDirectory(cfg.out) {
		return cfg, errorf("%s names a directory: want the path of the log file itself", cfg.out)
	}
	m, err := strconv.ParseUint(*mode, 8, 32)
	if err != nil || m > 0o777 {
		return cfg, errorf("-mode %q: want octal permission bits like 0640", *mode)
	}
	cfg.mode = os.FileMode(m)
	if *mkdir != "" {
		d, err := strconv.ParseUint(*mkdir, 8, 32)
		if err != nil || d > 0o777 || d == 0 {
			return cfg, errorf("-mkdir %q: want octal permission bits like 0755", *mkdir)
		}
		cfg.mkdir = os.FileMode(d)
	}
	if cfg.maxLine < len(cutMark) {
		return cfg, errorf("-max-line %d: want at least %d (the cut marker and a byte)", cfg.maxLine, len(cutMark))
	}
	if cfg.maxBuffer < cfg.maxLine+len(cutMark) {
		return cfg, errorf("-max-buffer %d: want at least -max-line plus %d", cfg.maxBuffer, len(cutMark))
	}
	if cfg.reportInterval < 0 {
		cfg.reportInterval = 0
	}
	if cfg.rotation, err = rot.option(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// namesDirectory reports whether path can only name a directory: it ends
// in a separator, or in . or .. (the package would clean those away and
// write to a file named like the directory).
func namesDirectory(path string) bool {
	if strings.HasSuffix(path, "/") || strings.HasSuffix(path, string(filepath.Separator)) {
		return true
	}
	base := filepath.Base(path)
	return base == "." || base == ".."
}

// startStats prints the Writer's counters every interval until stopped.
func startStats(w *watchedfile.Writer, p *pump, rep *reporter, every time.Duration) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				rep.always("%s", statsLine(w.Stats(), p.droppedLines()))
			}
		}
	}()
	return func() { close(done); <-finished }
}

// statsLine is the package's Stats on one line, and the lines the command
// itself dropped (a full buffer while writes fail, or given up at the end).
// Lines lost outside it, such as those a copytruncate loses, are not known
// to it and not counted.
func statsLine(s watchedfile.Stats, dropped uint64) string {
	line := fmt.Sprintf("stats: backend=%s records=%d bytes=%d write_errors=%d reopens=%d failed_reopens=%d reopen_pending=%t",
		s.Backend, s.Records, s.Bytes, s.WriteErrors, s.Reopens, s.FailedReopens, s.ReopenPending)
	if s.FallbackReason != "" {
		line += fmt.Sprintf(" fallback=%q", s.FallbackReason)
	}
	if s.LastError != nil {
		line += fmt.Sprintf(" last_error=%q", s.LastError.Error())
	}
	return line + fmt.Sprintf("; lines dropped by watchedfile: %d", dropped)
}
