// Package metricstest parses the Prometheus text exposition format, for
// tests that scrape a /metrics endpoint. It is strict: anything the
// format (version 0.0.4) does not allow is an error, so a test that
// parses an exposition also checks that it is well formed.
package metricstest

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Family is one metric family: its HELP, TYPE and samples, in the order
// they were written.
type Family struct {
	Name, Help, Type string
	Samples          []Sample

	hasHelp bool
}

// Sample is one line: a series name (for a histogram, the family name
// plus _bucket, _sum or _count), its labels and value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Families maps family names to families.
type Families map[string]*Family

var (
	nameRE  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*`)
)

// Parse reads an exposition. Each family must be announced by # TYPE
// before its samples (this package's writer always does; the format
// allows otherwise, but we don't); HELP and TYPE appear at most once per
// name; a series (name and labels) appears at most once; histograms have
// increasing cumulative buckets ending with le="+Inf" equal to _count.
func Parse(r io.Reader) (Families, error) {
	fams := Families{}
	var cur *Family
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fail := func(format string, args ...any) (Families, error) {
			return nil, fmt.Errorf("line %d %q: %s", n, line, fmt.Sprintf(format, args...))
		}
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE "):
			rest := line[len("# HELP "):]
			name, text, _ := strings.Cut(rest, " ")
			if !nameRE.MatchString(name) || nameRE.FindString(name) != name {
				return fail("bad metric name")
			}
			f := fams[name]
			if f == nil {
				f = &Family{Name: name}
				fams[name] = f
			}
			if strings.HasPrefix(line, "# HELP ") {
				if f.hasHelp {
					return fail("second HELP")
				}
				f.hasHelp = true
				h, err := unescape(text, false)
				if err != nil {
					return fail("%v", err)
				}
				f.Help = h
				continue
			}
			if f.Type != "" {
				return fail("second TYPE")
			}
			if !slices.Contains([]string{"counter", "gauge", "histogram", "summary", "untyped"}, text) {
				return fail("unknown type")
			}
			if len(f.Samples) > 0 {
				return fail("TYPE after samples")
			}
			f.Type = text
			cur = f
		case strings.HasPrefix(line, "#"):
			continue // a comment
		default:
			s, err := parseSample(line)
			if err != nil {
				return fail("%v", err)
			}
			if cur == nil || !belongs(cur, s.Name) {
				return fail("sample outside its family's block")
			}
			id := s.Name + "{" + fmt.Sprint(sortedPairs(s.Labels)) + "}"
			if seen[id] {
				return fail("duplicate series")
			}
			seen[id] = true
			cur.Samples = append(cur.Samples, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, f := range fams {
		if f.Type == "histogram" {
			if err := checkHistogram(f); err != nil {
				return nil, fmt.Errorf("%s: %v", f.Name, err)
			}
		}
	}
	return fams, nil
}

func belongs(f *Family, name string) bool {
	if f.Type == "histogram" {
		return name == f.Name+"_bucket" || name == f.Name+"_sum" || name == f.Name+"_count"
	}
	return name == f.Name
}

func sortedPairs(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

func parseSample(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	s.Name = nameRE.FindString(line)
	if s.Name == "" {
		return s, fmt.Errorf("no metric name")
	}
	rest := line[len(s.Name):]
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			l := labelRE.FindString(rest)
			if l == "" {
				return s, fmt.Errorf("bad label name at %q", rest)
			}
			rest = rest[len(l):]
			if !strings.HasPrefix(rest, `="`) {
				return s, fmt.Errorf(`label %s: want ="`, l)
			}
			rest = rest[2:]
			end := -1
			for i := 0; i < len(rest); i++ {
				if rest[i] == '\\' {
					i++
					continue
				}
				if rest[i] == '"' {
					end = i
					break
				}
			}
			if end < 0 {
				return s, fmt.Errorf("label %s: unterminated value", l)
			}
			v, err := unescape(rest[:end], true)
			if err != nil {
				return s, err
			}
			if _, dup := s.Labels[l]; dup {
				return s, fmt.Errorf("label %s twice", l)
			}
			s.Labels[l] = v
			rest = rest[end+1:]
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
			} else if !strings.HasPrefix(rest, "}") {
				return s, fmt.Errorf("want , or } after label %s", l)
			}
		}
		rest = rest[1:]
	}
	if !strings.HasPrefix(rest, " ") {
		return s, fmt.Errorf("want a space before the value")
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return s, fmt.Errorf("want a value and an optional timestamp")
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return s, err
	}
	s.Value = v
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return s, fmt.Errorf("bad timestamp %q", fields[1])
		}
	}
	return s, nil
}

func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

// unescape undoes \\ and \n (HELP), and \" too in label values.
func unescape(s string, quote bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' || (quote && c == '"') {
			return "", fmt.Errorf("unescaped %q", c)
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		switch {
		case i == len(s):
			return "", fmt.Errorf("trailing backslash")
		case s[i] == '\\':
			b.WriteByte('\\')
		case s[i] == 'n':
			b.WriteByte('\n')
		case s[i] == '"' && quote:
			b.WriteByte('"')
		default:
			return "", fmt.Errorf("bad escape \\%c", s[i])
		}
	}
	return b.String(), nil
}

func checkHistogram(f *Family) error {
	type series struct {
		les        []float64
		counts     []float64
		count      float64
		haveCount  bool
		haveSum    bool
		infCounted bool
	}
	bySeries := map[string]*series{}
	get := func(labels map[string]string) *series {
		l := maps.Clone(labels)
		delete(l, "le")
		k := fmt.Sprint(sortedPairs(l))
		if bySeries[k] == nil {
			bySeries[k] = &series{}
		}
		return bySeries[k]
	}
	for _, s := range f.Samples {
		se := get(s.Labels)
		switch s.Name {
		case f.Name + "_bucket":
			le, ok := s.Labels["le"]
			if !ok {
				return fmt.Errorf("bucket without le")
			}
			u, err := parseValue(le)
			if err != nil {
				return fmt.Errorf("bad le %q", le)
			}
			if n := len(se.les); n > 0 && (u <= se.les[n-1] || s.Value < se.counts[n-1]) {
				return fmt.Errorf("buckets not increasing at le=%q", le)
			}
			se.les = append(se.les, u)
			se.counts = append(se.counts, s.Value)
			se.infCounted = math.IsInf(u, 1)
		case f.Name + "_count":
			se.count, se.haveCount = s.Value, true
		case f.Name + "_sum":
			se.haveSum = true
		}
	}
	for k, se := range bySeries {
		switch {
		case !se.infCounted:
			return fmt.Errorf("series %s: no le=\"+Inf\" bucket last", k)
		case !se.haveCount || !se.haveSum:
			return fmt.Errorf("series %s: missing _count or _sum", k)
		case se.counts[len(se.counts)-1] != se.count:
			return fmt.Errorf("series %s: +Inf bucket %v != _count %v", k, se.counts[len(se.counts)-1], se.count)
		}
	}
	return nil
}

// Value returns the value of the sample named name whose labels include
// every pair in labels (name=value, …), and whether there is exactly one.
func (fs Families) Value(name string, labels ...string) (float64, bool) {
	var found []float64
	for _, f := range fs {
		for _, s := range f.Samples {
			if s.Name != name || !matches(s.Labels, labels) {
				continue
			}
			found = append(found, s.Value)
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	return found[0], true
}

func matches(have map[string]string, want []string) bool {
	for _, kv := range want {
		k, v, _ := strings.Cut(kv, "=")
		if have[k] != v {
			return false
		}
	}
	return true
}
