package ircbridge

import (
	"time"

	"mellium.im/xmpp/stanza"
)

// pendingTimeout bounds how long an XMPP request waits for an IRC answer
// (CTCP reply, MODE echo) and an IRC request for an XMPP answer.
const pendingTimeout = 30 * time.Second

type pendingKind uint8

const (
	pendVersion pendingKind = iota // XMPP version iq → CTCP VERSION
	pendPing                       // XMPP ping iq → CTCP PING
	pendAdmin                      // muc#admin set → MODE/KICK echo
)

// pendingIRC is an XMPP iq waiting for an IRC answer.
type pendingIRC struct {
	kind    pendingKind
	iq      IQ
	server  string
	target  string // casefolded nick (or channel for pendAdmin)
	token   string // CTCP PING argument
	expires time.Time
}

// pendingXMPP is an iq we sent to a user's client on behalf of an IRC user
// (CTCP VERSION or PING), waiting for its result.
type pendingXMPP struct {
	server  string
	nick    string // who asked, on IRC
	ctcp    string // "VERSION" or "PING"
	arg     string // CTCP PING argument to echo
	expires time.Time
}

// pending holds a session's requests in flight. It is owned by the session
// goroutine.
type pending struct {
	toIRC  []*pendingIRC
	toXMPP map[string]*pendingXMPP // by iq id
}

func (p *pending) empty() bool { return len(p.toIRC) == 0 && len(p.toXMPP) == 0 }

// take removes and returns the first pendingIRC that match accepts.
func (p *pending) take(match func(*pendingIRC) bool) *pendingIRC {
	for i, q := range p.toIRC {
		if match(q) {
			p.toIRC = append(p.toIRC[:i], p.toIRC[i+1:]...)
			return q
		}
	}
	return nil
}

// expire answers the requests whose time is up.
func (s *Session) expirePending(now time.Time) {
	kept := s.pending.toIRC[:0]
	for _, q := range s.pending.toIRC {
		if now.Before(q.expires) {
			kept = append(kept, q)
			continue
		}
		s.send(q.iq.Fail(newError(stanza.Wait, stanza.RemoteServerTimeout, "No answer from the IRC server")))
	}
	s.pending.toIRC = kept
	for id, q := range s.pending.toXMPP {
		if now.After(q.expires) {
			delete(s.pending.toXMPP, id)
		}
	}
}

// dropPendingFor fails the requests of a closed IRC connection.
func (s *Session) dropPendingFor(server string) {
	kept := s.pending.toIRC[:0]
	for _, q := range s.pending.toIRC {
		if q.server != server {
			kept = append(kept, q)
			continue
		}
		s.send(q.iq.Fail(notConnected(server)))
	}
	s.pending.toIRC = kept
}
