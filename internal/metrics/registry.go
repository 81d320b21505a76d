package metrics

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Registry holds metric families and writes them in the Prometheus text
// format. Create metrics with its New* methods, at start-up: they panic on
// an invalid or duplicate name, which is a programming error. A Registry
// is safe for concurrent use; its zero value is not usable, call
// NewRegistry.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
}

// family is one metric name with its HELP, TYPE and samples.
type family struct {
	name, help, typ string
	write           func(w *expWriter, f *family) // appends the samples
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{families: make(map[string]*family)}
}

func (r *Registry) add(name, help, typ string, labels []string, write func(*expWriter, *family)) {
	if !metricNameRE.MatchString(name) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	for i, l := range labels {
		if !labelNameRE.MatchString(l) || strings.HasPrefix(l, "__") {
			panic(fmt.Sprintf("metrics: %s: invalid label name %q", name, l))
		}
		if typ == "histogram" && l == "le" {
			panic(fmt.Sprintf("metrics: %s: a histogram cannot have a label \"le\"", name))
		}
		if slices.Contains(labels[:i], l) {
			panic(fmt.Sprintf("metrics: %s: duplicate label %q", name, l))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.families[name]; dup {
		panic(fmt.Sprintf("metrics: %s registered twice", name))
	}
	r.families[name] = &family{name: name, help: help, typ: typ, write: write}
}

// NewCounter registers and returns a counter. By convention its name ends
// in _total.
func (r *Registry) NewCounter(name, help string) *Counter {
	c := new(Counter)
	r.add(name, help, "counter", nil, func(w *expWriter, f *family) {
		w.sample(f.name, nil, nil, "", "", float64(c.Value()))
	})
	return c
}

// NewCounterVec registers and returns a counter partitioned by labels.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	v := &CounterVec{name: name, vec: vec[Counter]{labels: slices.Clone(labels), newChild: func() *Counter { return new(Counter) }}}
	r.add(name, help, "counter", labels, func(w *expWriter, f *family) {
		for _, c := range v.sorted() {
			w.sample(f.name, v.labels, c.values, "", "", float64(c.m.Value()))
		}
	})
	return v
}

// NewGauge registers and returns a gauge.
func (r *Registry) NewGauge(name, help string) *Gauge {
	g := new(Gauge)
	r.add(name, help, "gauge", nil, func(w *expWriter, f *family) {
		w.sample(f.name, nil, nil, "", "", g.Value())
	})
	return g
}

// NewGaugeVec registers and returns a gauge partitioned by labels.
func (r *Registry) NewGaugeVec(name, help string, labels ...string) *GaugeVec {
	v := &GaugeVec{name: name, vec: vec[Gauge]{labels: slices.Clone(labels), newChild: func() *Gauge { return new(Gauge) }}}
	r.add(name, help, "gauge", labels, func(w *expWriter, f *family) {
		for _, c := range v.sorted() {
			w.sample(f.name, v.labels, c.values, "", "", c.m.Value())
		}
	})
	return v
}

// NewHistogram registers and returns a histogram with these bucket upper
// bounds (strictly increasing, finite; +Inf is added). By convention its
// name ends with the unit, such as _seconds.
func (r *Registry) NewHistogram(name, help string, buckets []float64) *Histogram {
	h := newHistogram(checkBuckets(name, buckets))
	r.add(name, help, "histogram", nil, func(w *expWriter, f *family) {
		w.histogram(f.name, nil, nil, h.Snapshot())
	})
	return h
}

// NewHistogramVec registers and returns a histogram partitioned by labels.
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	upper := checkBuckets(name, buckets)
	v := &HistogramVec{name: name, vec: vec[Histogram]{labels: slices.Clone(labels), newChild: func() *Histogram { return newHistogram(upper) }}}
	r.add(name, help, "histogram", labels, func(w *expWriter, f *family) {
		for _, c := range v.sorted() {
			w.histogram(f.name, v.labels, c.values, c.m.Snapshot())
		}
	})
	return v
}

// WriteText writes every family, sorted by name, in the Prometheus text
// exposition format 0.0.4.
func (r *Registry) WriteText(out io.Writer) error {
	r.mu.Lock()
	fams := make([]*family, 0, len(r.families))
	for _, f := range r.families {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	w := &expWriter{}
	for _, f := range fams {
		w.buf.WriteString("# HELP ")
		w.buf.WriteString(f.name)
		w.buf.WriteByte(' ')
		w.buf.WriteString(escapeHelp(f.help))
		w.buf.WriteString("\n# TYPE ")
		w.buf.WriteString(f.name)
		w.buf.WriteByte(' ')
		w.buf.WriteString(f.typ)
		w.buf.WriteByte('\n')
		f.write(w, f)
	}
	_, err := out.Write(w.buf.Bytes())
	return err
}

// ContentType is the media type of WriteText's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler returns an http.Handler serving the exposition to GET and HEAD.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			rw.Header().Set("Allow", "GET, HEAD")
			http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var buf bytes.Buffer
		if err := r.WriteText(&buf); err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		rw.Header().Set("Content-Type", ContentType)
		rw.Header().Set("Cache-Control", "no-store")
		rw.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		if req.Method == http.MethodGet {
			rw.Write(buf.Bytes())
		}
	})
}

// expWriter accumulates the exposition.
type expWriter struct{ buf bytes.Buffer }

// sample writes one line: name{labels[,extraName="extraVal"]} value.
func (w *expWriter) sample(name string, labels, values []string, extraName, extraVal string, v float64) {
	w.buf.WriteString(name)
	if len(labels) > 0 || extraName != "" {
		w.buf.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.label(l, values[i])
		}
		if extraName != "" {
			if len(labels) > 0 {
				w.buf.WriteByte(',')
			}
			w.label(extraName, extraVal)
		}
		w.buf.WriteByte('}')
	}
	w.buf.WriteByte(' ')
	w.buf.WriteString(formatFloat(v))
	w.buf.WriteByte('\n')
}

func (w *expWriter) label(name, value string) {
	w.buf.WriteString(name)
	w.buf.WriteString(`="`)
	w.buf.WriteString(escapeLabel(value))
	w.buf.WriteByte('"')
}

func (w *expWriter) histogram(name string, labels, values []string, s HistogramSnapshot) {
	for i, u := range s.Upper {
		w.sample(name+"_bucket", labels, values, "le", formatFloat(u), float64(s.Cumulative[i]))
	}
	w.sample(name+"_bucket", labels, values, "le", "+Inf", float64(s.Count))
	w.sample(name+"_sum", labels, values, "", "", s.Sum)
	w.sample(name+"_count", labels, values, "", "", float64(s.Count))
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// escapeHelp escapes a HELP text: backslash and newline.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(toUTF8(s))
}

// escapeLabel escapes a label value: backslash, double quote and newline.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(toUTF8(s))
}

// toUTF8 replaces invalid UTF-8, which the format does not allow.
func toUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
