package ircbridge

import (
	"runtime"
	"strconv"

	"mellium.im/xmpp/stanza"
)

// handleIQ answers the iqs that depend on the user's state (reference §5.9,
// §5.13, §5.14). Every get or set gets exactly one answer.
func (s *Session) handleIQ(iq IQ) {
	if iq.Type != stanza.GetIQ && iq.Type != stanza.SetIQ {
		s.answerFromXMPP(iq)
		return
	}
	addr, err := s.parse(iq.To)
	if err != nil {
		s.send(iq.Fail(err.(stanza.Error)))
		return
	}
	reply, ok := s.answerIQ(iq, addr)
	switch {
	case !ok:
		s.send(iq.Fail(newError(stanza.Cancel, stanza.FeatureNotImplemented, "")))
	case reply.Type != "":
		s.send(reply)
	}
	// Otherwise the answer comes later, from IRC.
}

func (s *Session) answerIQ(iq IQ, addr Address) (IQ, bool) {
	srv := s.servers[addr.Server]
	switch p := iq.Payload.(type) {
	case *MUCAdmin:
		return s.adminRequest(iq, addr, p), true
	case *MAMQuery:
		return s.mamQuery(iq, addr, p), true
	case *Command:
		return s.handleCommand(iq, addr, p), true
	case *MUCQuery:
		return s.mucOwner(iq, addr, p), true
	case *DiscoItems:
		if iq.Type == stanza.GetIQ && p.Node == "" && addr.Kind == KindServer {
			return s.listChannels(iq, addr, p), true
		}
	case *DiscoInfo:
		if iq.Type != stanza.GetIQ || addr.Kind != KindChannel {
			return IQ{}, false
		}
		if p.Node == NSMUCTraffic {
			return iq.Result(&DiscoInfo{Node: p.Node}), true
		}
		if p.Node != "" {
			return iq.Fail(newError(stanza.Cancel, stanza.ItemNotFound, "")), true
		}
		form := &Form{Type: "result", Fields: []FormField{
			{Var: "FORM_TYPE", Type: "hidden", Values: []string{NSMUCRoomInfo}},
		}}
		if srv != nil {
			if r := srv.room(addr.Channel); r != nil && r.state == roomJoined {
				form.Fields = append(form.Fields, FormField{
					Var: "muc#roominfo_occupants", Label: "Number of occupants",
					Values: []string{strconv.Itoa(r.occupants.len())},
				})
			}
		}
		return iq.Result(&DiscoInfo{
			Identities: []Identity{{Category: "conference", Type: "irc", Name: addr.Channel + " on " + addr.Server}},
			Features:   features(NSMUCSelfPing, FeatureNonAnon, NSSID, NSMAMExtended),
			Form:       form,
		}), true
	case *Version:
		if iq.Type != stanza.GetIQ {
			return IQ{}, false
		}
		switch addr.Kind {
		case KindChannel:
			return iq.Result(&Version{Name: SoftwareName, Version: s.cfg.Version, OS: runtime.GOOS}), true
		case KindUser, KindParticipant:
			srv, nick, fail := s.ircTargetOf(iq, addr)
			if fail != nil {
				return *fail, true
			}
			s.ctcpRequest(iq, srv, nick, pendVersion)
			return IQ{}, true
		}
	case *Ping:
		if iq.Type != stanza.GetIQ {
			return IQ{}, false
		}
		switch addr.Kind {
		case KindServer, KindChannel:
			if srv == nil {
				return iq.Fail(newError(stanza.Cancel, stanza.ServiceUnavailable, "")), true
			}
			return iq.Result(nil), true
		case KindParticipant:
			return s.selfPing(iq, addr), true
		case KindUser:
			srv, nick, fail := s.ircTargetOf(iq, addr)
			if fail != nil {
				return *fail, true
			}
			s.ctcpRequest(iq, srv, nick, pendPing)
			return IQ{}, true
		}
	}
	return IQ{}, false
}

// selfPing answers pings to an occupant JID: at once for our own nick
// (XEP-0410), with a CTCP PING for others.
func (s *Session) selfPing(iq IQ, addr Address) IQ {
	srv := s.servers[addr.Server]
	var r *room
	if srv != nil {
		r = srv.room(addr.Channel)
	}
	if r == nil || r.state != roomJoined {
		return iq.Fail(newError(stanza.Cancel, stanza.NotAcceptable, ""))
	}
	if !r.resources.has(iq.From.String()) {
		return iq.Fail(newError(stanza.Cancel, stanza.NotAcceptable, ""))
	}
	if addr.Nick == srv.nick {
		return iq.Result(nil)
	}
	if r.occupant(addr.Nick) == nil {
		return iq.Fail(newError(stanza.Cancel, stanza.ItemNotFound, "Recipient not in room"))
	}
	s.ctcpRequest(iq, srv, addr.Nick, pendPing)
	return IQ{}
}
