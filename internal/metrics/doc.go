// Package metrics is a small, dependency-free Prometheus exposition: typed
// counters, gauges and histograms with labels, kept in a Registry and
// written in the Prometheus text format (version 0.0.4) by
// Registry.WriteText or served by Registry.Handler.
//
// It is not a client library: there is no push, no protobuf, no summary
// type, no exemplars. What it has:
//
//   - Counter: a monotonically increasing integer (lock-free).
//   - Gauge: a float64 that goes up and down (lock-free), or whose value is
//     read from a function at scrape time (SetFunc).
//   - Histogram: fixed bucket upper bounds, chosen at creation; Observe is
//     lock-free (one atomic add per bucket hit, a CAS loop for the sum).
//   - CounterVec, GaugeVec, HistogramVec: the same, partitioned by label
//     values. With returns the child for one combination of values,
//     creating it the first time (sync.Map: no lock once it exists).
//
// Everything is safe for concurrent use, and the package holds no mutable
// package-level state: a program makes one Registry and passes it (or the
// typed metric set built on it, Gateway) to whoever needs it.
//
// Every metric type's methods accept a nil receiver and do nothing, so a
// component given no metrics needs no "if m != nil" checks.
//
// Gateway is the gateway's own metric set, one typed field per metric, and
// the only thing the rest of the program should need: see its fields for
// the names, and docs/operations.md for what they mean in production.
package metrics
