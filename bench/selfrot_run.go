//go:build linux

package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// The self-rotation tables as part of a run: flags, rounds, and the run of
// these tables alone (-self-rotation-only).

// selfRotFlags adds the self-rotation tables' flags to fs.
func selfRotFlags(fs *flag.FlagSet, on, only *bool, c *selfRotConfig) {
	fs.BoolVar(on, "self-rotation", *on, "run the self-rotation tables (writers that rotate by themselves: several processes on one file, and the pause a rotation makes)")
	fs.BoolVar(only, "self-rotation-only", *only, "run the self-rotation tables and nothing else")
	fs.StringVar(&c.Writers, "selfrot-writers", c.Writers, "comma-separated self-rotating writers, or all: watchedfile,lumberjack,timberjack")
	fs.Func("selfrot-procs", "comma-separated numbers of writing processes, a run each (default 1,4)", intsFlag(&c.Procs))
	fs.IntVar(&c.Goroutines, "selfrot-goroutines", c.Goroutines, "writing goroutines per process")
	fs.IntVar(&c.Rate, "selfrot-rate", c.Rate, "records per second per process (0: as fast as they can)")
	fs.DurationVar(&c.Duration, "selfrot-duration", c.Duration, "how long the processes write in each run")
	fs.IntVar(&c.MaxMiB, "selfrot-max-size", c.MaxMiB, "the size limit in MiB (lumberjack's unit: at least 1)")
	fs.IntVar(&c.Size, "selfrot-record", c.Size, "record size in bytes")
	fs.BoolVar(&c.Compress, "selfrot-compress", c.Compress, "compress rotated files (gzip)")
	fs.IntVar(&c.Rounds, "selfrot-rounds", c.Rounds, "runs of each writer and process count, interleaved; the table shows each")
	fs.IntVar(&c.PauseGoroutines, "pause-goroutines", c.PauseGoroutines, "writing goroutines in the pause table (one process)")
	fs.IntVar(&c.PauseRate, "pause-rate", c.PauseRate, "records per second in the pause table, all goroutines together (0: as fast as they can)")
	fs.DurationVar(&c.PauseDuration, "pause-duration", c.PauseDuration, "how long each writer writes in each round of the pause table")
	fs.IntVar(&c.PauseRounds, "pause-rounds", c.PauseRounds, "rounds of the pause table, the writers interleaved; Writes of all rounds pooled")
}

// selfRotResults is what the self-rotation tables measured; -json writes
// it.
type selfRotResults struct {
	Config selfRotConfig   `json:"config"`
	Procs  []selfRotResult `json:"procs"`
	Pause  []pauseResult   `json:"pause"`
}

// runSelfRotTables runs both tables: each writer with each number of
// processes, round after round, the writers' order turning from round to
// round; then the pause table.
func runSelfRotTables(cfg selfRotConfig, root string, prog *progress) (*selfRotResults, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ws, err := selectSelfRotWriters(cfg.Writers)
	if err != nil {
		return nil, err
	}
	out := &selfRotResults{Config: cfg}
	total := cfg.Rounds * len(cfg.Procs) * len(ws)
	for r := range cfg.Rounds {
		for _, procs := range cfg.Procs {
			for i := range ws {
				w := ws[(i+r)%len(ws)]
				prog.step(len(out.Procs)+1, total, fmt.Sprintf("self-rotation round %d/%d: %s, %d processes", r+1, cfg.Rounds, w.name, procs))
				res, err := runSelfRotProcs(w, procs, cfg, root)
				res.Round = r + 1
				if err != nil {
					res.Error = err.Error()
				}
				out.Procs = append(out.Procs, res)
			}
		}
	}
	if out.Pause, err = runPauseTable(ws, cfg, root, prog); err != nil {
		return out, err
	}
	return out, nil
}

// runSelfRotOnly is the run of -self-rotation-only: the machine, the two
// tables and their JSON.
func runSelfRotOnly(cfg config, stdout, stderr io.Writer) error {
	res := &results{Machine: describeMachine(), StartedAt: time.Now().UTC()}
	root, err := os.MkdirTemp(cfg.Dir, "watchedfile-bench-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(root)
	prog := newProgress(stderr)
	res.SelfRotation, err = runSelfRotTables(cfg.SelfRotCfg, root, prog)
	prog.done()
	if err != nil {
		return err
	}
	res.Seconds = time.Since(res.StartedAt).Seconds()
	if err := writeSelfRotMarkdown(stdout, res); err != nil {
		return err
	}
	if cfg.JSON != "" {
		return writeJSON(cfg.JSON, res)
	}
	return nil
}
