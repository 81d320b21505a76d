package component

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/stanza"

	"biboumi/component/fakexmpp"
	"biboumi/ircbridge"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/xml/encode")

var (
	stamp    = time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	stampSec = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
)

// encodeTests are rendered and compared with testdata/xml/encode/NAME.xml
// (go test -update rewrites them). Unless noRoundTrip, the output is also
// decoded again and must give back the same value (or back, if set).
var encodeTests = [...]struct {
	name        string
	v           any
	noRoundTrip bool
	back        any
}{
	{name: "groupchat", v: ircbridge.Message{
		From: j(occup), To: j(user), ID: "m1", Type: stanza.GroupChatMessage,
		Body: "hello <world> & 'quotes' \"double\" ünïcode 🎉", OriginID: "orig-1",
		StanzaID: &ircbridge.StanzaID{ID: "6b1b5b8e-1f0e-4f43-9b9e-0c1f0f7e4a11", By: j(room)},
	}},
	{name: "groupchat-history", v: ircbridge.Message{
		From: j(occup), To: j(user), Type: stanza.GroupChatMessage, Body: "old line",
		Delay:    &ircbridge.Delay{From: j(room), Stamp: stamp},
		StanzaID: &ircbridge.StanzaID{ID: "u1", By: j(room)},
	}},
	{name: "subject-empty", v: ircbridge.Message{
		From: j(room), To: j(user), Type: stanza.GroupChatMessage, Subject: sp(""),
	}},
	{name: "subject", v: ircbridge.Message{
		From: j(occup), To: j(user), Type: stanza.GroupChatMessage, Subject: sp("Welcome\nto #chan"),
	}},
	{name: "xhtml", noRoundTrip: true, v: ircbridge.Message{
		From: j(occup), To: j(user), Type: stanza.GroupChatMessage, Body: "plain bold red\nnext <&>",
		XHTML: []ircbridge.Span{
			{Text: "plain "}, {Text: "bold", Bold: true}, {Text: " "},
			{Text: "red\nnext", Color: "red", Background: "yellow", Italic: true, Underline: true, Strike: true, Monospace: true},
			{Text: ""}, {Text: " <&>\x02"},
		},
	}},
	{name: "xhtml-empty", noRoundTrip: true, v: ircbridge.Message{
		From: j(occup), To: j(user), Type: stanza.GroupChatMessage, Body: "x", XHTML: []ircbridge.Span{{Bold: true}},
	}},
	{name: "private-chat", v: ircbridge.Message{
		From: j("nick%irc.example.org@irc.localhost"), To: j(user), Type: stanza.ChatMessage, Body: "psst", Private: true,
	}},
	{name: "invite", v: ircbridge.Message{
		From: j(room), To: j(user), Type: stanza.NormalMessage,
		MUCUser: &ircbridge.MUCUser{Invite: &ircbridge.Invite{From: j("nick%irc.example.org@irc.localhost"), Reason: "join us"}},
	}},
	{name: "message-error", v: ircbridge.Message{
		From: j(room), To: j(user), ID: "e1", Type: stanza.ErrorMessage,
		Error: &stanza.Error{Type: stanza.Cancel, Condition: stanza.NotAcceptable, By: j(room),
			Text: map[string]string{"": "You are not in this room", "fr": "Vous n'êtes pas dans ce salon"}},
	}},
	{name: "no-jids", noRoundTrip: true, v: ircbridge.Message{Type: stanza.ChatMessage, Body: "x"}},
	{name: "error-defaults", noRoundTrip: true, v: ircbridge.Message{To: j(user), Error: &stanza.Error{}}},
	{name: "irc-control", noRoundTrip: true, v: ircbridge.Message{
		From: j(occup), To: j(user), ID: "id\x00\x01", Type: stanza.GroupChatMessage,
		Body: "\x02bold\x02 \x0304,12colour\x03 \x1ditalic\x1d \x1funder\x1f \x16rev\x16 \x0freset \x00nul \x7fdel tab\tcr\rlf\n bad:\xff\xfe\xc3 ok:\u00e9 nonchar:\uFFFE\uFFFF end",
	}},
	{name: "presence-self", v: ircbridge.Presence{
		From: j(occup), To: j(user), ID: "j1",
		MUCUser: &ircbridge.MUCUser{
			Items:  []ircbridge.MUCItem{{Affiliation: ircbridge.AffMember, Role: ircbridge.RoleParticipant, JID: j(user), Nick: "Nick"}},
			Status: []int{ircbridge.StatusNonAnonymous, ircbridge.StatusSelf, ircbridge.StatusNickAssigned},
		},
	}},
	{name: "presence-kick", v: ircbridge.Presence{
		From: j(occup), To: j(user), Type: stanza.UnavailablePresence,
		MUCUser: &ircbridge.MUCUser{
			Items:  []ircbridge.MUCItem{{Affiliation: ircbridge.AffNone, Role: ircbridge.RoleNone, Actor: &ircbridge.Actor{Nick: "op"}, Reason: "flood <3"}},
			Status: []int{ircbridge.StatusKicked},
		},
	}},
	{name: "presence-join-error", v: ircbridge.Presence{
		From: j(occup), To: j(user), ID: "j2", Type: stanza.ErrorPresence,
		MUC:   &ircbridge.MUCJoin{History: &ircbridge.HistoryRequest{MaxChars: -1, MaxStanzas: 0, Seconds: 3600, Since: stampSec}},
		Error: &stanza.Error{Type: stanza.Auth, Condition: stanza.NotAuthorized, Text: map[string]string{"": "Cannot join channel (+k)"}},
	}},
	{name: "presence-show", v: ircbridge.Presence{
		From: j(srvJ), To: j(user), Show: "away", Status: "Connected to irc.example.org",
	}},
	{name: "iq-disco-info", v: ircbridge.IQ{
		From: j(room), To: j(user), ID: "d1", Type: stanza.ResultIQ,
		Payload: &ircbridge.DiscoInfo{
			Node:       "",
			Identities: []ircbridge.Identity{{Category: "conference", Type: "irc", Name: "#chan"}},
			Features:   []string{ircbridge.NSMUC, ircbridge.NSDiscoInfo, ircbridge.FeatureNonAnon},
			Form: &ircbridge.Form{Type: "result", Fields: []ircbridge.FormField{
				{Var: "FORM_TYPE", Type: "hidden", Values: []string{ircbridge.NSMUCRoomInfo}},
				{Var: "muc#roominfo_occupants", Label: "Occupants", Values: []string{"42"}},
			}},
		},
	}},
	{name: "iq-disco-items", v: ircbridge.IQ{
		From: j(srvJ), To: j(user), ID: "l1", Type: stanza.ResultIQ,
		Payload: &ircbridge.DiscoItems{
			Items: []ircbridge.DiscoItem{{JID: j(room), Name: "#chan"}, {JID: testDomainJID, Node: ircbridge.NSCommands, Name: "Commands"}},
			RSM:   &ircbridge.RSM{Max: -1, Index: -1, First: room, FirstIndex: 0, Last: room, Count: 120},
		},
	}},
	{name: "iq-disco-items-get", v: ircbridge.IQ{
		From: testDomainJID, To: j(user), ID: "l2", Type: stanza.GetIQ,
		Payload: &ircbridge.DiscoItems{Node: "n", RSM: &ircbridge.RSM{Max: 10, After: "a", Before: sp(""), Index: -1, FirstIndex: -1, Count: -1}},
	}},
	{name: "iq-ping-get", v: ircbridge.IQ{
		From: testDomainJID, To: j(user), ID: "p1", Type: stanza.GetIQ, Payload: &ircbridge.Ping{},
	}},
	{name: "iq-ping-result", noRoundTrip: true, v: ircbridge.IQ{
		From: j(occup), To: j(user), ID: "p2", Type: stanza.ResultIQ, Payload: &ircbridge.Ping{},
	}},
	{name: "iq-result-empty", v: ircbridge.IQ{
		From: j(occup), To: j(user), ID: "p3", Type: stanza.ResultIQ,
	}},
	{name: "iq-version", v: ircbridge.IQ{
		From: testDomainJID, To: j(user), ID: "v1", Type: stanza.ResultIQ,
		Payload: &ircbridge.Version{Name: "biboumi", Version: "10.0", OS: "GNU/Linux"},
	}},
	{name: "iq-muc-admin", v: ircbridge.IQ{
		From: j(room), To: j(user), ID: "a1", Type: stanza.ResultIQ,
		Payload: &ircbridge.MUCAdmin{Items: []ircbridge.MUCItem{
			{Affiliation: ircbridge.AffOwner, Nick: "founder"}, {Affiliation: ircbridge.AffAdmin, Nick: "op", JID: j("op%irc.example.org@irc.localhost")},
		}},
	}},
	{name: "iq-error", v: ircbridge.IQ{
		From: j(room), To: j(user), ID: "x1", Type: stanza.ErrorIQ,
		Payload: &ircbridge.MAMQuery{},
		Error:   &stanza.Error{Type: stanza.Cancel, Condition: stanza.FeatureNotImplemented},
	}},
	{name: "iq-error-unknown", v: ircbridge.IQ{
		From: j(room), To: j(user), ID: "x2", Type: stanza.ErrorIQ,
		Payload: &ircbridge.UnknownPayload{Name: xmlName("urn:xmpp:mam:1", "query")},
		Error:   &stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable},
	}},
	{name: "mam-result", v: mamResultMsg, back: func() ircbridge.Message {
		m := mamResultMsg
		r := *m.MAMResult
		r.Message.XHTML = nil // XHTML is not decoded
		m.Type, m.MAMResult = stanza.NormalMessage, &r
		m.Body, m.Private = "", false // ignored when encoding
		return m
	}()},
	{name: "iq-mam-fin", v: ircbridge.IQ{
		From: j(room), To: j(user), ID: "mam1", Type: stanza.ResultIQ,
		Payload: &ircbridge.MAMFin{RSM: &ircbridge.RSM{
			Max: -1, Index: -1, First: "0b1c2d3e-aaaa-4bbb-8ccc-000000000001", FirstIndex: 0,
			Last: "0b1c2d3e-aaaa-4bbb-8ccc-000000000064", Count: 250,
		}},
	}},
	{name: "iq-mam-fin-complete", v: ircbridge.IQ{
		// An empty page: the set is still there, empty (reference §5.12).
		From: j(room), To: j(user), ID: "mam2", Type: stanza.ResultIQ,
		Payload: &ircbridge.MAMFin{Complete: true, RSM: ircbridge.NewRSM()},
	}},
	{name: "iq-mam-form", v: ircbridge.IQ{
		From: j(room), To: j(user), ID: "mf", Type: stanza.ResultIQ,
		Payload: &ircbridge.MAMQuery{Form: &ircbridge.Form{Type: "form", Fields: []ircbridge.FormField{
			{Var: "FORM_TYPE", Type: "hidden", Values: []string{ircbridge.NSMAM}},
			{Var: "start", Type: "text-single"},
			{Var: "end", Type: "text-single"},
			{Var: "before-id", Type: "text-single"},
			{Var: "after-id", Type: "text-single"},
			{Var: "ids", Type: "text-multi"},
		}}},
	}},
	{name: "iq-mam-query", v: ircbridge.IQ{
		From: testDomainJID, To: j(room), ID: "mq", Type: stanza.SetIQ,
		Payload: &ircbridge.MAMQuery{
			QueryID: "q'1", Start: stamp, End: stampSec.Add(time.Hour), With: occup,
			BeforeID: "b", AfterID: "a", IDs: []string{"i1", "i2"},
			RSM: &ircbridge.RSM{Max: 50, Before: sp(""), Index: -1, FirstIndex: -1, Count: -1},
		},
	}},
	{name: "iq-command-answer", v: ircbridge.IQ{
		From: testDomainJID, To: j(user), ID: "c1", Type: stanza.ResultIQ,
		Payload: &ircbridge.Command{
			Node: "hello", SessionID: "6f1e2d3c-0000-4000-8000-000000000001", Status: "executing",
			Actions: []string{"next", "complete"},
			Notes:   []ircbridge.Note{{Type: "info", Text: "Step 1 <of> 2"}, {Type: "warn", Text: ""}},
			Form: &ircbridge.Form{
				Type: "form", Title: "Configure your name.", Instructions: "Please provide your name.",
				Fields: []ircbridge.FormField{
					{Var: "name", Type: "text-single", Label: "Your name", Desc: "What we call you", Required: true},
					{Var: "jids", Type: "list-multi", Label: "The JIDs", Required: true, Options: []ircbridge.FormOption{
						{Label: "user@localhost", Value: "user@localhost"}, {Value: "other@localhost"},
					}},
					{Var: "quit-message", Type: "text-single", Label: "Quit message", Values: []string{"Disconnected by admin"}},
				},
			},
		},
	}},
	{name: "iq-command-completed", v: ircbridge.IQ{
		From: testDomainJID, To: j(user), ID: "c2", Type: stanza.ResultIQ,
		Payload: &ircbridge.Command{
			Node: "ping", SessionID: "s2", Status: "completed",
			Notes: []ircbridge.Note{{Type: "info", Text: "Pong"}},
		},
	}},
	{name: "iq-command-no-default", noRoundTrip: true, v: ircbridge.IQ{
		// Invalid actions are skipped (the first valid one is the default)
		// and a note without type is info.
		From: testDomainJID, To: j(user), ID: "c3", Type: stanza.ResultIQ,
		Payload: &ircbridge.Command{
			Node: "x", Status: "executing", Actions: []string{"execute", "<bad/>", "prev", "complete"},
			Notes: []ircbridge.Note{{Text: "n"}},
		},
	}},
	{name: "iq-command-execute", v: ircbridge.IQ{
		From: testDomainJID, To: j(user), ID: "c4", Type: stanza.SetIQ,
		Payload: &ircbridge.Command{Node: ircbridge.NSMUC + "#fake", Action: "execute"},
	}},
	{name: "iq-command-submit", v: ircbridge.IQ{
		From: testDomainJID, To: j(user), ID: "c5", Type: stanza.SetIQ,
		Payload: &ircbridge.Command{Node: "configure", SessionID: "s5", Action: "complete", Form: &ircbridge.Form{
			Type: "submit", Fields: []ircbridge.FormField{{Var: "ports", Values: []string{"6667", ""}}, {Var: "nick"}},
		}},
	}},
	{name: "iq-muc-owner-get", v: ircbridge.IQ{
		From: testDomainJID, To: j(room), ID: "o1", Type: stanza.GetIQ, Payload: &ircbridge.MUCQuery{},
	}},
	{name: "iq-muc-owner-form", v: ircbridge.IQ{
		From: j(room), To: j(user), ID: "o1", Type: stanza.ResultIQ,
		Payload: &ircbridge.MUCQuery{Form: &ircbridge.Form{
			Type:         "form",
			Title:        "Configure the IRC channel #chan on server irc.example.org",
			Instructions: "Edit the form, to configure the settings of the IRC channel #chan",
			Fields: []ircbridge.FormField{
				{
					Var: "record_history", Type: "list-single", Label: "Record history for this channel",
					Desc:   "If unset, the value is the one configured globally",
					Values: []string{"unset"},
					Options: []ircbridge.FormOption{
						{Label: "unset", Value: "unset"}, {Label: "true", Value: "true"}, {Label: "false", Value: "false"},
					},
				},
				{Var: "encoding_out", Type: "text-single", Label: "Out encoding", Values: []string{"ISO-8859-1"}},
				{Var: "persistent", Type: "boolean", Label: "Persistent", Values: []string{"false"}},
			},
		}},
	}},
	{name: "iq-muc-owner-submit", v: ircbridge.IQ{
		From: testDomainJID, To: j(room), ID: "o2", Type: stanza.SetIQ,
		Payload: &ircbridge.MUCQuery{Form: &ircbridge.Form{Type: "submit", Fields: []ircbridge.FormField{
			{Var: "FORM_TYPE", Type: "hidden", Values: []string{"http://jabber.org/protocol/muc#roomconfig"}},
			{Var: "persistent", Values: []string{"1"}},
		}}},
	}},
	{name: "presence-subscribed", v: ircbridge.Presence{
		From: j(srvJ), To: j("user@localhost"), ID: "sub1", Type: stanza.SubscribedPresence,
	}},
	{name: "presence-probe", v: ircbridge.Presence{
		From: testDomainJID, To: j("user@localhost"), Type: stanza.ProbePresence,
	}},
	{name: "iq-disco-items-100", v: discoItems100()},
}

// mamResultMsg is a XEP-0313 result as ircbridge sends it (no type on the
// carrying message, no to on the archived one).
var mamResultMsg = ircbridge.Message{
	From: j(room), To: j(user), ID: "r1",
	MAMResult: &ircbridge.MAMResult{
		QueryID: "q1", ID: "0b1c2d3e-aaaa-4bbb-8ccc-000000000001", Stamp: stamp,
		Message: ircbridge.Message{
			From: j(occup), ID: "0b1c2d3e-aaaa-4bbb-8ccc-000000000001", Type: stanza.GroupChatMessage,
			Body:     "bold & plain",
			XHTML:    []ircbridge.Span{{Text: "bold", Bold: true}, {Text: " & plain"}},
			StanzaID: &ircbridge.StanzaID{ID: "0b1c2d3e-aaaa-4bbb-8ccc-000000000001", By: j(room)},
		},
	},
	// Ignored: the result is the only payload.
	Body: "not written", Private: true,
}

// discoItems100 is a channel list page of 100 items out of 1000.
func discoItems100() ircbridge.IQ {
	items := make([]ircbridge.DiscoItem, 100)
	for i := range items {
		items[i].JID = j(fmt.Sprintf("#chan%03d%%irc.example.org@irc.localhost", i+100))
	}
	rsm := ircbridge.NewRSM()
	rsm.First, rsm.FirstIndex = items[0].JID.String(), 100
	rsm.Last, rsm.Count = items[99].JID.String(), 1000
	return ircbridge.IQ{
		From: j(srvJ), To: j(user), ID: "l100", Type: stanza.ResultIQ,
		Payload: &ircbridge.DiscoItems{Items: items, RSM: rsm},
	}
}

func encode(t testing.TB, v any) []byte {
	t.Helper()
	switch v := v.(type) {
	case ircbridge.Message:
		return encodeMessage(&v)
	case ircbridge.Presence:
		return encodePresence(&v)
	case ircbridge.IQ:
		b, err := encodeIQ(&v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("cannot encode %T", v)
	return nil
}

func TestEncode(t *testing.T) {
	for _, tc := range encodeTests {
		t.Run(tc.name, func(t *testing.T) {
			got := encode(t, tc.v)
			if err := wellFormed(got); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("..", "testdata", "xml", "encode", tc.name+".xml")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			if tc.noRoundTrip {
				return
			}
			rec, replies := decodeOne(t, string(got))
			if len(replies) != 0 {
				t.Fatalf("decoding our own output was bounced: %s", replies[0])
			}
			back := tc.v
			if tc.back != nil {
				back = tc.back
			}
			if len(rec.calls) != 1 || !reflect.DeepEqual(rec.calls[0], back) {
				t.Errorf("round trip:\n%#v\nwant\n%#v", rec.calls, back)
			}
		})
	}
}

func TestEncodeSanitizes(t *testing.T) {
	m := ircbridge.Message{
		From: j(occup), To: j(user), Type: stanza.GroupChatMessage,
		Body:    "\x02bold\x02 \x0304colour\x03\x00 bad:\xff end\r",
		Subject: sp("a\x1fb"),
		MUCUser: &ircbridge.MUCUser{Invite: &ircbridge.Invite{Reason: "r\x01'\"<&>\t\n"}},
	}
	b := encodeMessage(&m)
	el, err := fakexmpp.Parse(string(b))
	if err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if got, want := el.Child("body").Text, "bold 04colour bad:\uFFFD end\r"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if got, want := el.Child("subject").Text, "ab"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	if got, want := el.Child("x").Child("invite").Child("reason").Text, "r'\"<&>\t\n"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	// Attribute values keep tabs and newlines through normalisation.
	p := ircbridge.Presence{From: j(occup), To: j(user), MUCUser: &ircbridge.MUCUser{Items: []ircbridge.MUCItem{{Nick: "a\tb\nc\rd'e\"f<g&\x03"}}}}
	el, err = fakexmpp.Parse(string(encodePresence(&p)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := el.Child("x").Child("item").Attr("nick"), "a\tb\nc\rd'e\"f<g&"; got != want {
		t.Errorf("nick %q, want %q", got, want)
	}
}

func TestAppendEscaped(t *testing.T) {
	tests := [...]struct{ in, text, attr string }{
		0: {"", "", ""},
		1: {"plain", "plain", "plain"},
		2: {"<&>'\"", "&lt;&amp;&gt;'\"", "&lt;&amp;&gt;&apos;&quot;"},
		3: {"\t\n\r", "\t\n&#13;", "&#9;&#10;&#13;"},
		4: {"\x00\x01\x1f\x7f", "\x7f", "\x7f"},
		5: {"\xff", "\uFFFD", "\uFFFD"},
		6: {"é\xc3", "é\uFFFD", "é\uFFFD"},
		7: {"\uFFFE\uFFFF\uFFFD\U0001F389", "\uFFFD\U0001F389", "\uFFFD\U0001F389"},
		8: {"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD", "\uFFFD\uFFFD\uFFFD"}, // an encoded surrogate is invalid UTF-8
	}
	for i, tc := range tests {
		if got := string(appendEscaped(nil, tc.in, false)); got != tc.text {
			t.Errorf("%d: text %q, want %q", i, got, tc.text)
		}
		if got := string(appendEscaped(nil, tc.in, true)); got != tc.attr {
			t.Errorf("%d: attr %q, want %q", i, got, tc.attr)
		}
	}
}

func TestEncodeIQInvalid(t *testing.T) {
	if _, err := encodeIQ(&ircbridge.IQ{Type: stanza.GetIQ}); err == nil {
		t.Error("iq without id was accepted")
	}
	if _, err := encodeIQ(&ircbridge.IQ{ID: "x"}); err == nil {
		t.Error("iq without type was accepted")
	}
}

// FuzzEscape checks that any string renders as valid XML text and
// attribute content that reads back as the string minus the characters XML
// forbids (invalid UTF-8 becoming U+FFFD).
func FuzzEscape(f *testing.F) {
	f.Add("\x02bold\x03\x00\xff")
	f.Add("a\tb\nc\rd'e\"f<g&h>\uFFFE")
	f.Fuzz(func(t *testing.T, s string) {
		want := sanitizeRef(s)
		for _, attr := range []bool{false, true} {
			var b []byte
			if attr {
				b = append(b, "<a b='"...)
				b = appendEscaped(b, s, true)
				b = append(b, "'/>"...)
			} else {
				b = append(b, "<a>"...)
				b = appendEscaped(b, s, false)
				b = append(b, "</a>"...)
			}
			if err := wellFormed(b); err != nil {
				t.Fatal(err)
			}
			var v struct {
				B    string `xml:"b,attr"`
				Text string `xml:",chardata"`
			}
			if err := xml.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			if got := v.B + v.Text; got != want {
				t.Fatalf("attr=%v: %q read back as %q, want %q", attr, s, got, want)
			}
		}
	})
}

// sanitizeRef is a slow reference for what appendEscaped keeps.
func sanitizeRef(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			sb.WriteRune(utf8.RuneError)
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0xFFFE, r == 0xFFFF:
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// TestPresenceSubscriptionTypes checks the RFC 6121 subscription types
// both ways (reference §5.15).
func TestPresenceSubscriptionTypes(t *testing.T) {
	for _, typ := range []stanza.PresenceType{
		stanza.SubscribePresence, stanza.SubscribedPresence, stanza.UnsubscribePresence,
		stanza.UnsubscribedPresence, stanza.ProbePresence,
	} {
		p := ircbridge.Presence{From: j(srvJ), To: j("user@localhost"), ID: "s", Type: typ}
		got := string(encodePresence(&p))
		want := `<presence from='` + srvJ + `' to='user@localhost' type='` + string(typ) + `' id='s'/>`
		if got != want {
			t.Errorf("%s: got %s, want %s", typ, got, want)
		}
		rec, replies := decodeOne(t, got)
		if len(replies) != 0 || len(rec.calls) != 1 || !reflect.DeepEqual(rec.calls[0], p) {
			t.Errorf("%s: round trip gave %#v (replies %q)", typ, rec.calls, replies)
		}
	}
}
