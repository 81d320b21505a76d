package ircbridge

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/google/uuid"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// This file uses what IRCv3 servers give (issue 6): server-time for the
// archive and delays, msgid for stable archive ids, echo-message with
// labeled-response to reflect only what IRC accepted, away-notify as
// occupant presence, chghost; and ignores the rest quietly.

// lateDelay is how old a server-time stamp must be before the live message
// carries it as a XEP-0203 delay (a replay, a batch after a netsplit…).
const lateDelay = 30 * time.Second

// lineTime is when the server says it sent m (server-time), or now. A
// stamp in the future (beyond maxClockSkew) or before 1970 is not
// believed: it would archive the line out of reach of history and
// retention, and make XEP-0082 stamps clients cannot read.
func lineTime(m ircmsg.Message) time.Time {
	now := time.Now()
	if ok, v := m.GetTag("time"); ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.Unix() >= 0 && t.Before(now.Add(maxClockSkew)) {
			return t.UTC()
		}
	}
	return now
}

// maxClockSkew is how far ahead of ours an IRC server's clock may be.
const maxClockSkew = 5 * time.Minute

// delayOf returns a delay for a message sent at t, if it is late.
func delayOf(r *room, t time.Time) *Delay {
	if time.Since(t) < lateDelay {
		return nil
	}
	return &Delay{From: r.jid, Stamp: t}
}

// archiveIDNamespace makes archive ids from IRC msgids: the same IRC
// message gets the same id in one user's archive (so a retried write or a
// replayed batch is stored once and clients can deduplicate), and distinct
// ids across users, whose archives are separate copies.
var archiveIDNamespace = uuid.MustParse("5d3c1b28-4a0e-4c8e-9a54-5b0c7f1a9e21")

// msgID returns the archive id for m, or "" when m has no msgid tag.
func (s *Session) msgID(srv *ircServer, m ircmsg.Message) string {
	ok, v := m.GetTag("msgid")
	if !ok || v == "" {
		return ""
	}
	return uuid.NewSHA1(archiveIDNamespace, []byte(s.key+"\x00"+srv.name+"\x00"+v)).String()
}

// maxEchoes bounds the lines of a room waiting for their echo.
const maxEchoes = 256

// pendingEcho is a line we sent to a channel, waiting for the server's
// echo (echo-message) before it is reflected to the user.
type pendingEcho struct {
	id, originID string // the client's id, or "" for a fresh one
	label        string // labeled-response label, if any
	body         string // the XMPP body
	from         jid.JID
}

// takeEcho removes the pending echo that m answers: the one with its
// label, else the oldest (servers echo in order).
func (r *room) takeEcho(m ircmsg.Message) (pendingEcho, bool) {
	if len(r.echoes) == 0 {
		return pendingEcho{}, false
	}
	if ok, label := m.GetTag("label"); ok {
		for i, e := range r.echoes {
			if e.label == label {
				r.echoes = append(r.echoes[:i], r.echoes[i+1:]...)
				return e, true
			}
		}
	}
	e := r.echoes[0]
	r.echoes = r.echoes[1:]
	return e, true
}

// echoReflect reflects an echoed line of ours to the user's resources.
func (s *Session) echoReflect(srv *ircServer, r *room, e pendingEcho, m ircmsg.Message) {
	at := lineTime(m)
	logID, archived := s.archiveAs(r, srv.nick, e.body, at, s.msgID(srv, m))
	id := e.id
	if id == "" {
		id = logID
	}
	for _, res := range r.resourceList() {
		s.send(Message{
			From: r.occupantJID(srv.nick), To: res, ID: id, Type: stanza.GroupChatMessage,
			Body: e.body, OriginID: e.originID, StanzaID: r.stanzaID(logID, archived),
		})
	}
}

// labelFor returns a fresh label when the server does labeled-response.
func labelFor(srv *ircServer) string {
	if srv.conn == nil || !srv.conn.Has("labeled-response") {
		return ""
	}
	return newID()[:8]
}

// onAway shows away-notify changes as occupant presences.
func (s *Session) onAway(srv *ircServer, m ircmsg.Message) {
	nick := m.Nick()
	show, status := "", ""
	if len(m.Params) > 0 {
		show, status = "away", m.Params[0]
	}
	for _, r := range srv.rooms {
		o := r.occupant(nick)
		if o == nil || r.state != roomJoined || srv.isMe(nick) {
			continue
		}
		item := s.occupantItem(r, o)
		for _, res := range r.resourceList() {
			s.send(Presence{From: r.occupantJID(o.nick), To: res, Show: show, Status: status, MUCUser: &MUCUser{Items: []MUCItem{item}}})
		}
	}
}

// onChghost updates the user@host of an occupant (chghost).
func (s *Session) onChghost(srv *ircServer, m ircmsg.Message) {
	nick := m.Nick()
	for _, r := range srv.rooms {
		if o := r.occupant(nick); o != nil {
			r.addOccupant(r.newOccupant(o.nick, param(m, 0), param(m, 1), o.modes))
		}
	}
}

// identUser is the RFC 1413 USERID of a user, as Biboumi: the SHA-1 of the
// bare JID, so that IRC operators can tell users apart without learning
// their JIDs.
func identUser(owner jid.JID) string {
	sum := sha1.Sum([]byte(owner.Bare().String()))
	return hex.EncodeToString(sum[:])
}

// quietCommands are IRCv3 lines that need no gateway message.
func quietCommand(cmd string) bool {
	switch strings.ToUpper(cmd) {
	case "ACCOUNT", "SETNAME", "BATCH", "ACK", "TAGMSG", "FAIL", "WARN", "NOTE":
		return true
	}
	return false
}
