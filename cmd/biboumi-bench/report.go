package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"text/tabwriter"
)

// figure is one number of the report.
type figure struct {
	Phase  string  `json:"phase"`
	Name   string  `json:"name"`
	Unit   string  `json:"unit"`
	Value  float64 `json:"value"`
	Better string  `json:"better,omitempty"` // "lower", "higher" or "" (context)
}

type phaseResult struct {
	Name       string             `json:"name"`
	WallS      float64            `json:"wall_s"`
	CPUS       map[string]float64 `json:"cpu_s"`     // per role: gateway, xmpp, irc, bench
	CPUShare   map[string]float64 `json:"cpu_share"` // CPU s / wall s (1 = one core)
	Bottleneck string             `json:"bottleneck"`
	Deliveries int64              `json:"deliveries,omitempty"`
}

type memory struct {
	IdleRSS    int64   `json:"idle_rss_bytes"`
	JoinedRSS  int64   `json:"joined_rss_bytes"`
	PerUserRSS float64 `json:"rss_per_user_bytes"`
	// HalfRSS is sampled when half of the N×M self-presences had arrived
	// (HalfJoined of them); MarginalRSS is (JoinedRSS-HalfRSS) per user
	// of the second half: what one more user costs once the fixed costs
	// (code paths first run, database pages, runtime minimums) are paid.
	HalfRSS     int64   `json:"half_joined_rss_bytes"`
	HalfJoined  int64   `json:"half_joined_presences"`
	MarginalRSS float64 `json:"rss_per_user_marginal_bytes"`
	PeakRSS     int64   `json:"peak_rss_bytes"`
	SettledRSS  int64   `json:"after_steady_rss_bytes"`
}

type steadyResult struct {
	DurationS             float64          `json:"duration_s"`
	UserIntervalS         float64          `json:"user_interval_s"`
	IRCIntervalS          float64          `json:"irc_interval_s"`
	SentXMPP              int64            `json:"sent_xmpp"`
	SentIRC               int64            `json:"sent_irc"`
	OfferedDeliveriesPerS float64          `json:"offered_deliveries_per_s"`
	DrainS                float64          `json:"drain_s"`
	Lost                  map[string]int64 `json:"missing_after_drain"`
	XMPPToIRC             latency          `json:"xmpp_to_irc"`
	IRCToXMPP             latency          `json:"irc_to_xmpp"`
	XMPPToIRCToXMPP       latency          `json:"xmpp_to_irc_to_other_users"`
}

type fanoutResult struct {
	Lines                   int     `json:"lines"`
	Expected                int64   `json:"expected"`
	Delivered               int64   `json:"delivered"`
	Complete                bool    `json:"complete"`
	WallS                   float64 `json:"wall_s"`
	DeliveriesPerS          float64 `json:"deliveries_per_s"`
	GatewayCPUUsPerDelivery float64 `json:"gateway_cpu_us_per_delivery"`
	Delivery                latency `json:"delivery_latency"`
	Bottleneck              string  `json:"bottleneck"`
}

type runResult struct {
	Target          string `json:"target"`
	Gateway         string `json:"gateway"`
	GatewayIdentity string `json:"gateway_identity,omitempty"`
	DB              string `json:"db"`
	DBPath          string `json:"db_path,omitempty"`
	Users           int    `json:"users"`
	Channels        int    `json:"channels"`
	Lines           int    `json:"lines"`
	StartedAt       string `json:"started_at"`
	LoadAvgBefore   string `json:"load_average_before"`
	// MachineBusyBefore is the share of all CPU time that was busy just
	// before the run (other people's processes on a shared machine).
	MachineBusyBefore float64             `json:"machine_busy_percent_before"`
	Profiles          []string            `json:"profiles,omitempty"`
	WallS             float64             `json:"wall_s"`
	Error             string              `json:"error,omitempty"`
	Figures           []figure            `json:"figures"`
	Phases            []*phaseResult      `json:"phases"`
	Memory            memory              `json:"memory"`
	Steady            *steadyResult       `json:"steady,omitempty"`
	Fanout            *fanoutResult       `json:"fanout,omitempty"`
	Processes         map[string][]string `json:"processes,omitempty"`
	TCPDuringJoin     map[string]int64    `json:"tcp_counters_during_join,omitempty"`
	JoinLatency       *latency            `json:"join_latency_per_user,omitempty"`
	GatewayLog        []string            `json:"gateway_log_warnings,omitempty"`
	Notes             []string            `json:"notes,omitempty"`
}

func (r *runResult) add(phase, name, unit string, v float64, better string) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	r.Figures = append(r.Figures, figure{Phase: phase, Name: name, Unit: unit, Value: v, Better: better})
}

func (r *runResult) get(phase, name string) (float64, bool) {
	for _, f := range r.Figures {
		if f.Phase == phase && f.Name == name {
			return f.Value, true
		}
	}
	return 0, false
}

// check is one of the lead's targets for ours against Biboumi.
type check struct {
	Size    string  `json:"size"`
	What    string  `json:"what"`
	Against string  `json:"against"`
	Ratio   float64 `json:"ratio"`
	Goal    string  `json:"goal,omitempty"` // "": a remark, no ratio
	Pass    bool    `json:"pass"`
}

type report struct {
	Environment environment  `json:"environment"`
	Options     any          `json:"options"`
	Runs        []*runResult `json:"runs"`
	Checks      []check      `json:"checks"`
}

func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func fmtRatio(a, b float64) string {
	if b == 0 || a == 0 {
		return "–"
	}
	r := a / b
	if r >= 10 {
		return fmt.Sprintf("%.1f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}

// report prints the tables, the bottlenecks and the checks, and writes
// the JSON file.
func (b *bench) report() {
	o := b.o
	w := b.out
	fmt.Fprintf(w, "\n== biboumi-bench results ==\n")
	fmt.Fprintf(w, "command: %s\n", b.env.Command)
	e := b.env
	fmt.Fprintf(w, "machine: %d CPUs (%s), %s RAM, Linux %s, %s; load average at start %s\n", e.CPUs, e.CPUModel, e.MemTotal, e.Kernel, e.Go, e.LoadAvg)
	var vers []string
	for _, k := range []string{o.xmpp, o.irc, "biboumi"} {
		if v := e.Versions[k]; v != "" {
			vers = append(vers, k+" "+v)
		}
	}
	fmt.Fprintf(w, "versions: ours %s; %s\n", e.OursCommit, strings.Join(vers, ", "))
	joins := "all at once"
	if o.joinRate > 0 {
		joins = fmt.Sprintf("%g users/s", o.joinRate)
	}
	fmt.Fprintf(w, "servers: %s (c2s, component), %s; joins %s; steady phase %v (IRC line every %v per channel); fan-out %d lines; databases on %s\n",
		o.xmpp, o.irc, joins, o.duration, o.ircInterval, o.lines, o.db)
	if len(o.oursConfig) > 0 {
		fmt.Fprintf(w, "our gateway's configuration adds: %s\n", strings.Join(o.oursConfig, "; "))
	}

	var checks []check
	for _, sz := range o.sizes {
		var runs []*runResult
		for _, r := range b.results {
			if r.Users == sz.Users && r.Channels == sz.Channels {
				runs = append(runs, r)
			}
		}
		if len(runs) == 0 {
			continue
		}
		var ours *runResult
		for _, r := range runs {
			if r.Gateway == "ours" && ours == nil {
				ours = r
			}
		}
		fmt.Fprintf(w, "\n-- N=%d users × M=%d channels (every user in every channel), F=%d --\n", sz.Users, sz.Channels, o.lines)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		head := []string{"phase", "figure", "unit"}
		for _, r := range runs {
			head = append(head, r.Target)
		}
		var others []*runResult
		for _, r := range runs {
			if ours != nil && r != ours {
				others = append(others, r)
				head = append(head, ours.Target+"/"+r.Target)
			}
		}
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		type key struct{ phase, name string }
		var rows []figure
		seen := map[key]bool{}
		for _, r := range runs {
			for _, f := range r.Figures {
				k := key{f.Phase, f.Name}
				if !seen[k] {
					seen[k] = true
					rows = append(rows, f)
				}
			}
		}
		for _, f := range rows {
			name := f.Name
			switch f.Better {
			case "lower":
				name += " ↓"
			case "higher":
				name += " ↑"
			}
			cells := []string{f.Phase, name, f.Unit}
			for _, r := range runs {
				if v, ok := r.get(f.Phase, f.Name); ok {
					cells = append(cells, fmtNum(v))
				} else {
					cells = append(cells, "–")
				}
			}
			for _, r := range others {
				a, ok1 := ours.get(f.Phase, f.Name)
				c, ok2 := r.get(f.Phase, f.Name)
				if ok1 && ok2 {
					cells = append(cells, fmtRatio(a, c))
				} else {
					cells = append(cells, "–")
				}
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		tw.Flush()
		for _, r := range runs {
			if r.Error != "" {
				fmt.Fprintf(w, "%s: FAILED: %s\n", r.Target, firstLine(r.Error))
			}
			for _, l := range r.GatewayLog {
				fmt.Fprintf(w, "%s: gateway log: %s\n", r.Target, l)
			}
			if r.Fanout != nil {
				var ph *phaseResult
				for _, p := range r.Phases {
					if p.Name == "fan-out" {
						ph = p
					}
				}
				if ph != nil {
					fmt.Fprintf(w, "%s: fan-out bottleneck: %s (%s at %.0f%% of a core; gateway %.0f%%, %s %.0f%%, %s %.0f%%, load generator %.0f%%)\n",
						r.Target, ph.Bottleneck, strings.Join(r.Processes[ph.Bottleneck], "+"), 100*ph.CPUShare[ph.Bottleneck],
						100*ph.CPUShare["gateway"], o.xmpp, 100*ph.CPUShare["xmpp"], o.irc, 100*ph.CPUShare["irc"], 100*ph.CPUShare["bench"])
				}
			}
		}
		if ours != nil {
			checks = append(checks, b.checks(sz, ours, others)...)
		}
	}
	if len(checks) > 0 {
		fmt.Fprintf(w, "\n-- targets (ours against Biboumi 9.0) --\n")
		for _, c := range checks {
			if c.Goal == "" {
				fmt.Fprintf(w, "%s  %s\n", c.Size, c.What)
				continue
			}
			mark := "MISSED"
			if c.Pass {
				mark = "met"
			}
			fmt.Fprintf(w, "%s  %s vs %s: ratio %s (goal %s): %s\n", c.Size, c.What, c.Against, fmtNum(c.Ratio), c.Goal, mark)
		}
	}
	if o.jsonPath != "" {
		rep := report{Environment: b.env, Runs: b.results, Checks: checks, Options: map[string]any{
			"sizes": o.sizes, "lines": o.lines, "duration_s": o.duration.Seconds(), "interval_s": o.msgInterval.Seconds(),
			"irc_interval_s": o.ircInterval.Seconds(), "steady_load": o.steadyLoad, "xmpp": o.xmpp, "irc": o.irc,
			"targets": o.targets, "db": o.db, "log_level": o.logLevel, "ours_config": o.oursConfig,
		}}
		data, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(o.jsonPath, append(data, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(w, "\nwriting %s: %v\n", o.jsonPath, err)
		} else {
			fmt.Fprintf(w, "\nJSON: %s\n", o.jsonPath)
		}
	}
	fmt.Fprintf(w, "command: %s\n", b.env.Command)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// checks compares ours with each Biboumi run of a size against the
// lead's targets: fan-out deliveries/s ≥ 10× (databases on disk), CPU
// per delivery ≤ 0.25× (Biboumi's database on tmpfs), RSS per user ≤
// 0.5×, IRC→XMPP p99 ≤ 0.2× (at N ≥ 500).
func (b *bench) checks(sz size, ours *runResult, others []*runResult) []check {
	var out []check
	for _, r := range others {
		if r.Gateway != "biboumi" || r.Error != "" && r.Fanout == nil {
			continue
		}
		add := func(what, phase, name, goal string, limit float64, atLeast bool) {
			a, ok1 := ours.get(phase, name)
			c, ok2 := r.get(phase, name)
			if !ok1 || !ok2 || c == 0 {
				return
			}
			ratio := a / c
			pass := ratio <= limit
			if atLeast {
				pass = ratio >= limit
			}
			out = append(out, check{Size: sz.String(), What: what, Against: r.Target, Ratio: ratio, Goal: goal, Pass: pass})
		}
		complete := func(x *runResult) bool { return x.Fanout != nil && x.Fanout.Complete }
		switch {
		case complete(ours) && complete(r):
			if r.DB == "disk" && ours.DB == "disk" {
				add("fan-out deliveries/s", "fan-out", "deliveries per second", "≥ 10", 10, true)
			}
			if r.DB == "tmpfs" {
				add("gateway CPU per delivery", "fan-out", "gateway CPU per delivery", "≤ 0.25", 0.25, false)
			}
		case ours.Fanout != nil && r.Fanout != nil:
			out = append(out, check{Size: sz.String(), What: fmt.Sprintf("fan-out not comparable: delivered %.1f%% (ours) and %.1f%% (%s) of N×F",
				100*float64(ours.Fanout.Delivered)/float64(ours.Fanout.Expected), 100*float64(r.Fanout.Delivered)/float64(r.Fanout.Expected), r.Target), Against: r.Target})
		}
		add("gateway RSS per bridged user", "memory", "gateway RSS per bridged user", "≤ 0.5", 0.5, false)
		if sz.Users >= 500 {
			add("IRC→XMPP p99", "steady", "IRC→XMPP p99", "≤ 0.2", 0.2, false)
		}
	}
	return out
}
