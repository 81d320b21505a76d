package ircbridge

import (
	"math/rand/v2"
	"time"

	"biboumi/internal/metrics"
	"biboumi/ircbridge/ircclient"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// This file reconnects a user's IRC connection that dropped unexpectedly
// (Biboumi has no reconnection): the user stays in the rooms, is told in
// each of them, and what they send meanwhile is queued and sent after the
// rejoin, so that nothing is lost or doubled (issue 6).

// Reconnection tunables.
const (
	reconnectMax   = 5 * time.Minute // longest delay between attempts
	reconnectQueue = 100             // lines kept per connection while it is down
)

// shouldReconnect says whether a connection that ended with ev is retried:
// only one that had registered, that we did not quit, and whose end
// ircclient.Retryable deems worth a retry (not a ban, a SASL or a
// certificate failure).
func shouldReconnect(srv *ircServer, ev ircclient.Closed) bool {
	if ev.Err == nil || len(srv.rooms) == 0 {
		return false
	}
	if !srv.registered && !srv.reconnecting {
		return false // never connected: the join errors say why
	}
	return ircclient.Retryable(ev.Err)
}

// scheduleReconnect keeps srv and its rooms, tells the user, and sets the
// time of the next attempt (exponential backoff with jitter).
func (s *Session) scheduleReconnect(srv *ircServer, text string) {
	first := !srv.reconnecting
	srv.reconnecting = true
	srv.registered = false
	srv.attempt++
	delay := s.cfg.ReconnectMin << min(srv.attempt-1, 10)
	if delay > reconnectMax {
		delay = reconnectMax
	}
	if j := int64(delay) / 5; j > 0 {
		delay += time.Duration(rand.Int64N(j)) // up to 20% jitter
	}
	if first && s.cfg.ReconnectSpread > 0 {
		delay += time.Duration(rand.Int64N(int64(s.cfg.ReconnectSpread)))
	}
	srv.retryAt = time.Now().Add(delay)
	s.cfg.Metrics.Reconnect(metrics.LinkIRC)
	if first {
		note := "Connection to the IRC server lost"
		if text != "" {
			note += " (" + text + ")"
		}
		note += "; reconnecting."
		for _, r := range srv.rooms {
			// Others are out of sight until the rejoin shows them again.
			for _, o := range r.occupantList() {
				if !srv.isMe(o.nick) && r.state == roomJoined {
					s.sendOccupantGone(r, o, "", MUCUser{})
				}
			}
			r.occupants.reset()
			if r.state == roomJoined {
				s.roomNotice(r, note)
				r.rejoin = true
			}
			r.state = roomJoining
		}
	}
	s.log.Info("IRC connection lost, reconnecting", "server", srv.name, "attempt", srv.attempt, "in", delay.Round(time.Millisecond))
}

// reconnectDue starts the attempts whose time has come.
func (s *Session) reconnectDue(now time.Time) {
	if s.stopping {
		return
	}
	for _, srv := range s.servers {
		if srv.reconnecting && srv.waiting && !now.Before(srv.retryAt) {
			s.redial(srv)
		}
	}
}

// reconnectingAny reports whether a connection waits for its next attempt.
func (s *Session) reconnectingAny() bool {
	for _, srv := range s.servers {
		if srv.reconnecting {
			return true
		}
	}
	return false
}

// roomNotice tells the user something about a room, from the bare room,
// without archiving it.
func (s *Session) roomNotice(r *room, text string) {
	for _, res := range r.resourceList() {
		s.send(Message{From: r.jid, To: res, ID: newID(), Type: stanza.GroupChatMessage, Body: text})
	}
}

// queueWhileDown keeps a line the user sent to a room while its connection
// is down; false when the queue is full.
func (srv *ircServer) queueWhileDown(m queuedLine) bool {
	if len(srv.outbox) >= reconnectQueue {
		return false
	}
	srv.outbox = append(srv.outbox, m)
	return true
}

// queuedLine is a groupchat message waiting for the rejoin.
type queuedLine struct {
	from jid.JID
	msg  Message
}

// rejoined runs when a room is joined again after a reconnection: the user
// is told, and what they sent meanwhile goes out.
func (s *Session) rejoined(srv *ircServer, r *room) {
	r.rejoin = false
	for _, res := range r.resourceList() {
		s.sendSelf(r, res)
	}
	s.roomNotice(r, "Reconnected to the IRC server.")
	kept := srv.outbox[:0]
	for _, q := range srv.outbox {
		if s.roomOf(q.msg) == r {
			s.groupchat(q.msg, Address{Kind: KindChannel, Server: srv.name, Channel: r.archName})
			continue
		}
		kept = append(kept, q)
	}
	srv.outbox = kept
	if srv.attempt > 0 && allJoined(srv) {
		srv.reconnecting, srv.attempt = false, 0
	}
}

func (s *Session) roomOf(m Message) *room {
	a, err := s.parse(m.To)
	if err != nil {
		return nil
	}
	srv := s.servers[a.Server]
	if srv == nil {
		return nil
	}
	return srv.room(a.Channel)
}

func allJoined(srv *ircServer) bool {
	for _, r := range srv.rooms {
		if r.state != roomJoined {
			return false
		}
	}
	return true
}
