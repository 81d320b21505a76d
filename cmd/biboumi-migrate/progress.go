package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"biboumi/store"
)

// progress prints store.Copy's progress reports. On a terminal it redraws
// one line at most five times a second; otherwise (a log file, journald)
// it prints a line every few seconds, and one at the end of each phase.
// Only Copy's goroutine calls it.
type progress struct {
	w        io.Writer
	tty      bool
	interval time.Duration
	now      func() time.Time

	phase  store.CopyPhase
	start  time.Time // of the phase
	shown  time.Time // last line printed
	drawn  bool      // a terminal line is drawn and not ended
	status store.CopyStatus
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, tty: isTerminal(w), interval: 5 * time.Second, now: time.Now}
	if p.tty {
		p.interval = 200 * time.Millisecond
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(s store.CopyStatus) {
	now := p.now()
	if s.Phase != p.phase {
		p.endLine()
		p.phase, p.start, p.shown = s.Phase, now, now
	}
	p.status = s
	if s.Final {
		p.print(p.finalLine(now))
		p.endLine()
		return
	}
	if now.Sub(p.shown) < p.interval {
		return
	}
	p.shown = now
	p.print(p.line(now))
	if !p.tty {
		p.endLine()
	}
}

// end finishes a line left drawn by an interrupted phase.
func (p *progress) end() { p.endLine() }

func (p *progress) print(line string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	} else {
		fmt.Fprint(p.w, line)
	}
	p.drawn = true
}

func (p *progress) endLine() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func (p *progress) rate(now time.Time) float64 {
	secs := now.Sub(p.start).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(p.status.Done) / secs
}

// line is, for example,
// "logs: 123,456 / 1,000,000 rows (12.3%), 54,321 rows/s, ETA 16s".
func (p *progress) line(now time.Time) string {
	s := p.status
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s / %s rows", s.Phase, comma(s.Done), comma(s.Total))
	if s.Total > 0 {
		fmt.Fprintf(&b, " (%.1f%%)", 100*float64(s.Done)/float64(s.Total))
	}
	if r := p.rate(now); r > 0 {
		fmt.Fprintf(&b, ", %s rows/s", comma(int64(r)))
		if left := s.Total - s.Done; left > 0 {
			fmt.Fprintf(&b, ", ETA %s", (time.Duration(float64(left)/r) * time.Second).Round(time.Second))
		}
	}
	return b.String()
}

// finalLine is, for example, "logs: 1,000,000 rows in 18.4s (54,321 rows/s)".
func (p *progress) finalLine(now time.Time) string {
	d := now.Sub(p.start)
	round := 100 * time.Millisecond
	if d < 10*time.Second {
		round = time.Millisecond
	}
	line := fmt.Sprintf("%s: %s rows in %s", p.status.Phase, comma(p.status.Done), d.Round(round))
	if r := p.rate(now); r > 0 && d > 100*time.Millisecond {
		line += fmt.Sprintf(" (%s rows/s)", comma(int64(r)))
	}
	return line
}

// comma formats n with thousands separators: 1234567 → "1,234,567".
func comma(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
