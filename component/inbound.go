package component

import (
	"context"
	"log/slog"
	"runtime/debug"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"biboumi/ircbridge"
)

// inbound turns top-level elements into Handler calls, or answers them with
// a stanza error. It runs on the link's read goroutine and never blocks:
// Handler methods enqueue, and bounces go to the outgoing queue (dropped
// with a log line if it is full).
type inbound struct {
	domain  jid.JID
	maxBody int
	h       Handler
	reply   func([]byte) error
	log     *slog.Logger
	// onPanic, if set, is told about recovered panics (fuzzing).
	onPanic func(v any)
}

// handle processes one top-level element. A panic (in decoding or in the
// Handler) is recovered and logged: one bad stanza never ends the link.
func (in *inbound) handle(ctx context.Context, el *element, iss issue) {
	defer func() {
		if r := recover(); r != nil {
			in.log.Error("component: panic while handling a stanza",
				"element", el.name.Local, "panic", r, "stack", string(debug.Stack()))
			if in.onPanic != nil {
				in.onPanic(r)
			}
		}
	}()
	switch el.name.Space {
	case nsAccept, nsClient, nsServer:
	default:
		in.log.Warn("component: ignoring unknown top-level element", "name", el.name.Local, "namespace", el.name.Space)
		return
	}
	switch el.name.Local {
	case "message", "presence", "iq":
	default:
		// Biboumi logs "No handler for stanza of type …" (reference §1).
		in.log.Warn("component: ignoring unknown top-level element", "name", el.name.Local)
		return
	}
	h := decodeHeader(el)
	if !h.fromOK {
		// Nobody to answer (RFC 6120 §8.1.2.1 makes from mandatory on a
		// component stream; the server stamps it).
		from, _ := el.get("from")
		in.log.Warn("component: dropping stanza without a valid from", "kind", h.kind, "from", truncate(from, 100), "id", h.id)
		return
	}
	switch {
	case iss&issueTooDeep != 0:
		in.bounce(&h, notAcceptable("stanza nested too deeply"))
		return
	case iss&issueTooLarge != 0:
		in.bounce(&h, notAcceptable("stanza too large"))
		return
	case h.toErr != nil:
		in.bounce(&h, h.toErr)
		return
	}
	switch h.kind {
	case "message":
		m, bad := decodeMessage(el, &h, in.maxBody)
		if bad != nil {
			in.bounce(&h, bad)
			return
		}
		in.h.HandleMessage(ctx, m)
	case "presence":
		p, bad := decodePresence(el, &h, in.maxBody)
		if bad != nil {
			in.bounce(&h, bad)
			return
		}
		in.h.HandlePresence(ctx, p)
	case "iq":
		iq, bad := decodeIQ(el, &h)
		if bad != nil {
			in.bounce(&h, bad)
			return
		}
		in.h.HandleIQ(ctx, iq)
	}
}

// bounce answers a stanza we could not accept with a stanza error, from the
// address it was sent to (or our domain if that is unusable) to its sender.
// Errors and IQ results are never answered (RFC 6120 §8.2.3, §8.3.1).
func (in *inbound) bounce(h *header, bad *badStanza) {
	log := in.log.With("kind", h.kind, "from", h.from.String(), "id", h.id, "condition", string(bad.cond), "text", bad.text)
	if h.typ == "error" || (h.kind == "iq" && h.typ == "result") {
		log.Info("component: dropping invalid stanza that cannot be answered")
		return
	}
	from := h.to
	if h.toErr != nil || isZeroJID(from) || from.Domainpart() != in.domain.Domainpart() {
		from = in.domain
	}
	e := &stanza.Error{Type: bad.typ, Condition: bad.cond, Text: map[string]string{"": bad.text}}
	var b []byte
	switch h.kind {
	case "message":
		b = encodeMessage(&ircbridge.Message{From: from, To: h.from, ID: h.id, Type: stanza.ErrorMessage, Error: e})
	case "presence":
		b = encodePresence(&ircbridge.Presence{From: from, To: h.from, ID: h.id, Type: stanza.ErrorPresence, Error: e})
	default:
		// Not encodeIQ: the stanza may lack the id we are complaining about.
		iq := ircbridge.IQ{From: from, To: h.from, ID: h.id, Type: stanza.ErrorIQ, Error: e}
		b = render(func(b []byte) []byte { return appendIQ(b, &iq) })
	}
	log.Info("component: bouncing invalid stanza")
	if err := in.reply(b); err != nil {
		log.Warn("component: could not queue the error reply", "err", err)
	}
}
