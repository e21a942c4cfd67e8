package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRotationFlags(t *testing.T) {
	var b byteSize
	for in, want := range map[string]int64{"100M": 100 << 20, "1G": 1 << 30, "512k": 512 << 10, "10MiB": 10 << 20, "64KB": 64 << 10, "4096": 4096, "1.5K": 1536} {
		require.NoError(t, b.Set(in), in)
		assert.Equal(t, want, int64(b), in)
	}
	for _, bad := range []string{"", "M", "-1M", "10X", "1e30G"} {
		assert.Error(t, b.Set(bad), bad)
	}
	var d days
	require.NoError(t, d.Set("7d"))
	assert.Equal(t, 7*24*time.Hour, time.Duration(d))
	require.NoError(t, d.Set("90m"))
	assert.Equal(t, 90*time.Minute, time.Duration(d))
	assert.Error(t, d.Set("1w"))

	for _, args := range [][]string{
		{"-compress", "f"},
		{"-max-backups", "3", "f"},
		{"-max-size", "1M", "-max-backups", "-1", "f"},
	} {
		_, err := parse(args, io.Discard, io.Discard)
		assert.Error(t, err, "%v", args)
	}
	cfg, err := parse([]string{"-max-size", "100M", "-max-age", "7d", "-max-backups", "10", "-compress", "f"}, io.Discard, io.Discard)
	require.NoError(t, err)
	assert.NotNil(t, cfg.rotation)
}

// TestCommandRotates: the command with -max-size and -compress rotates the
// file itself: every line once, across the dated files, compressed or not.
func TestCommandRotates(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	cmd := command(t, "-max-size", "16K", "-compress", "-compress-delay", "-1ns", log)
	var input bytes.Buffer
	for i := range 5000 {
		fmt.Fprintf(&input, "line %05d %s\n", i, strings.Repeat("x", 40))
	}
	cmd.Stdin = &input
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	target, err := os.Readlink(log)
	require.NoError(t, err, "the log is a link to the file being written")
	assert.Regexp(t, `^app-.*Z\.log$`, target)
	seen := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "app-*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		if strings.HasSuffix(f, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			require.NoError(t, err)
			data, err = io.ReadAll(zr)
			require.NoError(t, err)
		}
		for _, l := range strings.SplitAfter(string(data), "\n") {
			if l != "" {
				seen[l]++
			}
		}
	}
	// Rotating by itself, a write of the command holds up to 64 KiB of
	// whole lines: a file exceeds -max-size by up to that.
	assert.Greater(t, len(files), 3, "rotated at 16K")
	assert.Len(t, seen, 5000)
	for l, n := range seen {
		require.Equal(t, 1, n, l)
	}
}

// TestRotationFlagsRefuseWhatTurnsRotationOff: a size that rounds to no
// bytes, or is not a number, and a duration past what time.Duration holds,
// are refused instead of turning rotation off or wrapping to a short age.
func TestRotationFlagsRefuseWhatTurnsRotationOff(t *testing.T) {
	for _, bad := range []string{"0.5", "1e-9G", "NaN", "nan", "Inf", "-Inf", "0", "0.9999"} {
		var b byteSize
		assert.Error(t, b.Set(bad), bad)
	}
	for _, bad := range []string{"213504d", "106752d", "9999999999d", "-1d"} {
		var d days
		assert.Error(t, d.Set(bad), bad)
	}
	var d days
	require.NoError(t, d.Set("106751d")) // the longest whole-day duration there is
	for _, args := range [][]string{
		{"-max-size", "0.5", "f"},
		{"-max-size", "NaN", "f"},
		{"-max-size", "1M", "-max-age", "213504d", "f"},
	} {
		_, err := parse(args, io.Discard, io.Discard)
		assert.Error(t, err, "%v", args)
	}
}
