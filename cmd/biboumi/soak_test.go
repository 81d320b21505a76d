package main

// The soak test: many XMPP users in many channels on inspircd through
// prosody, talking both ways for a while, with PostgreSQL, the XMPP
// server and the IRC server each restarted once under the load. Every
// message is counted on every side; the gateway's memory and goroutines
// are watched.
//
//	go test -run TestSoak ./cmd/biboumi/                    the short version (20 users × 4 channels × 30 s), also in CI
//	BIBOUMI_SOAK=10m go test -v -run TestSoak -timeout 30m ./cmd/biboumi/   the full version (200 users × 20 channels); make soak
//	BIBOUMI_SOAK=off                                         skips it
//
// BIBOUMI_SOAK_USERS and BIBOUMI_SOAK_CHANNELS change the scale, and
// BIBOUMI_SOAK_REPORT=FILE writes the summary table to FILE as well.
//
// # The accounting
//
// Each message carries a unique body ("s <sender> <n>"). Its receivers are
// the other participants of its channel: the IRC observer of the channel
// (for a message from XMPP), every XMPP user of the channel (the sender
// gets it as its reflection), and the archive of every XMPP user of the
// channel (read with SQL from PostgreSQL after the run, and through MAM
// for a sample). A message is "required" at a receiver when the design
// promises it there, "excused" when an outage makes it legitimately
// undeliverable; every required one must arrive exactly once, and nothing
// may ever arrive twice. Precisely, with δ = 2 s of margin:
//
//   - A message enters its channel at te: when it was sent, except an XMPP
//     user's message sent between the gateway's "Connection to the IRC
//     server lost" notice and its "Reconnected" notice, which the gateway
//     queues and sends when it has rejoined (te = the "Reconnected"
//     notice).
//   - Excused everywhere: an XMPP user's message sent in [XMPP server
//     stop − δ, the user's return] (a server that is shutting down may
//     close the component link before it routes the message: seen once, a
//     message sent 70 ms after prosody got SIGTERM reached neither IRC nor
//     any archive) or in [IRC server crash − δ, the user's "lost" notice]
//     (written to a connection that was already dead: the gateway cannot
//     know); an observer's message sent in [IRC crash − δ, its return].
//   - The IRC observer must get it when it was in the channel over
//     [te − δ, te + δ]; an IRC server restart takes everybody out until
//     they rejoin, and IRC keeps no history.
//   - An XMPP user must get it live when both its gateway's IRC connection
//     was in the channel and its XMPP session was joined over [te − δ,
//     te + δ]. While the XMPP server is down the user is offline: nothing
//     is stored offline for groupchat.
//   - The archive of an XMPP user must have it when the gateway's IRC
//     connection for that user was in the channel over [te − δ, te + δ],
//     whatever the state of XMPP: channels are persistent
//     (persistent_by_default), so the gateway stays in them while the user
//     is offline, and a PostgreSQL restart excuses nothing.
//
// Besides: no message may arrive anywhere twice, in a channel it was not
// sent to, or without having been sent; no gateway user may leave an IRC
// channel except through the IRC server's restart; MAM must give one
// user's archive as the database has it; and the gateway's goroutines
// after the run, with the same users joined, may exceed those before it
// by at most max(10, 2 %).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"biboumi/internal/pgcluster"
	"biboumi/internal/servers"
	"biboumi/internal/testenv"

	"github.com/ergochat/irc-go/ircmsg"
)

// soakParams is the scale of a soak run.
type soakParams struct {
	users, channels int
	duration        time.Duration
	xmppPeriod      time.Duration // between two messages of one XMPP user
	ircPeriod       time.Duration // between two messages of one IRC observer
	full            bool
}

func soakFromEnv(t *testing.T) soakParams {
	p := soakParams{users: 20, channels: 4, duration: 30 * time.Second, xmppPeriod: 4 * time.Second, ircPeriod: time.Second}
	switch v := os.Getenv("BIBOUMI_SOAK"); v {
	case "":
	case "off", "0", "false", "no":
		t.Skip("BIBOUMI_SOAK=" + v)
	default:
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("BIBOUMI_SOAK=%q: want a duration such as 10m, or off", v)
		}
		p = soakParams{users: 200, channels: 20, duration: d, xmppPeriod: 20 * time.Second, ircPeriod: 2 * time.Second, full: true}
	}
	for _, e := range []struct {
		name string
		v    *int
	}{{"BIBOUMI_SOAK_USERS", &p.users}, {"BIBOUMI_SOAK_CHANNELS", &p.channels}} {
		if s := os.Getenv(e.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want a positive number", e.name, s)
			}
			*e.v = n
		}
	}
	if p.channels > p.users {
		p.channels = p.users
	}
	return p
}

const soakMargin = 2 * time.Second // δ

// soakUser is one XMPP user and what happened to it.
type soakUser struct {
	name string // localpart and IRC nick: u007
	ch   int
	room string // room JID

	mu sync.Mutex
	// IRC-side presence of its gateway connection in the channel:
	// [joined, ircDown] ∪ [ircBack, ∞); XMPP-side: [joined, xmppDown]
	// ∪ [xmppBack, ∞). The down times are the test's, global.
	joined, xmppBack, ircLost, ircBack time.Time
	sent, bounced                      int
	joins, refused                     int
}

// soakObs is the IRC observer of one channel.
type soakObs struct {
	name    string // IRC nick: o03
	channel string // "#soak3"

	mu      sync.Mutex
	joined  time.Time // first join
	back    time.Time // join after the IRC restart
	sent    int
	quitsOf map[string]int // QUIT or PART of gateway users, by phase
}

// soakMsg is one message sent.
type soakMsg struct {
	body   string
	sender string
	xmpp   bool
	ch     int
	ts     time.Time
}

// soak is one soak run: participants, messages, receipts, phases.
type soak struct {
	t    *testing.T
	p    soakParams
	host string // gateway domain

	mu      sync.Mutex
	msgs    map[string]*soakMsg
	recv    map[string]map[string]int // body → receiver → count
	lat     []time.Duration           // live deliveries outside outages
	slow    []soakSlow                // those of them over a second
	unknown []string                  // bodies received that nobody sent
	errs    []string                  // protocol surprises, reported at the end
	seq     int

	users []*soakUser
	obs   []*soakObs

	// sending is 1 while the participants talk: 0 before, 2 after.
	sending atomic.Int32

	// Phases, set by the test goroutine before the participants can see
	// their effects, read under mu.
	xmppDown, xmppUp, ircDown, ircUp, pgDown, pgUp time.Time
}

func (s *soak) errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) < 200 {
		s.errs = append(s.errs, fmt.Sprintf(format, args...))
	}
}

// newBody registers a message about to be sent.
func (s *soak) newBody(sender string, xmpp bool, ch int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	body := fmt.Sprintf("s %s %d", sender, s.seq)
	s.msgs[body] = &soakMsg{body: body, sender: sender, xmpp: xmpp, ch: ch, ts: time.Now()}
	return body
}

// received records body at receiver.
func (s *soak) received(body, receiver string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs[body]
	if m == nil {
		s.unknown = append(s.unknown, body+" at "+receiver)
		return
	}
	r := s.recv[body]
	if r == nil {
		r = map[string]int{}
		s.recv[body] = r
	}
	r[receiver]++
	if r[receiver] == 1 {
		if inWindow(m.ts, s.xmppDown.Add(-soakMargin), s.xmppUp) || inWindow(m.ts, s.ircDown.Add(-soakMargin), s.ircUp) {
			return
		}
		s.lat = append(s.lat, now.Sub(m.ts))
		if d := now.Sub(m.ts); d > time.Second {
			kind := "IRC→XMPP"
			switch {
			case m.xmpp && receiver == m.sender:
				kind = "reflection"
			case m.xmpp && strings.HasPrefix(receiver, "o"):
				kind = "XMPP→IRC"
			case m.xmpp:
				kind = "XMPP→IRC→XMPP"
			}
			s.slow = append(s.slow, soakSlow{m, receiver, kind, d})
		}
	}
}

// soakSlow is a live delivery outside the outages that took over a second.
type soakSlow struct {
	m        *soakMsg
	receiver string
	kind     string
	took     time.Duration
}

func inWindow(t, from, to time.Time) bool {
	return !from.IsZero() && !t.Before(from) && (to.IsZero() || !t.After(to))
}

// ---- the participants ----

// runUser plays one XMPP user until read is done, sending while
// s.sending is 1; it logs in again whenever the connection ends.
func (s *soak) runUser(u *soakUser, xs *testenv.XMPPServer, read <-chan struct{}) {
	next := time.Now().Add(rand.N(s.p.xmppPeriod))
	for {
		var c *servers.XMPPClient
		for c == nil {
			select {
			case <-read:
				return
			default:
			}
			var err error
			if c, err = servers.DialXMPP(xs.C2SAddr, xs.Domain, u.name, alicePassword, "soak"); err != nil {
				time.Sleep(200 * time.Millisecond)
			}
		}
		joined := false
		joinPresence := fmt.Sprintf(`<presence to='%s/%s'><x xmlns='%s'><history maxstanzas='0'/></x></presence>`, u.room, u.name, nsMUC)
		if err := c.SendRaw(joinPresence); err != nil {
			c.Close()
			continue
		}
		var rejoinAt time.Time // when a refused join is tried again
		firstRefusal := time.Time{}
		handle := func(e *servers.Element) bool {
			switch {
			case e.Name() == "presence" && e.Attr("from") == u.room+"/"+u.name:
				switch {
				case e.Attr("type") == "error":
					// Right after the XMPP server's restart the component
					// may not be connected yet: the server bounces the
					// join. Try again a little later.
					if firstRefusal.IsZero() {
						firstRefusal = time.Now()
					} else if time.Since(firstRefusal) > 30*time.Second {
						s.errorf("%s: join refused for 30 s: %s", u.name, e)
					}
					u.mu.Lock()
					u.refused++
					u.mu.Unlock()
					rejoinAt = time.Now().Add(300 * time.Millisecond)
				case e.Attr("type") == "" && hasStatus(e, "110") && !joined:
					joined = true
					now := time.Now()
					u.mu.Lock()
					u.joins++
					if u.joined.IsZero() {
						u.joined = now
					} else {
						u.xmppBack = now
					}
					u.mu.Unlock()
				}
			case e.Name() == "message" && e.Attr("type") == "error":
				u.mu.Lock()
				u.bounced++
				u.mu.Unlock()
				s.errorf("%s: message bounced: %s", u.name, e)
			case e.Name() == "message" && e.Attr("type") == "groupchat" && e.Attr("from") == u.room:
				// A room notice from the gateway.
				body := e.ChildText("body")
				now := time.Now()
				u.mu.Lock()
				switch {
				case strings.HasPrefix(body, "Connection to the IRC server lost"):
					u.ircLost = now
				case strings.HasPrefix(body, "Reconnected to the IRC server"):
					u.ircBack = now
				}
				u.mu.Unlock()
			case e.Name() == "message" && e.Attr("type") == "groupchat" && strings.HasPrefix(e.Attr("from"), u.room+"/"):
				if e.Child("delay") == nil && strings.HasPrefix(e.ChildText("body"), "s ") {
					s.received(e.ChildText("body"), u.name)
				}
			case e.Name() == "message" && e.Child("body") != nil && strings.HasPrefix(e.ChildText("body"), "s "):
				s.errorf("%s: a soak message from elsewhere: %s", u.name, e)
			}
			return false
		}
		for {
			_, err := c.Expect(handle, 100*time.Millisecond)
			if err != nil && !errors.Is(err, servers.ErrTimeout) {
				break // the connection ended: log in again
			}
			select {
			case <-read:
				c.Close()
				return
			default:
			}
			if !joined && !rejoinAt.IsZero() && time.Now().After(rejoinAt) {
				rejoinAt = time.Time{}
				if err := c.SendRaw(joinPresence); err != nil {
					break
				}
			}
			if s.sending.Load() != 1 {
				continue
			}
			if joined && time.Now().After(next) {
				body := s.newBody(u.name, true, u.ch)
				if err := c.SendRaw(fmt.Sprintf(`<message to='%s' type='groupchat' id='%s'><body>%s</body></message>`, u.room, strings.ReplaceAll(body, " ", "-"), body)); err != nil {
					break
				}
				u.mu.Lock()
				u.sent++
				u.mu.Unlock()
				next = next.Add(s.p.xmppPeriod/2 + rand.N(s.p.xmppPeriod))
				if time.Until(next) < -s.p.xmppPeriod {
					next = time.Now() // after an outage: no burst of catch-up
				}
			}
		}
		c.Close()
	}
}

// runObs plays the IRC observer of a channel: it says a line every
// ircPeriod and counts what the XMPP users say; it reconnects whenever
// the connection ends.
func (s *soak) runObs(o *soakObs, addr string, read <-chan struct{}) {
	next := time.Now().Add(rand.N(s.p.ircPeriod))
	for {
		var c *servers.IRCClient
		for c == nil {
			select {
			case <-read:
				return
			default:
			}
			var err error
			if c, err = servers.DialIRC(addr, o.name); err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if err := c.Join(o.channel, 15*time.Second); err != nil {
				c.Close()
				c = nil
				time.Sleep(200 * time.Millisecond)
			}
		}
		now := time.Now()
		o.mu.Lock()
		if o.joined.IsZero() {
			o.joined = now
		} else {
			o.back = now
		}
		o.mu.Unlock()
		handle := func(m ircmsg.Message) bool {
			switch {
			case m.Command == "PRIVMSG" && len(m.Params) == 2 && strings.EqualFold(m.Params[0], o.channel) && strings.HasPrefix(m.Params[1], "s "):
				s.received(m.Params[1], o.name)
			case (m.Command == "QUIT" || m.Command == "PART") && strings.HasPrefix(m.Nick(), "u"):
				s.mu.Lock()
				phase := "steady"
				switch {
				case inWindow(time.Now(), s.ircDown, time.Time{}):
					phase = "irc restart"
				case inWindow(time.Now(), s.xmppDown, time.Time{}):
					phase = "xmpp restart"
				case inWindow(time.Now(), s.pgDown, time.Time{}):
					phase = "pg restart"
				}
				s.mu.Unlock()
				o.mu.Lock()
				o.quitsOf[phase]++
				o.mu.Unlock()
			}
			return false
		}
		for {
			_, err := c.Expect(handle, 100*time.Millisecond)
			if err != nil && !errors.Is(err, servers.ErrTimeout) {
				break
			}
			select {
			case <-read:
				c.Close()
				return
			default:
			}
			if s.sending.Load() != 1 {
				continue
			}
			if time.Now().After(next) {
				body := s.newBody(o.name, false, o.idx())
				if err := c.Privmsg(o.channel, body); err != nil {
					break
				}
				o.mu.Lock()
				o.sent++
				o.mu.Unlock()
				next = next.Add(s.p.ircPeriod/2 + rand.N(s.p.ircPeriod))
				if time.Until(next) < -s.p.ircPeriod {
					next = time.Now()
				}
			}
		}
		c.Close()
	}
}

func (o *soakObs) idx() int {
	n, _ := strconv.Atoi(strings.TrimPrefix(o.channel, "#soak"))
	return n
}

// ---- the gateway's resources ----

type soakSample struct {
	at         time.Time
	goroutines int
	rssKB      int
}

// soakProbe reads the gateway's goroutines (from its /metrics) and RSS
// (from /proc).
func soakProbe(metricsAddr string, pid int) (soakSample, error) {
	smp := soakSample{at: time.Now(), goroutines: -1, rssKB: -1}
	resp, err := soakHTTP.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return smp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return smp, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			smp.goroutines = int(f)
		}
	}
	smp.rssKB = procStatusKB(pid, "VmRSS")
	return smp, nil
}

// procStatusKB returns a "kB" field of /proc/pid/status, or -1.
func procStatusKB(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return -1
}

// soakSettle waits until the gateway's goroutine count has not changed
// for a second (or timeout), and returns it.
func soakSettle(metricsAddr string, pid int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	last, stableSince := -2, time.Now()
	for time.Now().Before(deadline) {
		smp, err := soakProbe(metricsAddr, pid)
		if err == nil && smp.goroutines != last {
			last, stableSince = smp.goroutines, time.Now()
		}
		if time.Since(stableSince) >= time.Second {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

// ---- the test ----

// TestSoak runs the soak described at the top of this file and prints its
// summary table.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test with real servers")
	}
	p := soakFromEnv(t)
	t.Parallel()
	testenv.Require(t, "prosody", "prosodyctl", "inspircd")
	s := &soak{t: t, p: p, msgs: map[string]*soakMsg{}, recv: map[string]map[string]int{}}
	t.Logf("soak: %d XMPP users in %d channels for %v (XMPP users say a line every %v, IRC observers every %v)",
		p.users, p.channels, p.duration, p.xmppPeriod, p.ircPeriod)

	// Servers, database, gateway.
	bin := faultBuild(t)
	cl := pgcluster.New(t)
	xs := startXMPP(t, "prosody")
	is := startIRC(t, "inspircd")
	s.host = xs.ComponentHost
	setupStart := time.Now()
	var wg sync.WaitGroup
	regErr := make(chan error, p.users)
	sem := make(chan struct{}, 8)
	for i := range p.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := xs.XMPPServer.AddUser(fmt.Sprintf("u%03d", i), alicePassword); err != nil {
				regErr <- err
			}
		}()
	}
	wg.Wait()
	close(regErr)
	if err := <-regErr; err != nil {
		t.Fatal(err)
	}
	xs.AddUser(t, "probe", alicePassword)
	probe := testenv.DialXMPP(t, xs, "probe", alicePassword, "probe")
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dir := t.TempDir()
	conf := faultConf{xs: xs, ircPort: is.Port, dbName: cl.DBName(), logLevel: "info", maxHistory: 0,
		metrics: metricsAddr, persistentByDefault: true}
	glog := newFaultLog(t, true)
	g := faultStartProcess(t, bin, conf.write(t, dir), xs.ComponentHost, glog, probe)
	pid := g.cmd.Process.Pid
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log (tail):\n%s", glog.tail(60))
		}
	})
	startGoroutines := soakSettle(metricsAddr, pid, 10*time.Second)

	// Participants.
	read := make(chan struct{})
	var running sync.WaitGroup
	for c := range p.channels {
		o := &soakObs{name: fmt.Sprintf("o%02d", c), channel: fmt.Sprintf("#soak%d", c), quitsOf: map[string]int{}}
		s.obs = append(s.obs, o)
		running.Add(1)
		go func() { defer running.Done(); s.runObs(o, is.Addr, read) }()
	}
	for i := range p.users {
		ch := i % p.channels
		u := &soakUser{name: fmt.Sprintf("u%03d", i), ch: ch, room: fmt.Sprintf("#soak%d%%%s@%s", ch, ircHost, s.host)}
		s.users = append(s.users, u)
	}
	// Observers in first: the users' JOINs then show up on IRC.
	waitFor(t, 60*time.Second, "every IRC observer in its channel", func() bool {
		for _, o := range s.obs {
			o.mu.Lock()
			j := o.joined
			o.mu.Unlock()
			if j.IsZero() {
				return false
			}
		}
		return true
	})
	for _, u := range s.users {
		running.Add(1)
		go func() { defer running.Done(); s.runUser(u, xs, read) }()
	}
	defer func() {
		s.sending.Store(2)
		select {
		case <-read:
		default:
			close(read)
		}
		running.Wait()
	}()
	waitFor(t, 120*time.Second, "every XMPP user in its room", func() bool {
		for _, u := range s.users {
			u.mu.Lock()
			j := u.joined
			u.mu.Unlock()
			if j.IsZero() {
				return false
			}
		}
		return true
	})
	setupTime := time.Since(setupStart)
	idleBefore := soakSettle(metricsAddr, pid, 15*time.Second)
	t.Logf("setup took %v; gateway goroutines: %d alone, %d with everybody joined", setupTime.Round(time.Millisecond), startGoroutines, idleBefore)

	// Resource sampling.
	var samples []soakSample
	var sampMu sync.Mutex
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if smp, err := soakProbe(metricsAddr, pid); err == nil {
					sampMu.Lock()
					samples = append(samples, smp)
					sampMu.Unlock()
				}
			}
		}
	}()

	// The run: traffic, and one restart of each server.
	begin := time.Now()
	s.sending.Store(1)
	runEnd := begin.Add(p.duration)
	at := func(frac float64) { time.Sleep(time.Until(begin.Add(time.Duration(frac * float64(p.duration))))) }
	type restart struct {
		what         string
		down, up     time.Time
		recovered    time.Time
		recoveryNote string
	}
	var restarts []restart

	at(0.15)
	r := restart{what: "PostgreSQL (fast shutdown, start)"}
	s.mu.Lock()
	s.pgDown = time.Now()
	s.mu.Unlock()
	r.down = time.Now()
	if err := cl.Restart(); err != nil {
		t.Fatalf("restarting PostgreSQL: %v", err)
	}
	r.up = time.Now()
	s.mu.Lock()
	s.pgUp = r.up
	s.mu.Unlock()
	r.recovered = r.up
	r.recoveryNote = "database up"
	restarts = append(restarts, r)

	at(0.3)
	r = restart{what: "prosody (stop, start)"}
	s.mu.Lock()
	s.xmppDown = time.Now()
	s.mu.Unlock()
	r.down = time.Now()
	xs.Stop(t)
	xs.Start(t)
	r.up = time.Now()
	waitFor(t, 120*time.Second, "every XMPP user back in its room", func() bool {
		for _, u := range s.users {
			u.mu.Lock()
			b := u.xmppBack
			u.mu.Unlock()
			if b.Before(r.down) {
				return false
			}
		}
		return true
	})
	r.recovered = time.Now()
	r.recoveryNote = "every XMPP user logged in and joined again"
	s.mu.Lock()
	s.xmppUp = r.recovered.Add(soakMargin)
	s.mu.Unlock()
	restarts = append(restarts, r)

	at(0.5)
	r = restart{what: "inspircd (SIGKILL, start)"}
	s.mu.Lock()
	s.ircDown = time.Now()
	s.mu.Unlock()
	r.down = time.Now()
	is.Kill(t)
	is.Start(t)
	r.up = time.Now()
	waitFor(t, 120*time.Second, "every gateway connection and observer back in its channel", func() bool {
		for _, u := range s.users {
			u.mu.Lock()
			b := u.ircBack
			u.mu.Unlock()
			if b.Before(r.down) {
				return false
			}
		}
		for _, o := range s.obs {
			o.mu.Lock()
			b := o.back
			o.mu.Unlock()
			if b.Before(r.down) {
				return false
			}
		}
		return true
	})
	r.recovered = time.Now()
	r.recoveryNote = "every gateway connection and IRC observer in its channel again"
	s.mu.Lock()
	s.ircUp = r.recovered.Add(soakMargin)
	s.mu.Unlock()
	restarts = append(restarts, r)

	time.Sleep(time.Until(runEnd))
	s.sending.Store(2)
	trafficEnd := time.Now()

	// Drain: wait for every required delivery (or give up after 30 s).
	var acc soakAccount
	drainDeadline := time.Now().Add(30 * time.Second)
	for {
		acc = s.account(nil)
		if acc.liveMissing == 0 || time.Now().After(drainDeadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	drained := time.Since(trafficEnd)
	idleAfter := soakSettle(metricsAddr, pid, 20*time.Second)
	close(stopSampling)
	<-sampled
	hwm := procStatusKB(pid, "VmHWM")

	// The archive, by SQL; and through MAM for one user.
	arch := s.readArchive(t, cl)
	acc = s.account(arch)
	mamUser := s.users[0]
	mamCount := 0
	if c, err := servers.DialXMPP(xs.C2SAddr, xs.Domain, mamUser.name, alicePassword, "mam"); err == nil {
		mamCount = len(faultMAM(t, &testenv.XMPPClient{XMPPClient: c}, mamUser.room))
		c.Close()
	} else {
		t.Errorf("MAM check: %v", err)
	}
	sqlCount := 0
	for k, n := range arch {
		if k.owner == mamUser.name+"@"+xs.Domain {
			sqlCount += n
		}
	}

	close(read)
	running.Wait()
	g.running(t)
	exitStart := time.Now()
	code := g.terminate(t)
	exitTook := time.Since(exitStart)

	// The report.
	sampMu.Lock()
	peakG, peakRSS := 0, 0
	for _, smp := range samples {
		peakG = max(peakG, smp.goroutines)
		peakRSS = max(peakRSS, smp.rssKB)
	}
	sampMu.Unlock()
	var xsent, isent, bounced, refused int
	for _, u := range s.users {
		xsent += u.sent
		bounced += u.bounced
		refused += u.refused
	}
	quits := map[string]int{}
	for _, o := range s.obs {
		isent += o.sent
		for k, v := range o.quitsOf {
			quits[k] += v
		}
	}
	errLines := glog.count("level=ERROR")
	warnLines := glog.count("level=WARN")
	byMsg := func(level string) string {
		n := map[string]int{}
		for _, l := range glog.matching("level=" + level) {
			if _, rest, ok := strings.Cut(l, `msg="`); ok {
				m, _, _ := strings.Cut(rest, `"`)
				n[m]++
			} else if _, rest, ok := strings.Cut(l, "msg="); ok {
				n[strings.Fields(rest)[0]]++
			}
		}
		var parts []string
		for m, c := range n {
			parts = append(parts, fmt.Sprintf("%s ×%d", m, c))
		}
		sort.Strings(parts)
		return strings.Join(parts, "; ")
	}

	var b strings.Builder
	row := func(k, v string, args ...any) { fmt.Fprintf(&b, "| %-44s | %s |\n", k, fmt.Sprintf(v, args...)) }
	fmt.Fprintf(&b, "\nSoak summary\n\n| %-44s | %s |\n|%s|%s|\n", "what", "value", strings.Repeat("-", 46), strings.Repeat("-", 60))
	row("scale", "%d XMPP users (prosody), %d channels (inspircd), %d IRC observers, archive on PostgreSQL", p.users, p.channels, len(s.obs))
	row("traffic", "%v, then %v of drain; setup %v", p.duration, drained.Round(time.Millisecond), setupTime.Round(time.Millisecond))
	row("messages sent", "%d by XMPP users, %d by IRC observers (%.1f/s)", xsent, isent, float64(xsent+isent)/p.duration.Seconds())
	for _, r := range restarts {
		row("restart: "+r.what, "down %v; recovered %v after the fault (%s)", r.up.Sub(r.down).Round(time.Millisecond), r.recovered.Sub(r.down).Round(time.Millisecond), r.recoveryNote)
	}
	row("live deliveries required", "%d", acc.liveRequired)
	row("  delivered exactly once", "%d", acc.liveRequired-acc.liveMissing)
	row("  LOST", "%d", acc.liveMissing)
	row("live deliveries excused (outages)", "%d: %d delivered anyway, %d not", acc.liveExcused, acc.liveExcusedGot, acc.liveExcused-acc.liveExcusedGot)
	row("archive lines required", "%d", acc.archRequired)
	row("  archived exactly once", "%d", acc.archRequired-acc.archMissing)
	row("  LOST", "%d", acc.archMissing)
	row("archive lines excused (IRC outage)", "%d: %d archived anyway", acc.archExcused, acc.archExcusedGot)
	row("  of which queued by the gateway", "%d XMPP lines sent while IRC was down: %d reflected once; %d required at the observer (back in the channel first), %d delivered", acc.queued, acc.queuedReflected, acc.queuedAtObs, acc.queuedAtObsGot)
	row("DUPLICATES (live / archive)", "%d / %d", acc.liveDup, acc.archDup)
	row("unknown or misrouted messages", "%d", len(s.unknown)+acc.stray)
	row("bounced messages (errors to senders)", "%d", bounced)
	row("joins refused, then retried", "%d (the XMPP server bounces joins until the component is back)", refused)
	row("MAM check (user "+mamUser.name+")", "%d results through MAM, %d rows in SQL", mamCount, sqlCount)
	row("latency outside outages (p50/p99/max)", "%s", acc.latency)
	s.mu.Lock()
	if len(s.slow) > 0 {
		byKind := map[string]int{}
		var first, last time.Time
		worst := s.slow[0]
		for _, sl := range s.slow {
			byKind[sl.kind]++
			if first.IsZero() || sl.m.ts.Before(first) {
				first = sl.m.ts
			}
			if sl.m.ts.After(last) {
				last = sl.m.ts
			}
			if sl.took > worst.took {
				worst = sl
			}
		}
		row("deliveries over 1 s outside outages", "%d %v, sent between T+%v and T+%v; worst %v: %q at %s, sent at T+%v",
			len(s.slow), byKind, first.Sub(begin).Round(time.Second), last.Sub(begin).Round(time.Second),
			worst.took.Round(time.Millisecond), worst.m.body, worst.receiver, worst.m.ts.Sub(begin).Round(time.Millisecond))
	}
	s.mu.Unlock()
	for _, r := range restarts {
		row("  (restart of "+strings.Fields(r.what)[0]+")", "T+%v … T+%v", r.down.Sub(begin).Round(time.Second), r.recovered.Sub(begin).Round(time.Second))
	}
	row("QUIT/PART of gateway users seen on IRC", "%v", quits)
	row("gateway peak RSS (VmHWM)", "%.1f MiB (sampled peak VmRSS %.1f MiB)", float64(hwm)/1024, float64(peakRSS)/1024)
	row("gateway goroutines", "%d alone; %d with everybody joined; peak %d; %d after the run", startGoroutines, idleBefore, peakG, idleAfter)
	row("gateway log: ERROR", "%d: %s", errLines, byMsg("ERROR"))
	row("gateway log: WARN", "%d: %s", warnLines, byMsg("WARN"))
	row("gateway exit after SIGTERM", "status %d in %v", code, exitTook.Round(time.Millisecond))
	t.Log(b.String())
	if f := os.Getenv("BIBOUMI_SOAK_REPORT"); f != "" {
		if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
			t.Errorf("BIBOUMI_SOAK_REPORT: %v", err)
		}
	}

	// The verdict.
	if acc.liveMissing > 0 {
		t.Errorf("%d required live deliveries lost; first: %v", acc.liveMissing, acc.liveMissingEx)
	}
	if acc.archMissing > 0 {
		t.Errorf("%d required archive lines lost; first: %v", acc.archMissing, acc.archMissingEx)
	}
	if acc.liveDup > 0 || acc.archDup > 0 {
		t.Errorf("duplicates: %d live, %d archived; first: %v", acc.liveDup, acc.archDup, acc.dupEx)
	}
	if len(s.unknown) > 0 || acc.stray > 0 {
		t.Errorf("messages nobody sent or delivered to the wrong place: %v %v", s.unknown, acc.strayEx)
	}
	for _, e := range s.errs {
		t.Errorf("during the soak: %s", e)
	}
	if q := quits["xmpp restart"] + quits["pg restart"] + quits["steady"]; q > 0 {
		t.Errorf("gateway users left IRC channels outside the IRC restart: %v (channels are persistent)", quits)
	}
	if mamCount != sqlCount {
		t.Errorf("MAM gives %d lines for %s, the database has %d", mamCount, mamUser.name, sqlCount)
	}
	if idleAfter > idleBefore+max(10, idleBefore/50) {
		t.Errorf("goroutine leak: %d before the run, %d after it with the same users joined", idleBefore, idleAfter)
	}
	if code != 0 {
		t.Errorf("gateway exit status %d after SIGTERM", code)
	}
}

// waitFor polls cond every 100 ms until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// archKey is one line of one owner's archive.
type archKey struct{ owner, channel, body string }

// readArchive returns how many times each soak line is in each archive.
func (s *soak) readArchive(t *testing.T, cl *pgcluster.Cluster) map[archKey]int {
	t.Helper()
	db, err := sql.Open("pgx", cl.DBName())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := db.QueryContext(ctx, `SELECT owner, channel, body, count(*) FROM muc_log WHERE body LIKE 's %' GROUP BY owner, channel, body`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[archKey]int{}
	for rows.Next() {
		var k archKey
		var n int
		if err := rows.Scan(&k.owner, &k.channel, &k.body, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// soakAccount is the outcome of the accounting.
type soakAccount struct {
	liveRequired, liveMissing, liveExcused, liveExcusedGot, liveDup int
	archRequired, archMissing, archExcused, archExcusedGot, archDup int
	stray                                                           int
	// XMPP users' messages queued by the gateway during the IRC outage,
	// and those of them the observer had to get (it was back first).
	queued, queuedAtObs, queuedAtObsGot, queuedReflected int
	liveMissingEx, archMissingEx, dupEx, strayEx         []string
	latency                                              string
}

// account applies the rules of the file comment. arch nil skips the
// archive.
func (s *soak) account(arch map[archKey]int) soakAccount {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a soakAccount
	ex := func(list *[]string, format string, args ...any) {
		if len(*list) < 5 {
			*list = append(*list, fmt.Sprintf(format, args...))
		}
	}
	type span struct{ from, to time.Time } // to zero: still there
	covers := func(spans []span, te time.Time) bool {
		for _, sp := range spans {
			if !sp.from.IsZero() && !sp.from.After(te.Add(-soakMargin)) && (sp.to.IsZero() || !sp.to.Before(te.Add(soakMargin))) {
				return true
			}
		}
		return false
	}
	// Presence spans.
	type who struct{ irc, xmpp []span }
	users := map[string]*soakUser{}
	spans := map[string]who{}
	byCh := make([][]*soakUser, s.p.channels)
	for _, u := range s.users {
		u.mu.Lock()
		w := who{}
		if !u.joined.IsZero() {
			if s.ircDown.IsZero() {
				w.irc = []span{{u.joined, time.Time{}}}
			} else {
				w.irc = []span{{u.joined, s.ircDown}}
				if u.ircBack.After(s.ircDown) {
					w.irc = append(w.irc, span{u.ircBack, time.Time{}})
				}
			}
			if s.xmppDown.IsZero() {
				w.xmpp = []span{{u.joined, time.Time{}}}
			} else {
				w.xmpp = []span{{u.joined, s.xmppDown}}
				if u.xmppBack.After(s.xmppDown) {
					w.xmpp = append(w.xmpp, span{u.xmppBack, time.Time{}})
				}
			}
		}
		u.mu.Unlock()
		spans[u.name] = w
		users[u.name] = u
		byCh[u.ch] = append(byCh[u.ch], u)
	}
	obsIRC := map[int][]span{}
	for i, o := range s.obs {
		o.mu.Lock()
		if s.ircDown.IsZero() {
			obsIRC[i] = []span{{o.joined, time.Time{}}}
		} else {
			obsIRC[i] = []span{{o.joined, s.ircDown}}
			if o.back.After(s.ircDown) {
				obsIRC[i] = append(obsIRC[i], span{o.back, time.Time{}})
			}
		}
		o.mu.Unlock()
	}
	check := func(required bool, got int, what string, m *soakMsg, live bool) {
		switch {
		case got > 1:
			if live {
				a.liveDup++
			} else {
				a.archDup++
			}
			ex(&a.dupEx, "%q ×%d at %s", m.body, got, what)
		case required && live:
			a.liveRequired++
			if got == 0 {
				a.liveMissing++
				ex(&a.liveMissingEx, "%q (sent %s) at %s", m.body, m.ts.Format("15:04:05.000"), what)
			}
		case required:
			a.archRequired++
			if got == 0 {
				a.archMissing++
				ex(&a.archMissingEx, "%q (sent %s) in the archive of %s", m.body, m.ts.Format("15:04:05.000"), what)
			}
		case live:
			a.liveExcused++
			a.liveExcusedGot += got
		default:
			a.archExcused++
			a.archExcusedGot += got
		}
	}
	for body, m := range s.msgs {
		te := m.ts
		excused := false
		if m.xmpp {
			u := users[m.sender]
			u.mu.Lock()
			lost, back, xback := u.ircLost, u.ircBack, u.xmppBack
			u.mu.Unlock()
			if !xback.After(s.xmppDown) {
				xback = time.Time{} // not back (yet)
			}
			switch {
			case inWindow(m.ts, s.xmppDown.Add(-soakMargin), xback):
				excused = true
			case !s.ircDown.IsZero() && inWindow(m.ts, s.ircDown.Add(-soakMargin), lost) && lost.After(s.ircDown):
				excused = true
			case !s.ircDown.IsZero() && lost.After(s.ircDown) && m.ts.After(lost) && (back.IsZero() || m.ts.Before(back)):
				te = back // queued, sent at the rejoin
				if back.IsZero() {
					excused = true
				}
				a.queued++
				if s.recv[body][m.sender] == 1 {
					a.queuedReflected++
				}
				if o := s.obs[m.ch]; !excused && covers(obsIRC[m.ch], te) {
					a.queuedAtObs++
					if s.recv[body][o.name] == 1 {
						a.queuedAtObsGot++
					}
				}
			}
		} else {
			o := s.obs[m.ch]
			o.mu.Lock()
			oback := o.back
			o.mu.Unlock()
			if !oback.After(s.ircDown) {
				oback = time.Time{}
			}
			if inWindow(m.ts, s.ircDown.Add(-soakMargin), oback) {
				excused = true
			}
		}
		got := s.recv[body]
		// The observer of the channel.
		if m.xmpp {
			o := s.obs[m.ch]
			check(!excused && covers(obsIRC[m.ch], te), got[o.name], o.name, m, true)
		}
		for _, v := range byCh[m.ch] {
			w := spans[v.name]
			ircIn := covers(w.irc, te)
			check(!excused && ircIn && covers(w.xmpp, te), got[v.name], v.name, m, true)
			if arch != nil {
				check(!excused && ircIn, arch[archKey{v.name + "@localhost", fmt.Sprintf("#soak%d", m.ch), body}], v.name, m, false)
			}
		}
		// Receipts where there should be none.
		for r := range got {
			if r == s.obs[m.ch].name {
				continue
			}
			if u := users[r]; u != nil && u.ch == m.ch {
				continue
			}
			a.stray++
			ex(&a.strayEx, "%q at %s", body, r)
		}
	}
	if arch != nil {
		for k := range arch {
			m := s.msgs[k.body]
			owner, _, _ := strings.Cut(k.owner, "@")
			if m == nil || fmt.Sprintf("#soak%d", m.ch) != k.channel || users[owner] == nil || users[owner].ch != m.ch {
				a.stray++
				ex(&a.strayEx, "%q in the archive of %s for %s", k.body, k.owner, k.channel)
			}
		}
	}
	lat := append([]time.Duration(nil), s.lat...)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if n := len(lat); n > 0 {
		a.latency = fmt.Sprintf("%v / %v / %v (%d deliveries)", lat[n/2].Round(time.Millisecond), lat[n*99/100].Round(time.Millisecond), lat[n-1].Round(time.Millisecond), n)
	}
	return a
}

// soakHTTP scrapes without keep-alive, so that the scraper's own
// connection does not hold a goroutine of the gateway between scrapes.
var soakHTTP = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
