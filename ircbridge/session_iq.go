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
		return // results and errors of our own requests: none pending yet
	}
	addr, err := s.parse(iq.To)
	if err != nil {
		s.send(iq.Fail(err.(stanza.Error)))
		return
	}
	reply, ok := s.answerIQ(iq, addr)
	if !ok {
		reply = iq.Fail(newError(stanza.Cancel, stanza.FeatureNotImplemented, ""))
	}
	s.send(reply)
}

func (s *Session) answerIQ(iq IQ, addr Address) (IQ, bool) {
	srv := s.servers[addr.Server]
	switch p := iq.Payload.(type) {
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
					Values: []string{strconv.Itoa(len(r.occupants))},
				})
			}
		}
		return iq.Result(&DiscoInfo{
			Identities: []Identity{{Category: "conference", Type: "irc", Name: addr.Channel + " on " + addr.Server}},
			Features:   features(NSMUCSelfPing, FeatureNonAnon, NSSID),
			Form:       form,
		}), true
	case *Version:
		if iq.Type != stanza.GetIQ || addr.Kind != KindChannel {
			return IQ{}, false
		}
		return iq.Result(&Version{Name: SoftwareName, Version: s.cfg.Version, OS: runtime.GOOS}), true
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
		}
	}
	return IQ{}, false
}

// selfPing answers XEP-0410 pings to an occupant JID. Pings to other
// occupants become CTCP PINGs in a later version; they get
// service-unavailable for now.
func (s *Session) selfPing(iq IQ, addr Address) IQ {
	srv := s.servers[addr.Server]
	var r *room
	if srv != nil {
		r = srv.room(addr.Channel)
	}
	if r == nil || r.state != roomJoined {
		return iq.Fail(newError(stanza.Cancel, stanza.NotAcceptable, ""))
	}
	if _, ok := r.resources[iq.From.String()]; !ok {
		return iq.Fail(newError(stanza.Cancel, stanza.NotAcceptable, ""))
	}
	if addr.Nick == srv.nick {
		return iq.Result(nil)
	}
	if r.occupant(addr.Nick) == nil {
		return iq.Fail(newError(stanza.Cancel, stanza.ItemNotFound, "Recipient not in room"))
	}
	return iq.Fail(newError(stanza.Cancel, stanza.ServiceUnavailable, ""))
}
