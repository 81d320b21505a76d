package ircbridge

import (
	"strconv"
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircfmt"
	"github.com/ergochat/irc-go/ircmsg"
	"mellium.im/xmpp/stanza"
)

// errorNumerics are forwarded as "<arg1>: <arg2 or 'Unspecified error'>"
// (reference §6.1).
const errorNumerics = "401 402 403 404 405 406 407 408 409 410 411 412 414 421 422 423 424 " +
	"431 432 433 436 437 438 441 442 443 444 446 451 461 462 463 464 465 467 470 471 472 473 474 475 " +
	"476 477 481 482 483 484 485 487 491 501 502"

// isErrorNumeric reports whether cmd is one of errorNumerics. Codes are
// space-separated, so a three-digit match is always a whole code.
// motdMax bounds the MOTD kept and sent, in bytes.
const motdMax = 32 << 10

func isErrorNumeric(cmd string) bool {
	return len(cmd) == 3 && strings.Contains(errorNumerics, cmd)
}

// joinErrors maps the numerics that refuse a JOIN to MUC join errors
// (reference §5.2 and architecture §2.6).
var joinErrors = map[string]struct {
	typ  stanza.ErrorType
	cond stanza.Condition
}{
	"403": {stanza.Cancel, stanza.ItemNotFound},
	"405": {stanza.Cancel, stanza.NotAllowed},
	"437": {stanza.Wait, stanza.ResourceConstraint},
	"470": {stanza.Cancel, stanza.Redirect},
	"471": {stanza.Wait, stanza.ServiceUnavailable},
	"473": {stanza.Auth, stanza.RegistrationRequired},
	"474": {stanza.Auth, stanza.Forbidden},
	"475": {stanza.Auth, stanza.NotAuthorized},
	"477": {stanza.Auth, stanza.RegistrationRequired},
}

func (s *Session) onNumeric(srv *ircServer, m ircmsg.Message) {
	args := m.Params
	if len(args) > 0 {
		args = args[1:] // our own nick
	}
	text := func(i int) string {
		if i >= 0 && i < len(args) {
			return ircfmt.Strip(args[i])
		}
		return ""
	}
	switch m.Command {
	case "005":
		srv.isupport = srv.conn.ISupport()
	case "001", "004", "321", "333", "PONG", "CAP", "PING", "ERROR":
		return
	case "322":
		s.onListItem(srv, text(0))
	case "323":
		s.onListEnd(srv)
	case "263", "416":
		if !s.onListError(srv, text(len(args)-1)) {
			s.gatewayMessage(srv, m.Source, strings.Join(args, " "))
		}
	case "002", "003":
		s.gatewayMessage(srv, m.Source, strings.Join(args, " "))
	case "331":
		if r := srv.room(text(0)); r != nil {
			r.topic, r.topicBy = "", ""
		}
	case "332":
		if r := srv.room(text(0)); r != nil {
			r.topic = strings.ReplaceAll(text(1), "\n", " ")
			if r.state == roomJoined {
				for _, res := range r.resourceList() {
					s.sendSubject(r, res)
				}
			}
		}
	case "353":
		s.onNames(srv, m, args)
	case "366":
		s.onEndOfNames(srv, m, args)
	case "375":
		srv.motd, srv.motdSize = srv.motd[:0], 0
	case "372":
		// Bounded: the MOTD goes out as one message, which must stay
		// under the XMPP server's stanza size limit.
		if line := text(0); srv.motdSize+len(line) <= motdMax {
			srv.motd = append(srv.motd, line)
			srv.motdSize += len(line) + 1
		} else if srv.motdSize <= motdMax {
			srv.motd = append(srv.motd, "[…the MOTD is longer; the rest is not shown]")
			srv.motdSize = motdMax + 1
		}
	case "376":
		s.gatewayMessage(srv, m.Source, strings.Join(srv.motd, "\n"))
		srv.motd, srv.motdSize = nil, 0
	case "433":
		s.nickInUse(srv, args)
	case "401":
		s.noSuchNick(srv, text(0), text(1))
		s.adminRefused(srv, "", newError(stanza.Cancel, stanza.ItemNotFound, text(1)))
		s.gatewayMessage(srv, m.Source, text(0)+": "+text(1))
	case "404":
		// Cannot send to channel: the line we were waiting to see echoed
		// will not come; tell its sender.
		if r := srv.room(text(0)); r != nil {
			if e, ok := r.takeEcho(m); ok {
				err := newError(stanza.Cancel, stanza.NotAllowed, text(1))
				s.send(Message{From: r.jid, To: e.from, ID: e.id, Type: stanza.ErrorMessage, Error: &err})
			}
		}
		s.gatewayMessage(srv, m.Source, text(0)+": "+text(1))
	case "482", "472":
		channel := text(0)
		if m.Command == "472" {
			channel = ""
		}
		s.adminRefused(srv, channel, newError(stanza.Cancel, stanza.NotAllowed, text(1)))
		s.gatewayMessage(srv, m.Source, text(0)+": "+text(1))
	case "438":
		s.gatewayMessage(srv, m.Source, text(0)+": "+text(1))
		for _, r := range srv.rooms {
			e := newError(stanza.Cancel, stanza.NotAcceptable, text(len(args)-1))
			for _, res := range r.resourceList() {
				s.send(Presence{From: r.occupantJID(srv.nick), To: res, Type: stanza.ErrorPresence, Error: &e})
			}
		}
	case "396":
		if len(args) >= 2 {
			s.gatewayMessage(srv, m.Source, text(0)+" "+text(1))
		} else {
			s.gatewayMessage(srv, m.Source, text(0)+" is now your displayed host")
		}
	case "443":
		s.gatewayMessage(srv, m.Source, text(0)+" "+text(1)+" "+text(2))
	case "341":
		s.gatewayMessage(srv, m.Source, text(0)+" has been invited to "+text(1))
	case "367":
		s.banListEntry(srv, args)
	case "368":
		if r := srv.room(text(0)); r != nil && r.state == roomJoined {
			s.roomMessage(r, text(1))
		}
	default:
		if je, ok := joinErrors[m.Command]; ok {
			if r := srv.room(text(0)); r != nil && r.state == roomJoining {
				s.joinFailed(srv, r, newError(je.typ, je.cond, text(1)))
				s.gatewayMessage(srv, m.Source, text(0)+": "+text(1))
				return
			}
		}
		if isErrorNumeric(m.Command) {
			second := text(1)
			if second == "" {
				second = "Unspecified error"
			}
			s.gatewayMessage(srv, m.Source, text(0)+": "+second)
			return
		}
		if len(m.Params) >= 2 {
			parts := make([]string, len(args))
			for i := range args {
				parts[i] = text(i)
			}
			s.gatewayMessage(srv, m.Source, strings.Join(parts, " "))
		}
	}
}

// onNames adds the occupants of a RPL_NAMREPLY while joining; for a joined
// channel (a raw NAMES) the reply is shown as a gateway message.
func (s *Session) onNames(srv *ircServer, m ircmsg.Message, args []string) {
	if len(args) < 3 {
		return
	}
	r := srv.room(args[1])
	if r == nil || r.state == roomJoined {
		s.gatewayMessage(srv, m.Source, strings.Join(args, " "))
		return
	}
	for _, entry := range strings.Fields(args[2]) {
		o := parseNamesEntry(srv.isupport, entry)
		if o.nick == "" {
			continue
		}
		o.fold = srv.fold(o.nick)
		if o.user == "" {
			if prev := r.occupant(o.nick); prev != nil {
				o.user, o.host = prev.user, prev.host
			} else {
				o.user, o.host = r.occupants.knownHost(o.fold, o.nick)
			}
		}
		r.addOccupant(o)
		if !srv.isMe(o.nick) {
			s.sendOccupant(r, o)
		}
	}
}

// onEndOfNames completes a join: self-presence, then subject (reference
// §5.2 item 5).
func (s *Session) onEndOfNames(srv *ircServer, m ircmsg.Message, args []string) {
	if len(args) < 1 {
		return
	}
	r := srv.room(args[0])
	if r == nil || r.state == roomJoined {
		if r != nil {
			s.gatewayMessage(srv, m.Source, strings.Join(args, " "))
		}
		return
	}
	r.state = roomJoined
	if r.occupant(srv.nick) == nil {
		r.addOccupant(r.newOccupant(srv.nick, "", "", ""))
	}
	r.occupants.seal()
	s.keepIfPersistent(r)
	if r.rejoin {
		s.rejoined(srv, r)
		return
	}
	for _, res := range r.resourceList() {
		s.sendSelf(r, res)
		s.sendHistory(r, res, r.history[res.String()])
		delete(r.history, res.String())
		s.sendSubject(r, res)
	}
	r.history = nil
}

// nickInUse reports 433: a gateway message, and a 409 conflict for every
// room of that server still waiting to be joined (reference §5.2).
func (s *Session) nickInUse(srv *ircServer, args []string) {
	nick := ""
	if len(args) > 0 {
		nick = args[0]
	}
	if srv.reconnecting && !srv.registered {
		// Our nick is still taken by the ghost of the lost connection:
		// take another rather than evict the user from every room.
		srv.nick = nick + "_"
		s.ircSend(srv, ircmsg.MakeMessage(nil, "", "NICK", srv.nick))
		return
	}
	reason := ""
	if len(args) > 1 {
		reason = args[1]
	}
	s.gatewayMessage(srv, "", nick+": "+reason)
	for _, r := range srv.rooms {
		if r.state == roomJoining {
			e := newError(stanza.Cancel, stanza.Conflict, reason)
			for _, res := range r.resourceList() {
				s.send(Presence{From: r.occupantJID(nick), To: res, Type: stanza.ErrorPresence, MUC: &MUCJoin{}, Error: &e})
			}
			delete(srv.rooms, srv.fold(r.name))
			for _, res := range r.resourceList() {
				srv.dropResource(res)
			}
		}
	}
	if len(srv.rooms) == 0 {
		// Nothing is joined with this connection: end it, so that the next
		// join with another nick starts afresh.
		s.quit(srv, "")
	}
}

// joinFailed answers every resource waiting for r with e and forgets r.
func (s *Session) joinFailed(srv *ircServer, r *room, e stanza.Error) {
	for _, res := range r.resourceList() {
		s.send(Presence{From: r.occupantJID(srv.nick), To: res, Type: stanza.ErrorPresence, MUC: &MUCJoin{}, Error: &e})
	}
	resources := r.resourceList()
	s.removeRoom(srv, r)
	for _, res := range resources {
		srv.dropResource(res)
	}
}

// banListEntry shows a RPL_BANLIST line in its room (reference §5.7).
func (s *Session) banListEntry(srv *ircServer, args []string) {
	if len(args) < 2 {
		return
	}
	r := srv.room(args[0])
	if r == nil || r.state != roomJoined {
		s.gatewayMessage(srv, "", strings.Join(args, " "))
		return
	}
	text := args[1] + " banned"
	if len(args) >= 3 {
		text += " by " + args[2]
	}
	if len(args) >= 4 {
		if secs, err := strconv.ParseInt(args[3], 10, 64); err == nil {
			text += " on " + time.Unix(secs, 0).UTC().Format(time.RFC3339)
		}
	}
	s.roomMessage(r, text)
}

// roomMessage sends a groupchat message from the bare room to every
// resource in it.
func (s *Session) roomMessage(r *room, text string) {
	id, archived := s.archive(r, "", text, time.Now())
	for _, res := range r.resourceList() {
		s.send(Message{From: r.jid, To: res, ID: id, Type: stanza.GroupChatMessage, Body: text, StanzaID: r.stanzaID(id, archived)})
	}
}
