package ircbridge

import (
	"github.com/ergochat/irc-go/ircmsg"
	"mellium.im/xmpp/stanza"
)

// This file handles XEP-0045 mediated invitations both ways, and forced
// joins (reference §5.2 item 8, §5.8).

// inviteFromXMPP relays an invitation a user sent through a room: to an
// IRC nick as INVITE, to anyone else as a mediated invitation.
func (s *Session) inviteFromXMPP(m Message, addr Address, inv *Invite) {
	srv := s.servers[addr.Server]
	var r *room
	if srv != nil {
		r = srv.room(addr.Channel)
	}
	if r == nil || r.state != roomJoined || !r.resources.has(m.From.String()) {
		s.bounceMessage(m, newError(stanza.Modify, stanza.NotAcceptable, "You are not a participant in this room."))
		return
	}
	to := inv.To
	if to.Domain().Equal(s.cfg.Domain) || to.Localpart() == "" {
		nick := ""
		if a, err := s.parse(to); err == nil && (a.Kind == KindUser || a.Kind == KindParticipant) {
			nick = a.Nick
		} else if to.Resourcepart() != "" {
			nick = to.Resourcepart()
		} else if to.Localpart() != "" {
			nick = unescape(to.Localpart())
		} else {
			nick = to.Domainpart()
		}
		s.ircSend(srv, ircmsg.MakeMessage(nil, "", "INVITE", nick, r.name))
		return
	}
	s.send(Message{
		From: r.jid, To: to, ID: newID(), Type: stanza.NormalMessage,
		MUCUser: &MUCUser{Invite: &Invite{From: m.From, Reason: inv.Reason}},
	})
}

// onInvite relays an IRC INVITE to every resource of the user on that
// server, as a mediated invitation from the room.
func (s *Session) onInvite(srv *ircServer, m ircmsg.Message) {
	channel := param(m, 1)
	if channel == "" {
		return
	}
	s.inviteResources(srv, channel, m.Nick())
}

func (s *Session) inviteResources(srv *ircServer, channel, inviter string) {
	roomJID, err := s.mapper().JID(Address{Kind: KindChannel, Server: srv.name, Channel: channel})
	if err != nil {
		return
	}
	inv := &Invite{}
	if inviter != "" {
		if j, err := roomJID.WithResource(inviter); err == nil {
			inv.From = j
		}
	}
	for _, res := range srv.resourceList() {
		s.send(Message{From: roomJID, To: res, ID: newID(), Type: stanza.NormalMessage, MUCUser: &MUCUser{Invite: inv}})
	}
}

// forcedJoin handles a JOIN of ours that no resource asked for: the
// server (or an after-connect command) joined us. The room is tracked so
// that a later join by the user gets the occupants at once, and the user's
// resources are invited to it.
func (s *Session) forcedJoin(srv *ircServer, channel string) {
	j, err := s.mapper().JID(Address{Kind: KindChannel, Server: srv.name, Channel: channel})
	if err != nil {
		return
	}
	r := newRoom(srv, channel, j, s.channelOptions(srv.name, srv.fold(channel)))
	srv.rooms[srv.fold(channel)] = r
	s.applyCharset(srv, r)
	s.inviteResources(srv, channel, "")
}
