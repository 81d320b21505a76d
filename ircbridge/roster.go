package ircbridge

import (
	"context"

	"biboumi/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// This file handles RFC 6121 presence subscriptions to the gateway and
// server JIDs (reference §5.15): they are accepted and stored, the server
// JID is available while the user is connected to it, and unsubscribing
// really deletes the subscription (Biboumi keeps the row).

// rosterMax bounds a user's subscriptions to the gateway and server JIDs:
// each is a stored row and a probe at every start.
const rosterMax = 100

// rosterPresence handles a presence to the gateway or a server JID.
func (s *Session) rosterPresence(p Presence, addr Address) {
	local := p.To.Bare()
	switch p.Type {
	case stanza.SubscribePresence:
		subs := s.subscribed()
		if !subs[local.String()] {
			var refuse error
			switch {
			case addr.Kind == KindServer && !s.cfg.ircAllowed(addr.Server):
				refuse = newError(stanza.Cancel, stanza.NotAllowed, "The IRC server "+addr.Server+" is not allowed on this gateway")
			case len(subs) >= rosterMax:
				refuse = newError(stanza.Wait, stanza.ResourceConstraint, "Too many subscriptions to this gateway ("+itoa(rosterMax)+")")
			}
			if refuse != nil {
				s.bouncePresence(p, refuse)
				return
			}
		}
		if st := s.g.store; st != nil {
			ctx, cancel := s.storeCtx()
			err := st.AddRosterItem(ctx, local, s.owner)
			cancel()
			if err != nil {
				s.log.Error("storing a subscription", "local", local.String(), "err", err)
			}
		}
		s.subscribed()[local.String()] = true
		s.send(Presence{From: local, To: p.From.Bare(), ID: p.ID, Type: stanza.SubscribedPresence})
		s.sendRosterPresence(local, addr, p.From.Bare())
		s.send(Presence{From: local, To: p.From.Bare(), ID: newID(), Type: stanza.SubscribePresence})
	case stanza.UnsubscribePresence:
		if st := s.g.store; st != nil {
			ctx, cancel := s.storeCtx()
			err := st.DeleteRosterItem(ctx, local, s.owner)
			cancel()
			if err != nil {
				s.log.Error("deleting a subscription", "local", local.String(), "err", err)
			}
		}
		delete(s.subscribed(), local.String())
		s.send(Presence{From: local, To: p.From.Bare(), ID: p.ID, Type: stanza.UnavailablePresence})
		s.send(Presence{From: local, To: p.From.Bare(), ID: newID(), Type: stanza.UnsubscribedPresence})
		s.send(Presence{From: local, To: p.From.Bare(), ID: newID(), Type: stanza.UnsubscribePresence})
	case stanza.ProbePresence:
		if !s.subscribed()[local.String()] {
			s.send(Presence{From: local, To: p.From.Bare(), ID: p.ID, Type: stanza.UnsubscribedPresence})
			return
		}
		s.sendRosterPresence(local, addr, p.From)
	case "":
		if addr.Kind == KindGateway {
			s.send(Presence{From: local, To: p.From, ID: p.ID})
		}
	}
}

// sendRosterPresence sends the presence of a gateway or server JID:
// the gateway is always available, a server while the user is connected.
func (s *Session) sendRosterPresence(local jid.JID, addr Address, to jid.JID) {
	if addr.Kind == KindServer {
		if srv := s.servers[addr.Server]; srv == nil || !srv.registered {
			s.send(Presence{From: local, To: to, ID: newID(), Type: stanza.UnavailablePresence})
			return
		}
	}
	s.send(Presence{From: local, To: to, ID: newID()})
}

// subscribed returns the user's subscriptions, read once per session.
func (s *Session) subscribed() map[string]bool {
	if s.roster != nil {
		return s.roster
	}
	s.roster = make(map[string]bool)
	if st := s.g.store; st != nil {
		ctx, cancel := s.storeCtx()
		items, err := st.Roster(ctx, store.RosterQuery{Remote: s.owner})
		cancel()
		if err != nil {
			s.log.Error("reading the roster", "err", err)
		}
		for _, it := range items {
			s.roster[it.Local.Bare().String()] = true
		}
	}
	return s.roster
}

// serverPresence tells a subscribed user that a server JID went up or
// down, when the IRC registration completes or the connection ends.
func (s *Session) serverPresence(srv *ircServer, available bool) {
	if s.cfg.FixedServer != "" {
		return // in fixed mode the gateway JID stands for the server, and stays up
	}
	local := s.mapper().MustJID(Address{Kind: KindServer, Server: srv.name})
	if !s.subscribed()[local.String()] {
		return
	}
	p := Presence{From: local, To: s.owner, ID: newID()}
	if !available {
		p.Type = stanza.UnavailablePresence
	}
	s.send(p)
}

// RosterSnapshot reads the stored subscriptions. The program calls it
// before the component connects, and ProbeRoster with the result once it
// is connected: a subscription made after start-up is not probed (a probe
// racing the user's own subscription would make the server withdraw it).
func (g *Gateway) RosterSnapshot(ctx context.Context) ([]store.RosterItem, error) {
	if g.store == nil {
		return nil, nil
	}
	return g.store.Roster(ctx, store.RosterQuery{})
}

// ProbeRoster sends a presence probe from each gateway or server JID of
// items to its subscriber, so that clients learn the gateway is back.
func (g *Gateway) ProbeRoster(ctx context.Context, items []store.RosterItem) int {
	for _, it := range items {
		g.send(ctx, Presence{From: it.Local, To: it.Remote, ID: newID(), Type: stanza.ProbePresence})
	}
	return len(items)
}
