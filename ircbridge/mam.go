package ircbridge

import (
	"errors"
	"fmt"

	"biboumi/store"

	"mellium.im/xmpp/stanza"
)

// This file answers XEP-0313 (urn:xmpp:mam:2) queries on channel JIDs
// from the requester's own archive (reference §5.12).

// NSMAMExtended is the XEP-0313 extension with before-id, after-id and ids.
const NSMAMExtended = "urn:xmpp:mam:2#extended"

// mamForm is the query form advertised to clients (XEP-0313 §6.1).
func mamForm() *Form {
	return &Form{Type: "form", Fields: []FormField{
		{Var: "FORM_TYPE", Type: "hidden", Values: []string{NSMAM}},
		{Var: "start", Type: "text-single"},
		{Var: "end", Type: "text-single"},
		{Var: "before-id", Type: "text-single"},
		{Var: "after-id", Type: "text-single"},
		{Var: "ids", Type: "text-multi"},
	}}
}

// mamQuery answers a MAM iq on a channel: the results as messages, then
// the <fin/>.
func (s *Session) mamQuery(iq IQ, addr Address, q *MAMQuery) IQ {
	if addr.Kind != KindChannel {
		return iq.Fail(newError(stanza.Cancel, stanza.FeatureNotImplemented, ""))
	}
	if iq.Type == stanza.GetIQ {
		return iq.Result(&MAMQuery{Form: mamForm()})
	}
	st := s.g.store
	if st == nil {
		return iq.Fail(newError(stanza.Cancel, stanza.FeatureNotImplemented, "This gateway keeps no archive"))
	}
	if len(q.IDs) > store.MaxLogLimit {
		return iq.Fail(newError(stanza.Modify, stanza.PolicyViolation, fmt.Sprintf("At most %d ids in one query", store.MaxLogLimit)))
	}
	lq := store.LogQuery{
		Owner: s.owner, Server: addr.Server, Channel: addr.Channel,
		Start: q.Start, End: q.End, AfterID: q.AfterID, BeforeID: q.BeforeID, IDs: q.IDs,
		Limit: s.cfg.Limits.MAMPageSize,
	}
	if rsm := q.RSM; rsm != nil {
		if rsm.Max >= 0 && rsm.Max < lq.Limit {
			lq.Limit = rsm.Max
		}
		if rsm.After != "" {
			lq.AfterID = rsm.After
		}
		if rsm.Before != nil {
			if *rsm.Before == "" {
				lq.Last = true
			} else {
				lq.BeforeID = *rsm.Before
			}
		}
	}
	fin := &MAMFin{RSM: NewRSM()}
	if lq.Limit == 0 {
		return iq.Result(fin) // max=0: no results, not complete
	}
	ctx, cancel := s.storeCtx()
	s.g.arch.sync(ctx)
	page, err := st.ListLogs(ctx, lq)
	cancel()
	switch {
	case errors.Is(err, store.ErrNotFound):
		return iq.Fail(newError(stanza.Cancel, stanza.ItemNotFound, "No such id in this archive"))
	case err != nil:
		s.log.Error("MAM query", "room", iq.To.String(), "err", err)
		return iq.Fail(newError(stanza.Wait, stanza.InternalServerError, "The archive could not be read"))
	}
	roomJID := iq.To.Bare()
	r := &room{jid: roomJID}
	for _, l := range page.Lines {
		from := roomJID
		if l.Nick != "" {
			from = r.occupantJID(l.Nick)
		}
		s.send(Message{From: roomJID, To: iq.From, ID: newID(), MAMResult: &MAMResult{
			QueryID: q.QueryID, ID: l.ID, Stamp: l.Time,
			Message: Message{From: from, ID: l.ID, Type: stanza.GroupChatMessage, Body: l.Body},
		}})
	}
	fin.Complete = page.Complete
	if n := len(page.Lines); n > 0 {
		fin.RSM.First, fin.RSM.Last = page.Lines[0].ID, page.Lines[n-1].ID
	}
	return iq.Result(fin)
}
