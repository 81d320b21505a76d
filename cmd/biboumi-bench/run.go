package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"biboumi/internal/servers"

	"github.com/ergochat/irc-go/ircmsg"
)

// t0 is the time base of the timestamps embedded in messages: every
// sender and receiver lives in this process, so a monotonic clock is
// enough.
var t0 = time.Now()

func mono() int64 { return int64(time.Since(t0)) }

const (
	componentHost = "irc.localhost"
	ircHost       = "127.0.0.1" // the IRC server as named in JIDs
)

func roomName(k int) string { return "#bench" + strconv.Itoa(k) }
func roomJID(k int) string  { return roomName(k) + "%" + ircHost + "@" + componentHost }
func userNick(i int) string { return "u" + strconv.Itoa(i) }

// roomIndex returns k for a JID "#benchK%…", or -1.
func roomIndex(from string) int {
	rest, ok := strings.CutPrefix(from, "#bench")
	if !ok {
		return -1
	}
	n := 0
	i := 0
	for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
		n = n*10 + int(rest[i]-'0')
	}
	if i == 0 || i >= len(rest) || rest[i] != '%' {
		return -1
	}
	return n
}

// lastInt parses the last space-separated field of b as a decimal
// integer (the send time of a marker), or returns -1.
func lastInt(b []byte) int64 {
	i := bytes.LastIndexByte(b, ' ')
	if i < 0 || i == len(b)-1 {
		return -1
	}
	var n int64
	for _, c := range b[i+1:] {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// fieldInt returns the i-th space-separated field of b (0-based) as an
// integer, or -1.
func fieldInt(b []byte, i int) int {
	for ; i > 0; i-- {
		j := bytes.IndexByte(b, ' ')
		if j < 0 {
			return -1
		}
		b = b[j+1:]
	}
	n, ok := 0, false
	for _, c := range b {
		if c == ' ' {
			break
		}
		if c < '0' || c > '9' {
			return -1
		}
		n, ok = n*10+int(c-'0'), true
	}
	if !ok {
		return -1
	}
	return n
}

func atomicMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// user is the state of one bridged user in a run. joined is only
// touched by the user's reader goroutine.
type user struct {
	c        *xclient
	joined   []bool
	nJoined  int          // rooms joined, by the reader goroutine
	joinSent atomic.Int64 // when the join presences were sent (mono)
	joinDone atomic.Int64 // when the last self-presence came
	i2x      samples      // IRC → XMPP latencies seen by this user
	x2x      samples      // XMPP → IRC → XMPP (other users' messages)
	fan      samples      // fan-out: time from the IRC write to delivery
}

// run is one measurement: one size, one gateway.
type run struct {
	b   *bench
	sz  size
	tg  target
	dir string
	res *runResult

	ircs   *servers.IRCServer
	prof   *profiler // nil unless -pprof and ours
	logCut int64     // size of the gateway log when the measurements ended
	tops   []profileTop
	gw     *servers.Process
	gwLog  string
	users  []*user
	ircc   []*servers.IRCClient
	x2i    []samples // per IRC client: XMPP → IRC latencies
	pids   map[string][]int

	joined    atomic.Int64
	lastJoin  atomic.Int64
	i2xGot    atomic.Int64
	x2xGot    atomic.Int64
	x2iGot    atomic.Int64
	reflected atomic.Int64
	fanGot    atomic.Int64
	lastFan   atomic.Int64
	errs      atomic.Int64
	errMu     sync.Mutex
	errSample []string
	ircDrain  sync.WaitGroup
}

// roles whose processes are measured, in report order.
var roles = []string{"gateway", "xmpp", "irc", "bench"}

func (r *run) logf(format string, args ...any) {
	r.b.logf("[%s %s] "+format, append([]any{r.tg.Name, r.sz}, args...)...)
}

// usage samples every role.
func (r *run) usage() map[string]procUsage {
	m := map[string]procUsage{}
	for _, role := range roles {
		m[role] = readUsage(r.pids[role])
	}
	return m
}

// phase records CPU per role between two samples.
func (r *run) phase(name string, a, b map[string]procUsage, deliveries int64) *phaseResult {
	wall := b["bench"].At.Sub(a["bench"].At)
	p := &phaseResult{Name: name, WallS: wall.Seconds(), CPUS: map[string]float64{}, CPUShare: map[string]float64{}}
	best := 0.0
	for _, role := range roles {
		cpu := b[role].CPU - a[role].CPU
		p.CPUS[role] = cpu.Seconds()
		if wall > 0 {
			p.CPUShare[role] = cpu.Seconds() / wall.Seconds()
		}
		if role != "bench" && p.CPUShare[role] > best {
			best, p.Bottleneck = p.CPUShare[role], role
		}
	}
	if deliveries > 0 {
		p.Deliveries = deliveries
	}
	r.res.Phases = append(r.res.Phases, p)
	return p
}

func (r *run) noteError(st []byte) {
	if r.errs.Add(1) > 5 {
		return
	}
	r.errMu.Lock()
	defer r.errMu.Unlock()
	s := string(st)
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	r.errSample = append(r.errSample, s)
}

// handle is every user's stanza handler (on its reader goroutine).
func (r *run) handle(c *xclient, st []byte) {
	u := r.users[c.idx]
	switch {
	case bytes.HasPrefix(st, []byte("<message")):
		if attr(st, "type") == "error" {
			r.noteError(st)
			return
		}
		b := body(st)
		if len(b) < 4 {
			return
		}
		now := mono()
		switch string(b[:4]) {
		case "fan ":
			if t := lastInt(b); t >= 0 {
				u.fan.add(now - t)
			}
			r.fanGot.Add(1)
			atomicMax(&r.lastFan, now)
		case "i2x ":
			if t := lastInt(b); t >= 0 {
				u.i2x.add(now - t)
			}
			r.i2xGot.Add(1)
		case "x2i ":
			if fieldInt(b, 1) == c.idx {
				r.reflected.Add(1)
				return
			}
			if t := lastInt(b); t >= 0 {
				u.x2x.add(now - t)
			}
			r.x2xGot.Add(1)
		}
	case bytes.HasPrefix(st, []byte("<presence")):
		k := roomIndex(attr(st, "from"))
		if k < 0 || k >= len(u.joined) {
			return
		}
		switch attr(st, "type") {
		case "error":
			r.noteError(st)
		case "":
			if hasStatus(st, "110") && !u.joined[k] {
				now := mono()
				u.joined[k] = true
				u.nJoined++
				if u.nJoined == len(u.joined) {
					u.joinDone.Store(now)
				}
				r.joined.Add(1)
				atomicMax(&r.lastJoin, now)
			}
		}
	}
}

// waitFor polls cond every 5 ms until it holds or the deadline passes.
func waitFor(deadline time.Time, cond func() bool) bool {
	for !cond() {
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// do runs f(i) for i < n with at most conc at once and returns the
// errors joined (at most a few are kept).
func do(n, conc int, f func(i int) error) error {
	var (
		mu   sync.Mutex
		errs []error
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if len(errs) < 3 {
						errs = append(errs, err)
					} else if len(errs) == 3 {
						errs = append(errs, errors.New("(more errors)"))
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// execute runs one measurement and fills its result; an error ends it
// early (the figures measured so far stay).
func (r *run) execute() (err error) {
	o := r.b.o
	N, M := r.sz.Users, r.sz.Channels
	defer r.teardown()
	defer func() { // before teardown: what the gateway logs while stopping is not counted
		if fi, err := os.Stat(r.gwLog); err == nil {
			r.logCut = fi.Size()
		}
	}()

	// The IRC server: a fresh one per run.
	ircDir := filepath.Join(r.dir, o.irc)
	if err := os.MkdirAll(ircDir, 0o755); err != nil {
		return err
	}
	if o.irc == "inspircd" {
		r.ircs, err = servers.StartInspircd(ircDir, servers.IRCOptions{})
	} else {
		r.ircs, err = servers.StartNgircd(ircDir, servers.IRCOptions{})
	}
	if err != nil {
		return fmt.Errorf("starting %s: %w", o.irc, err)
	}

	if err := r.startGateway(); err != nil {
		return err
	}
	r.pids = map[string][]int{
		"gateway": r.gw.GroupPids(),
		"xmpp":    r.b.xs.Process().GroupPids(),
		"irc":     r.ircs.Process().GroupPids(),
		"bench":   {os.Getpid()},
	}
	r.res.Processes = map[string][]string{}
	for role, pids := range r.pids {
		r.res.Processes[role] = procComm(pids)
	}

	// A raw IRC client in every channel, there before the users.
	nicks := make([]string, M)
	for k := range nicks {
		nicks[k] = "ircb" + strconv.Itoa(k)
	}
	r.ircc, err = servers.DialIRCs(r.ircs.Addr, nicks...)
	if err != nil {
		return err
	}
	r.x2i = make([]samples, M)
	for k, ic := range r.ircc {
		if err := ic.Join(roomName(k), 20*time.Second); err != nil {
			return err
		}
		r.ircDrain.Add(1)
		go r.drainIRC(k, ic)
	}

	// Login: N c2s sessions.
	r.users = make([]*user, N)
	u0 := r.usage()
	t := time.Now()
	err = do(N, o.loginConc, func(i int) error {
		c, err := dialXMPP(r.b.xs.C2SAddr, r.b.xs.Domain, accountName(i), accountPassword, userNick(i))
		if err != nil {
			return err
		}
		c.idx, c.nick = i, userNick(i)
		c.handle = r.handle
		r.users[i] = &user{c: c, joined: make([]bool, M)}
		c.start()
		return nil
	})
	loginWall := time.Since(t)
	u1 := r.usage()
	r.phase("login", u0, u1, 0)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	r.res.add("login", "all N users logged in (c2s)", "s", loginWall.Seconds(), "lower")
	r.logf("login: %d users in %v", N, loginWall.Round(time.Millisecond))

	if r.tg.Kind == "biboumi" {
		t := time.Now()
		if err := do(N, o.loginConc, r.configureUser); err != nil {
			return fmt.Errorf("ad-hoc configure: %w", err)
		}
		d := time.Since(t)
		r.res.add("configure", "ad-hoc configure of the IRC server, all users", "s", d.Seconds(), "lower")
		r.logf("configure: ports=%d for %d users in %v", r.ircs.Port, N, d.Round(time.Millisecond))
	}

	// Memory with every user logged in but nobody bridged.
	time.Sleep(500 * time.Millisecond)
	idle := readUsage(r.pids["gateway"])

	// Join: every user in every room, -join-rate users a second (all
	// of a user's rooms at once).
	tcp0 := tcpCounters()
	u2 := r.usage()
	start := mono()
	// RSS when half of the self-presences are in, for the marginal cost
	// of a user (see memory.MarginalRSS).
	type halfSample struct {
		rss    int64
		joined int64
	}
	halfC := make(chan halfSample, 1)
	halfCtx, halfStop := context.WithCancel(context.Background())
	defer halfStop()
	go func() {
		for r.joined.Load() < int64(N*M)/2 {
			select {
			case <-halfCtx.Done():
				halfC <- halfSample{}
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		j := r.joined.Load()
		halfC <- halfSample{rss: readUsage(r.pids["gateway"]).RSS, joined: j}
	}()
	for i, u := range r.users {
		if o.joinRate > 0 {
			if d := time.Duration(start + int64(float64(i)/o.joinRate*float64(time.Second)) - mono()); d > 0 {
				time.Sleep(d)
			}
		}
		u.joinSent.Store(mono())
		for k := range M {
			if err := u.c.write("<presence to='" + escape(roomJID(k)+"/"+userNick(i)) + "'><x xmlns='" + nsMUC + "'><history maxstanzas='0'/></x></presence>"); err != nil {
				return fmt.Errorf("join: %w", err)
			}
		}
		if r.errs.Load() > 0 {
			break
		}
	}
	want := int64(N * M)
	ok := waitFor(time.Now().Add(o.joinTimeout), func() bool { return r.joined.Load() >= want || r.errs.Load() > 0 })
	u3 := r.usage()
	ph := r.phase("join", u2, u3, 0)
	tcp1 := tcpCounters()
	r.res.TCPDuringJoin = map[string]int64{}
	for k, v := range tcp1 {
		r.res.TCPDuringJoin[k] = v - tcp0[k]
	}
	if !ok || r.joined.Load() < want {
		return fmt.Errorf("join: %d of %d self-presences after %v (%d error stanzas; system-wide during the join: %d accept-queue overflows, %d TCP retransmissions)%s",
			r.joined.Load(), want, time.Duration(mono()-start).Round(time.Millisecond), r.errs.Load(),
			r.res.TCPDuringJoin["ListenOverflows"], r.res.TCPDuringJoin["RetransSegs"], r.errorText())
	}
	joinWall := time.Duration(r.lastJoin.Load() - start)
	var perUser []int64
	for _, u := range r.users {
		perUser = append(perUser, u.joinDone.Load()-u.joinSent.Load())
	}
	jl := summarize(perUser)
	r.res.JoinLatency = &jl
	r.res.add("join", "all N×M self-presences (110)", "s", joinWall.Seconds(), "lower")
	r.res.add("join", "one user in all M rooms, p50", "ms", jl.P50Ms, "lower")
	r.res.add("join", "one user in all M rooms, p99", "ms", jl.P99Ms, "lower")
	r.res.add("join", "gateway CPU per room join", "ms", ph.CPUS["gateway"]*1000/float64(want), "lower")
	r.logf("join: %d self-presences in %v, per user p50 %.0f ms p99 %.0f ms (system-wide during the join: %d accept-queue overflows, %d TCP retransmissions)",
		want, joinWall.Round(time.Millisecond), jl.P50Ms, jl.P99Ms, r.res.TCPDuringJoin["ListenOverflows"], r.res.TCPDuringJoin["RetransSegs"])

	time.Sleep(2 * time.Second)
	joined := readUsage(r.pids["gateway"])
	r.res.Memory = memory{IdleRSS: idle.RSS, JoinedRSS: joined.RSS, PerUserRSS: float64(joined.RSS-idle.RSS) / float64(N)}
	r.res.add("memory", "gateway RSS, users logged in, none bridged", "MiB", mib(idle.RSS), "lower")
	r.res.add("memory", "gateway RSS, all joined", "MiB", mib(joined.RSS), "lower")
	r.res.add("memory", "gateway RSS per bridged user", "KiB", r.res.Memory.PerUserRSS/1024, "lower")
	halfStop()
	if h := <-halfC; h.rss > 0 && h.joined < want {
		// Users still to join at the sample, counted in users (M rooms each).
		rest := float64(want-h.joined) / float64(M)
		r.res.Memory.HalfRSS, r.res.Memory.HalfJoined = h.rss, h.joined
		r.res.Memory.MarginalRSS = float64(joined.RSS-h.rss) / rest
		r.res.add("memory", "gateway RSS per bridged user, marginal (second half of the joins)", "KiB", r.res.Memory.MarginalRSS/1024, "lower")
	}
	if r.prof != nil {
		r.profileMemory()
	}

	if err := r.steady(); err != nil {
		return err
	}
	// Memory again once the join's garbage had 20 s to be collected and
	// returned (Go's scavenger gives pages back gradually).
	settled := readUsage(r.pids["gateway"])
	r.res.Memory.SettledRSS = settled.RSS
	r.res.add("memory", "gateway RSS after the steady phase", "MiB", mib(settled.RSS), "lower")
	r.res.add("memory", "gateway RSS per bridged user, after the steady phase", "KiB", float64(settled.RSS-idle.RSS)/float64(N)/1024, "lower")
	ferr := r.fanout() // an incomplete fan-out still has the figures below
	end := readUsage(r.pids["gateway"])
	r.res.Memory.PeakRSS = end.HWM
	r.res.add("memory", "gateway peak RSS (VmHWM)", "MiB", mib(end.HWM), "lower")
	r.res.add("run", "messages bounced with an error", "", float64(r.errs.Load()), "lower")
	return ferr
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func (r *run) errorText() string {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.errSample) == 0 {
		return ""
	}
	return "\nfirst errors:\n  " + strings.Join(r.errSample, "\n  ")
}

// drainIRC reads what IRC client k receives until it is closed, and
// times the XMPP users' messages.
func (r *run) drainIRC(k int, ic *servers.IRCClient) {
	defer r.ircDrain.Done()
	for {
		_, err := ic.Expect(func(m ircmsg.Message) bool {
			if m.Command != "PRIVMSG" || len(m.Params) < 2 {
				return false
			}
			text := m.Params[1]
			if strings.HasPrefix(text, "x2i ") {
				now := mono()
				if t := lastInt([]byte(text)); t >= 0 {
					r.x2i[k].add(now - t)
				}
				r.x2iGot.Add(1)
			}
			return false
		}, time.Hour)
		if err == nil || errors.Is(err, servers.ErrClosed) {
			return
		}
	}
}

// configureUser runs Biboumi's "configure" ad-hoc command on the IRC
// server's JID, as a user would in a client: execute, then submit the
// form it returned with ports set to the IRC server's and no TLS ports.
// Biboumi 9 reads its IRC ports only from these per-user options.
func (r *run) configureUser(i int) error {
	c := r.users[i].c
	to := ircHost + "@" + componentHost
	id := "cfg-a-" + strconv.Itoa(i)
	res, err := c.iq(id, "<iq type='set' id='"+id+"' to='"+to+"'><command xmlns='"+nsCmd+"' node='configure' action='execute'/></iq>", 30*time.Second)
	if err != nil {
		return err
	}
	if attr(res, "type") != "result" {
		return fmt.Errorf("configure (execute) for %s: %.500s", c.jid, res)
	}
	ci := bytes.Index(res, []byte("<command"))
	if ci < 0 {
		return fmt.Errorf("configure: no command in %.500s", res)
	}
	sid := attr(res[ci:], "sessionid")
	fields, err := parseForm(res)
	if err != nil {
		return fmt.Errorf("configure: %w in %.500s", err, res)
	}
	var sb strings.Builder
	sb.WriteString("<x xmlns='" + nsData + "' type='submit'>")
	seenPorts := false
	for _, f := range fields {
		if f.Var == "" || f.Type == "fixed" {
			continue
		}
		vals := f.Values
		switch f.Var {
		case "ports":
			vals, seenPorts = []string{strconv.Itoa(r.ircs.Port)}, true
		case "tls_ports":
			vals = nil
		}
		sb.WriteString("<field var='" + escape(f.Var) + "'>")
		for _, v := range vals {
			sb.WriteString("<value>" + escape(v) + "</value>")
		}
		sb.WriteString("</field>")
	}
	if !seenPorts {
		return fmt.Errorf("configure: the form has no ports field: %.500s", res)
	}
	sb.WriteString("</x>")
	id = "cfg-b-" + strconv.Itoa(i)
	res, err = c.iq(id, "<iq type='set' id='"+id+"' to='"+to+"'><command xmlns='"+nsCmd+"' node='configure' sessionid='"+escape(sid)+"' action='complete'>"+sb.String()+"</command></iq>", 30*time.Second)
	if err != nil {
		return err
	}
	if attr(res, "type") != "result" || bytes.Contains(res, []byte("type='error'")) || bytes.Contains(res, []byte(`type="error"`)) {
		return fmt.Errorf("configure (submit) for %s: %.500s", c.jid, res)
	}
	return nil
}

type formField struct {
	Var    string   `xml:"var,attr"`
	Type   string   `xml:"type,attr"`
	Values []string `xml:"value"`
}

// parseForm returns the fields of the first data form in st.
func parseForm(st []byte) ([]formField, error) {
	d := xml.NewDecoder(bytes.NewReader(st))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, errors.New("no data form")
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "x" || se.Name.Space != nsData {
			continue
		}
		var form struct {
			Fields []formField `xml:"field"`
		}
		if err := d.DecodeElement(&form, &se); err != nil {
			return nil, err
		}
		return form.Fields, nil
	}
}

// event is one message of the steady phase's schedule.
type event struct {
	at   time.Duration
	user int // -1: the IRC client of room
	room int
}

// steady: every user sends one message every interval into one room,
// and every room's IRC client one line every irc-interval, for the
// duration; then everything still on the way gets a drain period.
func (r *run) steady() error {
	o := r.b.o
	N, M := r.sz.Users, r.sz.Channels
	interval := r.userInterval()
	var evs []event
	for i := range N {
		off := time.Duration(float64(interval) * (float64(i) + rand.Float64()) / float64(N))
		for t := off; t < o.duration; t += interval {
			evs = append(evs, event{at: t, user: i, room: i % M})
		}
	}
	for k := range M {
		off := time.Duration(float64(o.ircInterval) * (float64(k) + 0.5) / float64(M))
		for t := off; t < o.duration; t += o.ircInterval {
			evs = append(evs, event{at: t, user: -1, room: k})
		}
	}
	sort.Slice(evs, func(a, b int) bool { return evs[a].at < evs[b].at })
	var sentX, sentI int64
	r.res.Steady = &steadyResult{
		DurationS: o.duration.Seconds(), UserIntervalS: interval.Seconds(), IRCIntervalS: o.ircInterval.Seconds(),
	}
	r.logf("steady: %v, each user one message every %v, each IRC client one line every %v", o.duration, interval, o.ircInterval)

	time.Sleep(time.Second)
	r.startCPUProfile("cpu-steady.pprof")
	u0 := r.usage()
	begin := time.Now()
	seq := 0
	for _, ev := range evs {
		if d := time.Until(begin.Add(ev.at)); d > 0 {
			time.Sleep(d)
		}
		seq++
		if ev.user >= 0 {
			text := "x2i " + strconv.Itoa(ev.user) + " " + strconv.Itoa(seq) + " " + strconv.FormatInt(mono(), 10)
			if err := r.users[ev.user].c.write("<message to='" + escape(roomJID(ev.room)) + "' type='groupchat'><body>" + text + "</body></message>"); err != nil {
				return fmt.Errorf("steady: %w", err)
			}
			sentX++
		} else {
			text := "i2x " + strconv.Itoa(ev.room) + " " + strconv.Itoa(seq) + " " + strconv.FormatInt(mono(), 10)
			if err := r.ircc[ev.room].Privmsg(roomName(ev.room), text); err != nil {
				return fmt.Errorf("steady: %w", err)
			}
			sentI++
		}
	}
	if d := time.Until(begin.Add(o.duration)); d > 0 {
		time.Sleep(d)
	}
	u1 := r.usage()
	r.stopCPUProfile("cpu-steady.pprof")
	wantX2I, wantX2X, wantI2X := sentX, sentX*int64(N-1), sentI*int64(N)
	done := func() bool {
		return r.x2iGot.Load() >= wantX2I && r.x2xGot.Load() >= wantX2X && r.i2xGot.Load() >= wantI2X
	}
	drained := waitFor(time.Now().Add(o.drainTimeout), done)
	drain := time.Since(begin.Add(o.duration))
	u2 := r.usage()
	ph := r.phase("steady", u0, u1, 0)
	r.phase("steady-drain", u1, u2, 0)

	s := r.res.Steady
	s.SentXMPP, s.SentIRC = sentX, sentI
	s.OfferedDeliveriesPerS = float64(wantX2I+wantX2X+wantI2X+sentX) / o.duration.Seconds()
	s.DrainS = drain.Seconds()
	s.Lost = map[string]int64{
		"xmpp_to_irc":           wantX2I - r.x2iGot.Load(),
		"xmpp_to_irc_to_xmpp":   wantX2X - r.x2xGot.Load(),
		"irc_to_xmpp":           wantI2X - r.i2xGot.Load(),
		"reflections_missing":   sentX - r.reflected.Load(),
		"expected_xmpp_to_irc":  wantX2I,
		"expected_irc_to_xmpp":  wantI2X,
		"expected_xmpp_to_xmpp": wantX2X,
	}
	var x2i, x2x, i2x []int64
	for k := range r.x2i {
		x2i = append(x2i, r.x2i[k].take()...)
	}
	for _, u := range r.users {
		x2x = append(x2x, u.x2x.take()...)
		i2x = append(i2x, u.i2x.take()...)
	}
	s.XMPPToIRC, s.XMPPToIRCToXMPP, s.IRCToXMPP = summarize(x2i), summarize(x2x), summarize(i2x)

	r.res.add("steady", "offered load (deliveries)", "/s", s.OfferedDeliveriesPerS, "")
	for _, l := range []struct {
		name string
		lat  latency
	}{{"XMPP→IRC", s.XMPPToIRC}, {"IRC→XMPP", s.IRCToXMPP}, {"XMPP→IRC→other users", s.XMPPToIRCToXMPP}} {
		if l.lat.Count > 0 { // no sample: no figure, rather than a flattering 0
			r.res.add("steady", l.name+" p50", "ms", l.lat.P50Ms, "lower")
			r.res.add("steady", l.name+" p99", "ms", l.lat.P99Ms, "lower")
		}
	}
	r.res.add("steady", "deliveries missing after drain", "", float64(s.Lost["xmpp_to_irc"]+s.Lost["xmpp_to_irc_to_xmpp"]+s.Lost["irc_to_xmpp"]), "lower")
	r.res.add("steady", "gateway CPU", "s", ph.CPUS["gateway"], "lower")
	r.res.add("steady", "gateway CPU share", "%", 100*ph.CPUShare["gateway"], "lower")
	r.logf("steady: sent %d XMPP + %d IRC messages; XMPP→IRC p50/p99 %.1f/%.1f ms, IRC→XMPP %.1f/%.1f ms; drained=%v in %v",
		sentX, sentI, s.XMPPToIRC.P50Ms, s.XMPPToIRC.P99Ms, s.IRCToXMPP.P50Ms, s.IRCToXMPP.P99Ms, drained, drain.Round(time.Millisecond))
	return nil
}

// userInterval is the time between two messages of one user in the
// steady phase: -interval, or by default 5 s, made longer when N users
// in one room would offer more than -steady-load deliveries per second
// (each message reaches all N users of its room).
func (r *run) userInterval() time.Duration {
	o := r.b.o
	if o.msgInterval > 0 {
		return o.msgInterval
	}
	N := float64(r.sz.Users)
	iv := 5 * time.Second
	if need := time.Duration(N * N / float64(o.steadyLoad) * float64(time.Second)); need > iv {
		iv = need
	}
	return iv
}

// fanout: the IRC client of the first room writes F lines at once; all
// N users must get all of them.
func (r *run) fanout() error {
	o := r.b.o
	N, F := r.sz.Users, o.lines
	time.Sleep(time.Second)
	r.fanGot.Store(0)
	want := int64(N * F)
	r.startCPUProfile("cpu-fanout.pprof")
	u0 := r.usage()
	start := mono()
	ic := r.ircc[0]
	for s := range F {
		if err := ic.Privmsg(roomName(0), "fan "+strconv.Itoa(s)+" "+strconv.FormatInt(mono(), 10)); err != nil {
			return fmt.Errorf("fan-out: %w", err)
		}
	}
	deadline := time.Now().Add(o.fanTimeout)
	// Stalled: nothing delivered and the gateway idle (under 2% of a
	// core) for -stall-timeout, e.g. because it dropped what is missing.
	// A gateway that works but delivers late (Biboumi writes everything
	// to its database before it sends) is not stalled.
	lastGot, lastProgress := int64(0), time.Now()
	lastCPU, lastCheck := readUsage(r.pids["gateway"]).CPU, time.Now()
	stalled := false
	ok := waitFor(deadline, func() bool {
		got := r.fanGot.Load()
		if got >= want {
			return true
		}
		if time.Since(lastCheck) < time.Second {
			return false
		}
		cpu := readUsage(r.pids["gateway"]).CPU
		busy := float64(cpu-lastCPU) / float64(time.Since(lastCheck))
		lastCPU, lastCheck = cpu, time.Now()
		if got != lastGot || busy > 0.02 {
			lastGot, lastProgress = got, time.Now()
		} else if time.Since(lastProgress) > o.stallTimeout {
			stalled = true
			return true
		}
		return false
	})
	ok = ok && !stalled
	u1 := r.usage()
	r.stopCPUProfile("cpu-fanout.pprof")
	got := r.fanGot.Load()
	end := r.lastFan.Load()
	if !ok {
		end = mono()
	}
	wall := time.Duration(end - start)
	ph := r.phase("fan-out", u0, u1, got)
	var lat []int64
	for _, u := range r.users {
		lat = append(lat, u.fan.take()...)
	}
	f := &fanoutResult{Lines: F, Expected: want, Delivered: got, Complete: ok, WallS: wall.Seconds(), Delivery: summarize(lat)}
	if wall > 0 {
		f.DeliveriesPerS = float64(got) / wall.Seconds()
	}
	if got > 0 {
		f.GatewayCPUUsPerDelivery = ph.CPUS["gateway"] * 1e6 / float64(got)
	}
	f.Bottleneck = ph.Bottleneck
	r.res.Fanout = f
	r.res.add("fan-out", "deliveries per second", "/s", f.DeliveriesPerS, "higher")
	if ok {
		r.res.add("fan-out", "time until all N×F delivered", "s", wall.Seconds(), "lower")
	}
	if got > 0 {
		r.res.add("fan-out", "delivery p50 (from the IRC write)", "ms", f.Delivery.P50Ms, "lower")
		r.res.add("fan-out", "delivery p99 (from the IRC write)", "ms", f.Delivery.P99Ms, "lower")
		r.res.add("fan-out", "gateway CPU per delivery", "µs", f.GatewayCPUUsPerDelivery, "lower")
	}
	for _, role := range roles {
		r.res.add("fan-out", "CPU share "+role, "%", 100*ph.CPUShare[role], "")
	}
	r.res.add("fan-out", "delivered of N×F", "%", 100*float64(got)/float64(want), "higher")
	r.logf("fan-out: %d/%d in %v = %.0f deliveries/s, gateway %.1f µs CPU/delivery; CPU shares gateway %.0f%% xmpp %.0f%% irc %.0f%% bench %.0f%%",
		got, want, wall.Round(time.Millisecond), f.DeliveriesPerS, f.GatewayCPUUsPerDelivery,
		100*ph.CPUShare["gateway"], 100*ph.CPUShare["xmpp"], 100*ph.CPUShare["irc"], 100*ph.CPUShare["bench"])
	if stalled {
		return fmt.Errorf("fan-out: %d of %d deliveries, then none for %v while the gateway was idle (stalled: the rest is lost)", got, want, o.stallTimeout)
	}
	if !ok {
		return fmt.Errorf("fan-out: %d of %d deliveries within %v", got, want, o.fanTimeout)
	}
	return nil
}

// teardown closes the clients and stops the gateway and the IRC server.
func (r *run) teardown() {
	var wg sync.WaitGroup
	for _, u := range r.users {
		if u != nil {
			wg.Add(1)
			go func() { defer wg.Done(); u.c.close() }()
		}
	}
	wg.Wait()
	for _, ic := range r.ircc {
		wg.Add(1)
		go func() { defer wg.Done(); _ = ic.Close() }()
	}
	wg.Wait()
	r.ircDrain.Wait()
	if r.gw != nil {
		if err := r.gw.Stop(); err != nil {
			r.logf("stopping the gateway: %v", err)
		}
		if exited, werr := r.gw.Exited(); exited && werr != nil {
			r.res.Notes = append(r.res.Notes, fmt.Sprintf("gateway exit after SIGTERM: %v", werr))
		}
	}
	if r.ircs != nil {
		_ = r.ircs.Stop()
	}
}

// startGateway writes the configuration of the gateway under test,
// starts it and waits until it answers disco#info through the XMPP
// server.
func (r *run) startGateway() error {
	o := r.b.o
	dir := filepath.Join(r.dir, "gateway")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dbDir := dir
	if r.tg.DB == "tmpfs" {
		d, err := r.b.tmpfsDir()
		if err != nil {
			return err
		}
		dbDir = d
	}
	r.gwLog = filepath.Join(dir, "gateway.log")
	xs := r.b.xs
	var argv []string
	switch r.tg.Kind {
	case "ours":
		extra := ""
		if len(o.oursConfig) > 0 {
			extra = "# -ours-config:\n" + strings.Join(o.oursConfig, "\n") + "\n"
		}
		db := filepath.Join(dbDir, r.tg.Name+"-"+r.sz.String()+".sqlite")
		cfg := filepath.Join(dir, "biboumi.toml")
		text := fmt.Sprintf(`# Written by biboumi-bench.
hostname = %q
password = %q
xmpp_server_ip = "127.0.0.1"
port = %d
db_name = %q
identd_port = 0
log_file = %q
log_level = %q
%s
[irc]
tls_ports = []
ports = [%d]
`, componentHost, xs.Secret, xs.ComponentPort, db, r.gwLog, o.logLevel, extra, r.ircs.Port)
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			return err
		}
		argv = []string{r.b.oursBin, cfg}
		r.res.DBPath = db
	case "biboumi":
		db := filepath.Join(dbDir, r.tg.Name+"-"+r.sz.String()+".sqlite")
		cfg := filepath.Join(dir, "biboumi.cfg")
		level := map[string]string{"debug": "0", "info": "1", "warn": "2", "error": "3"}[o.logLevel]
		text := fmt.Sprintf("hostname=%s\npassword=%s\nxmpp_server_ip=127.0.0.1\nport=%d\ndb_name=%s\nidentd_port=0\nlog_file=%s\nlog_level=%s\n",
			componentHost, xs.Secret, xs.ComponentPort, db, r.gwLog, level)
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			return err
		}
		argv = []string{r.b.biboumiBin, cfg}
		r.res.DBPath = db
	}
	var env []string
	if o.pprofDir != "" && r.tg.Kind == "ours" {
		port, err := servers.FreePort()
		if err != nil {
			return err
		}
		r.prof = &profiler{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: o.pprofDir, pre: r.tg.Name + "-" + r.sz.String() + "-"}
		env = append(env, pprofEnv+"="+r.prof.addr)
		r.res.Notes = append(r.res.Notes, "our gateway was built with the -pprof profiling hook; CPU profiling was on during the steady and fan-out phases")
	}
	var err error
	r.gw, err = servers.StartProcess(servers.ProcessConfig{
		Name:    r.tg.Kind,
		Dir:     dir,
		Env:     env,
		Argv:    argv,
		Logs:    []string{r.gwLog},
		Timeout: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		if exited, werr := r.gw.Exited(); exited {
			return fmt.Errorf("the gateway exited at start (%v):\n%s", werr, r.gw.Logs())
		}
		id := "probe-" + strconv.Itoa(i)
		res, err := r.b.probe.iq(id, "<iq type='get' id='"+id+"' to='"+componentHost+"'><query xmlns='"+nsDisco+"'/></iq>", 5*time.Second)
		if err != nil {
			return fmt.Errorf("probing the gateway: %w", err)
		}
		if attr(res, "type") == "result" {
			if i := bytes.Index(res, []byte("<identity")); i >= 0 {
				r.res.GatewayIdentity = attr(res[i:], "name")
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway does not answer disco#info through %s after 30 s: %.300s\n%s", xs.Kind, res, r.gw.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logWarnings counts the warnings and errors of a gateway log by message
// and returns the most frequent ones, "count× level message". Ours logs
// logfmt (level=WARN msg="…"), Biboumi "[WARNING]: file:line:\tmessage".
func logWarnings(path string, cut int64) (top []string, total int) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0
	}
	if cut > 0 && cut < int64(len(data)) {
		data = data[:cut]
	}
	counts := map[string]int{}
	for _, line := range strings.Split(string(data), "\n") {
		var key string
		switch {
		case strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR"):
			level := "WARN"
			if strings.Contains(line, "level=ERROR") {
				level = "ERROR"
			}
			msg := line
			if i := strings.Index(line, "msg="); i >= 0 {
				msg = line[i+4:]
				if strings.HasPrefix(msg, `"`) {
					if j := strings.Index(msg[1:], `"`); j >= 0 {
						msg = msg[1 : j+1]
					}
				} else if j := strings.IndexByte(msg, ' '); j >= 0 {
					msg = msg[:j]
				}
			}
			if i := strings.Index(line, " err="); i >= 0 {
				msg += " (" + strings.Trim(line[i+5:], `"`) + ")"
			}
			key = level + " " + msg
		case strings.HasPrefix(line, "[WARNING]") || strings.HasPrefix(line, "[ERROR]"):
			level, rest, _ := strings.Cut(line, ":")
			if i := strings.IndexByte(rest, '\t'); i >= 0 {
				rest = rest[i+1:]
			}
			key = strings.Trim(level, "[]") + " " + strings.TrimSpace(rest)
		default:
			continue
		}
		if len(key) > 200 {
			key = key[:200] + "…"
		}
		counts[key]++
		total++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if counts[keys[a]] != counts[keys[b]] {
			return counts[keys[a]] > counts[keys[b]]
		}
		return keys[a] < keys[b]
	})
	var out []string
	for i, k := range keys {
		if i == 5 {
			out = append(out, fmt.Sprintf("… and %d other messages", len(keys)-5))
			break
		}
		out = append(out, fmt.Sprintf("%d× %s", counts[k], k))
	}
	return out, total
}

// profileMemory saves the heap and goroutine profiles and MemStats of
// our gateway (with every user joined) and logs the top of the heap.
func (r *run) profileMemory() {
	for _, p := range []struct{ path, name string }{
		{"/profile/heap", "heap.pprof"},
		{"/profile/goroutine", "goroutine.pprof"},
		{"/profile/goroutine?debug=1", "goroutine.txt"},
		{"/memstats", "memstats.json"},
	} {
		f, err := r.prof.save(p.path, p.name)
		if err != nil {
			r.logf("profile %s: %v", p.name, err)
			continue
		}
		r.res.Profiles = append(r.res.Profiles, f)
		switch p.name {
		case "memstats.json":
			data, _ := os.ReadFile(f)
			r.logf("MemStats after the join: %s", strings.TrimSpace(string(data)))
		case "heap.pprof":
			r.tops = append(r.tops, profileTop{"heap after the join (inuse_space)", f, []string{"-sample_index=inuse_space"}})
		}
	}
}

func (r *run) startCPUProfile(name string) {
	if r.prof == nil {
		return
	}
	if err := r.prof.startCPU(name); err != nil {
		r.logf("CPU profile %s: %v", name, err)
	}
}

func (r *run) stopCPUProfile(name string) {
	if r.prof == nil {
		return
	}
	if err := r.prof.stopCPU(); err != nil {
		r.logf("CPU profile %s: %v", name, err)
		return
	}
	f := r.prof.file(name)
	r.res.Profiles = append(r.res.Profiles, f)
	r.tops = append(r.tops, profileTop{"CPU profile " + name, f, nil})
}

// profileTop is a profile to summarise once the run is over (go tool
// pprof costs CPU time the measurement should not see).
type profileTop struct {
	what, file string
	args       []string
}

func (r *run) logProfiles() {
	for _, t := range r.tops {
		r.logf("%s (%s):\n%s", t.what, t.file, pprofTop(r.b.oursBin, t.file, t.args...))
	}
}
