package component

import (
	"errors"
	"sort"
	"strings"
	"sync"

	"mellium.im/xmpp/stanza"

	"biboumi/ircbridge"
)

// Outgoing stanzas are rendered to bytes by hand, in the caller's goroutine
// (Link.Send*), so that the single writer goroutine only copies bytes.
//
// Layout rules, shared by every stanza:
//   - Top-level stanzas carry no xmlns: they inherit jabber:component:accept
//     from the stream header.
//   - A child in another namespace declares it once, on itself; its own
//     children inherit it.
//   - Attributes are single-quoted; zero JIDs and empty strings are omitted.
//   - Every string goes through appendEscaped (valid XML 1.0 always).
//   - An element without children is written as an empty-element tag.

// Namespaces not listed in ircbridge/ns.go.
const (
	nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsStreams = "urn:ietf:params:xml:ns:xmpp-streams"
	nsStream  = "http://etherx.jabber.org/streams"
	nsXML     = "http://www.w3.org/XML/1998/namespace"
	nsClient  = "jabber:client"
	nsServer  = "jabber:server"
	nsAccept  = "jabber:component:accept"
)

// errInvalidIQ is returned by SendIQ for an iq without id or type, which
// no server would route (RFC 6120 §8.2.3).
var errInvalidIQ = errors.New("component: iq needs an id and a type")

// bufPool recycles render buffers; each stanza is copied out at its exact
// size before it is queued.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// render runs fn on a pooled buffer and returns an exact-size copy.
func render(fn func([]byte) []byte) []byte {
	bp := bufPool.Get().(*[]byte)
	b := fn((*bp)[:0])
	out := make([]byte, len(b))
	copy(out, b)
	if cap(b) <= 64<<10 {
		*bp = b
		bufPool.Put(bp)
	}
	return out
}

// encodeMessage renders m as XML, as the Link sends it.
func encodeMessage(m *ircbridge.Message) []byte {
	return render(func(b []byte) []byte { return appendMessage(b, m) })
}

// encodePresence renders p as XML, as the Link sends it.
func encodePresence(p *ircbridge.Presence) []byte {
	return render(func(b []byte) []byte { return appendPresence(b, p) })
}

// encodeIQ renders iq as XML, as the Link sends it.
// It fails for an iq without id or type.
func encodeIQ(iq *ircbridge.IQ) ([]byte, error) {
	if iq.ID == "" || (iq.Type == "" && iq.Error == nil) {
		return nil, errInvalidIQ
	}
	return render(func(b []byte) []byte { return appendIQ(b, iq) }), nil
}

func appendMessage(b []byte, m *ircbridge.Message) []byte {
	typ := string(m.Type)
	if typ == "" && m.Error != nil {
		typ = string(stanza.ErrorMessage)
	}
	b = append(b, "<message"...)
	b = appendJIDAttr(b, "from", m.From)
	b = appendJIDAttr(b, "to", m.To)
	b = appendAttr(b, "type", typ)
	b = appendAttr(b, "id", m.ID)
	b = append(b, '>')
	pos := len(b)
	if m.Subject != nil {
		b = appendTextElem(b, "subject", "", *m.Subject)
	}
	if m.Body != "" {
		b = appendTextElem(b, "body", "", m.Body)
	}
	if len(m.XHTML) > 0 {
		b = appendXHTML(b, m.XHTML)
	}
	if m.Private {
		b = append(b, "<private xmlns='"+ircbridge.NSCarbons+"'/><no-copy xmlns='"+ircbridge.NSHints+"'/>"...)
	}
	if m.Delay != nil {
		b = appendDelay(b, m.Delay)
	}
	if m.MUCUser != nil {
		b = appendMUCUser(b, m.MUCUser)
	}
	if m.StanzaID != nil && m.StanzaID.ID != "" {
		b = append(b, "<stanza-id xmlns='"+ircbridge.NSSID+"'"...)
		b = appendJIDAttr(b, "by", m.StanzaID.By)
		b = appendAttr(b, "id", m.StanzaID.ID)
		b = append(b, '/', '>')
	}
	if m.OriginID != "" {
		b = append(b, "<origin-id xmlns='"+ircbridge.NSSID+"'"...)
		b = appendAttr(b, "id", m.OriginID)
		b = append(b, '/', '>')
	}
	if m.Error != nil {
		b = appendError(b, m.Error)
	}
	return endElem(b, pos, "message")
}

// appendXHTML writes the XEP-0071 version of the body: flat runs, styled
// ones in <span style='…'>, each "\n" as <br/> (reference §6.1).
func appendXHTML(b []byte, spans []ircbridge.Span) []byte {
	empty := true
	for _, sp := range spans {
		if sp.Text != "" {
			empty = false
			break
		}
	}
	if empty {
		return b
	}
	b = append(b, "<html xmlns='"+ircbridge.NSXHTMLIM+"'><body xmlns='"+ircbridge.NSXHTML+"'>"...)
	for _, sp := range spans {
		if sp.Text == "" {
			continue
		}
		styled := sp.Styled()
		if styled {
			b = append(b, "<span style='"...)
			if sp.Bold {
				b = append(b, "font-weight:bold;"...)
			}
			switch {
			case sp.Underline && sp.Strike:
				b = append(b, "text-decoration:underline line-through;"...)
			case sp.Underline:
				b = append(b, "text-decoration:underline;"...)
			case sp.Strike:
				b = append(b, "text-decoration:line-through;"...)
			}
			if sp.Italic {
				b = append(b, "font-style:italic;"...)
			}
			if sp.Monospace {
				b = append(b, "font-family:monospace;"...)
			}
			if sp.Color != "" {
				b = append(b, "color:"...)
				b = appendEscaped(b, sp.Color, true)
				b = append(b, ';')
			}
			if sp.Background != "" {
				b = append(b, "background-color:"...)
				b = appendEscaped(b, sp.Background, true)
				b = append(b, ';')
			}
			b = append(b, '\'', '>')
		}
		for i, line := range strings.Split(sp.Text, "\n") {
			if i > 0 {
				b = append(b, "<br/>"...)
			}
			b = appendEscaped(b, line, false)
		}
		if styled {
			b = append(b, "</span>"...)
		}
	}
	return append(b, "</body></html>"...)
}

func appendDelay(b []byte, d *ircbridge.Delay) []byte {
	if d.Stamp.IsZero() {
		// A delay without a stamp is meaningless (XEP-0203 §3).
		return b
	}
	b = append(b, "<delay xmlns='"+ircbridge.NSDelay+"'"...)
	b = appendJIDAttr(b, "from", d.From)
	b = appendStampAttr(b, "stamp", d.Stamp)
	return append(b, '/', '>')
}

func appendPresence(b []byte, p *ircbridge.Presence) []byte {
	typ := string(p.Type)
	if typ == "" && p.Error != nil {
		typ = string(stanza.ErrorPresence)
	}
	b = append(b, "<presence"...)
	b = appendJIDAttr(b, "from", p.From)
	b = appendJIDAttr(b, "to", p.To)
	b = appendAttr(b, "type", typ)
	b = appendAttr(b, "id", p.ID)
	b = append(b, '>')
	pos := len(b)
	if p.Show != "" {
		b = appendTextElem(b, "show", "", p.Show)
	}
	if p.Status != "" {
		b = appendTextElem(b, "status", "", p.Status)
	}
	if p.MUC != nil {
		b = appendMUCJoin(b, p.MUC)
	}
	if p.MUCUser != nil {
		b = appendMUCUser(b, p.MUCUser)
	}
	if p.Error != nil {
		b = appendError(b, p.Error)
	}
	return endElem(b, pos, "presence")
}

func appendMUCJoin(b []byte, j *ircbridge.MUCJoin) []byte {
	b = append(b, "<x xmlns='"+ircbridge.NSMUC+"'"...)
	b = append(b, '>')
	pos := len(b)
	if j.Password != "" {
		b = appendTextElem(b, "password", "", j.Password)
	}
	if h := j.History; h != nil {
		b = append(b, "<history"...)
		if h.MaxChars >= 0 {
			b = appendIntAttr(b, "maxchars", h.MaxChars)
		}
		if h.MaxStanzas >= 0 {
			b = appendIntAttr(b, "maxstanzas", h.MaxStanzas)
		}
		if h.Seconds >= 0 {
			b = appendIntAttr(b, "seconds", h.Seconds)
		}
		if !h.Since.IsZero() {
			b = appendStampAttr(b, "since", h.Since)
		}
		b = append(b, '/', '>')
	}
	return endElem(b, pos, "x")
}

func appendMUCUser(b []byte, u *ircbridge.MUCUser) []byte {
	b = append(b, "<x xmlns='"+ircbridge.NSMUCUser+"'"...)
	b = append(b, '>')
	pos := len(b)
	if inv := u.Invite; inv != nil {
		b = append(b, "<invite"...)
		b = appendJIDAttr(b, "from", inv.From)
		b = appendJIDAttr(b, "to", inv.To)
		b = append(b, '>')
		ipos := len(b)
		if inv.Reason != "" {
			b = appendTextElem(b, "reason", "", inv.Reason)
		}
		b = endElem(b, ipos, "invite")
	}
	for i := range u.Items {
		b = appendMUCItem(b, &u.Items[i])
	}
	for _, code := range u.Status {
		b = append(b, "<status"...)
		b = appendIntAttr(b, "code", code)
		b = append(b, '/', '>')
	}
	return endElem(b, pos, "x")
}

func appendMUCItem(b []byte, it *ircbridge.MUCItem) []byte {
	b = append(b, "<item"...)
	b = appendAttr(b, "affiliation", string(it.Affiliation))
	b = appendAttr(b, "role", string(it.Role))
	b = appendJIDAttr(b, "jid", it.JID)
	b = appendAttr(b, "nick", it.Nick)
	b = append(b, '>')
	pos := len(b)
	if a := it.Actor; a != nil {
		b = append(b, "<actor"...)
		b = appendAttr(b, "nick", a.Nick)
		b = appendJIDAttr(b, "jid", a.JID)
		b = append(b, '/', '>')
	}
	if it.Reason != "" {
		b = appendTextElem(b, "reason", "", it.Reason)
	}
	return endElem(b, pos, "item")
}

// appendError writes a RFC 6120 §8.3 stanza error. A missing type defaults
// to cancel and a missing condition to undefined-condition, so the element
// is always valid. Texts are written sorted by language for stable output.
func appendError(b []byte, e *stanza.Error) []byte {
	typ := e.Type
	if typ == "" {
		typ = stanza.Cancel
	}
	cond := e.Condition
	if cond == "" {
		cond = stanza.UndefinedCondition
	}
	b = append(b, "<error"...)
	b = appendAttr(b, "type", string(typ))
	b = appendJIDAttr(b, "by", e.By)
	b = append(b, '>', '<')
	b = appendEscaped(b, string(cond), false)
	b = append(b, " xmlns='"+nsStanzas+"'/>"...)
	if len(e.Text) > 0 {
		langs := make([]string, 0, len(e.Text))
		for lang, text := range e.Text {
			if text != "" {
				langs = append(langs, lang)
			}
		}
		sort.Strings(langs)
		for _, lang := range langs {
			b = append(b, "<text xmlns='"+nsStanzas+"'"...)
			b = appendAttr(b, "xml:lang", lang)
			b = append(b, '>')
			b = appendEscaped(b, e.Text[lang], false)
			b = append(b, "</text>"...)
		}
	}
	return append(b, "</error>"...)
}

func appendIQ(b []byte, iq *ircbridge.IQ) []byte {
	typ := string(iq.Type)
	if typ == "" {
		typ = string(stanza.ErrorIQ)
	}
	b = append(b, "<iq"...)
	b = appendJIDAttr(b, "from", iq.From)
	b = appendJIDAttr(b, "to", iq.To)
	b = appendAttr(b, "type", typ)
	b = appendAttr(b, "id", iq.ID)
	b = append(b, '>')
	pos := len(b)
	if iq.Payload != nil {
		b = appendPayload(b, iq.Payload, iq.Type == stanza.ResultIQ)
	}
	if iq.Error != nil {
		b = appendError(b, iq.Error)
	}
	return endElem(b, pos, "iq")
}

// appendPayload writes an IQ child. result tells a response from a
// request: a ping result has no child (XEP-0199 §4), and an RSM set carries
// the answer fields in a result and the request fields otherwise.
func appendPayload(b []byte, p ircbridge.Payload, result bool) []byte {
	switch p := p.(type) {
	case *ircbridge.DiscoInfo:
		b = append(b, "<query xmlns='"+ircbridge.NSDiscoInfo+"'"...)
		b = appendAttr(b, "node", p.Node)
		b = append(b, '>')
		pos := len(b)
		for _, id := range p.Identities {
			b = append(b, "<identity"...)
			b = appendAttr(b, "category", id.Category)
			b = appendAttr(b, "type", id.Type)
			b = appendAttr(b, "name", id.Name)
			b = append(b, '/', '>')
		}
		for _, f := range p.Features {
			b = append(b, "<feature"...)
			b = appendAttr(b, "var", f)
			b = append(b, '/', '>')
		}
		if p.Form != nil {
			b = appendForm(b, p.Form)
		}
		return endElem(b, pos, "query")
	case *ircbridge.DiscoItems:
		b = append(b, "<query xmlns='"+ircbridge.NSDiscoItems+"'"...)
		b = appendAttr(b, "node", p.Node)
		b = append(b, '>')
		pos := len(b)
		for _, it := range p.Items {
			b = append(b, "<item"...)
			b = appendJIDAttr(b, "jid", it.JID)
			b = appendAttr(b, "node", it.Node)
			b = appendAttr(b, "name", it.Name)
			b = append(b, '/', '>')
		}
		if p.RSM != nil {
			b = appendRSM(b, p.RSM, result)
		}
		return endElem(b, pos, "query")
	case *ircbridge.Ping:
		if result {
			return b
		}
		return append(b, "<ping xmlns='"+ircbridge.NSPing+"'/>"...)
	case *ircbridge.Version:
		b = append(b, "<query xmlns='"+ircbridge.NSVersion+"'"...)
		b = append(b, '>')
		pos := len(b)
		if p.Name != "" {
			b = appendTextElem(b, "name", "", p.Name)
		}
		if p.Version != "" {
			b = appendTextElem(b, "version", "", p.Version)
		}
		if p.OS != "" {
			b = appendTextElem(b, "os", "", p.OS)
		}
		return endElem(b, pos, "query")
	case *ircbridge.MUCAdmin:
		b = append(b, "<query xmlns='"+ircbridge.NSMUCAdmin+"'"...)
		b = append(b, '>')
		pos := len(b)
		for i := range p.Items {
			b = appendMUCItem(b, &p.Items[i])
		}
		return endElem(b, pos, "query")
	case *ircbridge.UnknownPayload:
		if !validName(p.Name.Local) {
			return b
		}
		b = append(b, '<')
		b = append(b, p.Name.Local...)
		if p.Name.Space != "" {
			b = append(b, " xmlns='"...)
			b = appendEscaped(b, p.Name.Space, true)
			b = append(b, '\'')
		}
		return append(b, '/', '>')
	}
	return b
}

// appendForm writes a XEP-0004 data form.
func appendForm(b []byte, f *ircbridge.Form) []byte {
	b = append(b, "<x xmlns='"+ircbridge.NSDataForms+"'"...)
	typ := f.Type
	if typ == "" {
		typ = "result"
	}
	b = appendAttr(b, "type", typ)
	b = append(b, '>')
	pos := len(b)
	if f.Title != "" {
		b = appendTextElem(b, "title", "", f.Title)
	}
	for _, fd := range f.Fields {
		b = append(b, "<field"...)
		b = appendAttr(b, "var", fd.Var)
		b = appendAttr(b, "type", fd.Type)
		b = appendAttr(b, "label", fd.Label)
		b = append(b, '>')
		fpos := len(b)
		for _, v := range fd.Values {
			b = append(b, "<value>"...)
			b = appendEscaped(b, v, false)
			b = append(b, "</value>"...)
		}
		b = endElem(b, fpos, "field")
	}
	return endElem(b, pos, "x")
}

// appendRSM writes a XEP-0059 set. Integer fields are omitted when
// negative (ircbridge uses -1 for "absent").
func appendRSM(b []byte, r *ircbridge.RSM, result bool) []byte {
	b = append(b, "<set xmlns='"+ircbridge.NSRSM+"'"...)
	b = append(b, '>')
	pos := len(b)
	if result {
		if r.First != "" {
			b = append(b, "<first"...)
			if r.FirstIndex >= 0 {
				b = appendIntAttr(b, "index", r.FirstIndex)
			}
			b = append(b, '>')
			b = appendEscaped(b, r.First, false)
			b = append(b, "</first>"...)
		}
		if r.Last != "" {
			b = appendTextElem(b, "last", "", r.Last)
		}
		if r.Count >= 0 {
			b = appendIntElem(b, "count", r.Count)
		}
	} else {
		if r.Max >= 0 {
			b = appendIntElem(b, "max", r.Max)
		}
		if r.After != "" {
			b = appendTextElem(b, "after", "", r.After)
		}
		if r.Before != nil {
			b = appendTextElem(b, "before", "", *r.Before)
		}
		if r.Index >= 0 {
			b = appendIntElem(b, "index", r.Index)
		}
	}
	return endElem(b, pos, "set")
}

// validName reports whether s is a plain ASCII XML name that can be
// written without escaping. Names in UnknownPayload come from decoded input;
// exotic (non-ASCII) names are simply not echoed.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
