//go:build linux

package main

import (
	"math"
	"math/bits"
	"time"
)

// latencyEvery is how often a writing goroutine times its Write: every 16th
// record, so that the two clock reads cost a record about 3 ns on average
// and the cost table's figures stay those of the writer alone.
const latencyEvery = 16

// histogram counts durations in log-linear buckets: exact below 32 ns, then
// 16 buckets per power of two (at most 6.25% wide). Each writing goroutine
// fills its own, allocated before the cell starts, so that timing a record
// allocates nothing and shares no cache line.
type histogram [histBuckets]uint64

const (
	histSubBits = 4 // 16 buckets per power of two
	histLinear  = 2 << histSubBits
	histBuckets = histLinear + (64-histSubBits-1)*(1<<histSubBits)
)

// bucket is the index of d's bucket.
func bucket(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < histLinear {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1 // v>>e is in [16, 32)
	return histLinear + (e-1)<<histSubBits + int(v>>e) - 1<<histSubBits
}

// bucketMid is the middle of bucket i, in nanoseconds.
func bucketMid(i int) float64 {
	if i < histLinear {
		return float64(i)
	}
	e := (i-histLinear)>>histSubBits + 1
	m := uint64((i-histLinear)&(1<<histSubBits-1) + 1<<histSubBits)
	return float64(m<<e) + float64(uint64(1)<<e)/2
}

func (h *histogram) add(d time.Duration) { h[bucket(d)]++ }

func (h *histogram) merge(o *histogram) {
	for i, n := range o {
		h[i] += n
	}
}

// quantile is the q-quantile (0 < q ≤ 1) in nanoseconds, as the middle of
// its bucket; -1 when the histogram is empty.
func (h *histogram) quantile(q float64) float64 {
	var total uint64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return -1
	}
	rank := max(uint64(math.Ceil(q*float64(total))), 1)
	var seen uint64
	for i, n := range h {
		seen += n
		if seen >= rank {
			return bucketMid(i)
		}
	}
	return bucketMid(histBuckets - 1)
}
