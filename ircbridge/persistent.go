package ircbridge

import (
	"context"
	"strings"
)

// This file keeps persistent channels joined: a persistent room stays
// joined on IRC (and archived) when the user's last resource leaves, and
// is joined again when the gateway starts (reference §5.3, issue 5).

// evRejoin asks a session to join a persistent channel with no resource.
type evRejoin struct{ server, channel string }

func (evRejoin) isEvent() {}

// persistent says whether r stays joined without resources: its own
// setting, or the user's global one (default persistent_by_default).
func (s *Session) persistent(r *room) bool {
	return r.opts.Persistent || s.globalOptions().Persistent.Or(s.cfg.PersistentByDefault)
}

// RejoinPersistent joins, for every user, the channels whose own
// "persistent" setting is on. The program calls it once the component is
// connected. Channels kept only by the global setting are not rejoined:
// which channels those are is not stored.
func (g *Gateway) RejoinPersistent(ctx context.Context) (int, error) {
	if g.store == nil {
		return 0, nil
	}
	chans, err := g.store.PersistentChannels(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range chans {
		if cfg := g.cfg.Load(); cfg.FixedServer != "" && c.Server != cfg.FixedServer {
			continue
		}
		if g.post(c.Owner, evRejoin{server: c.Server, channel: c.Channel}) {
			n++
		}
	}
	return n, nil
}

// rejoin joins a persistent channel for nobody in particular: the room is
// tracked without resources, so the user's next join is answered at once.
func (s *Session) rejoin(ev evRejoin) {
	srv := s.servers[ev.server]
	if srv == nil {
		srv = s.connect(ev.server, s.defaultNick())
	}
	if srv.room(ev.channel) != nil {
		return
	}
	j, err := s.mapper().JID(Address{Kind: KindChannel, Server: ev.server, Channel: ev.channel})
	if err != nil {
		return
	}
	r := newRoom(srv, ev.channel, j, s.channelOptions(ev.server, ev.channel))
	srv.rooms[srv.fold(ev.channel)] = r
	s.applyCharset(srv, r)
	if srv.registered {
		s.sendJoin(srv, r)
	}
}

// defaultNick is the nick used when no join presence gave one: the
// localpart of the user's JID, made acceptable to IRC.
func (s *Session) defaultNick() string {
	nick := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("-_[]\\^{}|`", r):
			return r
		}
		return -1
	}, s.owner.Localpart())
	if nick == "" || nick[0] >= '0' && nick[0] <= '9' || nick[0] == '-' {
		nick = "x" + nick
	}
	return nick
}
