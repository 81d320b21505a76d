package ircbridge

import (
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"mellium.im/xmpp/stanza"
)

// This file bridges CTCP VERSION and PING with XEP-0092 and XEP-0199 iqs,
// both ways (reference §5.13, §5.14).

// ctcp splits a CTCP message into its command and argument.
func ctcp(text string) (cmd, arg string, ok bool) {
	if len(text) < 2 || text[0] != 1 {
		return "", "", false
	}
	text = strings.TrimSuffix(text[1:], "\x01")
	cmd, arg, _ = strings.Cut(text, " ")
	return strings.ToUpper(cmd), arg, true
}

func ctcpMessage(command, target, cmd, arg string) ircmsg.Message {
	body := "\x01" + cmd
	if arg != "" {
		body += " " + arg
	}
	return ircmsg.MakeMessage(nil, "", command, target, body+"\x01")
}

// maxCTCPPending bounds the CTCP requests from IRC waiting for the user's
// client to answer (each expires after pendingTimeout).
const maxCTCPPending = 20

// onCTCP handles a CTCP request (PRIVMSG) or reply (NOTICE) from nick.
func (s *Session) onCTCP(srv *ircServer, nick string, notice bool, cmd, arg string) {
	if notice {
		s.ctcpReply(srv, nick, cmd, arg)
		return
	}
	var payload Payload
	switch cmd {
	case "VERSION":
		payload = &Version{}
	case "PING":
		payload = &Ping{}
	default:
		return // other CTCP requests are ignored, as Biboumi does
	}
	res := srv.resourceList()
	if len(res) == 0 || len(s.pending.toXMPP) >= maxCTCPPending {
		return // nobody to ask, or a flood: each would be an iq to the user
	}
	id := strings.ToLower(cmd) + "_" + newID()
	s.pending.toXMPP[id] = &pendingXMPP{server: srv.name, nick: nick, ctcp: cmd, arg: arg, expires: time.Now().Add(pendingTimeout)}
	from := s.mapper().MustJID(Address{Kind: KindUser, Server: srv.name, Nick: nick})
	s.send(IQ{From: from, To: res[0], ID: id, Type: stanza.GetIQ, Payload: payload})
}

// ctcpReply answers the XMPP iq waiting for nick's CTCP reply.
func (s *Session) ctcpReply(srv *ircServer, nick, cmd, arg string) {
	folded := srv.fold(nick)
	q := s.pending.take(func(q *pendingIRC) bool {
		if q.server != srv.name || q.target != folded {
			return false
		}
		switch {
		case cmd == "VERSION" && q.kind == pendVersion:
			return true
		case cmd == "PING" && q.kind == pendPing:
			return q.token == arg
		}
		return false
	})
	if q == nil {
		return
	}
	if q.kind == pendVersion {
		s.send(q.iq.Result(&Version{Name: arg}))
		return
	}
	s.send(q.iq.Result(nil))
}

// answerFromXMPP turns the client's answer to one of our iqs into the CTCP
// reply the IRC user waits for.
func (s *Session) answerFromXMPP(iq IQ) {
	q := s.pending.toXMPP[iq.ID]
	if q == nil {
		return
	}
	delete(s.pending.toXMPP, iq.ID)
	srv := s.servers[q.server]
	if srv == nil || !iq.From.Bare().Equal(s.owner) {
		return
	}
	switch q.ctcp {
	case "VERSION":
		v, ok := iq.Payload.(*Version)
		if iq.Type != stanza.ResultIQ || !ok {
			return
		}
		text := strings.TrimSpace(v.Name + " (through the biboumi gateway) " + v.Version + " " + v.OS)
		s.ircSend(srv, ctcpMessage("NOTICE", q.nick, "VERSION", text))
	case "PING":
		if iq.Type == stanza.ResultIQ || iq.Error != nil &&
			(iq.Error.Condition == stanza.FeatureNotImplemented || iq.Error.Condition == stanza.ServiceUnavailable) {
			s.ircSend(srv, ctcpMessage("NOTICE", q.nick, "PING", q.arg))
		}
	}
}

// ctcpRequest sends a version or ping iq of the user to an IRC nick as a
// CTCP request, and remembers the iq until the reply.
func (s *Session) ctcpRequest(iq IQ, srv *ircServer, nick string, kind pendingKind) {
	q := &pendingIRC{kind: kind, iq: iq, server: srv.name, target: srv.fold(nick), expires: time.Now().Add(pendingTimeout)}
	if kind == pendVersion {
		s.ircSend(srv, ctcpMessage("PRIVMSG", nick, "VERSION", ""))
	} else {
		q.token = iq.ID
		s.ircSend(srv, ctcpMessage("PRIVMSG", nick, "PING", iq.ID))
	}
	s.pending.toIRC = append(s.pending.toIRC, q)
}

// noSuchNick fails the requests waiting on nick after a 401.
func (s *Session) noSuchNick(srv *ircServer, nick, text string) {
	folded := srv.fold(nick)
	for {
		q := s.pending.take(func(q *pendingIRC) bool {
			return q.server == srv.name && q.target == folded && q.kind != pendAdmin
		})
		if q == nil {
			return
		}
		cond := stanza.ItemNotFound
		if q.kind == pendPing {
			cond = stanza.ServiceUnavailable
		}
		s.send(q.iq.Fail(newError(stanza.Cancel, cond, text)))
	}
}

// ircTargetOf returns the server and nick an iq to a user or occupant JID
// is for, or an error iq.
func (s *Session) ircTargetOf(iq IQ, addr Address) (*ircServer, string, *IQ) {
	srv := s.servers[addr.Server]
	if srv == nil {
		e := iq.Fail(notConnected(addr.Server))
		return nil, "", &e
	}
	if addr.Kind == KindParticipant {
		r := srv.room(addr.Channel)
		if r == nil || r.state != roomJoined || !r.resources.has(iq.From.String()) {
			e := iq.Fail(newError(stanza.Cancel, stanza.NotAcceptable, ""))
			return nil, "", &e
		}
		if r.occupant(addr.Nick) == nil {
			e := iq.Fail(newError(stanza.Cancel, stanza.ItemNotFound, "Recipient not in room"))
			return nil, "", &e
		}
	}
	return srv, addr.Nick, nil
}
