package main

import (
	"slices"
	"sync"
	"time"
)

// samples collects latencies from one goroutine at a time (its lock is
// uncontended: each reader goroutine has its own).
type samples struct {
	mu sync.Mutex
	ns []int64
}

func (s *samples) add(d int64) {
	s.mu.Lock()
	s.ns = append(s.ns, d)
	s.mu.Unlock()
}

func (s *samples) take() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.ns
	s.ns = nil
	return out
}

// latency summarises latency samples.
type latency struct {
	Count int     `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func summarize(ns []int64) latency {
	if len(ns) == 0 {
		return latency{}
	}
	slices.Sort(ns)
	ms := func(v int64) float64 { return float64(v) / float64(time.Millisecond) }
	return latency{
		Count: len(ns),
		P50Ms: ms(percentile(ns, 50)),
		P90Ms: ms(percentile(ns, 90)),
		P99Ms: ms(percentile(ns, 99)),
		MaxMs: ms(ns[len(ns)-1]),
	}
}

// percentile returns the nearest-rank percentile p of sorted values.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}
