package ircbridge

import (
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"mellium.im/xmpp/stanza"
)

// This file maps XEP-0045 muc#admin requests to MODE and KICK (reference
// §5.5, §5.6).

// adminRequest handles a muc#admin iq set on a room.
func (s *Session) adminRequest(iq IQ, addr Address, q *MUCAdmin) IQ {
	if iq.Type != stanza.SetIQ || addr.Kind != KindChannel || len(q.Items) == 0 {
		return iq.Fail(newError(stanza.Modify, stanza.BadRequest, ""))
	}
	srv := s.servers[addr.Server]
	var r *room
	if srv != nil {
		r = srv.room(addr.Channel)
	}
	if r == nil || r.state != roomJoined || !r.resources.has(iq.From.String()) {
		return iq.Fail(newError(stanza.Cancel, stanza.NotAcceptable, "You are not joined to this room."))
	}
	it := q.Items[0]
	o := r.occupant(it.Nick)
	if it.Nick == "" || o == nil {
		return iq.Fail(newError(stanza.Cancel, stanza.ItemNotFound, "no such nick"))
	}
	if it.Role == RoleNone {
		s.ircSend(srv, ircmsg.MakeMessage(nil, "", "KICK", r.name, o.nick, it.Reason))
		s.waitAdmin(iq, srv, r)
		return IQ{}
	}
	modes := adminModes(o.modes, it, srv)
	if modes == "" {
		return iq.Result(nil) // nothing to change
	}
	params := []string{r.name, modes}
	for i := 0; i < len(modes); i++ {
		if modes[i] != '+' && modes[i] != '-' {
			params = append(params, o.nick) // one argument per mode letter
		}
	}
	s.ircSend(srv, ircmsg.MakeMessage(nil, "", "MODE", params...))
	s.waitAdmin(iq, srv, r)
	return IQ{}
}

func (s *Session) waitAdmin(iq IQ, srv *ircServer, r *room) {
	s.pending.toIRC = append(s.pending.toIRC, &pendingIRC{
		kind: pendAdmin, iq: iq, server: srv.name, target: srv.fold(r.name), expires: time.Now().Add(pendingTimeout),
	})
}

// adminModes returns the MODE string ("+o-v", without arguments) that gives
// an occupant holding have the requested affiliation or role.
func adminModes(have string, it MUCItem, srv *ircServer) string {
	var add byte
	var remove string
	switch {
	case it.Affiliation == AffNone:
		remove = "vhoaq"
	case it.Affiliation == AffMember:
		add, remove = 'v', "hoaq"
	case it.Affiliation == AffAdmin:
		add, remove = 'o', "aq"
	case it.Affiliation == AffOwner:
		add, remove = 'a', "q"
	case it.Role == RoleModerator:
		add, remove = 'h', "oaq"
	case it.Role == RoleParticipant:
		add, remove = 'v', "hoaq"
	}
	supported := "ov"
	if srv.isupport != nil {
		supported = srv.isupport.PrefixModes()
	}
	if add != 0 && strings.IndexByte(supported, add) < 0 {
		// The server lacks the mode (no +a or +h): use the next one up.
		switch add {
		case 'h', 'a':
			add = 'o'
		}
	}
	var plus, minus strings.Builder
	if add != 0 && strings.IndexByte(have, add) < 0 {
		plus.WriteByte(add)
	}
	for i := 0; i < len(remove); i++ {
		if c := remove[i]; c != add && strings.IndexByte(have, c) >= 0 {
			minus.WriteByte(c)
		}
	}
	out := ""
	if plus.Len() > 0 {
		out += "+" + plus.String()
	}
	if minus.Len() > 0 {
		out += "-" + minus.String()
	}
	return out
}

// adminConfirmed answers the muc#admin request waiting on a channel when
// our own MODE or KICK on it comes back.
func (s *Session) adminConfirmed(srv *ircServer, channel string) {
	folded := srv.fold(channel)
	if q := s.pending.take(func(q *pendingIRC) bool {
		return q.kind == pendAdmin && q.server == srv.name && q.target == folded
	}); q != nil {
		s.send(q.iq.Result(nil))
	}
}

// adminRefused answers the muc#admin request waiting on a channel with
// the error an IRC numeric maps to (401, 482, 472).
func (s *Session) adminRefused(srv *ircServer, channel string, e stanza.Error) bool {
	folded := srv.fold(channel)
	q := s.pending.take(func(q *pendingIRC) bool {
		return q.kind == pendAdmin && q.server == srv.name && (channel == "" || q.target == folded)
	})
	if q == nil {
		return false
	}
	s.send(q.iq.Fail(e))
	return true
}
