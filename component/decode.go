package component

import (
	"fmt"
	"strconv"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"biboumi/ircbridge"
)

// This file turns elements (reader.go) into ircbridge values.
// Decoding is strict where a field drives the gateway's behaviour (types,
// JIDs, history limits, roles) and lenient for information we only pass on
// (delay stamps, stanza-ids, unknown children are ignored).
// A strict failure is a *badStanza, which the caller answers with a stanza
// error (RFC 6120 §8.3) while the link stays up.

// badStanza is a decoding failure answered with a stanza error.
type badStanza struct {
	typ  stanza.ErrorType
	cond stanza.Condition
	text string
}

func (b *badStanza) Error() string { return string(b.cond) + ": " + b.text }

func badRequest(format string, args ...any) *badStanza {
	return &badStanza{typ: stanza.Modify, cond: stanza.BadRequest, text: fmt.Sprintf(format, args...)}
}

func jidMalformed(attr, value string) *badStanza {
	return &badStanza{typ: stanza.Modify, cond: stanza.JIDMalformed, text: fmt.Sprintf("malformed JID in '%s': %q", attr, truncate(value, 100))}
}

func notAcceptable(text string) *badStanza {
	return &badStanza{typ: stanza.Modify, cond: stanza.NotAcceptable, text: text}
}

// truncate shortens s for error texts (which are escaped when written).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// header holds the routing attributes every stanza has.
type header struct {
	kind     string // message, presence or iq
	from, to jid.JID
	id, typ  string
	typSet   bool
	fromOK   bool // from is present and valid: we can answer
	toErr    *badStanza
}

// decodeHeader reads from, to, id and type. A problem with to is kept in
// toErr, so that the caller can still answer (from our domain).
func decodeHeader(el *element) header {
	h := header{kind: el.name.Local}
	h.id, _ = el.get("id")
	h.typ, h.typSet = el.get("type")
	if s, ok := el.get("from"); ok {
		if j, err := jid.Parse(s); err == nil {
			h.from, h.fromOK = j, true
		}
	}
	s, ok := el.get("to")
	switch {
	case !ok || s == "":
		h.toErr = badRequest("missing 'to' attribute")
	default:
		j, err := jid.Parse(s)
		if err != nil {
			h.toErr = jidMalformed("to", s)
		} else {
			h.to = j
		}
	}
	return h
}

// isError reports whether the stanza is itself an error (never answered).
func (h *header) isError() bool { return h.typ == "error" }

func decodeMessage(el *element, h *header, maxBody int) (ircbridge.Message, *badStanza) {
	return decodeMessageFwd(el, h, maxBody, false)
}

// decodeMessageFwd decodes a message; forwarded is true for the message
// inside a XEP-0313 result, which may not hold another result.
func decodeMessageFwd(el *element, h *header, maxBody int, forwarded bool) (ircbridge.Message, *badStanza) {
	m := ircbridge.Message{From: h.from, To: h.to, ID: h.id}
	switch stanza.MessageType(h.typ) {
	case "":
		// RFC 6121 §5.2.2: absent means normal.
		m.Type = stanza.NormalMessage
	case stanza.NormalMessage, stanza.ChatMessage, stanza.GroupChatMessage, stanza.HeadlineMessage, stanza.ErrorMessage:
		m.Type = stanza.MessageType(h.typ)
	default:
		return m, badRequest("unknown message type %q", truncate(h.typ, 50))
	}
	var body, subject pick
	for _, c := range el.children {
		switch c.name.Space {
		case el.name.Space:
			switch c.name.Local {
			case "body":
				body.offer(c, el)
			case "subject":
				subject.offer(c, el)
			case "error":
				if m.Type == stanza.ErrorMessage && m.Error == nil {
					m.Error = decodeError(c)
				}
			}
		case ircbridge.NSSID:
			switch c.name.Local {
			case "origin-id":
				m.OriginID, _ = c.get("id")
			case "stanza-id":
				// Informational only: XEP-0359 §3 forbids trusting a
				// stanza-id that another entity set, so never fail on it.
				id, _ := c.get("id")
				by, _ := c.get("by")
				byJID, err := jid.Parse(by)
				if id != "" && err == nil {
					m.StanzaID = &ircbridge.StanzaID{ID: id, By: byJID}
				}
			}
		case ircbridge.NSCarbons:
			if c.name.Local == "private" {
				m.Private = true
			}
		case ircbridge.NSDelay:
			if c.name.Local == "delay" {
				m.Delay = decodeDelay(c)
			}
		case ircbridge.NSMUCUser:
			if c.name.Local == "x" && m.MUCUser == nil {
				u, bad := decodeMUCUser(c)
				if bad != nil {
					return m, bad
				}
				m.MUCUser = u
			}
		case ircbridge.NSMAM:
			if c.name.Local == "result" && m.MAMResult == nil && !forwarded {
				m.MAMResult = decodeMAMResult(c, maxBody)
			}
		}
	}
	if body.el != nil {
		m.Body = body.el.text
	}
	if subject.el != nil {
		s := subject.el.text
		m.Subject = &s
	}
	if len(m.Body) > maxBody || (m.Subject != nil && len(*m.Subject) > maxBody) {
		return m, notAcceptable("message too large")
	}
	if m.Type == stanza.ErrorMessage && m.Error == nil {
		m.Error = defaultError()
	}
	return m, nil
}

// decodeMAMResult reads a XEP-0313 <result/> (the gateway only sends
// them; this is for tests and tools). It is lenient: a result whose
// forwarded message cannot be decoded is dropped (nil).
func decodeMAMResult(c *element, maxBody int) *ircbridge.MAMResult {
	r := &ircbridge.MAMResult{}
	r.QueryID, _ = c.get("queryid")
	r.ID, _ = c.get("id")
	fw := c.child(nsForward, "forwarded")
	if fw == nil {
		return nil
	}
	if d := fw.child(ircbridge.NSDelay, "delay"); d != nil {
		if dl := decodeDelay(d); dl != nil {
			r.Stamp = dl.Stamp
		}
	}
	var inner *element
	for _, cc := range fw.children {
		if cc.name.Local == "message" && (cc.name.Space == nsClient || cc.name.Space == nsAccept || cc.name.Space == nsServer) {
			inner = cc
			break
		}
	}
	if inner == nil {
		return nil
	}
	h := decodeHeader(inner)
	m, bad := decodeMessageFwd(inner, &h, maxBody, true)
	if bad != nil {
		return nil
	}
	r.Message = m
	return r
}

// pick chooses among repeated human-readable children (body, subject,
// status) that differ by xml:lang: the one in the stanza's language (or
// without a language) wins, else the first one (RFC 6121 §5.2.3).
type pick struct {
	el        *element
	preferred bool
}

func (p *pick) offer(c, stanzaEl *element) {
	if p.preferred {
		return
	}
	l := c.lang()
	if l == "" || l == stanzaEl.lang() {
		p.el, p.preferred = c, true
		return
	}
	if p.el == nil {
		p.el = c
	}
}

func decodeDelay(c *element) *ircbridge.Delay {
	s, _ := c.get("stamp")
	t, err := parseStamp(s)
	if err != nil {
		return nil
	}
	d := &ircbridge.Delay{Stamp: t}
	if from, ok := c.get("from"); ok {
		if j, err := jid.Parse(from); err == nil {
			d.From = j
		}
	}
	return d
}

// parseStamp parses a XEP-0082 DateTime (RFC 3339, optional fraction).
func parseStamp(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// defaultError is the error of an error stanza that carries none.
func defaultError() *stanza.Error {
	return &stanza.Error{Type: stanza.Cancel, Condition: stanza.UndefinedCondition}
}

// decodeError reads a RFC 6120 §8.3 <error/>. It never fails: an error is
// never answered, so we keep whatever we can understand.
func decodeError(c *element) *stanza.Error {
	e := &stanza.Error{Condition: stanza.UndefinedCondition}
	t, _ := c.get("type")
	e.Type = stanza.ErrorType(t)
	if by, ok := c.get("by"); ok {
		if j, err := jid.Parse(by); err == nil {
			e.By = j
		}
	}
	condSet := false
	for _, cc := range c.children {
		if cc.name.Space != nsStanzas {
			continue
		}
		if cc.name.Local == "text" {
			if cc.text != "" {
				if e.Text == nil {
					e.Text = make(map[string]string, 1)
				}
				e.Text[cc.lang()] = cc.text
			}
			continue
		}
		if !condSet {
			e.Condition = stanza.Condition(cc.name.Local)
			condSet = true
		}
	}
	return e
}

func decodePresence(el *element, h *header, maxBody int) (ircbridge.Presence, *badStanza) {
	p := ircbridge.Presence{From: h.from, To: h.to, ID: h.id}
	switch t := stanza.PresenceType(h.typ); t {
	case stanza.AvailablePresence, stanza.UnavailablePresence, stanza.SubscribePresence,
		stanza.SubscribedPresence, stanza.UnsubscribePresence, stanza.UnsubscribedPresence,
		stanza.ProbePresence, stanza.ErrorPresence:
		p.Type = t
	default:
		return p, badRequest("unknown presence type %q", truncate(h.typ, 50))
	}
	var status pick
	for _, c := range el.children {
		switch c.name.Space {
		case el.name.Space:
			switch c.name.Local {
			case "show":
				if p.Show != "" {
					return p, badRequest("more than one <show/>")
				}
				switch c.text {
				case "away", "chat", "dnd", "xa":
					p.Show = c.text
				default:
					return p, badRequest("invalid <show/> value %q", truncate(c.text, 50))
				}
			case "status":
				status.offer(c, el)
			case "error":
				if p.Type == stanza.ErrorPresence && p.Error == nil {
					p.Error = decodeError(c)
				}
			}
		case ircbridge.NSMUC:
			if c.name.Local == "x" && p.MUC == nil {
				j, bad := decodeMUCJoin(c)
				if bad != nil {
					return p, bad
				}
				p.MUC = j
			}
		case ircbridge.NSMUCUser:
			if c.name.Local == "x" && p.MUCUser == nil {
				u, bad := decodeMUCUser(c)
				if bad != nil {
					return p, bad
				}
				p.MUCUser = u
			}
		}
	}
	if status.el != nil {
		p.Status = status.el.text
	}
	if len(p.Status) > maxBody {
		return p, notAcceptable("status too large")
	}
	if p.Type == stanza.ErrorPresence && p.Error == nil {
		p.Error = defaultError()
	}
	return p, nil
}

// decodeMUCJoin reads XEP-0045 §7.2 <x xmlns='…muc'/>.
func decodeMUCJoin(c *element) (*ircbridge.MUCJoin, *badStanza) {
	j := &ircbridge.MUCJoin{}
	for _, cc := range c.children {
		if cc.name.Space != ircbridge.NSMUC {
			continue
		}
		switch cc.name.Local {
		case "password":
			j.Password = cc.text
		case "history":
			if j.History != nil {
				return nil, badRequest("more than one <history/>")
			}
			hr := &ircbridge.HistoryRequest{MaxChars: -1, MaxStanzas: -1, Seconds: -1}
			var bad *badStanza
			if hr.MaxChars, bad = intAttr(cc, "maxchars"); bad != nil {
				return nil, bad
			}
			if hr.MaxStanzas, bad = intAttr(cc, "maxstanzas"); bad != nil {
				return nil, bad
			}
			if hr.Seconds, bad = intAttr(cc, "seconds"); bad != nil {
				return nil, bad
			}
			if s, ok := cc.get("since"); ok {
				t, err := parseStamp(s)
				if err != nil {
					return nil, badRequest("invalid 'since' in <history/>: %q is not a XEP-0082 DateTime", truncate(s, 50))
				}
				hr.Since = t
			}
			j.History = hr
		}
	}
	return j, nil
}

// intAttr reads a non-negative integer attribute; absent is -1.
func intAttr(c *element, name string) (int, *badStanza) {
	s, ok := c.get(name)
	if !ok {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return -1, badRequest("invalid '%s' in <%s/>: %q is not a non-negative integer", name, c.name.Local, truncate(s, 50))
	}
	return n, nil
}

// intText reads a non-negative integer element text.
func intText(c *element) (int, *badStanza) {
	n, err := strconv.Atoi(c.text)
	if err != nil || n < 0 {
		return -1, badRequest("invalid <%s/>: %q is not a non-negative integer", c.name.Local, truncate(c.text, 50))
	}
	return n, nil
}

// optJID parses an optional JID attribute.
func optJID(c *element, name string) (jid.JID, *badStanza) {
	s, ok := c.get(name)
	if !ok || s == "" {
		return jid.JID{}, nil
	}
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, jidMalformed(name, s)
	}
	return j, nil
}

// decodeMUCUser reads XEP-0045 <x xmlns='…muc#user'/>.
// Only the first <invite/> is kept (ircbridge.MUCUser has one Invite).
func decodeMUCUser(c *element) (*ircbridge.MUCUser, *badStanza) {
	u := &ircbridge.MUCUser{}
	for _, cc := range c.children {
		if cc.name.Space != ircbridge.NSMUCUser {
			continue
		}
		switch cc.name.Local {
		case "invite":
			if u.Invite != nil {
				continue
			}
			inv := &ircbridge.Invite{}
			var bad *badStanza
			if inv.To, bad = optJID(cc, "to"); bad != nil {
				return nil, bad
			}
			if inv.From, bad = optJID(cc, "from"); bad != nil {
				return nil, bad
			}
			if r := cc.child(ircbridge.NSMUCUser, "reason"); r != nil {
				inv.Reason = r.text
			}
			u.Invite = inv
		case "item":
			it, bad := decodeMUCItem(cc, ircbridge.NSMUCUser)
			if bad != nil {
				return nil, bad
			}
			u.Items = append(u.Items, it)
		case "status":
			s, _ := cc.get("code")
			code, err := strconv.Atoi(s)
			if err != nil || code < 100 || code > 999 {
				return nil, badRequest("invalid status code %q", truncate(s, 20))
			}
			u.Status = append(u.Status, code)
		}
	}
	return u, nil
}

// decodeMUCItem reads a XEP-0045 <item/> in namespace ns (muc#user or
// muc#admin).
func decodeMUCItem(c *element, ns string) (ircbridge.MUCItem, *badStanza) {
	var it ircbridge.MUCItem
	if a, ok := c.get("affiliation"); ok {
		switch a {
		case "none", "outcast", "member", "admin", "owner":
			it.Affiliation = ircbridge.Affiliation(a)
		default:
			return it, badRequest("invalid affiliation %q", truncate(a, 50))
		}
	}
	if r, ok := c.get("role"); ok {
		switch r {
		case "none", "visitor", "participant", "moderator":
			it.Role = ircbridge.Role(r)
		default:
			return it, badRequest("invalid role %q", truncate(r, 50))
		}
	}
	var bad *badStanza
	if it.JID, bad = optJID(c, "jid"); bad != nil {
		return it, bad
	}
	it.Nick, _ = c.get("nick")
	for _, cc := range c.children {
		if cc.name.Space != ns {
			continue
		}
		switch cc.name.Local {
		case "reason":
			it.Reason = cc.text
		case "actor":
			a := &ircbridge.Actor{}
			a.Nick, _ = cc.get("nick")
			if a.JID, bad = optJID(cc, "jid"); bad != nil {
				return it, bad
			}
			it.Actor = a
		}
	}
	return it, nil
}

func decodeIQ(el *element, h *header) (ircbridge.IQ, *badStanza) {
	iq := ircbridge.IQ{From: h.from, To: h.to, ID: h.id, Type: stanza.IQType(h.typ)}
	if !h.typSet {
		return iq, badRequest("missing 'type' attribute")
	}
	switch iq.Type {
	case stanza.GetIQ, stanza.SetIQ, stanza.ResultIQ, stanza.ErrorIQ:
	default:
		return iq, badRequest("unknown iq type %q", truncate(h.typ, 50))
	}
	if h.id == "" {
		return iq, badRequest("missing 'id' attribute")
	}
	var payload *element
	n := 0
	for _, c := range el.children {
		if c.name.Space == el.name.Space && c.name.Local == "error" {
			if iq.Type == stanza.ErrorIQ && iq.Error == nil {
				iq.Error = decodeError(c)
			}
			if iq.Type == stanza.ErrorIQ {
				continue
			}
		}
		n++
		if payload == nil {
			payload = c
		}
	}
	if iq.Type == stanza.ErrorIQ && iq.Error == nil {
		iq.Error = defaultError()
	}
	request := iq.Type == stanza.GetIQ || iq.Type == stanza.SetIQ
	if request && n != 1 {
		// RFC 6120 §8.2.3: a get or set has exactly one payload child.
		return iq, badRequest("an iq of type %s needs exactly one child element, not %d", iq.Type, n)
	}
	if payload == nil {
		return iq, nil
	}
	p, bad := decodePayload(payload)
	if bad != nil {
		if request {
			return iq, bad
		}
		// A response is never answered (RFC 6120 §8.2.3): hand it over
		// with an opaque payload so that a pending request still resolves.
		p = &ircbridge.UnknownPayload{Name: payload.name}
	}
	iq.Payload = p
	return iq, nil
}

// decodePayload decodes the IQ child c by namespace.
func decodePayload(c *element) (ircbridge.Payload, *badStanza) {
	switch {
	case c.name.Space == ircbridge.NSDiscoInfo && c.name.Local == "query":
		return decodeDiscoInfo(c)
	case c.name.Space == ircbridge.NSDiscoItems && c.name.Local == "query":
		return decodeDiscoItems(c)
	case c.name.Space == ircbridge.NSPing && c.name.Local == "ping":
		return &ircbridge.Ping{}, nil
	case c.name.Space == ircbridge.NSVersion && c.name.Local == "query":
		v := &ircbridge.Version{}
		for _, cc := range c.children {
			if cc.name.Space != ircbridge.NSVersion {
				continue
			}
			switch cc.name.Local {
			case "name":
				v.Name = cc.text
			case "version":
				v.Version = cc.text
			case "os":
				v.OS = cc.text
			}
		}
		return v, nil
	case c.name.Space == ircbridge.NSMUCOwner && c.name.Local == "query":
		q := &ircbridge.MUCQuery{}
		if x := c.child(ircbridge.NSDataForms, "x"); x != nil {
			q.Form = decodeForm(x)
		}
		return q, nil
	case c.name.Space == ircbridge.NSMAM && c.name.Local == "query":
		return decodeMAMQuery(c)
	case c.name.Space == ircbridge.NSMAM && c.name.Local == "fin":
		return decodeMAMFin(c)
	case c.name.Space == ircbridge.NSCommands && c.name.Local == "command":
		return decodeCommand(c)
	case c.name.Space == ircbridge.NSMUCAdmin && c.name.Local == "query":
		a := &ircbridge.MUCAdmin{}
		for _, cc := range c.children {
			if cc.name.Space != ircbridge.NSMUCAdmin || cc.name.Local != "item" {
				continue
			}
			it, bad := decodeMUCItem(cc, ircbridge.NSMUCAdmin)
			if bad != nil {
				return nil, bad
			}
			a.Items = append(a.Items, it)
		}
		return a, nil
	}
	return &ircbridge.UnknownPayload{Name: c.name}, nil
}

func decodeDiscoInfo(c *element) (ircbridge.Payload, *badStanza) {
	d := &ircbridge.DiscoInfo{}
	d.Node, _ = c.get("node")
	for _, cc := range c.children {
		switch {
		case cc.name.Space == ircbridge.NSDiscoInfo && cc.name.Local == "identity":
			var id ircbridge.Identity
			id.Category, _ = cc.get("category")
			id.Type, _ = cc.get("type")
			id.Name, _ = cc.get("name")
			d.Identities = append(d.Identities, id)
		case cc.name.Space == ircbridge.NSDiscoInfo && cc.name.Local == "feature":
			if v, ok := cc.get("var"); ok {
				d.Features = append(d.Features, v)
			}
		case cc.name.Space == ircbridge.NSDataForms && cc.name.Local == "x" && d.Form == nil:
			d.Form = decodeForm(cc)
		}
	}
	return d, nil
}

// decodeForm reads a XEP-0004 data form. It is lenient: forms are mostly
// passed on, and submitted forms usually carry neither field types nor
// labels (every value is kept as a string). Several <instructions/> are
// joined with newlines.
func decodeForm(c *element) *ircbridge.Form {
	f := &ircbridge.Form{}
	f.Type, _ = c.get("type")
	for _, cc := range c.children {
		if cc.name.Space != ircbridge.NSDataForms {
			continue
		}
		switch cc.name.Local {
		case "title":
			f.Title = cc.text
		case "instructions":
			if f.Instructions != "" {
				f.Instructions += "\n"
			}
			f.Instructions += cc.text
		case "field":
			f.Fields = append(f.Fields, decodeFormField(cc))
		}
	}
	return f
}

func decodeFormField(c *element) ircbridge.FormField {
	var fd ircbridge.FormField
	fd.Var, _ = c.get("var")
	fd.Type, _ = c.get("type")
	fd.Label, _ = c.get("label")
	for _, v := range c.children {
		if v.name.Space != ircbridge.NSDataForms {
			continue
		}
		switch v.name.Local {
		case "value":
			fd.Values = append(fd.Values, v.text)
		case "desc":
			fd.Desc = v.text
		case "required":
			fd.Required = true
		case "option":
			var o ircbridge.FormOption
			o.Label, _ = v.get("label")
			if ov := v.child(ircbridge.NSDataForms, "value"); ov != nil {
				o.Value = ov.text
			}
			fd.Options = append(fd.Options, o)
		}
	}
	return fd
}

// firstValue returns the first value of a field, "" if it has none.
func firstValue(fd *ircbridge.FormField) string {
	if len(fd.Values) == 0 {
		return ""
	}
	return fd.Values[0]
}

// decodeMAMQuery reads a XEP-0313 <query xmlns='urn:xmpp:mam:2'/>: the
// filters of its data form (with the urn:xmpp:mam:2#extended fields) and
// its RSM set. Both are optional: an empty query asks for everything (and,
// in an iq get, for the query form). A form of type 'form' is the query
// form itself (the answer to a get) and is kept in Form.
func decodeMAMQuery(c *element) (ircbridge.Payload, *badStanza) {
	q := &ircbridge.MAMQuery{}
	q.QueryID, _ = c.get("queryid")
	seenForm := false
	for _, cc := range c.children {
		switch {
		case cc.name.Space == ircbridge.NSDataForms && cc.name.Local == "x":
			if seenForm {
				continue // only the first form counts
			}
			seenForm = true
			f := decodeForm(cc)
			if bad := mamFilters(q, f); bad != nil {
				return nil, bad
			}
			if f.Type == "form" {
				q.Form = f
			}
		case cc.name.Space == ircbridge.NSRSM && cc.name.Local == "set" && q.RSM == nil:
			r, bad := decodeRSM(cc)
			if bad != nil {
				return nil, bad
			}
			q.RSM = r
		}
	}
	return q, nil
}

// mamFilters copies the filter fields of a MAM query form into q. Empty
// values mean "no filter"; unknown fields are ignored, as Biboumi does.
func mamFilters(q *ircbridge.MAMQuery, f *ircbridge.Form) *badStanza {
	if ft := f.Field("FORM_TYPE"); ft != nil {
		switch v := firstValue(ft); v {
		case "", ircbridge.NSMAM, nsMAMExtended:
		default:
			return badRequest("unsupported FORM_TYPE %q in the MAM query form", truncate(v, 100))
		}
	}
	for i := range f.Fields {
		fd := &f.Fields[i]
		switch fd.Var {
		case "start", "end":
			v := firstValue(fd)
			if v == "" {
				continue
			}
			t, err := parseStamp(v)
			if err != nil {
				return badRequest("invalid '%s' field in the MAM query form: %q is not a XEP-0082 DateTime", fd.Var, truncate(v, 50))
			}
			if fd.Var == "start" {
				q.Start = t
			} else {
				q.End = t
			}
		case "with":
			q.With = firstValue(fd)
		case "before-id":
			q.BeforeID = firstValue(fd)
		case "after-id":
			q.AfterID = firstValue(fd)
		case "ids":
			for _, v := range fd.Values {
				if v != "" {
					q.IDs = append(q.IDs, v)
				}
			}
		}
	}
	return nil
}

// decodeMAMFin reads a XEP-0313 <fin/>.
func decodeMAMFin(c *element) (ircbridge.Payload, *badStanza) {
	f := &ircbridge.MAMFin{}
	if v, _ := c.get("complete"); v == "true" || v == "1" {
		f.Complete = true
	}
	if s := c.child(ircbridge.NSRSM, "set"); s != nil {
		r, bad := decodeRSM(s)
		if bad != nil {
			return nil, bad
		}
		f.RSM = r
	}
	return f, nil
}

// decodeCommand reads a XEP-0050 <command/>: a request (node, sessionid,
// action, a submitted form) or an answer (status, actions, notes, form).
func decodeCommand(c *element) (ircbridge.Payload, *badStanza) {
	cmd := &ircbridge.Command{}
	cmd.Node, _ = c.get("node")
	cmd.SessionID, _ = c.get("sessionid")
	cmd.Status, _ = c.get("status")
	if a, ok := c.get("action"); ok {
		switch a {
		case "execute", "next", "prev", "complete", "cancel":
			cmd.Action = a
		default:
			return nil, badRequest("invalid action %q in <command/>", truncate(a, 50))
		}
	}
	for _, cc := range c.children {
		switch {
		case cc.name.Space == ircbridge.NSCommands && cc.name.Local == "actions":
			if cmd.Actions != nil {
				continue
			}
			def, _ := cc.get("execute")
			if isCommandAction(def) {
				cmd.Actions = append(cmd.Actions, def)
			}
			for _, a := range cc.children {
				if a.name.Space == ircbridge.NSCommands && isCommandAction(a.name.Local) && a.name.Local != def {
					cmd.Actions = append(cmd.Actions, a.name.Local)
				}
			}
		case cc.name.Space == ircbridge.NSCommands && cc.name.Local == "note":
			n := ircbridge.Note{Text: cc.text}
			n.Type, _ = cc.get("type")
			if n.Type == "" {
				n.Type = "info" // XEP-0050 §3.4: the default
			}
			cmd.Notes = append(cmd.Notes, n)
		case cc.name.Space == ircbridge.NSDataForms && cc.name.Local == "x" && cmd.Form == nil:
			cmd.Form = decodeForm(cc)
		}
	}
	return cmd, nil
}

// isCommandAction reports whether s is an action that may appear in
// XEP-0050 <actions/>.
func isCommandAction(s string) bool {
	return s == "prev" || s == "next" || s == "complete"
}

func decodeDiscoItems(c *element) (ircbridge.Payload, *badStanza) {
	d := &ircbridge.DiscoItems{}
	d.Node, _ = c.get("node")
	for _, cc := range c.children {
		switch {
		case cc.name.Space == ircbridge.NSDiscoItems && cc.name.Local == "item":
			var it ircbridge.DiscoItem
			var bad *badStanza
			if it.JID, bad = optJID(cc, "jid"); bad != nil {
				return nil, bad
			}
			it.Node, _ = cc.get("node")
			it.Name, _ = cc.get("name")
			d.Items = append(d.Items, it)
		case cc.name.Space == ircbridge.NSRSM && cc.name.Local == "set" && d.RSM == nil:
			r, bad := decodeRSM(cc)
			if bad != nil {
				return nil, bad
			}
			d.RSM = r
		}
	}
	return d, nil
}

// decodeRSM reads a XEP-0059 <set/>, request or answer.
func decodeRSM(c *element) (*ircbridge.RSM, *badStanza) {
	r := &ircbridge.RSM{Max: -1, Index: -1, FirstIndex: -1, Count: -1}
	var bad *badStanza
	for _, cc := range c.children {
		if cc.name.Space != ircbridge.NSRSM {
			continue
		}
		switch cc.name.Local {
		case "max":
			if r.Max, bad = intText(cc); bad != nil {
				return nil, bad
			}
		case "index":
			if r.Index, bad = intText(cc); bad != nil {
				return nil, bad
			}
		case "count":
			if r.Count, bad = intText(cc); bad != nil {
				return nil, bad
			}
		case "after":
			r.After = cc.text
		case "before":
			b := cc.text
			r.Before = &b
		case "first":
			r.First = cc.text
			if r.FirstIndex, bad = intAttr(cc, "index"); bad != nil {
				return nil, bad
			}
		case "last":
			r.Last = cc.text
		}
	}
	return r, nil
}
