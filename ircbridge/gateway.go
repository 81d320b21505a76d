package ircbridge

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"

	"biboumi/internal/metrics"
	"biboumi/ircbridge/ircclient"

	"biboumi/store"
	"golang.org/x/time/rate"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Gateway routes XMPP input to per-user Sessions. It holds only the session
// registry; all per-user state lives in the Sessions.
//
// The component calls HandleMessage, HandlePresence and HandleIQ from its
// read loop; they never block on user work. Gateway is safe for concurrent
// use.
type Gateway struct {
	cfg   atomic.Pointer[Config]
	out   Sender
	store store.Store // nil: no archive, default options
	arch  *archiver   // nil when store is nil
	occ   *occupantTable
	// isupport lets the connections to one IRC server share their
	// ISUPPORT snapshots.
	isupport ircclient.ISupportCache

	ctx    context.Context // root of every session; cancelled by Shutdown's deadline
	cancel context.CancelFunc

	// reloads carries the admin "reload" command to the program, which
	// owns the configuration file (see ReloadRequests).
	reloads chan struct{}

	mu       sync.Mutex
	sessions map[string]*Session      // by bare JID
	pacers   map[string]*rate.Limiter // new IRC connections, by IRC server
	closing  bool
	wg       sync.WaitGroup
}

// dialBurst is the most new connections opened at once to one IRC server
// (ngircd's accept backlog is 10).
const dialBurst = 10

// dialPacer returns the limiter of new connections to server: at most
// Limits.ConnectRate per second and dialBurst at once, so that a gateway
// start or an outage does not hit a server with hundreds of connections at
// once (small accept backlogs reset them; flood protections K-line the
// gateway).
func (g *Gateway) dialPacer(server string) *rate.Limiter {
	r := g.cfg.Load().Limits.ConnectRate
	burst := max(1, min(dialBurst, int(r)))
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pacers == nil {
		g.pacers = make(map[string]*rate.Limiter)
	}
	p := g.pacers[server]
	if p == nil {
		p = rate.NewLimiter(rate.Limit(r), burst)
		g.pacers[server] = p
	} else if p.Limit() != rate.Limit(r) {
		p.SetLimit(rate.Limit(r)) // a reload changed it
		p.SetBurst(burst)
	}
	return p
}

// ReloadRequests delivers a value each time an admin runs the "reload"
// ad-hoc command; the program re-reads its configuration and calls
// SetConfig, as on SIGHUP.
func (g *Gateway) ReloadRequests() <-chan struct{} { return g.reloads }

// users returns the bare JIDs that have a session, sorted.
func (g *Gateway) users() []jid.JID {
	g.mu.Lock()
	defer g.mu.Unlock()
	keys := make([]string, 0, len(g.sessions))
	for k := range g.sessions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]jid.JID, 0, len(keys))
	for _, k := range keys {
		out = append(out, g.sessions[k].owner)
	}
	return out
}

// serversOf returns the IRC servers the user is connected to, as last
// published by its session.
func (g *Gateway) serversOf(user jid.JID) []string {
	g.mu.Lock()
	s := g.sessions[user.Bare().String()]
	g.mu.Unlock()
	if s == nil {
		return nil
	}
	if p := s.published.Load(); p != nil {
		return *p
	}
	return nil
}

// disconnect asks the session of user to end its connections to servers
// (nil: all). It reports whether the user had a session.
func (g *Gateway) disconnect(user jid.JID, servers []string, msg string, drop bool) bool {
	g.mu.Lock()
	s := g.sessions[user.Bare().String()]
	g.mu.Unlock()
	if s == nil {
		return false
	}
	return s.put(mailItem{kind: mailControl, control: &evDisconnect{servers: servers, msg: msg, drop: drop}})
}

// New returns a Gateway that sends its stanzas through out and keeps its
// archive and per-user options in st (which may be nil: nothing is
// archived, and every user has the default options).
func New(cfg Config, out Sender, st store.Store) *Gateway {
	g := &Gateway{out: out, store: st, sessions: make(map[string]*Session), reloads: make(chan struct{}, 1), occ: newOccupantTable()}
	if st != nil {
		g.arch = newArchiver(st, cfg.withDefaults().Logger.With("part", "archive"))
		cfg.Metrics.QueueDepthFunc(metrics.QueueArchive, func() int { return len(g.arch.in) })
	}
	g.cfg.Store(cfg.withDefaults())
	g.ctx, g.cancel = context.WithCancel(context.Background())
	return g
}

// Config returns the configuration in force.
func (g *Gateway) Config() *Config { return g.cfg.Load() }

// SetConfig replaces the configuration; sessions use it from their next
// event on.
func (g *Gateway) SetConfig(c Config) { g.cfg.Store(c.withDefaults()) }

func (g *Gateway) mapper() Mapper {
	c := g.cfg.Load()
	return Mapper{Domain: c.Domain, FixedServer: c.FixedServer}
}

// errForbiddenUser answers users outside the policy.
var errForbiddenUser = newError(stanza.Auth, stanza.Forbidden, "This gateway is not open to users of your server")

// errTooFast answers users over their stanza rate or queue.
var errTooFast = newError(stanza.Wait, stanza.ResourceConstraint, "Too many stanzas: slow down")

// HandleMessage takes a message from the XMPP server.
func (g *Gateway) HandleMessage(ctx context.Context, m Message) {
	if m.From.Equal(jid.JID{}) || m.Type == stanza.ErrorMessage && m.From.Resourcepart() == "" {
		return
	}
	if !g.cfg.Load().userAllowed(m.From) {
		if m.Type != stanza.ErrorMessage {
			g.bounceMessage(ctx, m, errForbiddenUser)
		}
		return
	}
	if !g.post(m.From, evMessage{m}) && m.Type != stanza.ErrorMessage {
		g.bounceMessage(ctx, m, errTooFast)
	}
}

// HandlePresence takes a presence from the XMPP server.
func (g *Gateway) HandlePresence(ctx context.Context, p Presence) {
	if p.From.Equal(jid.JID{}) {
		return
	}
	if p.To.Equal(jid.JID{}) {
		g.bouncePresence(ctx, p, newError(stanza.Modify, stanza.BadRequest, "Missing 'to' tag"))
		return
	}
	if !g.cfg.Load().userAllowed(p.From) {
		if p.Type == "" || p.Type == stanza.SubscribePresence || p.Type == stanza.ProbePresence {
			g.bouncePresence(ctx, p, errForbiddenUser)
		}
		return
	}
	if !g.post(p.From, evPresence{p}) && p.Type != stanza.ErrorPresence && p.Type != stanza.UnavailablePresence {
		g.bouncePresence(ctx, p, errTooFast)
	}
}

// HandleIQ takes an iq from the XMPP server. Every get or set gets exactly
// one answer, now or later.
func (g *Gateway) HandleIQ(ctx context.Context, iq IQ) {
	if iq.From.Equal(jid.JID{}) {
		return // reference §5.16: ignored
	}
	if iq.Type == stanza.GetIQ || iq.Type == stanza.SetIQ {
		if iq.ID == "" || iq.To.Equal(jid.JID{}) {
			g.send(ctx, iq.Fail(newError(stanza.Modify, stanza.BadRequest, "Missing 'id' or 'to'")))
			return
		}
		if !g.cfg.Load().userAllowed(iq.From) {
			// Disco of the gateway itself stays open, so that a refused
			// user's client can still show what this service is.
			if reply, ok := g.answerStateless(iq); ok {
				if _, info := iq.Payload.(*DiscoInfo); info {
					g.send(ctx, reply)
					return
				}
			}
			g.send(ctx, iq.Fail(errForbiddenUser))
			return
		}
		if reply, ok := g.answerStateless(iq); ok {
			g.send(ctx, reply)
			return
		}
	}
	if iq.Type != stanza.GetIQ && iq.Type != stanza.SetIQ && !g.cfg.Load().userAllowed(iq.From) {
		return
	}
	if !g.post(iq.From, evIQ{iq}) && (iq.Type == stanza.GetIQ || iq.Type == stanza.SetIQ) {
		g.send(ctx, iq.Fail(errTooFast))
	}
}

// post hands ev to the session of from's bare JID, creating the session if
// needed. It never blocks: it reports false when the session's queue is
// full or the gateway is shutting down.
func (g *Gateway) post(from jid.JID, ev event) bool {
	key := from.Bare().String()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	s := g.sessions[key]
	if s == nil {
		s = newSession(g, from.Bare())
		g.sessions[key] = s
		g.cfg.Load().Metrics.AddUsers(1)
		g.wg.Add(1) // until retire
	}
	if !s.rate.Allow() {
		return false
	}
	return s.postEvent(ev)
}

// retire removes s from the registry if its mailbox is empty. It is called
// by s's worker; true means the session is over.
func (g *Gateway) retire(s *Session) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !s.retireLocked() {
		return false
	}
	if g.sessions[s.key] == s {
		delete(g.sessions, s.key)
		g.cfg.Load().Metrics.AddUsers(-1)
	}
	return true // the worker calls g.wg.Done as it returns

}

// Shutdown sends QUIT :Gateway shutdown on every IRC connection, lets the
// sessions send their unavailable presences, and returns when every session
// has ended or ctx is done (then the remaining connections are closed
// without waiting for the IRC servers).
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closing = true
	for _, s := range g.sessions {
		s.put(mailItem{kind: mailShutdown})
	}
	g.mu.Unlock()

	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.cancel()
	g.mu.Lock()
	for _, s := range g.sessions {
		s.put(mailItem{kind: mailStop}) // close what is left at once
	}
	g.mu.Unlock()
	<-done
	if g.arch != nil {
		g.arch.close() // after the sessions: their last lines are written
	}
	return err
}

func (g *Gateway) send(ctx context.Context, v any) {
	var err error
	switch v := v.(type) {
	case Message:
		err = g.out.SendMessage(ctx, v)
	case Presence:
		err = g.out.SendPresence(ctx, v)
	case IQ:
		err = g.out.SendIQ(ctx, v)
	}
	if err != nil {
		g.cfg.Load().Logger.Warn("stanza not sent", "err", err)
	}
}

func (g *Gateway) bounceMessage(ctx context.Context, m Message, e stanza.Error) {
	g.send(ctx, Message{From: m.To, To: m.From, ID: m.ID, Type: stanza.ErrorMessage, Error: &e})
}

func (g *Gateway) bouncePresence(ctx context.Context, p Presence, e stanza.Error) {
	g.send(ctx, Presence{From: p.To, To: p.From, ID: p.ID, Type: stanza.ErrorPresence, MUC: p.MUC, Error: &e})
}
