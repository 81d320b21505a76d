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
	nsForward = "urn:xmpp:forward:0"
	// nsMAMExtended is accepted as a MAM query FORM_TYPE; the extended
	// fields normally come in a urn:xmpp:mam:2 form.
	nsMAMExtended = "urn:xmpp:mam:2#extended"
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
	return appendMessageNS(b, m, false)
}

// appendMessageNS writes a message stanza. forwarded is true for the
// XEP-0297 copy inside a XEP-0313 result: it declares jabber:client and
// cannot itself be a result.
func appendMessageNS(b []byte, m *ircbridge.Message, forwarded bool) []byte {
	typ := string(m.Type)
	if typ == "" && m.Error != nil {
		typ = string(stanza.ErrorMessage)
	}
	b = append(b, "<message"...)
	if forwarded {
		b = append(b, " xmlns='"+nsClient+"'"...)
	}
	b = appendJIDAttr(b, "from", m.From)
	b = appendJIDAttr(b, "to", m.To)
	b = appendAttr(b, "type", typ)
	b = appendAttr(b, "id", m.ID)
	b = append(b, '>')
	pos := len(b)
	if r := m.MAMResult; r != nil && !forwarded {
		// XEP-0313 §4.2: the result is the message's only payload.
		b = appendMAMResult(b, r)
		return endElem(b, pos, "message")
	}
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

// appendMAMResult writes a XEP-0313 <result/> holding the archived
// message, forwarded (XEP-0297) with its delay.
func appendMAMResult(b []byte, r *ircbridge.MAMResult) []byte {
	b = append(b, "<result xmlns='"+ircbridge.NSMAM+"'"...)
	b = appendAttr(b, "queryid", r.QueryID)
	b = appendAttr(b, "id", r.ID)
	b = append(b, "><forwarded xmlns='"+nsForward+"'>"...)
	b = appendDelay(b, &ircbridge.Delay{Stamp: r.Stamp})
	b = appendMessageNS(b, &r.Message, true)
	return append(b, "</forwarded></result>"...)
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
	if code := legacyCode(cond); code != "" {
		b = appendAttr(b, "code", code) // XEP-0086, for old clients (Biboumi sends 409)
	}
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
	case *ircbridge.MUCQuery:
		b = append(b, "<query xmlns='"+ircbridge.NSMUCOwner+"'>"...)
		pos := len(b)
		if p.Form != nil {
			b = appendForm(b, p.Form)
		}
		return endElem(b, pos, "query")
	case *ircbridge.MAMQuery:
		return appendMAMQuery(b, p, result)
	case *ircbridge.MAMFin:
		b = append(b, "<fin xmlns='"+ircbridge.NSMAM+"'"...)
		if p.Complete {
			b = append(b, " complete='true'"...)
		}
		b = append(b, '>')
		pos := len(b)
		if p.RSM != nil {
			b = appendRSM(b, p.RSM, true)
		}
		return endElem(b, pos, "fin")
	case *ircbridge.Command:
		return appendCommand(b, p)
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

// appendForm writes a XEP-0004 data form (type 'result' if unset).
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
	if f.Instructions != "" {
		b = appendTextElem(b, "instructions", "", f.Instructions)
	}
	for i := range f.Fields {
		fd := &f.Fields[i]
		b = append(b, "<field"...)
		b = appendAttr(b, "var", fd.Var)
		b = appendAttr(b, "type", fd.Type)
		b = appendAttr(b, "label", fd.Label)
		b = append(b, '>')
		fpos := len(b)
		// XEP-0004 §3.2 order: desc, required, values, options.
		if fd.Desc != "" {
			b = appendTextElem(b, "desc", "", fd.Desc)
		}
		if fd.Required {
			b = append(b, "<required/>"...)
		}
		for _, v := range fd.Values {
			b = appendValue(b, v)
		}
		for _, o := range fd.Options {
			b = append(b, "<option"...)
			b = appendAttr(b, "label", o.Label)
			b = append(b, '>')
			b = appendValue(b, o.Value)
			b = append(b, "</option>"...)
		}
		b = endElem(b, fpos, "field")
	}
	return endElem(b, pos, "x")
}

// appendValue writes a form <value/>; an empty one stays an explicit
// <value></value>, which some clients need to show an empty field.
func appendValue(b []byte, v string) []byte {
	b = append(b, "<value>"...)
	b = appendEscaped(b, v, false)
	return append(b, "</value>"...)
}

// appendMAMQuery writes a XEP-0313 query. With Form set (the answer to a
// get) the form is written as is and the filters are ignored; otherwise
// the filters, if any, go in a submitted form.
func appendMAMQuery(b []byte, q *ircbridge.MAMQuery, result bool) []byte {
	b = append(b, "<query xmlns='"+ircbridge.NSMAM+"'"...)
	b = appendAttr(b, "queryid", q.QueryID)
	b = append(b, '>')
	pos := len(b)
	switch {
	case q.Form != nil:
		b = appendForm(b, q.Form)
	case !q.Start.IsZero() || !q.End.IsZero() || q.With != "" || q.BeforeID != "" || q.AfterID != "" || len(q.IDs) > 0:
		f := ircbridge.Form{Type: "submit", Fields: make([]ircbridge.FormField, 1, 7)}
		f.Fields[0] = ircbridge.FormField{Var: "FORM_TYPE", Type: "hidden", Values: []string{ircbridge.NSMAM}}
		add := func(v string, values ...string) {
			f.Fields = append(f.Fields, ircbridge.FormField{Var: v, Values: values})
		}
		if !q.Start.IsZero() {
			add("start", q.Start.UTC().Format(stampLayout))
		}
		if !q.End.IsZero() {
			add("end", q.End.UTC().Format(stampLayout))
		}
		if q.With != "" {
			add("with", q.With)
		}
		if q.BeforeID != "" {
			add("before-id", q.BeforeID)
		}
		if q.AfterID != "" {
			add("after-id", q.AfterID)
		}
		if len(q.IDs) > 0 {
			add("ids", q.IDs...)
		}
		b = appendForm(b, &f)
	}
	if q.RSM != nil {
		b = appendRSM(b, q.RSM, result)
	}
	return endElem(b, pos, "query")
}

// appendCommand writes a XEP-0050 command: request attributes (action) and
// answer ones (status, actions, notes), whichever are set. The first of
// Actions is the default (execute='…'); actions other than prev, next and
// complete are not valid there and are skipped.
func appendCommand(b []byte, c *ircbridge.Command) []byte {
	b = append(b, "<command xmlns='"+ircbridge.NSCommands+"'"...)
	b = appendAttr(b, "node", c.Node)
	b = appendAttr(b, "sessionid", c.SessionID)
	b = appendAttr(b, "action", c.Action)
	b = appendAttr(b, "status", c.Status)
	b = append(b, '>')
	pos := len(b)
	n := 0
	for _, a := range c.Actions {
		if !isCommandAction(a) {
			continue
		}
		if n == 0 {
			b = append(b, "<actions"...)
			b = appendAttr(b, "execute", a)
			b = append(b, '>')
		}
		n++
		b = append(b, '<')
		b = append(b, a...)
		b = append(b, '/', '>')
	}
	if n > 0 {
		b = append(b, "</actions>"...)
	}
	for _, note := range c.Notes {
		typ := note.Type
		if typ == "" {
			typ = "info"
		}
		b = append(b, "<note"...)
		b = appendAttr(b, "type", typ)
		b = append(b, '>')
		pos := len(b)
		b = appendEscaped(b, note.Text, false)
		b = endElem(b, pos, "note")
	}
	if c.Form != nil {
		b = appendForm(b, c.Form)
	}
	return endElem(b, pos, "command")
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

// legacyCode is the XEP-0086 error code of a condition, or "".
func legacyCode(c stanza.Condition) string {
	switch c {
	case stanza.BadRequest, stanza.JIDMalformed, stanza.UnexpectedRequest:
		return "400"
	case stanza.NotAuthorized:
		return "401"
	case stanza.Forbidden:
		return "403"
	case stanza.ItemNotFound, stanza.RecipientUnavailable, stanza.RemoteServerNotFound:
		return "404"
	case stanza.NotAllowed:
		return "405"
	case stanza.NotAcceptable:
		return "406"
	case stanza.RegistrationRequired, stanza.SubscriptionRequired:
		return "407"
	case stanza.Conflict:
		return "409"
	case stanza.InternalServerError, stanza.ResourceConstraint, stanza.UndefinedCondition:
		return "500"
	case stanza.FeatureNotImplemented:
		return "501"
	case stanza.ServiceUnavailable:
		return "503"
	case stanza.RemoteServerTimeout:
		return "504"
	case stanza.Redirect, stanza.Gone:
		return "302"
	}
	return ""
}
