//go:build linux

package main

import (
	"path/filepath"
	"testing"
)

// TestPauseReadsBackAfterCompression: lumberjack and timberjack compress in
// a goroutine that Close does not stop, so a file rotated just before Close
// is still being compressed when the pause table reads the files back. The
// read-back waits for it: every record found once, in the two files, the
// rotated one compressed. Without the wait it read a source removed under
// it ("no such file or directory") or a compressed copy half written.
func TestPauseReadsBackAfterCompression(t *testing.T) {
	const size = 100
	for _, w := range selfRotWriters() {
		if w.name == "watchedfile" {
			continue // Close stops its compression: nothing runs after it
		}
		t.Run(w.name, func(t *testing.T) {
			for round := range 5 {
				dir := t.TempDir()
				sk, err := w.open(filepath.Join(dir, "app.log"), 1, true, &selfRotEvents{})
				if err != nil {
					t.Fatal(err)
				}
				n := (1<<20)/size + 10 // the last 10 rotate the file, just before Close
				var b []byte
				for s := range n {
					b = appendSelfRotRecord(b[:0], 0, uint64(s), size)
					if _, err := sk.Write(b); err != nil {
						t.Fatal(err)
					}
				}
				if err := sk.Close(); err != nil {
					t.Fatal(err)
				}
				files, err := pauseReadBack(w, dir, size, true)
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				seen := map[uint64]int{}
				for _, f := range files {
					for _, s := range f {
						seen[s]++
					}
				}
				if len(files) != 2 || len(seen) != n {
					t.Fatalf("round %d: %d files, %d records of %d", round, len(files), len(seen), n)
				}
				for s, c := range seen {
					if c != 1 {
						t.Fatalf("round %d: record %d found %d times", round, s, c)
					}
				}
				if pending, err := uncompressedRotated(dir, "app.log"); err != nil || len(pending) > 0 {
					t.Fatalf("round %d: rotated files not compressed: %v %v", round, pending, err)
				}
			}
		})
	}
}
