package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/watchedfile/watchedfile"
)

// rotationFlags are the flags of the package's own rotation
// (watchedfile.WithRotation); it is on when any of them is set.
type rotationFlags struct {
	maxSize, maxTotalSize         byteSize
	every, at, maxAge, compressAt days
	maxBackups                    int
	compress                      bool
}

func (r *rotationFlags) define(fs *flag.FlagSet) {
	fs.Var(&r.maxSize, "max-size", "rotate the file itself once it holds this much: a `size` with K, M, G or T (times 1024), e.g. 100M (see docs/rotation.md)")
	fs.Var(&r.every, "every", "rotate the file itself at each multiple of this `duration` on the local wall clock from midnight, e.g. 1h or 1d")
	fs.Var(&r.at, "at", "with -every, from midnight plus this `duration`, e.g. -every 1d -at 2h: daily at 02:00")
	fs.IntVar(&r.maxBackups, "max-backups", 0, "with rotation, keep at most this many rotated files (0: all)")
	fs.Var(&r.maxAge, "max-age", "with rotation, remove rotated files last written longer ago than this `duration`, e.g. 7d or 12h")
	fs.Var(&r.maxTotalSize, "max-total-size", "with rotation, keep at most this `size` of rotated files, e.g. 1G")
	fs.BoolVar(&r.compress, "compress", false, "with rotation, gzip rotated files once no writer holds them and -compress-delay has passed")
	fs.Var(&r.compressAt, "compress-delay", "with -compress, how long (a `duration`) a rotated file stays as it is first, for a log shipper that lags (default 1m)")
}

// option returns the WithRotation option the flags ask for, or nil.
func (r *rotationFlags) option() (watchedfile.Option, error) {
	on := r.maxSize > 0 || r.every > 0
	if !on {
		if r.at != 0 || r.maxBackups != 0 || r.maxAge != 0 || r.maxTotalSize != 0 || r.compress || r.compressAt != 0 {
			return nil, errorf("-at, -max-backups, -max-age, -max-total-size and -compress need -max-size or -every")
		}
		return nil, nil
	}
	if r.maxBackups < 0 {
		return nil, errorf("-max-backups %d: want 0 or more", r.maxBackups)
	}
	rot := watchedfile.Rotation{
		MaxSize:       int64(r.maxSize),
		Every:         time.Duration(r.every),
		At:            time.Duration(r.at),
		MaxBackups:    r.maxBackups,
		MaxAge:        time.Duration(r.maxAge),
		MaxTotalSize:  int64(r.maxTotalSize),
		Compress:      r.compress,
		CompressDelay: time.Duration(r.compressAt),
	}
	return watchedfile.WithRotation(rot), nil
}

// byteSize is a flag of bytes: a number with an optional K, M, G or T
// (times 1024), and an optional B or iB after it.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	if strings.Trim(t, "0123456789.") != "" { // not NaN, Inf, 1e-9, 0x10
		return fmt.Errorf("want a size of at least one byte such as 100M or 1G")
	}
	v, err := strconv.ParseFloat(t, 64)
	bytes := v * float64(mult)
	if err != nil || !(bytes >= 1 && bytes < 1<<62) {
		return fmt.Errorf("want a size of at least one byte such as 100M or 1G")
	}
	*b = byteSize(bytes)
	return nil
}

// days is a duration flag that also takes whole days: 7d.
type days time.Duration

func (d *days) String() string { return time.Duration(*d).String() }

func (d *days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil || v < 0 || v > int64(math.MaxInt64/(24*time.Hour)) {
			return fmt.Errorf("want a duration such as 7d or 12h, at most %dd", math.MaxInt64/(24*time.Hour))
		}
		*d = days(time.Duration(v) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as 7d or 12h")
	}
	*d = days(v)
	return nil
}
