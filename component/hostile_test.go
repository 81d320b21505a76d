package component

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/stanza"

	"biboumi/component/fakexmpp"
	"biboumi/ircbridge"
)

// hostileLimits are the limits of the link TestHostileStanzas talks to:
// small, so that the over-size cases stay small.
const (
	hostileMaxBody   = 1024
	hostileMaxStanza = 8192 // hard limit: 16 × 8192 = 128 KiB on the wire
	hostileMaxDepth  = 16
	hostileHardBytes = 16 * hostileMaxStanza
)

// hostileCase is one hostile input from the XMPP server.
type hostileCase struct {
	name string
	in   string // raw XML written on the stream
	// For a stanza that is answered: the expected error reply.
	cond     stanza.Condition // "" means no reply at all (dropped or delivered)
	errType  stanza.ErrorType
	kind     string // element of the reply (message, presence, iq)
	from, to string // of the reply
	id       string // of the reply ("" : no id attribute)
	text     string // substring of the error text
	// deliver, when set, says the hostile stanza itself is delivered to
	// the Handler, and checks what the Handler got.
	deliver func(t *testing.T, v any)
	// stream is the stream-level outcome: "" the link stays up; a
	// stream error condition (not-well-formed, policy-violation) that the
	// component sends before ending the stream; "close" for a plain
	// </stream:stream>. The link must then reconnect and keep working.
	stream string
	// knownBug, when set, names a reported bug this case shows: the
	// expectation above is the documented behaviour, and a mismatch is
	// logged rather than failed unless BIBOUMI_FUZZ_STRICT is set.
	knownBug string
}

func body(text string) func(t *testing.T, v any) {
	return func(t *testing.T, v any) {
		t.Helper()
		m, ok := v.(ircbridge.Message)
		if !ok || m.Body != text {
			t.Errorf("delivered %#v, want a message with body %q", v, text)
		}
	}
}

// hostileCases are played in order on one link. Each is followed by a
// good stanza, which must reach the Handler.
var hostileCases = []hostileCase{
	// Over the soft limits: bounced with not-acceptable, link up.
	{
		name: "body over MaxBodyBytes",
		in:   `<message from='` + user + `' to='` + room + `' type='groupchat' id='h1'><body>` + strings.Repeat("x", hostileMaxBody+1) + `</body></message>`,
		cond: stanza.NotAcceptable, errType: stanza.Modify, kind: "message", from: room, to: user, id: "h1", text: "message too large",
	},
	{
		name: "subject over MaxBodyBytes",
		in:   `<message from='` + user + `' to='` + room + `' type='groupchat' id='h2'><subject>` + strings.Repeat("é", hostileMaxBody) + `</subject></message>`,
		cond: stanza.NotAcceptable, errType: stanza.Modify, kind: "message", from: room, to: user, id: "h2", text: "message too large",
	},
	{
		name: "status over MaxBodyBytes",
		in:   `<presence from='` + user + `' to='` + occup + `' id='h3'><status>` + strings.Repeat("s", hostileMaxBody+1) + `</status></presence>`,
		cond: stanza.NotAcceptable, errType: stanza.Modify, kind: "presence", from: occup, to: user, id: "h3", text: "status too large",
	},
	{
		name: "stanza over MaxStanzaBytes",
		in:   `<message from='` + user + `' to='` + room + `' type='groupchat' id='h4'><body>` + strings.Repeat("b", 2*hostileMaxStanza) + `</body></message>`,
		cond: stanza.NotAcceptable, errType: stanza.Modify, kind: "message", from: room, to: user, id: "h4", text: "stanza too large",
	},
	{
		name: "attributes over MaxStanzaBytes",
		in:   `<message from='` + user + `' to='` + room + `' type='groupchat' id='h5'>` + strings.Repeat(`<x xmlns='urn:x' a='`+strings.Repeat("a", 500)+`'/>`, 30) + `<body>b</body></message>`,
		cond: stanza.NotAcceptable, errType: stanza.Modify, kind: "message", from: room, to: user, id: "h5", text: "stanza too large",
	},
	{
		name: "nesting beyond MaxDepth",
		in:   `<iq from='` + user + `' to='` + room + `' type='get' id='h6'>` + strings.Repeat("<a xmlns='urn:x'>", 3*hostileMaxDepth) + strings.Repeat("</a>", 3*hostileMaxDepth) + `</iq>`,
		cond: stanza.NotAcceptable, errType: stanza.Modify, kind: "iq", from: room, to: user, id: "h6", text: "nested too deeply",
	},
	// Addresses.
	{
		name: "to is not a JID",
		in:   `<message from='` + user + `' to='a@b@c' id='a1'><body>x</body></message>`,
		cond: stanza.JIDMalformed, errType: stanza.Modify, kind: "message", from: testDomain, to: user, id: "a1", text: "malformed JID in 'to'",
	},
	{
		name: "to with an empty localpart",
		in:   `<presence from='` + user + `' to='@irc.localhost/Nick' id='a2'/>`,
		cond: stanza.JIDMalformed, errType: stanza.Modify, kind: "presence", from: testDomain, to: user, id: "a2",
	},
	{
		name: "to with a resource over 1023 bytes",
		in:   `<iq from='` + user + `' to='` + room + `/` + strings.Repeat("r", 1024) + `' type='get' id='a3'><ping xmlns='urn:xmpp:ping'/></iq>`,
		cond: stanza.JIDMalformed, errType: stanza.Modify, kind: "iq", from: testDomain, to: user, id: "a3",
	},
	{
		name: "to outside our domain",
		in:   `<message from='` + user + `' to='someone@elsewhere' type='bogus' id='a4'/>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "message", from: testDomain, to: user, id: "a4", text: `unknown message type "bogus"`,
	},
	{name: "no from", in: `<message to='` + room + `' type='groupchat' id='a5'><body>x</body></message>`},
	{name: "from is not a JID", in: `<iq from='@@' to='` + room + `' type='get' id='a6'><ping xmlns='urn:xmpp:ping'/></iq>`},
	{name: "from with an empty resource", in: `<presence from='user@localhost/' to='` + occup + `'/>`},
	{name: "from and to both bad", in: `<message from='a@b@c' to='d@e@f' id='a7'/>`},
	// Missing or wrong attributes.
	{
		name: "no to",
		in:   `<message from='` + user + `' type='chat' id='m1'><body>x</body></message>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "message", from: testDomain, to: user, id: "m1", text: "missing 'to' attribute",
	},
	{
		name: "empty to",
		in:   `<presence from='` + user + `' to='' id='m2'/>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "presence", from: testDomain, to: user, id: "m2", text: "missing 'to' attribute",
	},
	{
		name: "iq get without id",
		in:   `<iq from='` + user + `' to='` + room + `' type='get'><ping xmlns='urn:xmpp:ping'/></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: room, to: user, text: "missing 'id' attribute",
	},
	{
		name: "iq without type",
		in:   `<iq from='` + user + `' to='` + room + `' id='m3'><ping xmlns='urn:xmpp:ping'/></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: room, to: user, id: "m3", text: "missing 'type' attribute",
	},
	{
		name: "iq type bogus",
		in:   `<iq from='` + user + `' to='` + room + `' id='m4' type='bogus'><ping xmlns='urn:xmpp:ping'/></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: room, to: user, id: "m4", text: `unknown iq type "bogus"`,
	},
	{
		name: "message type bogus",
		in:   `<message from='` + user + `' to='` + room + `' id='m5' type='bogus'><body>x</body></message>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "message", from: room, to: user, id: "m5", text: `unknown message type "bogus"`,
	},
	{
		name: "presence type bogus",
		in:   `<presence from='` + user + `' to='` + occup + `' id='m6' type='bogus'/>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "presence", from: occup, to: user, id: "m6", text: `unknown presence type "bogus"`,
	},
	{
		name: "iq get without a child",
		in:   `<iq from='` + user + `' to='` + room + `' id='m7' type='get'/>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: room, to: user, id: "m7", text: "exactly one child",
	},
	{
		name: "iq set with two children",
		in:   `<iq from='` + user + `' to='` + room + `' id='m8' type='set'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: room, to: user, id: "m8", text: "exactly one child",
	},
	{
		name: "id with markup is echoed escaped",
		in:   `<message from='` + user + `' to='` + room + `' id='&lt;&amp;&apos;&quot;' type='bogus'/>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "message", from: room, to: user, id: `<&'"`,
	},
	// Stanzas that are never answered.
	{name: "error with a bad to", in: `<message from='` + user + `' to='a@b@c' type='error' id='n1'/>`},
	{name: "error without to", in: `<presence from='` + user + `' type='error' id='n2'/>`},
	{name: "iq result without id", in: `<iq from='` + user + `' to='` + room + `' type='result'/>`},
	{name: "iq error with a bad payload", in: `<iq from='` + user + `' to='` + room + `' type='error'><query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><max>x</max></set></query></iq>`},
	{name: "error that is over the limits", in: `<message from='` + user + `' to='` + room + `' type='error' id='n3'><body>` + strings.Repeat("x", 2*hostileMaxBody) + `</body></message>`},
	// Garbage in known fields.
	{
		name: "MAM start is not a date",
		in:   `<iq from='` + user + `' to='` + room + `' type='set' id='d1'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='start'><value>2024-02-30T00:00:00Z</value></field></x></query></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: room, to: user, id: "d1", text: "is not a XEP-0082 DateTime",
	},
	{
		name: "MAM end without a time zone",
		in:   `<iq from='` + user + `' to='` + room + `' type='set' id='d2'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='end'><value>2024-01-01T00:00:00</value></field></x></query></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: room, to: user, id: "d2", text: "'end'",
	},
	{
		name: "MAM FORM_TYPE of another protocol",
		in:   `<iq from='` + user + `' to='` + room + `' type='set' id='d3'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>jabber:iq:search</value></field></x></query></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: room, to: user, id: "d3", text: "unsupported FORM_TYPE",
	},
	{
		name: "RSM max is not an integer",
		in:   `<iq from='` + user + `' to='` + room + `' type='set' id='r1'><query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>1e3</max></set></query></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: room, to: user, id: "r1", text: "<max/>",
	},
	{
		name: "RSM max overflows",
		in:   `<iq from='` + user + `' to='` + srvJ + `' type='get' id='r2'><query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><max>99999999999999999999999</max></set></query></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: srvJ, to: user, id: "r2", text: "<max/>",
	},
	{
		name: "RSM index is negative",
		in:   `<iq from='` + user + `' to='` + srvJ + `' type='get' id='r3'><query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><index>-2</index></set></query></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: srvJ, to: user, id: "r3", text: "<index/>",
	},
	{
		name: "history since is not a date",
		in:   `<presence from='` + user + `' to='` + occup + `' id='p1'><x xmlns='http://jabber.org/protocol/muc'><history since='now'/></x></presence>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "presence", from: occup, to: user, id: "p1", text: "'since'",
	},
	{
		name: "history maxchars is not an integer",
		in:   `<presence from='` + user + `' to='` + occup + `' id='p2'><x xmlns='http://jabber.org/protocol/muc'><history maxchars='0x10'/></x></presence>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "presence", from: occup, to: user, id: "p2", text: "'maxchars'",
	},
	{
		name: "invalid show",
		in:   `<presence from='` + user + `' to='` + occup + `' id='p3'><show>online</show></presence>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "presence", from: occup, to: user, id: "p3", text: "<show/>",
	},
	{
		name: "invitation to a bad JID",
		in:   `<message from='` + user + `' to='` + room + `' id='i1'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='a@b@c'/></x></message>`,
		cond: stanza.JIDMalformed, errType: stanza.Modify, kind: "message", from: room, to: user, id: "i1", text: "'to'",
	},
	{
		name: "muc#admin item with a bad role",
		in:   `<iq from='` + user + `' to='` + room + `' type='set' id='k1'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='x' role='root'/></query></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: room, to: user, id: "k1", text: "invalid role",
	},
	{
		name: "ad-hoc command with an unknown action",
		in:   `<iq from='` + user + `' to='irc.localhost' type='set' id='c1'><command xmlns='http://jabber.org/protocol/commands' node='ping' action='delete'/></iq>`,
		cond: stanza.BadRequest, errType: stanza.Modify, kind: "iq", from: testDomain, to: user, id: "c1", text: "invalid action",
	},
	// Things that are ignored: no reply, no delivery, link up.
	{name: "unknown top-level element", in: `<foo from='` + user + `' to='` + room + `'><body>x</body></foo>`},
	{name: "message in an unknown namespace", in: `<message xmlns='urn:example' from='` + user + `' to='` + room + `'><body>x</body></message>`},
	{name: "message with an unbound prefix", in: `<ns:message from='` + user + `' to='` + room + `'><body>x</body></ns:message>`},
	{name: "top-level stream features", in: `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`},
	{name: "text between stanzas", in: `some text &amp; more`},
	{name: "comment between stanzas", in: `<!-- a comment -->`},
	{name: "processing instruction between stanzas", in: `<?php echo 1; ?>`},
	{name: "DOCTYPE between stanzas", in: `<!DOCTYPE message [<!ENTITY x "y">]>`},
	// Hostile but acceptable: delivered.
	{
		name:    "child in an unknown namespace",
		in:      `<message from='` + user + `' to='` + room + `' type='groupchat' id='u1'><evil xmlns='urn:evil'><body>no</body></evil><body>yes</body></message>`,
		deliver: body("yes"),
	},
	{
		name:    "stream-namespace child in a message",
		in:      `<message from='` + user + `' to='` + room + `' type='groupchat' id='u2'><error xmlns='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></error><body>still here</body></message>`,
		deliver: body("still here"),
	},
	{
		name:    "stream-prefixed child in a message",
		in:      `<message from='` + user + `' to='` + room + `' type='groupchat' id='u3'><stream:error/><stream:stream/><body>still here</body></message>`,
		deliver: body("still here"),
	},
	{
		name:    "CDATA section",
		in:      `<message from='` + user + `' to='` + room + `' type='groupchat' id='u4'><body>a<![CDATA[<b>&amp;</b>]]>z</body></message>`,
		deliver: body("a<b>&amp;</b>z"),
	},
	{
		name:    "comment inside a body",
		in:      `<message from='` + user + `' to='` + room + `' type='groupchat' id='u5'><body>a<!-- hidden -->z</body></message>`,
		deliver: body("az"),
	},
	{
		name:    "processing instruction inside a body",
		in:      `<message from='` + user + `' to='` + room + `' type='groupchat' id='u6'><body>a<?pi data?>z</body></message>`,
		deliver: body("az"),
	},
	{
		name:    "character references",
		in:      `<message from='` + user + `' to='` + room + `' type='groupchat' id='u7'><body>&lt;&#65;&#x1F600;&#13;&gt;</body></message>`,
		deliver: body("<A\U0001F600\r>"),
	},
	{
		name: "iq get with an unknown payload",
		in:   `<iq from='` + user + `' to='` + room + `' type='get' id='u8'><query xmlns='urn:unknown'/></iq>`,
		deliver: func(t *testing.T, v any) {
			iq, ok := v.(ircbridge.IQ)
			if p, isUnknown := iq.Payload.(*ircbridge.UnknownPayload); !ok || !isUnknown || p.Name.Space != "urn:unknown" {
				t.Errorf("delivered %#v, want an iq with an unknown payload", v)
			}
		},
	},
	{
		name: "error message without an error child",
		in:   `<message from='` + user + `' to='` + room + `' type='error' id='u9'/>`,
		deliver: func(t *testing.T, v any) {
			m, ok := v.(ircbridge.Message)
			if !ok || m.Error == nil || m.Error.Condition != stanza.UndefinedCondition {
				t.Errorf("delivered %#v, want an error message with undefined-condition", v)
			}
		},
	},
	// Stream-level violations: the stream ends, the link reconnects.
	{name: "undefined entity (expansion attempt)", in: `<!DOCTYPE m [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><message from='` + user + `' to='` + room + `'><body>&lol2;</body></message>`, stream: "not-well-formed"},
	{name: "invalid UTF-8 in text", in: `<message from='` + user + `' to='` + room + `'><body>caf` + "\xe9" + `</body></message>`, stream: "not-well-formed"},
	{name: "invalid UTF-8 in an attribute", in: `<message from='` + user + `' to='` + room + `' id='` + "\xff\xfe" + `'/>`, stream: "not-well-formed"},
	{name: "NUL byte", in: `<message from='` + user + `' to='` + room + `'><body>a` + "\x00" + `b</body></message>`, stream: "not-well-formed"},
	{name: "IRC colour code", in: `<message from='` + user + `' to='` + room + `'><body>` + "\x0304red" + `</body></message>`, stream: "not-well-formed"},
	{name: "character reference to NUL", in: `<message from='` + user + `' to='` + room + `'><body>&#0;</body></message>`, stream: "not-well-formed"},
	{name: "mismatched end tag", in: `<message from='` + user + `' to='` + room + `'><body></message>`, stream: "not-well-formed"},
	{name: "unquoted attribute", in: `<message from=` + user + `/>`, stream: "not-well-formed"},
	{name: "XML declaration for XML 1.1", in: `<?xml version='1.1'?>`, stream: "not-well-formed", knownBug: "xml-decl-no-stream-error"},
	{name: "XML declaration of another encoding", in: `<?xml version='1.0' encoding='ISO-8859-1'?>`, stream: "not-well-formed", knownBug: "xml-decl-no-stream-error"},
	{name: "over the hard byte limit", in: `<message from='` + user + `' to='` + room + `'><body>` + strings.Repeat("h", hostileHardBytes+1) + `</body></message>`, stream: "policy-violation"},
	{name: "deeper than the hard depth", in: `<message from='` + user + `' to='` + room + `'>` + strings.Repeat("<a>", hardDepth+1), stream: "policy-violation"},
	{name: "stream error from the server", in: `<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`, stream: "close"},
	{name: "stream end from the server", in: `</stream:stream>`, stream: "close"},
}

// TestHostileStanzas sends each hostile input through a real Link
// connected to fakexmpp, followed by a good stanza, and checks the
// documented outcome: the right stanza error (from the stanza's to, to
// its from, right type and condition), or nothing when no reply is
// possible; the good stanza delivered; and the connection kept, except
// for the stream-level violations, after which the link reconnects and
// works both ways.
func TestHostileStanzas(t *testing.T) {
	srv, l, rec, _, _ := startLink(t, func(c *Config) {
		c.MaxBodyBytes = hostileMaxBody
		c.MaxStanzaBytes = hostileMaxStanza
		c.MaxDepth = hostileMaxDepth
	})
	conns := 1
	for i, tc := range hostileCases {
		ok := t.Run(tc.name, func(t *testing.T) {
			srv.Send(t, tc.in)
			if tc.stream != "" {
				conns++
				checkStreamEnd(t, srv, conns)
			}
			good := strings.Replace(goodAfter, "id='good'", fmt.Sprintf("id='good%d'", i), 1)
			srv.Send(t, good)
			if tc.deliver != nil {
				tc.deliver(t, rec.next(t))
			}
			if m, ok := rec.next(t).(ircbridge.Message); !ok || m.ID != fmt.Sprintf("good%d", i) {
				t.Fatalf("the good stanza after the hostile one was not delivered (got %#v)", m)
			}
			// A marker sent now is queued after any reply to the hostile
			// stanza (bounces are queued before the next stanza is read).
			marker := groupchat(i)
			marker.ID = fmt.Sprintf("marker%d", i)
			if err := l.SendMessage(t.Context(), marker); err != nil {
				t.Fatal(err)
			}
			el := srv.Expect(t)
			if checkStreamError(t, tc, el) {
				el = srv.Expect(t)
			}
			if tc.cond != "" {
				checkBounce(t, tc, el)
				el = srv.Expect(t)
			}
			if el.Attr("id") != marker.ID {
				t.Fatalf("got %s, want the marker (no reply to the hostile stanza)", el.Raw)
			}
			if got := srv.Connections(); got != conns {
				t.Fatalf("%d connections, want %d: the link was re-established", got, conns)
			}
		})
		if !ok {
			// The link's state is unknown: the next cases would only
			// report the same failure.
			t.FailNow()
		}
	}
	rec.none(t, 10*time.Millisecond)
}

// checkStreamEnd waits until the component ended the stream and
// reconnected (conns connections in all).
func checkStreamEnd(t *testing.T, srv *fakexmpp.Server, conns int) {
	t.Helper()
	srv.ExpectStreamEnd(t)
	srv.WaitAuthenticated(t, conns)
}

// checkStreamError checks el, the first element the server got after
// tc's input: the stream error tc expects, if any. It returns whether el
// was that stream error (false: el is something else, to be checked).
func checkStreamError(t *testing.T, tc hostileCase, el *fakexmpp.Element) bool {
	t.Helper()
	if tc.stream == "" || tc.stream == "close" {
		return false
	}
	if el.Name.Local == "error" && el.Name.Space == nsStream && el.ChildNS(nsStreams, tc.stream) != nil {
		return true
	}
	if tc.knownBug != "" {
		knownIRCBug(t, tc.knownBug, "the stream ended without a %s stream error (got %s first)", tc.stream, el.Raw)
		return false
	}
	t.Fatalf("got %s, want a %s stream error", el.Raw, tc.stream)
	return false
}

// checkBounce checks el, the reply to tc's stanza.
func checkBounce(t *testing.T, tc hostileCase, el *fakexmpp.Element) {
	t.Helper()
	if el.Name.Local != tc.kind || el.Attr("type") != "error" {
		t.Fatalf("got %s, want a %s error", el.Raw, tc.kind)
	}
	if el.Attr("from") != tc.from || el.Attr("to") != tc.to {
		t.Errorf("reply from %q to %q, want from %q to %q", el.Attr("from"), el.Attr("to"), tc.from, tc.to)
	}
	if el.Attr("id") != tc.id || el.HasAttr("id") != (tc.id != "") {
		t.Errorf("reply id %q, want %q", el.Attr("id"), tc.id)
	}
	e := el.Child("error")
	if e == nil {
		t.Fatalf("no <error/> in %s", el.Raw)
	}
	if e.Attr("type") != string(tc.errType) || e.ChildNS(nsStanzas, string(tc.cond)) == nil {
		t.Errorf("error %s, want %s/%s", el.Raw, tc.errType, tc.cond)
	}
	if txt := e.ChildNS(nsStanzas, "text"); tc.text != "" && (txt == nil || !strings.Contains(txt.Text, tc.text)) {
		t.Errorf("error text in %s, want one containing %q", el.Raw, tc.text)
	}
	if err := wellFormed([]byte(el.Raw)); err != nil {
		t.Error(err)
	}
}

// TestDeepStanzaBouncedNotFatal checks that a stanza nested 20,000 deep
// (140 KB: under the XMPP servers' client stanza limits, so any user can
// send it) is bounced with not-acceptable and the link stays up for the
// next one. It used to end the link for everybody.
func TestDeepStanzaBouncedNotFatal(t *testing.T) {
	const depth = 20000
	in := `<message from='eve@localhost/x' to='#test%irc.example.org@irc.localhost' type='groupchat' id='d1'>` +
		strings.Repeat("<a>", depth) + strings.Repeat("</a>", depth) + `</message>` +
		`<message from='alice@localhost/y' to='#test%irc.example.org@irc.localhost' type='groupchat' id='ok'><body>after</body></message></stream:stream>`
	rec := newRecorder()
	replies, err := runStream([]byte(in), rec, Config{})
	if err != nil && err != io.EOF {
		t.Fatalf("a %d-byte stanza ended the link: %v", len(in), err)
	}
	if len(replies) != 1 || !strings.Contains(string(replies[0]), "not-acceptable") || !strings.Contains(string(replies[0]), "id='d1'") {
		t.Errorf("replies %q, want one not-acceptable bounce of d1", replies)
	}
	if m, ok := rec.next(t).(ircbridge.Message); !ok || m.ID != "ok" {
		t.Errorf("delivered %#v, want the next stanza", m)
	}
}
