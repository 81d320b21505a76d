package ircbridge

import (
	"strconv"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// This file builds the MUC presences of occupants (XEP-0045 §7.2.3).

// realJID is the informational "real JID" of an IRC occupant:
// nick%server@gateway/user@host (reference §2). It is zero when unknown.
func (s *Session) realJID(srv *ircServer, o *occupant) jid.JID {
	if o.user == "" || o.host == "" {
		return jid.JID{}
	}
	j, err := s.mapper().JID(Address{Kind: KindUser, Server: srv.name, Nick: o.nick})
	if err != nil {
		return jid.JID{}
	}
	j, err = j.WithResource(o.user + "@" + o.host)
	if err != nil {
		return jid.JID{}
	}
	return j
}

func (s *Session) occupantItem(r *room, o *occupant) MUCItem {
	role, aff := roleOf(o.modes)
	return MUCItem{Affiliation: aff, Role: role, JID: s.realJID(r.srv, o)}
}

// sendOccupant sends the available presence of o to every resource in r.
func (s *Session) sendOccupant(r *room, o *occupant) {
	if !r.hasOccupantJID(o.nick) {
		return // not a resourcepart: a presence from the bare room is the room's
	}
	item := s.occupantItem(r, o)
	for _, res := range r.resourceList() {
		s.send(Presence{From: r.occupantJID(o.nick), To: res, MUCUser: &MUCUser{Items: []MUCItem{item}}})
	}
}

// sendOccupantGone sends the unavailable presence of o to r's resources.
func (s *Session) sendOccupantGone(r *room, o *occupant, status string, extra MUCUser) {
	if !r.hasOccupantJID(o.nick) {
		return // never shown (see sendOccupant)
	}
	item := s.occupantItem(r, o)
	if len(extra.Items) > 0 {
		e := extra.Items[0]
		if e.Nick != "" {
			item.Nick = e.Nick
		}
		if e.Actor != nil {
			item.Actor = e.Actor
			item.Reason = e.Reason
			item.Role, item.Affiliation = RoleNone, AffNone
		}
	}
	for _, res := range r.resourceList() {
		s.send(Presence{
			From: r.occupantJID(o.nick), To: res, Type: stanza.UnavailablePresence, Status: status,
			MUCUser: &MUCUser{Items: []MUCItem{item}, Status: extra.Status},
		})
	}
}

// selfItem is the <item/> of our own occupant in r, seen by res.
func (s *Session) selfItem(r *room, res jid.JID) MUCItem {
	role, aff := RoleParticipant, AffNone
	if o := r.occupant(r.srv.nick); o != nil {
		role, aff = roleOf(o.modes)
	}
	return MUCItem{Affiliation: aff, Role: role, JID: res}
}

// sendSelf sends the self-presence to res, with the three status codes
// Biboumi always sends (reference §5.2, §8).
func (s *Session) sendSelf(r *room, res jid.JID) {
	s.send(Presence{
		From: r.occupantJID(r.srv.nick), To: res,
		MUCUser: &MUCUser{Items: []MUCItem{s.selfItem(r, res)}, Status: []int{StatusSelf, StatusNickAssigned, StatusNonAnonymous}},
	})
}

// sendSelfUnavailable tells res it is out of r. p may carry a status text
// and extra status codes.
func (s *Session) sendSelfUnavailable(r *room, res jid.JID, p Presence) {
	item := s.selfItem(r, res)
	item.Role = RoleNone
	status := []int{StatusSelf}
	if p.MUCUser != nil {
		status = append(status, p.MUCUser.Status...)
	}
	s.send(Presence{
		From: r.occupantJID(r.srv.nick), To: res, Type: stanza.UnavailablePresence, Status: p.Status,
		MUCUser: &MUCUser{Items: []MUCItem{item}, Status: status},
	})
}

// sendSubject sends the room subject to res: an empty <subject/> when the
// channel has no topic (XEP-0045 §7.2.15).
func (s *Session) sendSubject(r *room, res jid.JID) {
	from := r.jid
	if r.topicBy != "" {
		from = r.occupantJID(r.topicBy)
	}
	subject := r.topic
	s.send(Message{From: from, To: res, ID: newID(), Type: stanza.GroupChatMessage, Subject: &subject})
}

// replayRoom sends a resource joining an already joined room what the
// first resource got: occupants, self-presence and subject, without IRC
// traffic (reference §5.2 item 6).
func (s *Session) replayRoom(r *room, res jid.JID, hist *HistoryRequest) {
	s.sendOccupantsTo(r, res)
	s.sendSelf(r, res)
	s.sendHistory(r, res, hist)
	s.sendSubject(r, res)
}

// sendOccupantsTo sends res the presence of every other occupant r knows.
func (s *Session) sendOccupantsTo(r *room, res jid.JID) {
	for _, o := range r.occupantList() {
		if r.srv.isMe(o.nick) || !r.hasOccupantJID(o.nick) {
			continue
		}
		s.send(Presence{From: r.occupantJID(o.nick), To: res, MUCUser: &MUCUser{Items: []MUCItem{s.occupantItem(r, o)}}})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
