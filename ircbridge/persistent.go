package ircbridge

import (
	"context"
	"strings"

	"biboumi/store"

	"mellium.im/xmpp/jid"
)

// This file keeps persistent channels joined: a persistent room stays
// joined on IRC (and archived) when the user's last resource leaves, and
// is joined again when the gateway starts (reference §5.3, issue 5).
//
// A channel is persistent by its own option (stored with its options) or
// by the user's global one. Which channels the global option keeps is
// recorded in the store as kept channels: from the end of the join (or
// from the moment the option keeps a room the last client left) until the
// user leaves it for good (PART, KICK, a refused join, a disconnect
// command). A gateway shutdown, or a connection that ends without
// reconnection (the server may just be down), leaves the records, so the
// next start joins them again.

// evRejoin asks a session to join a persistent channel with no resource.
// kept is set for a kept channel, which is joined only if the user's
// global option still keeps it.
type evRejoin struct {
	server, channel string
	kept            bool
}

func (evRejoin) isEvent() {}

// persistent says whether r stays joined without resources: its own
// setting, or the user's global one (default persistent_by_default).
func (s *Session) persistent(r *room) bool {
	return r.opts.Persistent || s.globalOptions().Persistent.Or(s.cfg.PersistentByDefault)
}

// RejoinPersistent joins, for every user, the channels whose own
// "persistent" setting is on and the kept channels. The program calls it
// once the component is connected. It returns how many joins it started.
func (g *Gateway) RejoinPersistent(ctx context.Context) (int, error) {
	if g.store == nil {
		return 0, nil
	}
	chans, err := g.store.PersistentChannels(ctx)
	if err != nil {
		return 0, err
	}
	kept, err := g.store.KeptChannels(ctx)
	if err != nil {
		return 0, err
	}
	// A channel's own option wins over a kept record of the same channel.
	type rejoin struct {
		owner jid.JID
		ev    evRejoin
	}
	var joins []rejoin
	own := make(map[string]bool, len(chans))
	for _, c := range chans {
		own[c.Owner.Bare().String()+" "+c.Server+" "+c.Channel] = true
		joins = append(joins, rejoin{c.Owner, evRejoin{server: c.Server, channel: c.Channel}})
	}
	for _, c := range kept {
		if !own[c.Owner.Bare().String()+" "+c.Server+" "+c.Channel] {
			joins = append(joins, rejoin{c.Owner, evRejoin{server: c.Server, channel: c.Channel, kept: true}})
		}
	}
	n := 0
	for _, j := range joins {
		if cfg := g.cfg.Load(); cfg.FixedServer != "" && j.ev.server != cfg.FixedServer {
			continue
		}
		if g.post(j.owner, j.ev) {
			n++
		}
	}
	return n, nil
}

// rejoin joins a persistent channel for nobody in particular: the room is
// tracked without resources, so the user's next join is answered at once.
func (s *Session) rejoin(ev evRejoin) {
	if ev.kept && !s.globalOptions().Persistent.Or(s.cfg.PersistentByDefault) {
		// The user turned the global option off while the gateway was
		// down (or the admin changed persistent_by_default).
		s.forgetChannel(ev.server, ev.channel)
		return
	}
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
	r.kept = ev.kept
	srv.rooms[srv.fold(ev.channel)] = r
	s.applyCharset(srv, r)
	if srv.registered {
		s.sendJoin(srv, r)
	}
}

// keepIfPersistent records r as a kept channel when the user's global
// option keeps it (a channel kept by its own option needs no record).
func (s *Session) keepIfPersistent(r *room) {
	if r.kept || r.opts.Persistent || s.g.store == nil || !s.globalOptions().Persistent.Or(s.cfg.PersistentByDefault) {
		return
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	err := s.g.store.KeepChannel(ctx, store.KeptChannel{Owner: s.owner, Server: r.srv.name, Channel: r.archName})
	if err != nil {
		s.log.Error("recording a kept channel; it will not be joined again at start-up",
			"server", r.srv.name, "channel", r.archName, "err", err)
		return
	}
	r.kept = true
}

// forgetKept removes r from the kept channels, unless the gateway is
// shutting down (then the record is what rejoins r at the next start).
func (s *Session) forgetKept(r *room) {
	if !r.kept || s.stopping {
		return
	}
	r.kept = false
	s.forgetChannel(r.srv.name, r.archName)
}

func (s *Session) forgetChannel(server, channel string) {
	if s.g.store == nil {
		return
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	if err := s.g.store.ForgetChannel(ctx, store.KeptChannel{Owner: s.owner, Server: server, Channel: channel}); err != nil {
		s.log.Error("forgetting a kept channel; it may be joined again at start-up",
			"server", server, "channel", channel, "err", err)
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
