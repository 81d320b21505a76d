package ircbridge

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"biboumi/ircbridge/ircclient"

	"github.com/ergochat/irc-go/ircmsg"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// This file handles what the user's XMPP clients send.

func (s *Session) handlePresence(p Presence) {
	addr, err := s.parse(p.To)
	if err != nil {
		if p.Type == "" && p.MUC != nil {
			// Reference §2: a join to an invalid room is ignored by
			// Biboumi; we answer it, so that clients do not hang.
			s.bouncePresence(p, err)
		}
		return
	}
	if addr.Kind == KindGateway || addr.Kind == KindServer {
		s.rosterPresence(p, addr)
		return
	}
	switch p.Type {
	case "":
		if addr.Kind != KindParticipant && addr.Kind != KindChannel {
			return
		}
		if p.MUC != nil {
			s.join(p, addr)
			return
		}
		s.presenceUpdate(p, addr)
	case stanza.UnavailablePresence:
		if addr.Kind == KindParticipant || addr.Kind == KindChannel {
			s.leave(p.From, addr, p.Status)
		}
	case stanza.ErrorPresence:
		if addr.Kind == KindParticipant || addr.Kind == KindChannel {
			s.leave(p.From, addr, "Error from remote client")
		}
	}
}

func (s *Session) bouncePresence(p Presence, err error) {
	var se stanza.Error
	if !errors.As(err, &se) {
		se = newError(stanza.Cancel, stanza.InternalServerError, "")
	}
	s.send(Presence{From: p.To, To: p.From, ID: p.ID, Type: stanza.ErrorPresence, MUC: &MUCJoin{}, Error: &se})
}

// join handles a MUC join request (reference §5.2).
func (s *Session) join(p Presence, addr Address) {
	if addr.Kind != KindParticipant {
		s.bouncePresence(p, newError(stanza.Modify, stanza.JIDMalformed, "A nickname is required to join a room"))
		return
	}
	srv := s.servers[addr.Server]
	if srv == nil || srv.room(addr.Channel) == nil {
		if err := s.joinAllowed(addr, srv == nil); err != nil {
			s.bouncePresence(p, err)
			return
		}
	}
	if srv == nil {
		srv = s.connect(addr.Server, addr.Nick)
	}
	res := p.From
	srv.resources.add(res)
	r := srv.room(addr.Channel)
	if r != nil {
		r.resources.add(res)
		r.leaving.remove(res.String())
		if r.state == roomJoined {
			s.replayRoom(r, res, p.MUC.History)
		} else {
			// Joining (a forced join, another client's join): the
			// occupants the NAMES lines listed so far, the rest as they
			// come, then the self-presence at their end.
			s.sendOccupantsTo(r, res)
			r.setHistory(res, p.MUC.History)
		}
		return
	}
	// The room answers from the JID the client joined, even when another
	// spelling of it exists (escapes are not canonical).
	r = newRoom(srv, addr.Channel, p.To.Bare(), s.channelOptions(addr.Server, addr.Channel))
	r.key = p.MUC.Password
	r.resources.add(res)
	s.applyCharset(srv, r)
	r.setHistory(res, p.MUC.History)
	srv.rooms[srv.fold(addr.Channel)] = r
	if srv.registered {
		s.sendJoin(srv, r)
	}
}

// badInChannel reports the characters no IRC channel name may hold (RFC
// 2812 §1.3): space, comma, and control characters (BEL, NUL, CR, LF).
func badInChannel(r rune) bool { return r == ' ' || r == ',' || r < 0x20 }

// joinAllowed checks the policy and the user's limits before a join that
// needs a new room (and maybe a new connection).
func (s *Session) joinAllowed(addr Address, newServer bool) error {
	if i := strings.IndexFunc(addr.Channel, badInChannel); i >= 0 {
		// The JOIN would name other channels, or could not be written.
		return newError(stanza.Modify, stanza.JIDMalformed, fmt.Sprintf("%q is not a valid IRC channel name (%q at byte %d)", addr.Channel, addr.Channel[i], i))
	}
	if !s.cfg.ircAllowed(addr.Server) {
		return newError(stanza.Cancel, stanza.NotAllowed, "The IRC server "+addr.Server+" is not allowed on this gateway")
	}
	if newServer && len(s.servers) >= s.cfg.Limits.IRCConnections {
		return newError(stanza.Wait, stanza.ResourceConstraint, "You are connected to too many IRC servers ("+itoa(s.cfg.Limits.IRCConnections)+")")
	}
	n := 0
	for _, srv := range s.servers {
		n += len(srv.rooms)
	}
	if n >= s.cfg.Limits.Channels {
		return newError(stanza.Wait, stanza.ResourceConstraint, "You are in too many channels ("+itoa(s.cfg.Limits.Channels)+")")
	}
	return nil
}

func (s *Session) sendJoin(srv *ircServer, r *room) {
	params := []string{r.name}
	if r.key != "" {
		params = append(params, r.key)
	}
	s.ircSend(srv, ircmsg.MakeMessage(nil, "", "JOIN", params...))
}

func (s *Session) ircSend(srv *ircServer, m ircmsg.Message) error {
	err := srv.conn.Send(m)
	if err == nil {
		s.cfg.Metrics.IRCLineSent()
	} else {
		s.log.Warn("IRC line not sent", "server", srv.name, "command", m.Command, "err", err)
	}
	return err
}

// errNotSent answers a message whose lines could not all be queued for
// IRC (the connection's queue is full, or it just closed): the user is
// told rather than left to believe it was sent.
func errNotSent(sent, total int) stanza.Error {
	return newError(stanza.Wait, stanza.ResourceConstraint,
		"Too many lines waiting for the IRC server: "+itoa(total-sent)+" of "+itoa(total)+" lines of this message were not sent")
}

// presenceUpdate handles an available presence without the MUC <x/>: a nick
// change if the nick differs (reference §5.4), otherwise a status update
// that IRC has no use for. Presence updates never send NICK when the nick
// is unchanged (Biboumi's NICK spam, peers.md pain point 11).
func (s *Session) presenceUpdate(p Presence, addr Address) {
	srv := s.servers[addr.Server]
	if srv == nil || addr.Kind != KindParticipant {
		return
	}
	r := srv.room(addr.Channel)
	if r == nil || !r.resources.has(p.From.String()) {
		s.bouncePresence(p, newError(stanza.Modify, stanza.NotAcceptable, "You are not joined to this MUC."))
		return
	}
	if addr.Nick == srv.nick || r.state != roomJoined {
		return
	}
	s.ircSend(srv, ircmsg.MakeMessage(nil, "", "NICK", addr.Nick))
}

// leave handles an unavailable presence from res to a room (§5.3).
func (s *Session) leave(res jid.JID, addr Address, status string) {
	srv := s.servers[addr.Server]
	if srv == nil {
		return
	}
	r := srv.room(addr.Channel)
	if r == nil {
		return
	}
	k := res.String()
	if !r.resources.has(k) {
		return // leaving a room never joined: ignored
	}
	r.resources.remove(k)
	if n := r.resources.len(); n > 0 {
		s.sendSelfUnavailable(r, res, Presence{Status: plural(n)})
		srv.dropResource(res)
		return
	}
	if r.state == roomJoined && s.persistent(r) {
		// Stay on IRC (and keep archiving); only the client leaves.
		s.keepIfPersistent(r)
		s.sendSelfUnavailable(r, res, Presence{Status: status})
		srv.dropResource(res)
		return
	}
	if r.state == roomJoined {
		r.leaving.add(res)
		s.ircSend(srv, ircmsg.MakeMessage(nil, "", "PART", r.name, status))
		return
	}
	// Still joining: part at once and answer now.
	s.ircSend(srv, ircmsg.MakeMessage(nil, "", "PART", r.name, status))
	s.sendSelfUnavailable(r, res, Presence{Status: status})
	s.removeRoom(srv, r)
	srv.dropResource(res)
}

func plural(n int) string {
	if n == 1 {
		return "Biboumi note: 1 resource is still in this channel."
	}
	return "Biboumi note: " + itoa(n) + " resources are still in this channel."
}

// removeRoom forgets r and quits the server when no room is left.
func (s *Session) removeRoom(srv *ircServer, r *room) {
	s.forgetKept(r)
	delete(srv.rooms, srv.fold(r.name))
	if len(srv.rooms) == 0 {
		s.quit(srv, "")
	}
}

func (s *Session) handleMessage(m Message) {
	if m.Type == stanza.ErrorMessage {
		s.handleClientError(m)
		return
	}
	addr, err := s.parse(m.To)
	if err != nil {
		s.bounceMessage(m, err)
		return
	}
	switch addr.Kind {
	case KindChannel:
		if m.Type == stanza.GroupChatMessage {
			s.groupchat(m, addr)
			return
		}
		if m.MUCUser != nil && m.MUCUser.Invite != nil {
			s.inviteFromXMPP(m, addr, m.MUCUser.Invite)
			return
		}
		s.bounceMessage(m, newError(stanza.Modify, stanza.NotAcceptable, "You are not a participant in this room."))
	case KindParticipant, KindUser:
		if m.Type == stanza.GroupChatMessage {
			s.bounceMessage(m, newError(stanza.Modify, stanza.NotAcceptable, "You are not a participant in this room."))
			return
		}
		s.privateMessage(m, addr)
	case KindServer:
		s.rawCommand(m, addr)
	case KindGateway:
		if s.cfg.FixedServer != "" {
			s.rawCommand(m, addr)
		}
	}
}

// handleClientError removes a resource that bounced a message from every
// room, as reference §5.3 describes.
func (s *Session) handleClientError(m Message) {
	if m.Error != nil {
		switch m.Error.Condition {
		case stanza.Gone, stanza.InternalServerError, stanza.ItemNotFound, stanza.JIDMalformed,
			stanza.RecipientUnavailable, stanza.Redirect, stanza.RemoteServerNotFound,
			stanza.RemoteServerTimeout, stanza.ServiceUnavailable, "malformed-error":
		default:
			return
		}
	}
	for _, srv := range s.servers {
		for _, r := range srv.rooms {
			if r.resources.has(m.From.String()) {
				s.leave(m.From, Address{Kind: KindChannel, Server: srv.name, Channel: r.name}, "Error from remote client")
			}
		}
	}
}

func (s *Session) bounceMessage(m Message, err error) {
	var se stanza.Error
	if !errors.As(err, &se) {
		se = newError(stanza.Cancel, stanza.InternalServerError, "")
	}
	s.send(Message{From: m.To, To: m.From, ID: m.ID, Type: stanza.ErrorMessage, Error: &se})
}

// groupchat relays a message from a room occupant to IRC and reflects it
// (reference §5.7).
func (s *Session) groupchat(m Message, addr Address) {
	srv := s.servers[addr.Server]
	var r *room
	if srv != nil {
		r = srv.room(addr.Channel)
	}
	if r != nil && r.rejoin && !!r.resources.has(m.From.String()) {
		if !srv.queueWhileDown(queuedLine{from: m.From, msg: m}) {
			s.bounceMessage(m, newError(stanza.Wait, stanza.ResourceConstraint, "The IRC connection is being re-established and too many messages are waiting"))
		}
		return
	}
	if r == nil || r.state != roomJoined || !r.resources.has(m.From.String()) {
		s.bounceMessage(m, newError(stanza.Modify, stanza.NotAcceptable, "You are not a participant in this room."))
		return
	}
	if m.Subject != nil {
		s.ircSend(srv, ircmsg.MakeMessage(nil, "", "TOPIC", r.name, strings.ReplaceAll(*m.Subject, "\n", " ")))
	}
	if m.Body == "" {
		return
	}
	id := m.ID
	var pieces []ircPiece
	for _, line := range strings.Split(m.Body, "\n") {
		if strings.HasPrefix(line, "/mode ") {
			args := strings.Fields(line[len("/mode "):])
			s.ircSend(srv, ircmsg.MakeMessage(nil, "", "MODE", append([]string{r.name}, args...)...))
			continue
		}
		pieces = append(pieces, s.splitForIRC(srv, r.name, line)...)
	}
	echo := srv.conn.Has("echo-message")
	for i, piece := range pieces {
		line := piece.msg(r.name)
		if echo {
			// Reflected when the server echoes it, so that only what IRC
			// accepted is shown, with the client's id.
			e := pendingEcho{id: id, originID: m.OriginID, body: piece.xmppBody(), from: m.From, label: labelFor(srv)}
			if e.label != "" {
				line.SetTag("label", e.label)
			}
			if err := s.ircSend(srv, line); err != nil {
				s.bounceMessage(m, errNotSent(i, len(pieces)))
				return
			}
			r.echoes = append(r.echoes, e)
			if len(r.echoes) > maxEchoes {
				r.echoes = r.echoes[1:] // the server does not echo after all
			}
			id = ""
			continue
		}
		if err := s.ircSend(srv, line); err != nil {
			s.bounceMessage(m, errNotSent(i, len(pieces)))
			return
		}
		logID, archived := s.archive(r, srv.nick, piece.xmppBody(), time.Now())
		if id == "" {
			id = logID
		}
		for _, res := range r.resourceList() {
			s.send(Message{
				From: r.occupantJID(srv.nick), To: res, ID: id, Type: stanza.GroupChatMessage,
				Body: piece.xmppBody(), OriginID: m.OriginID, StanzaID: r.stanzaID(logID, archived),
			})
		}
		id = ""
	}
}

// ircPiece is one IRC-sized part of a message, possibly a CTCP ACTION.
type ircPiece struct {
	text   string
	action bool
}

func (p ircPiece) msg(target string) ircmsg.Message {
	if p.action {
		return ircmsg.MakeMessage(nil, "", "PRIVMSG", target, "\x01ACTION "+p.text+"\x01")
	}
	return ircmsg.MakeMessage(nil, "", "PRIVMSG", target, p.text)
}

func (p ircPiece) xmppBody() string {
	if p.action {
		return "/me " + p.text
	}
	return p.text
}

// splitForIRC cuts one line of a message into pieces that fit an IRC line
// as the other clients will receive it (with our prefix).
func (s *Session) splitForIRC(srv *ircServer, target, line string) []ircPiece {
	action := strings.HasPrefix(line, "/me ")
	if action {
		line = line[len("/me "):]
	}
	budget := ircclient.LineBudget(srv.nick, "", "", "PRIVMSG", target) + srv.conn.LineLimit() - 512
	if action {
		budget -= len("\x01ACTION \x01")
	}
	var out []ircPiece
	for _, t := range ircclient.SplitText(line, budget) {
		out = append(out, ircPiece{text: t, action: action})
	}
	return out
}

// privateMessage relays a chat message to an IRC user (reference §5.8).
func (s *Session) privateMessage(m Message, addr Address) {
	srv := s.servers[addr.Server]
	if srv == nil {
		s.bounceMessage(m, notConnected(addr.Server))
		return
	}
	if m.Body == "" {
		return
	}
	if srv.partners == nil {
		srv.partners = make(map[string]bool)
	}
	srv.partners[srv.fold(addr.Nick)] = true
	var pieces []ircPiece
	for _, line := range strings.Split(m.Body, "\n") {
		pieces = append(pieces, s.splitForIRC(srv, addr.Nick, line)...)
	}
	for i, piece := range pieces {
		if err := s.ircSend(srv, piece.msg(addr.Nick)); err != nil {
			s.bounceMessage(m, errNotSent(i, len(pieces)))
			return
		}
	}
}

// rawCommand sends the body of a message to the server JID verbatim.
func (s *Session) rawCommand(m Message, addr Address) {
	srv := s.servers[addr.Server]
	if srv == nil {
		s.bounceMessage(m, notConnected(addr.Server))
		return
	}
	for _, line := range strings.Split(m.Body, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := srv.conn.SendRaw(line); err != nil {
			s.log.Warn("raw IRC line not sent", "server", srv.name, "err", err)
		}
	}
}
