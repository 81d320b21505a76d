package ircbridge

import (
	"context"
	"errors"
	"math"
	"time"

	"biboumi/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// storeTimeout bounds each store call made from a session goroutine.
const storeTimeout = 5 * time.Second

func (s *Session) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, storeTimeout)
}

// globalOptions returns the user's global options, read once per session.
func (s *Session) globalOptions() store.GlobalOptions {
	if s.global != nil {
		return *s.global
	}
	o := store.DefaultGlobalOptions(s.owner)
	if st := s.g.store; st != nil {
		ctx, cancel := s.storeCtx()
		got, err := st.GlobalOptions(ctx, s.owner)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("reading global options", "err", err)
		} else if err == nil {
			o = got
		}
	}
	s.global = &o
	return o
}

// channelOptions reads the user's options for a channel.
func (s *Session) channelOptions(server, channel string) store.ChannelOptions {
	o := store.DefaultChannelOptions(s.owner, server, channel)
	if st := s.g.store; st != nil {
		ctx, cancel := s.storeCtx()
		got, err := st.ChannelOptions(ctx, s.owner, server, channel)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("reading channel options", "server", server, "channel", channel, "err", err)
		} else if err == nil {
			o = got
		}
	}
	return o
}

// recordHistory says whether lines of r are archived: the channel's own
// setting when set, else the user's global one. (Biboumi 9.0 ignores the
// channel's value, reference §7; this is the fix.)
func (s *Session) recordHistory(r *room) bool {
	if s.g.store == nil {
		return false
	}
	return r.opts.RecordHistory.Or(s.globalOptions().RecordHistory)
}

// archive stores a line of r (nick "" for room messages) and returns its
// id, which is also the stanza-id of the live message, and whether it was
// archived.
func (s *Session) archive(r *room, nick, body string, at time.Time) (id string, archived bool) {
	return s.archiveAs(r, nick, body, at, "")
}

// archiveAs is archive with a given id ("" for a fresh one).
func (s *Session) archiveAs(r *room, nick, body string, at time.Time, id string) (string, bool) {
	if id == "" {
		id = newID()
	}
	if !s.recordHistory(r) || body == "" {
		return id, false
	}
	s.g.arch.append(s.ctx, &store.LogLine{
		ID: id, Owner: s.owner, Server: r.srv.name, Channel: r.archName, Time: at, Nick: nick, Body: body,
	})
	return id, true
}

func (r *room) stanzaID(id string, archived bool) *StanzaID {
	if !archived {
		return nil
	}
	return &StanzaID{ID: id, By: r.jid}
}

// sendHistory replays the archive of r to a joining resource, oldest
// first, with XEP-0203 delays (reference §5.10). Whatever is archived is
// replayed, whatever record_history says now.
func (s *Session) sendHistory(r *room, res jid.JID, req *HistoryRequest) {
	st := s.g.store
	if st == nil {
		return
	}
	limit := s.globalOptions().MaxHistoryLength
	if limit < 0 {
		limit = store.DefaultMaxHistoryLength
	}
	q := store.LogQuery{Owner: s.owner, Server: r.srv.name, Channel: r.archName, Last: true}
	if req != nil {
		if req.MaxChars == 0 {
			return
		}
		if req.MaxStanzas >= 0 && req.MaxStanzas < limit {
			limit = req.MaxStanzas
		}
		// Beyond what a Duration holds (292 years), it is all history.
		if req.Seconds >= 0 && int64(req.Seconds) < int64(math.MaxInt64/time.Second) {
			q.Start = time.Now().Add(-time.Duration(req.Seconds) * time.Second)
		}
		if !req.Since.IsZero() {
			q.Start = req.Since
		}
	}
	if limit == 0 {
		return
	}
	q.Limit = limit
	ctx, cancel := s.storeCtx()
	s.g.arch.sync(ctx)
	page, err := st.ListLogs(ctx, q)
	cancel()
	if err != nil {
		s.log.Error("reading join history", "room", r.jid.String(), "err", err)
		return
	}
	for _, l := range page.Lines {
		from := r.jid
		if l.Nick != "" {
			from = r.occupantJID(l.Nick)
		}
		s.send(Message{
			From: from, To: res, ID: l.ID, Type: stanza.GroupChatMessage, Body: l.Body,
			Delay: &Delay{From: r.jid, Stamp: l.Time},
		})
	}
}
