package watchedfile_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/watchedfile/watchedfile"
)

// BenchmarkHotPath is what one Write costs beyond a raw *os.File Write,
// one goroutine, 100-byte records: on /dev/null, where write(2) costs
// least, and on a tmpfs file, where it costs what a page-cache write does
// without a disk. The two write the same target in alternating chunks, in
// one process, so that what the machine does meanwhile falls on both; each
// chunk gives one figure per record, and the benchmark reports their
// medians: raw-ns/rec, ns/rec for the Writer, and extra-ns/rec, the
// median of the chunks' differences. What the Writer adds is tens of
// nanoseconds against a write(2) of about 2 µs here: compare runs with
// benchstat over many counts, interleaved (docs/benchmark.md).
//
//	go test -run '^$' -bench HotPath -benchtime 400000x -count 21 .
func BenchmarkHotPath(b *testing.B) {
	rec := make([]byte, 100)
	for i := range rec {
		rec[i] = 'x'
	}
	rec[99] = '\n'
	for _, target := range []struct{ name, path string }{
		{"devnull", os.DevNull},
		{"tmpfs", tmpfsPath(b)},
	} {
		b.Run(target.name, func(b *testing.B) {
			raw, err := os.OpenFile(target.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close()
			w, err := watchedfile.Open(target.path)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			const chunk = 2000
			var rawNs, wNs, extraNs []float64
			timed := func(write func([]byte) (int, error)) float64 {
				start := time.Now()
				for range chunk {
					if _, err := write(rec); err != nil {
						b.Fatal(err)
					}
				}
				return float64(time.Since(start).Nanoseconds()) / chunk
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 2 * chunk {
				var r, x float64
				if i/(2*chunk)%2 == 0 { // alternate which goes first
					r, x = timed(raw.Write), timed(w.Write)
				} else {
					x, r = timed(w.Write), timed(raw.Write)
				}
				rawNs, wNs, extraNs = append(rawNs, r), append(wNs, x), append(extraNs, x-r)
			}
			b.ReportMetric(median(rawNs), "raw-ns/rec")
			b.ReportMetric(median(wNs), "ns/rec")
			b.ReportMetric(median(extraNs), "extra-ns/rec")
		})
	}
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
