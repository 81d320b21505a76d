package ircbridge

import (
	"errors"
	"strings"
	"time"

	"biboumi/internal/metrics"
	"biboumi/ircbridge/ircclient"

	"github.com/ergochat/irc-go/ircfmt"
	"github.com/ergochat/irc-go/ircmsg"
	"mellium.im/xmpp/stanza"
)

// This file handles what the user's IRC connections report.

func (s *Session) serverOf(c *ircclient.Conn) *ircServer {
	for _, srv := range s.servers {
		if srv.conn == c {
			return srv
		}
	}
	return s.retiring[c]
}

func (s *Session) handleIRC(ev ircclient.Event) {
	switch ev := ev.(type) {
	case ircclient.Progress:
		if srv := s.serverOf(ev.Conn); srv != nil {
			s.gatewayMessage(srv, "", ev.Text)
		}
	case ircclient.Registered:
		if srv := s.serverOf(ev.Conn); srv != nil {
			s.cfg.Metrics.IRCConnectionState(metrics.IRCConnecting, metrics.IRCConnected)
			s.registered(srv, ev)
		}
	case ircclient.Line:
		if srv := s.serverOf(ev.Conn); srv != nil {
			start := time.Now()
			s.cfg.Metrics.IRCLineReceived()
			s.handleLine(srv, ev.Msg)
			s.cfg.Metrics.ObserveRelay(metrics.IRCToXMPP, time.Since(start))
		}
	case ircclient.Closed:
		if srv := s.serverOf(ev.Conn); srv != nil {
			if srv.registered {
				s.cfg.Metrics.IRCConnectionState(metrics.IRCConnected, "")
			} else {
				s.cfg.Metrics.IRCConnectionState(metrics.IRCConnecting, "")
				s.cfg.Metrics.Error(metrics.ErrIRCConnect)
			}
			s.closed(srv, ev)
		}
	}
}

// registered runs on 001: the queued joins go out (reference §6.1).
func (s *Session) registered(srv *ircServer, ev ircclient.Registered) {
	srv.registered = true
	srv.nick = ev.Nick
	srv.isupport = ev.ISupport
	s.serverPresence(srv, true)
	for _, line := range srv.afterConnect {
		if err := srv.conn.SendRaw(line); err != nil {
			s.log.Warn("after-connect command not sent", "server", srv.name, "err", err)
		}
	}
	for _, r := range srv.rooms {
		if r.state == roomJoining {
			s.sendJoin(srv, r)
		}
	}
}

// closed handles the end of an IRC connection: every room is left, with
// status 332 for joined rooms and a join error for pending ones.
func (s *Session) closed(srv *ircServer, ev ircclient.Closed) {
	text := ev.Text
	if s.servers[srv.name] == srv && !s.stopping && shouldReconnect(srv, ev) {
		wasUp := srv.registered
		s.scheduleReconnect(srv, text)
		srv.waiting = true
		if wasUp {
			s.serverPresence(srv, false)
			s.gatewayMessage(srv, "", "Connection lost: "+text+"; reconnecting.")
		}
		for _, iq := range srv.list.waiters {
			s.send(iq.Fail(notConnected(srv.name)))
		}
		srv.list = channelList{}
		s.dropPendingFor(srv.name)
		return
	}
	s.endServer(srv, ev)
}

// endServer forgets srv once its connection ended for good (ev), or when
// it is given up while it waits to reconnect: the user's clients leave its
// rooms, the requests waiting on it fail.
func (s *Session) endServer(srv *ircServer, ev ircclient.Closed) {
	text := ev.Text
	// Kept channels stay recorded: a server that is down when the gateway
	// starts must not make the user lose them.
	for _, r := range srv.rooms {
		for _, res := range r.leaving.list() {
			s.sendSelfUnavailable(r, res, Presence{})
		}
		for _, res := range r.resourceList() {
			if r.state == roomJoined || r.rejoin {
				// (A room waiting to be joined again after a lost
				// connection is joined as far as the user knows.)
				s.sendSelfUnavailable(r, res, Presence{Status: text, MUCUser: &MUCUser{Status: []int{StatusShutdown}}})
				continue
			}
			e := newError(stanza.Cancel, stanza.ItemNotFound, text)
			s.send(Presence{From: r.occupantJID(srv.nick), To: res, Type: stanza.ErrorPresence, MUC: &MUCJoin{}, Error: &e})
		}
	}
	if srv.registered {
		s.serverPresence(srv, false)
	}
	for _, iq := range srv.list.waiters {
		s.send(iq.Fail(notConnected(srv.name)))
	}
	var serr *ircclient.ServerError
	switch {
	case errors.As(ev.Err, &serr):
		s.gatewayMessage(srv, "", "ERROR: "+text)
	case ev.Err != nil && srv.registered && text != "":
		s.gatewayMessage(srv, "", text)
	}
	if s.servers[srv.name] == srv {
		delete(s.servers, srv.name)
	}
	delete(s.retiring, srv.conn)
	s.dropPendingFor(srv.name)
	s.publishServers()
}

func (s *Session) handleLine(srv *ircServer, m ircmsg.Message) {
	switch m.Command {
	case "JOIN":
		s.onJoin(srv, m)
	case "PART":
		s.onPart(srv, m)
	case "QUIT":
		s.onQuit(srv, m)
	case "NICK":
		s.onNick(srv, m)
	case "KICK":
		s.onKick(srv, m)
	case "PRIVMSG", "NOTICE":
		s.onText(srv, m)
	case "TOPIC":
		s.onTopic(srv, m)
	case "MODE":
		s.onMode(srv, m)
	case "INVITE":
		s.onInvite(srv, m)
	case "AWAY":
		s.onAway(srv, m)
	case "CHGHOST":
		s.onChghost(srv, m)
	default:
		if quietCommand(m.Command) {
			return
		}
		s.onNumeric(srv, m)
	}
}

func param(m ircmsg.Message, i int) string {
	if i < len(m.Params) {
		return m.Params[i]
	}
	return ""
}

func (s *Session) onJoin(srv *ircServer, m ircmsg.Message) {
	channel := param(m, 0)
	if channel == "" {
		return
	}
	r := srv.room(channel)
	nuh, _ := m.NUH()
	if srv.isMe(nuh.Name) {
		if r == nil {
			s.forcedJoin(srv, channel)
			if r = srv.room(channel); r == nil {
				return // a channel name no JID can carry
			}
		}
		r.name = channel
		r.addOccupant(r.newOccupant(nuh.Name, nuh.User, nuh.Host, ""))
		return
	}
	if r == nil {
		return
	}
	o := r.newOccupant(nuh.Name, nuh.User, nuh.Host, "")
	r.addOccupant(o)
	if r.state == roomJoined {
		s.sendOccupant(r, o)
	}
}

func (s *Session) onPart(srv *ircServer, m ircmsg.Message) {
	r := srv.room(param(m, 0))
	if r == nil {
		return
	}
	nick := m.Nick()
	if srv.isMe(nick) {
		for _, res := range r.leaving.list() {
			s.sendSelfUnavailable(r, res, Presence{Status: plainText(param(m, 1))})
			r.leaving.remove(res.String())
			srv.dropResource(res)
		}
		for _, res := range r.resourceList() {
			s.sendSelfUnavailable(r, res, Presence{Status: plainText(param(m, 1))})
		}
		resources := r.resourceList()
		s.removeRoom(srv, r)
		for _, res := range resources {
			srv.dropResource(res)
		}
		return
	}
	if o := r.removeOccupant(nick); o != nil {
		s.sendOccupantGone(r, o, plainText(param(m, 1)), MUCUser{})
	}
}

func (s *Session) onQuit(srv *ircServer, m ircmsg.Message) {
	nick := m.Nick()
	if srv.isMe(nick) {
		return // our own QUIT: the end of the connection says it all
	}
	for _, r := range srv.rooms {
		if o := r.removeOccupant(nick); o != nil && r.state == roomJoined {
			s.sendOccupantGone(r, o, plainText(param(m, 0)), MUCUser{})
		}
	}
}

// plainText is IRC text without formatting, for fields that have no
// XHTML-IM variant (statuses, reasons).
func plainText(s string) string {
	p, _ := formatIRC(s)
	return p
}

// onNick renames an occupant in every room of the server (reference §5.4).
func (s *Session) onNick(srv *ircServer, m ircmsg.Message) {
	old, nick := m.Nick(), param(m, 0)
	if nick == "" {
		return
	}
	me := srv.isMe(old)
	if me {
		srv.nick = nick
	}
	for _, r := range srv.rooms {
		o := r.removeOccupant(old)
		if o == nil {
			continue
		}
		renamed := r.newOccupant(nick, o.user, o.host, o.modes)
		if r.state != roomJoined {
			r.addOccupant(renamed)
			continue
		}
		if me {
			for _, res := range r.resourceList() {
				item := s.selfItem(r, res)
				item.Nick = nick
				s.send(Presence{
					From: r.occupantJID(old), To: res, Type: stanza.UnavailablePresence,
					MUCUser: &MUCUser{Items: []MUCItem{item}, Status: []int{StatusNickChange, StatusSelf}},
				})
			}
			r.addOccupant(renamed)
			for _, res := range r.resourceList() {
				s.sendSelf(r, res)
			}
			continue
		}
		s.sendOccupantGone(r, o, "", MUCUser{Items: []MUCItem{{Nick: nick}}, Status: []int{StatusNickChange}})
		r.addOccupant(renamed)
		s.sendOccupant(r, renamed)
	}
}

// onKick handles KICK (reference §5.6).
func (s *Session) onKick(srv *ircServer, m ircmsg.Message) {
	r := srv.room(param(m, 0))
	if r == nil {
		return
	}
	target, reason, kicker := param(m, 1), plainText(param(m, 2)), m.Nick()
	if target == "" {
		return
	}
	if srv.isMe(kicker) {
		defer s.adminConfirmed(srv, r.name)
	}
	actor := &Actor{Nick: kicker}
	if srv.isMe(target) {
		for _, res := range r.resourceList() {
			item := s.selfItem(r, res)
			item.Role, item.Affiliation, item.Actor, item.Reason = RoleNone, AffNone, actor, reason
			s.send(Presence{
				From: r.occupantJID(srv.nick), To: res, Type: stanza.UnavailablePresence,
				MUCUser: &MUCUser{Items: []MUCItem{item}, Status: []int{StatusSelf, StatusKicked}},
			})
		}
		resources := r.resourceList()
		s.removeRoom(srv, r)
		for _, res := range resources {
			srv.dropResource(res)
		}
		return
	}
	if o := r.removeOccupant(target); o != nil {
		s.sendOccupantGone(r, o, "", MUCUser{Items: []MUCItem{{Actor: actor, Reason: reason}}, Status: []int{StatusKicked}})
	}
}

// onText handles PRIVMSG and NOTICE (reference §5.7, §5.8).
func (s *Session) onText(srv *ircServer, m ircmsg.Message) {
	target, text := param(m, 0), param(m, 1)
	nick := m.Nick()
	notice := m.Command == "NOTICE"
	if cmd, arg, ok := ctcp(text); ok {
		if cmd != "ACTION" || notice {
			if !srv.isChannel(target) {
				s.onCTCP(srv, nick, notice, cmd, arg)
			}
			return
		}
		text = "/me " + arg
	}
	body, xhtml := formatIRC(text)
	if body == "" {
		return // only formatting codes: nothing to show
	}
	if srv.isChannel(target) {
		r := srv.room(target)
		if r == nil || r.state != roomJoined {
			return
		}
		if srv.isMe(nick) && !notice {
			if e, ok := r.takeEcho(m); ok {
				s.echoReflect(srv, r, e, m)
				return
			}
		}
		if notice {
			body = "[notice] " + body
			if xhtml != nil {
				xhtml = append([]Span{{Text: "[notice] "}}, xhtml...)
			}
		}
		at := lineTime(m)
		id, archived := s.archiveAs(r, nick, body, at, s.msgID(srv, m))
		delay := delayOf(r, at)
		for _, res := range r.resourceList() {
			s.send(Message{
				From: r.occupantJID(nick), To: res, ID: id, Type: stanza.GroupChatMessage,
				Body: body, XHTML: xhtml, StanzaID: r.stanzaID(id, archived), Delay: delay,
			})
		}
		return
	}
	if srv.isMe(nick) && !srv.isMe(target) {
		return // the echo of our own private message (echo-message)
	}
	if nick == "" || strings.ContainsRune(nick, '.') && !strings.ContainsRune(m.Source, '!') {
		// From the server itself (e.g. "*** Looking up your hostname").
		s.gatewayMessage(srv, m.Source, body)
		return
	}
	if notice && !srv.partners[srv.fold(nick)] {
		prefix := nick
		if nuh, err := m.NUH(); err == nil && nuh.User != "" {
			prefix += " (" + nuh.User + "@" + nuh.Host + ")"
		}
		s.gatewayMessage(srv, prefix, body)
		return
	}
	from := s.mapper().MustJID(Address{Kind: KindUser, Server: srv.name, Nick: nick})
	for _, res := range srv.resourceList() {
		s.send(Message{From: from, To: res, ID: newID(), Type: stanza.ChatMessage, Body: body, XHTML: xhtml, Private: true})
	}
}

func (s *Session) onTopic(srv *ircServer, m ircmsg.Message) {
	r := srv.room(param(m, 0))
	if r == nil {
		return
	}
	r.topic, r.topicBy = strings.ReplaceAll(ircfmt.Strip(param(m, 1)), "\n", " "), m.Nick()
	if r.state == roomJoined {
		for _, res := range r.resourceList() {
			s.sendSubject(r, res)
		}
	}
}

// onMode handles user and channel modes (reference §5.5, §6.1).
func (s *Session) onMode(srv *ircServer, m ircmsg.Message) {
	target := param(m, 0)
	if len(m.Params) < 2 {
		return
	}
	if !srv.isChannel(target) {
		s.gatewayMessage(srv, "", "User mode for "+target+" is ["+strings.Join(m.Params[1:], " ")+"]")
		return
	}
	r := srv.room(target)
	if r == nil || r.state != roomJoined {
		return
	}
	text := "Mode " + r.name + " [" + strings.Join(m.Params[1:], " ") + "] by " + m.Nick()
	s.roomMessage(r, text)
	for _, o := range applyModes(srv.isupport, r, m.Params[1:]) {
		if srv.isMe(o.nick) {
			for _, res := range r.resourceList() {
				s.sendSelf(r, res)
			}
			continue
		}
		s.sendOccupant(r, o)
	}
	if srv.isMe(m.Nick()) {
		s.adminConfirmed(srv, target)
	}
}

// applyModes updates the prefix modes of r's occupants from a MODE line's
// arguments and returns the occupants whose role or affiliation changed.
func applyModes(is *ircclient.ISupport, r *room, args []string) []*occupant {
	if len(args) == 0 {
		return nil
	}
	before := map[string]*occupant{} // by fold: the occupant before this line
	var order []string
	add := true
	next := 1
	for _, c := range []byte(args[0]) {
		switch c {
		case '+':
			add = true
			continue
		case '-':
			add = false
			continue
		}
		kind := modeKind(is, c, add)
		if kind == modeNoArg {
			continue
		}
		if next >= len(args) {
			break
		}
		arg := args[next]
		next++
		if kind != modePrefix {
			continue
		}
		o := r.occupant(arg)
		if o == nil {
			continue
		}
		modes := o.modes
		if add {
			if !strings.ContainsRune(modes, rune(c)) {
				modes += string(c)
			}
		} else {
			modes = strings.ReplaceAll(modes, string(c), "")
		}
		if modes == o.modes {
			continue
		}
		if _, ok := before[o.fold]; !ok {
			before[o.fold] = o
			order = append(order, o.fold)
		}
		r.addOccupant(o.withModes(modes))
	}
	// Occupants are immutable: report the latest version of each.
	var changed []*occupant
	for _, fold := range order {
		o, was := r.occupants.get(fold), before[fold]
		if o == nil {
			continue
		}
		roleBefore, affBefore := roleOf(was.modes)
		roleAfter, affAfter := roleOf(o.modes)
		if roleBefore != roleAfter || affBefore != affAfter {
			changed = append(changed, o)
		}
	}
	return changed
}

func affOf(modes string) Affiliation {
	_, a := roleOf(modes)
	return a
}

type modeArgKind uint8

const (
	modeNoArg modeArgKind = iota
	modeArg
	modePrefix
)

// modeKind says whether channel mode c takes an argument (ISUPPORT
// CHANMODES A, B, C when set, and PREFIX modes).
func modeKind(is *ircclient.ISupport, c byte, add bool) modeArgKind {
	if is == nil {
		if c == 'o' || c == 'v' {
			return modePrefix
		}
		if strings.IndexByte("beIkl", c) >= 0 && (add || c != 'l') {
			return modeArg
		}
		return modeNoArg
	}
	if strings.IndexByte(is.PrefixModes(), c) >= 0 {
		return modePrefix
	}
	cm := is.ChanModes()
	switch {
	case strings.IndexByte(cm[0], c) >= 0, strings.IndexByte(cm[1], c) >= 0:
		return modeArg
	case strings.IndexByte(cm[2], c) >= 0 && add:
		return modeArg
	}
	return modeNoArg
}
