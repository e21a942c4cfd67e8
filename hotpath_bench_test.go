package watchedfile_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/watchedfile/watchedfile"
)

// BenchmarkHotPath is what one Write costs beyond a raw *os.File Write,
// one goroutine, 100-byte records, with group commit (the default) and
// without: on /dev/null, where write(2) costs least, on a tmpfs file, where
// it costs what a page-cache write does without a disk, and on a file in
// the system's temporary directory (ext4 here). The Writer and a raw file
// write the same target in alternating chunks, in one process, so that what
// the machine does meanwhile falls on both; each chunk gives one figure per
// record, and the benchmark reports their medians: raw-ns/rec, ns/rec for
// the Writer, and extra-ns/rec, the median of the chunks' differences. What
// the Writer adds is tens of nanoseconds against a write(2) of about 2 µs
// here: compare with benchstat over many counts (docs/benchmark.md),
//
//	go test -run '^$' -bench HotPath -benchtime 400000x -count 21 . > hot.txt
//	benchstat -col /writes hot.txt
func BenchmarkHotPath(b *testing.B) {
	rec := benchRecord(100)
	for _, target := range []struct{ name, path string }{
		{"devnull", os.DevNull},
		{"tmpfs", tmpfsPath(b)},
		{"tmp", filepath.Join(b.TempDir(), "app.log")},
	} {
		for _, mode := range []struct {
			name string
			opts []watchedfile.Option
		}{
			{"group", nil},
			{"own", []watchedfile.Option{watchedfile.WithoutGroupCommit()}},
		} {
			b.Run(fmt.Sprintf("target=%s/writes=%s", target.name, mode.name), func(b *testing.B) {
				raw, err := os.OpenFile(target.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
				if err != nil {
					b.Fatal(err)
				}
				defer raw.Close()
				w, err := watchedfile.Open(target.path, mode.opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				b.ReportAllocs()
				b.ResetTimer()
				rawNs, wNs, extraNs := inTurns(b, rec, raw.Write, w.Write)
				b.ReportMetric(median(rawNs), "raw-ns/rec")
				b.ReportMetric(median(wNs), "ns/rec")
				b.ReportMetric(median(extraNs), "extra-ns/rec")
			})
		}
	}
}

// BenchmarkGroupAlone is the A/B of group commit for a goroutine alone:
// a Writer with group commit (the default) and one WithoutGroupCommit, open
// on the same file, take turns chunk by chunk (which goes first alternates),
// and the benchmark reports the median of the paired differences,
// group-minus-own-ns/rec, with each one's median ns/rec: the cost of the
// default where nothing else writes. Run it with -count 21 and look at the
// sign and spread of the differences:
//
//	go test -run '^$' -bench GroupAlone -count 21 .
func BenchmarkGroupAlone(b *testing.B) {
	rec := benchRecord(100)
	for _, target := range []struct{ name, path string }{
		{"devnull", os.DevNull},
		{"tmpfs", tmpfsPath(b)},
		{"tmp", filepath.Join(b.TempDir(), "app.log")},
	} {
		b.Run("target="+target.name, func(b *testing.B) {
			group, err := watchedfile.Open(target.path)
			if err != nil {
				b.Fatal(err)
			}
			defer group.Close()
			own, err := watchedfile.Open(target.path, watchedfile.WithoutGroupCommit())
			if err != nil {
				b.Fatal(err)
			}
			defer own.Close()
			b.ReportAllocs()
			b.ResetTimer()
			ownNs, groupNs, diffNs := inTurns(b, rec, own.Write, group.Write)
			b.ReportMetric(median(groupNs), "group-ns/rec")
			b.ReportMetric(median(ownNs), "own-ns/rec")
			b.ReportMetric(median(diffNs), "group-minus-own-ns/rec")
		})
	}
}

// BenchmarkWriteLatency is how long one Write takes with 1, 2, 8 and 64
// goroutines writing 100-byte records to a tmpfs file at once, with group
// commit and without: every Write is timed, and the benchmark reports the
// median, the 99th percentile and the longest (a goroutine starved would
// show there), in nanoseconds, and records per second in all.
//
//	go test -run '^$' -bench WriteLatency -benchtime 200000x -count 5 .
func BenchmarkWriteLatency(b *testing.B) {
	rec := benchRecord(100)
	path := tmpfsPath(b)
	for _, goroutines := range []int{1, 2, 8, 64} {
		for _, mode := range []struct {
			name string
			opts []watchedfile.Option
		}{
			{"group", nil},
			{"own", []watchedfile.Option{watchedfile.WithoutGroupCommit()}},
		} {
			b.Run(fmt.Sprintf("goroutines=%d/writes=%s", goroutines, mode.name), func(b *testing.B) {
				w, err := watchedfile.Open(path, mode.opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				each := b.N / goroutines
				lat := make([][]time.Duration, goroutines)
				var wg sync.WaitGroup
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for g := range goroutines {
					lat[g] = make([]time.Duration, 0, each)
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range each {
							t := time.Now()
							if _, err := w.Write(rec); err != nil {
								b.Error(err)
								return
							}
							lat[g] = append(lat[g], time.Since(t))
						}
					}()
				}
				wg.Wait()
				took := time.Since(start)
				b.StopTimer()
				all := slices.Concat(lat...)
				if len(all) == 0 {
					return // b.N below the goroutines: the framework's first probe
				}
				slices.Sort(all)
				at := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))].Nanoseconds()) }
				b.ReportMetric(at(0.5), "p50-ns")
				b.ReportMetric(at(0.99), "p99-ns")
				b.ReportMetric(at(1), "max-ns")
				b.ReportMetric(float64(len(all))/took.Seconds(), "rec/s")
			})
		}
	}
}

// inTurns writes rec b.N times, by chunks of 2,000 records that a and x take
// in turns (which goes first alternates), and returns each chunk's time per
// record for a and for x, and x's minus a's.
func inTurns(b *testing.B, rec []byte, a, x func([]byte) (int, error)) (aNs, xNs, diffNs []float64) {
	const chunk = 2000
	timed := func(write func([]byte) (int, error)) float64 {
		start := time.Now()
		for range chunk {
			if _, err := write(rec); err != nil {
				b.Fatal(err)
			}
		}
		return float64(time.Since(start).Nanoseconds()) / chunk
	}
	for i := 0; i < b.N; i += 2 * chunk {
		var ta, tx float64
		if i/(2*chunk)%2 == 0 {
			ta, tx = timed(a), timed(x)
		} else {
			tx, ta = timed(x), timed(a)
		}
		aNs, xNs, diffNs = append(aNs, ta), append(xNs, tx), append(diffNs, tx-ta)
	}
	return aNs, xNs, diffNs
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// tmpfsPath is a file in a directory of this process's own on /dev/shm (a
// tmpfs on Linux), or in the test's temporary directory where there is none.
func tmpfsPath(b *testing.B) string {
	dir, err := os.MkdirTemp("/dev/shm", "watchedfile-bench-")
	if err != nil {
		dir = b.TempDir()
	} else {
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	return filepath.Join(dir, "app.log")
}
