package watchedfile_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/watchedfile/watchedfile"
)

// The hot path: one record written by Write, against a raw *os.File with
// O_APPEND (the floor). The full comparison with other writers and under
// rotation is the bench module: go run ./bench

var benchWriters = []struct {
	name string
	open func(path string) (io.WriteCloser, error)
}{
	{"raw", func(path string) (io.WriteCloser, error) {
		return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	}},
	{"inotify", func(path string) (io.WriteCloser, error) {
		return watchedfile.Open(path)
	}},
	// Group commit off: a write(2) per Write, whoever else writes.
	{"own", func(path string) (io.WriteCloser, error) {
		return watchedfile.Open(path, watchedfile.WithoutGroupCommit())
	}},
	{"polling", func(path string) (io.WriteCloser, error) {
		return watchedfile.Open(path, watchedfile.WithPolling(time.Second))
	}},
	// A copy into the buffer, and one write(2) per 256 KiB.
	{"buffered", func(path string) (io.WriteCloser, error) {
		return watchedfile.Open(path, watchedfile.WithBuffer(256<<10, time.Second))
	}},
	// Rotation on, none due: inotify's Writer plus a count of bytes and a
	// look at the file's size once per MiB.
	{"rotation", func(path string) (io.WriteCloser, error) {
		return watchedfile.Open(path, watchedfile.WithRotation(watchedfile.Rotation{MaxSize: 1 << 62}))
	}},
}

var benchSizes = []int{100, 1024}

func benchRecord(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'x'
	}
	b[size-1] = '\n'
	return b
}

func openForBench(b *testing.B, open func(string) (io.WriteCloser, error)) io.WriteCloser {
	b.Helper()
	w, err := open(filepath.Join(b.TempDir(), "bench.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := w.Close(); err != nil {
			b.Error(err)
		}
	})
	return w
}

// BenchmarkWrite writes one record per iteration from one goroutine.
func BenchmarkWrite(b *testing.B) {
	for _, size := range benchSizes {
		for _, bw := range benchWriters {
			b.Run(fmt.Sprintf("%s/%dB", bw.name, size), func(b *testing.B) {
				w := openForBench(b, bw.open)
				rec := benchRecord(size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := w.Write(rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkWriteParallel writes from GOMAXPROCS goroutines (more with -cpu).
func BenchmarkWriteParallel(b *testing.B) {
	for _, size := range benchSizes {
		for _, bw := range benchWriters {
			b.Run(fmt.Sprintf("%s/%dB", bw.name, size), func(b *testing.B) {
				writeParallel(b, openForBench(b, bw.open), size)
			})
		}
	}
}

// BenchmarkWriteDevNull is BenchmarkWriteParallel to /dev/null, where the
// syscall costs least: what a Write does beyond raw's stands out most.
func BenchmarkWriteDevNull(b *testing.B) {
	for _, bw := range benchWriters[:2] { // raw, inotify
		b.Run(bw.name, func(b *testing.B) {
			w, err := bw.open(os.DevNull)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			writeParallel(b, w, 100)
		})
	}
}

func writeParallel(b *testing.B, w io.Writer, size int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rec := benchRecord(size)
		for pb.Next() {
			if _, err := w.Write(rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkWriteString is Write for a string, which must not copy it.
func BenchmarkWriteString(b *testing.B) {
	w := openForBench(b, benchWriters[1].open).(*watchedfile.Writer)
	rec := string(benchRecord(100))
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.WriteString(rec); err != nil {
			b.Fatal(err)
		}
	}
}
