package metrics

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Counter is a count that only goes up, such as a number of stanzas
// received. The zero value is ready to use; a nil *Counter ignores every
// call and reads as 0.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() {
	if c != nil {
		c.v.Add(1)
	}
}

// Add adds n.
func (c *Counter) Add(n uint64) {
	if c != nil {
		c.v.Add(n)
	}
}

// Value returns the current count.
func (c *Counter) Value() uint64 {
	if c == nil {
		return 0
	}
	return c.v.Load()
}

// Gauge is a value that goes up and down, such as a number of users. The
// zero value is ready to use; a nil *Gauge ignores every call and reads as
// 0.
type Gauge struct {
	bits atomic.Uint64 // math.Float64bits of the value
	fn   atomic.Pointer[func() float64]
}

// Set sets the value.
func (g *Gauge) Set(v float64) {
	if g != nil {
		g.bits.Store(math.Float64bits(v))
	}
}

// Add adds d (which may be negative).
func (g *Gauge) Add(d float64) {
	if g == nil {
		return
	}
	for {
		old := g.bits.Load()
		if g.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Inc adds one.
func (g *Gauge) Inc() { g.Add(1) }

// Dec subtracts one.
func (g *Gauge) Dec() { g.Add(-1) }

// SetFunc makes the gauge report f() at each scrape instead of its stored
// value, for values that are cheaper to read than to track, such as the
// length of a channel. f must be fast and safe for concurrent use. A nil f
// goes back to the stored value.
func (g *Gauge) SetFunc(f func() float64) {
	if g == nil {
		return
	}
	if f == nil {
		g.fn.Store(nil)
		return
	}
	g.fn.Store(&f)
}

// Value returns the current value.
func (g *Gauge) Value() float64 {
	if g == nil {
		return 0
	}
	if f := g.fn.Load(); f != nil {
		return (*f)()
	}
	return math.Float64frombits(g.bits.Load())
}

// Histogram counts observations, such as latencies, in buckets with fixed
// upper bounds. A nil *Histogram ignores every call.
type Histogram struct {
	upper  []float64       // bucket upper bounds, increasing; +Inf is implicit
	counts []atomic.Uint64 // per bucket (not cumulative), len(upper)+1
	sum    atomic.Uint64   // math.Float64bits of the sum of observations
}

func newHistogram(upper []float64) *Histogram {
	return &Histogram{upper: upper, counts: make([]atomic.Uint64, len(upper)+1)}
}

// Observe records v. NaN is ignored.
func (h *Histogram) Observe(v float64) {
	if h == nil || math.IsNaN(v) {
		return
	}
	// The first bucket whose upper bound is >= v ("le" semantics).
	h.counts[sort.SearchFloat64s(h.upper, v)].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// ObserveDuration records d in seconds, the Prometheus base unit.
func (h *Histogram) ObserveDuration(d time.Duration) { h.Observe(d.Seconds()) }

// HistogramSnapshot is a histogram's state at one instant, as exposed.
type HistogramSnapshot struct {
	Upper      []float64 // bucket upper bounds, without +Inf
	Cumulative []uint64  // observations <= Upper[i]; the last is +Inf, equal to Count
	Count      uint64
	Sum        float64
}

// Snapshot returns the current state. Observations made during the call
// may be missing from Sum but not from the counts, or the reverse; the
// counts are always consistent with each other (Count is the +Inf bucket).
func (h *Histogram) Snapshot() HistogramSnapshot {
	if h == nil {
		return HistogramSnapshot{}
	}
	s := HistogramSnapshot{Upper: h.upper, Cumulative: make([]uint64, len(h.counts))}
	var total uint64
	for i := range h.counts {
		total += h.counts[i].Load()
		s.Cumulative[i] = total
	}
	s.Count = total
	s.Sum = math.Float64frombits(h.sum.Load())
	return s
}

// LatencyBuckets are upper bounds in seconds suited to in-process and
// network latencies, from 0.5 ms to 10 s.
func LatencyBuckets() []float64 {
	return []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

// ExponentialBuckets returns n upper bounds: start, start×factor, …
func ExponentialBuckets(start, factor float64, n int) []float64 {
	if start <= 0 || factor <= 1 || n < 1 {
		panic("metrics: ExponentialBuckets needs start > 0, factor > 1, n >= 1")
	}
	b := make([]float64, n)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}

// vec holds the children of a labelled metric, one per combination of
// label values.
type vec[T any] struct {
	labels   []string
	newChild func() *T
	children sync.Map // key(values) → *child[T]
}

type child[T any] struct {
	values []string
	m      *T
}

// key encodes label values unambiguously (each one length-prefixed).
func key(values []string) string {
	var b strings.Builder
	for _, v := range values {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}

func (v *vec[T]) with(name string, values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values (%s), got %d", name, len(v.labels), strings.Join(v.labels, ", "), len(values)))
	}
	k := key(values)
	if c, ok := v.children.Load(k); ok {
		return c.(*child[T]).m
	}
	c, _ := v.children.LoadOrStore(k, &child[T]{values: slices.Clone(values), m: v.newChild()})
	return c.(*child[T]).m
}

// sorted returns the children ordered by label values, for a stable
// exposition.
func (v *vec[T]) sorted() []*child[T] {
	var cs []*child[T]
	v.children.Range(func(_, c any) bool {
		cs = append(cs, c.(*child[T]))
		return true
	})
	slices.SortFunc(cs, func(a, b *child[T]) int { return slices.Compare(a.values, b.values) })
	return cs
}

// CounterVec is a Counter per combination of label values. A nil
// *CounterVec returns nil children, which ignore every call.
type CounterVec struct {
	name string
	vec[Counter]
}

// With returns the counter for these label values (in the order the labels
// were declared), creating it at 0 the first time. It panics if the number
// of values is wrong. Keep the returned pointer on hot paths: With
// allocates a lookup key.
func (v *CounterVec) With(values ...string) *Counter {
	if v == nil {
		return nil
	}
	return v.with(v.name, values)
}

// GaugeVec is a Gauge per combination of label values. A nil *GaugeVec
// returns nil children, which ignore every call.
type GaugeVec struct {
	name string
	vec[Gauge]
}

// With returns the gauge for these label values, creating it at 0 the
// first time. It panics if the number of values is wrong.
func (v *GaugeVec) With(values ...string) *Gauge {
	if v == nil {
		return nil
	}
	return v.with(v.name, values)
}

// HistogramVec is a Histogram per combination of label values, all with
// the same buckets. A nil *HistogramVec returns nil children, which ignore
// every call.
type HistogramVec struct {
	name string
	vec[Histogram]
}

// With returns the histogram for these label values, creating it empty the
// first time. It panics if the number of values is wrong.
func (v *HistogramVec) With(values ...string) *Histogram {
	if v == nil {
		return nil
	}
	return v.with(v.name, values)
}

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// checkBuckets panics unless upper is strictly increasing and finite.
func checkBuckets(name string, upper []float64) []float64 {
	if len(upper) == 0 {
		panic("metrics: " + name + ": no buckets")
	}
	for i, u := range upper {
		if math.IsNaN(u) || math.IsInf(u, 0) {
			panic(fmt.Sprintf("metrics: %s: bucket %d is not finite (+Inf is implicit)", name, i))
		}
		if i > 0 && u <= upper[i-1] {
			panic(fmt.Sprintf("metrics: %s: buckets must be strictly increasing", name))
		}
	}
	return slices.Clone(upper)
}
