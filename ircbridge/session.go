package ircbridge

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"biboumi/internal/metrics"
	"biboumi/ircbridge/ircclient"
	"biboumi/store"

	"golang.org/x/time/rate"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// event is what the Gateway posts to a Session. The set is closed.
type event interface{ isEvent() }

type (
	evMessage  struct{ m Message }
	evPresence struct{ p Presence }
	evIQ       struct{ iq IQ }
)

// evDisconnect comes from an admin command or another user's session.
type evDisconnect struct {
	servers []string
	msg     string
	drop    bool
}

func (evMessage) isEvent()  {}
func (evPresence) isEvent() {}
func (evIQ) isEvent()       {}

// Session is the gateway state of one XMPP user (bare JID): the IRC
// connections, rooms and resources of that user.
//
// Other goroutines talk to a session only through its mailbox (see
// mailbox.go); every other field is owned by the session's worker.
type Session struct {
	g     *Gateway
	owner jid.JID // bare
	key   string  // owner.String()
	// ctx is the gateway's: it ends when Shutdown gives up waiting, and
	// then the Gateway puts mailStop in every mailbox.
	ctx   context.Context
	mb    mailbox
	timer *time.Timer // a tick while requests are pending
	// timerGen numbers the timers armed, so that a late tick of a
	// stopped one is told apart.
	timerGen uint32
	rate     *rate.Limiter // stanzas from the user; used by Gateway.post
	// published is the list of connected servers, for admin commands run
	// in other sessions.
	published atomic.Pointer[[]string]
	log       *slog.Logger

	cfg     *Config // snapshot for the event being handled
	servers map[string]*ircServer
	// retiring are connections we sent QUIT on, kept until their Closed
	// event so that a new join to the same server gets a new connection.
	retiring map[*ircclient.Conn]*ircServer
	pending  pending
	// global caches the user's global options (nil until first read).
	global *store.GlobalOptions
	// stopping is set once the gateway shuts down: the rooms it closes
	// stay recorded as kept channels, to be joined again at start-up.
	stopping bool
	adhoc    map[string]*adhocSession // by adhocKey
	roster   map[string]bool          // subscribed gateway/server JIDs (nil until read)
}

func newSession(g *Gateway, owner jid.JID) *Session {
	cfg := g.cfg.Load()
	s := &Session{
		g:        g,
		owner:    owner,
		key:      owner.String(),
		ctx:      g.ctx,
		rate:     rate.NewLimiter(rate.Limit(cfg.Limits.StanzaRate), cfg.Limits.StanzaBurst),
		adhoc:    make(map[string]*adhocSession),
		log:      cfg.Logger.With("user", owner.String()),
		servers:  make(map[string]*ircServer),
		retiring: make(map[*ircclient.Conn]*ircServer),
		pending:  pending{toXMPP: make(map[string]*pendingXMPP)},
	}
	return s
}

// safely runs f, turning a panic into a log entry so that one bad event
// cannot take the whole gateway down.
func (s *Session) safely(f func()) {
	defer func() {
		if r := recover(); r != nil {
			s.cfg.Metrics.Error(metrics.ErrPanic)
			s.log.Error("panic in session", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	f()
}

// closeAll closes every IRC connection without waiting for the servers and
// waits for their goroutines.
func (s *Session) closeAll() {
	for _, srv := range s.servers {
		srv.conn.Close()
	}
	for c := range s.retiring {
		c.Close()
	}
	for _, srv := range s.servers {
		<-srv.conn.Done()
	}
	for c := range s.retiring {
		<-c.Done()
	}
}

func (s *Session) handleEvent(ev event) {
	switch ev := ev.(type) {
	case evMessage:
		s.handleMessage(ev.m)
	case evPresence:
		s.handlePresence(ev.p)
	case evIQ:
		s.handleIQ(ev.iq)
	case evRejoin:
		s.rejoin(ev)
	}
}

func (s *Session) handleShutdown() {
	s.stopping = true
	for _, srv := range s.servers {
		if srv.waiting {
			s.quit(srv, "Gateway shutdown") // no connection to wait for
			continue
		}
		srv.conn.Quit("Gateway shutdown")
	}
}

// publishServers updates the list of connected servers other sessions see.
func (s *Session) publishServers() {
	names := make([]string, 0, len(s.servers))
	for name := range s.servers {
		names = append(names, name)
	}
	sort.Strings(names)
	s.published.Store(&names)
}

// quit sends QUIT on srv's connection and moves it out of the way: its
// remaining events are still handled, but new joins open a new connection.
func (s *Session) quit(srv *ircServer, reason string) {
	if srv.waiting {
		// Its connection already ended and it waits to reconnect: no
		// Closed event will come, so it is given up here and now.
		s.endServer(srv, ircclient.Closed{Text: reason})
		return
	}
	srv.conn.Quit(reason)
	if s.servers[srv.name] == srv {
		delete(s.servers, srv.name)
	}
	s.retiring[srv.conn] = srv
	s.publishServers()
}

func (s *Session) mapper() Mapper {
	return Mapper{Domain: s.cfg.Domain, FixedServer: s.cfg.FixedServer}
}

// parse interprets an address, using the CHANTYPES of the server it names
// when the user is connected to it.
func (s *Session) parse(j jid.JID) (Address, error) {
	m := s.mapper()
	a, err := m.Parse(j, DefaultChanTypes)
	if err != nil || a.Server == "" {
		return a, err
	}
	if srv := s.servers[a.Server]; srv != nil && srv.chanTypes() != DefaultChanTypes {
		return m.Parse(j, srv.chanTypes())
	}
	return a, nil
}

func (s *Session) send(v any) { s.g.send(s.ctx, v) }

// gatewayMessage sends a chat message from the server's JID (the bare
// gateway in fixed mode) to every resource of the user on that server
// (reference §5.8). prefix, when not empty, is the IRC sender.
func (s *Session) gatewayMessage(srv *ircServer, prefix, text string) {
	body := text
	if prefix != "" {
		body = prefix + ": " + text
	}
	from := s.mapper().MustJID(Address{Kind: KindServer, Server: srv.name})
	for _, to := range srv.resourceList() {
		s.send(Message{From: from, To: to, ID: newID(), Type: stanza.ChatMessage, Body: body, Private: true})
	}
}

func notConnected(server string) stanza.Error {
	return newError(stanza.Cancel, stanza.RemoteServerNotFound, fmt.Sprintf("Not connected to IRC server %s", server))
}

// realIdentity returns the IRC username and realname for a new connection.
func (s *Session) realIdentity(nick string) (user, real string) {
	if !s.cfg.RealnameFromJID {
		return nick, nick
	}
	user = strings.Map(func(r rune) rune {
		if r <= ' ' || r == '@' || r == ':' || r > 0x7e {
			return -1
		}
		return r
	}, s.owner.Localpart())
	if user == "" {
		user = nick
	}
	return user, s.owner.String()
}
