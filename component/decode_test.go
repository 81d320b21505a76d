package component

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"biboumi/component/fakexmpp"
	"biboumi/ircbridge"
)

const (
	user  = "user@localhost/phone"
	room  = "#chan%irc.example.org@irc.localhost"
	occup = "#chan%irc.example.org@irc.localhost/Nick"
	srvJ  = "irc.example.org@irc.localhost"
)

func j(s string) jid.JID  { return jid.MustParse(s) }
func sp(s string) *string { return &s }

// decodeTests maps incoming stanzas (raw XML, or @file for a file in
// testdata/xml/decode) to the value the Handler must receive.
var decodeTests = [...]struct {
	in   string
	want any
}{
	0: {
		in: "@groupchat.xml",
		want: ircbridge.Message{
			From: j(user), To: j(room), ID: "m1", Type: stanza.GroupChatMessage,
			Body: "hello <world> & ünïcode 🎉", OriginID: "orig-1",
		},
	},
	1: {
		in: `<message from='` + user + `' to='` + room + `' type='groupchat' id='s1'><subject/></message>`,
		want: ircbridge.Message{
			From: j(user), To: j(room), ID: "s1", Type: stanza.GroupChatMessage, Subject: sp(""),
		},
	},
	2: {
		in: `<message from='` + user + `' to='nick%irc.example.org@irc.localhost'><body>no type</body><subject>topic</subject></message>`,
		want: ircbridge.Message{
			From: j(user), To: j("nick%irc.example.org@irc.localhost"), Type: stanza.NormalMessage,
			Body: "no type", Subject: sp("topic"),
		},
	},
	3: {
		// RFC 6121 §5.2.3: the body in the stanza's language wins.
		in: `<message xml:lang='fr' from='` + user + `' to='` + room + `' type='chat'><body xml:lang='en'>hello</body><body>bonjour</body></message>`,
		want: ircbridge.Message{
			From: j(user), To: j(room), Type: stanza.ChatMessage, Body: "bonjour",
		},
	},
	4: {
		in: "@invite.xml",
		want: ircbridge.Message{
			From: j(user), To: j(room), ID: "inv1", Type: stanza.NormalMessage,
			MUCUser: &ircbridge.MUCUser{Invite: &ircbridge.Invite{To: j("friend@localhost"), Reason: "come & see"}},
		},
	},
	5: {
		in: `<message from='` + user + `' to='` + occup + `' type='error' id='e1'><body>x</body><error type='cancel' by='localhost'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>gone</text></error></message>`,
		want: ircbridge.Message{
			From: j(user), To: j(occup), ID: "e1", Type: stanza.ErrorMessage, Body: "x",
			Error: &stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable, By: j("localhost"), Text: map[string]string{"en": "gone"}},
		},
	},
	6: {
		in: `<message from='` + user + `' to='` + room + `' type='groupchat'><body>b</body><stanza-id xmlns='urn:xmpp:sid:0' id='sid' by='` + room + `'/><delay xmlns='urn:xmpp:delay' from='localhost' stamp='2024-05-06T07:08:09.5Z'/><private xmlns='urn:xmpp:carbons:2'/></message>`,
		want: ircbridge.Message{
			From: j(user), To: j(room), Type: stanza.GroupChatMessage, Body: "b", Private: true,
			StanzaID: &ircbridge.StanzaID{ID: "sid", By: j(room)},
			Delay:    &ircbridge.Delay{From: j("localhost"), Stamp: time.Date(2024, 5, 6, 7, 8, 9, 5e8, time.UTC)},
		},
	},
	7: {
		in: "@join.xml",
		want: ircbridge.Presence{
			From: j(user), To: j(occup), ID: "j1",
			MUC: &ircbridge.MUCJoin{Password: "p'w\"d", History: &ircbridge.HistoryRequest{
				MaxChars: 0, MaxStanzas: 20, Seconds: -1, Since: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
			}},
		},
	},
	8: {
		in: `<presence from='` + user + `' to='` + occup + `'><x xmlns='http://jabber.org/protocol/muc'/><show>dnd</show><status>busy</status></presence>`,
		want: ircbridge.Presence{
			From: j(user), To: j(occup), Show: "dnd", Status: "busy", MUC: &ircbridge.MUCJoin{},
		},
	},
	9: {
		in: `<presence from='` + user + `' to='` + occup + `' type='unavailable'><status>bye</status></presence>`,
		want: ircbridge.Presence{
			From: j(user), To: j(occup), Type: stanza.UnavailablePresence, Status: "bye",
		},
	},
	10: {
		in: `<presence from='` + user + `' to='` + occup + `' type='error'><error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`,
		want: ircbridge.Presence{
			From: j(user), To: j(occup), Type: stanza.ErrorPresence,
			Error: &stanza.Error{Type: stanza.Cancel, Condition: stanza.RemoteServerNotFound},
		},
	},
	11: {
		in: `<presence from='` + user + `' to='` + room + `' type='subscribe'/>`,
		want: ircbridge.Presence{
			From: j(user), To: j(room), Type: stanza.SubscribePresence,
		},
	},
	12: {
		in: `<iq from='` + user + `' to='` + room + `' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info' node='http://jabber.org/protocol/commands'/></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "d1", Type: stanza.GetIQ,
			Payload: &ircbridge.DiscoInfo{Node: "http://jabber.org/protocol/commands"},
		},
	},
	13: {
		in: "@disco-items-rsm.xml",
		want: ircbridge.IQ{
			From: j(user), To: j(srvJ), ID: "li1", Type: stanza.GetIQ,
			Payload: &ircbridge.DiscoItems{RSM: &ircbridge.RSM{Max: 10, After: "#foo%irc.example.org@irc.localhost", Before: nil, Index: -1, FirstIndex: -1, Count: -1}},
		},
	},
	14: {
		in: `<iq from='` + user + `' to='` + srvJ + `' type='get' id='li2'><query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><max>5</max><before/><index>3</index></set></query></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: j(srvJ), ID: "li2", Type: stanza.GetIQ,
			Payload: &ircbridge.DiscoItems{RSM: &ircbridge.RSM{Max: 5, Before: sp(""), Index: 3, FirstIndex: -1, Count: -1}},
		},
	},
	15: {
		in: `<iq from='` + user + `' to='` + occup + `' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: j(occup), ID: "p1", Type: stanza.GetIQ, Payload: &ircbridge.Ping{},
		},
	},
	16: {
		in: `<iq from='` + user + `' to='irc.localhost' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: testDomainJID, ID: "v1", Type: stanza.GetIQ, Payload: &ircbridge.Version{},
		},
	},
	17: {
		in: `<iq from='` + user + `' to='irc.localhost' type='result' id='v2'><query xmlns='jabber:iq:version'><name>Gajim</name><version>1.9</version><os>Linux</os></query></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: testDomainJID, ID: "v2", Type: stanza.ResultIQ,
			Payload: &ircbridge.Version{Name: "Gajim", Version: "1.9", OS: "Linux"},
		},
	},
	18: {
		in: "@kick.xml",
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "k1", Type: stanza.SetIQ,
			Payload: &ircbridge.MUCAdmin{Items: []ircbridge.MUCItem{{Nick: "Troll", Role: ircbridge.RoleNone, Reason: "spam"}}},
		},
	},
	19: {
		in: `<iq from='` + user + `' to='` + room + `' type='get' id='a1'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast'/></query></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "a1", Type: stanza.GetIQ,
			Payload: &ircbridge.MUCAdmin{Items: []ircbridge.MUCItem{{Affiliation: "outcast"}}},
		},
	},
	20: {
		in: "@mam-query.xml",
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "mam1", Type: stanza.SetIQ,
			Payload: &ircbridge.MAMQuery{
				QueryID: "q1", Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
				RSM: &ircbridge.RSM{Max: 50, Before: sp(""), Index: -1, FirstIndex: -1, Count: -1},
			},
		},
	},
	21: {
		in: `<iq from='` + user + `' to='` + occup + `' type='result' id='p2'/>`,
		want: ircbridge.IQ{
			From: j(user), To: j(occup), ID: "p2", Type: stanza.ResultIQ,
		},
	},
	22: {
		in: `<iq from='` + user + `' to='` + occup + `' type='error' id='p3'><ping xmlns='urn:xmpp:ping'/><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: j(occup), ID: "p3", Type: stanza.ErrorIQ, Payload: &ircbridge.Ping{},
			Error: &stanza.Error{Type: stanza.Cancel, Condition: stanza.FeatureNotImplemented},
		},
	},
	23: {
		in: "@disco-info-result.xml",
		want: ircbridge.IQ{
			From: j(user), To: testDomainJID, ID: "c1", Type: stanza.ResultIQ,
			Payload: &ircbridge.DiscoInfo{
				Identities: []ircbridge.Identity{{Category: "client", Type: "pc", Name: "Gajim"}},
				Features:   []string{"http://jabber.org/protocol/caps", "urn:xmpp:ping"},
				Form: &ircbridge.Form{Type: "result", Fields: []ircbridge.FormField{
					{Var: "FORM_TYPE", Type: "hidden", Values: []string{"urn:xmpp:dataforms:softwareinfo"}},
					{Var: "software", Values: []string{"Gajim"}},
				}},
			},
		},
	},
	24: {
		in: `<iq from='` + user + `' to='irc.localhost' type='result' id='i1'><query xmlns='http://jabber.org/protocol/disco#items'><item jid='` + room + `' name='#chan'/><item jid='irc.localhost' node='n'/><set xmlns='http://jabber.org/protocol/rsm'><first index='0'>a</first><last>b</last><count>2</count></set></query></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: testDomainJID, ID: "i1", Type: stanza.ResultIQ,
			Payload: &ircbridge.DiscoItems{
				Items: []ircbridge.DiscoItem{{JID: j(room), Name: "#chan"}, {JID: testDomainJID, Node: "n"}},
				RSM:   &ircbridge.RSM{Max: -1, Index: -1, First: "a", FirstIndex: 0, Last: "b", Count: 2},
			},
		},
	},
	25: {
		// A child in the streams namespace inside a stanza is ordinary
		// content, not a stream error (mellium's reader would end the link).
		in: `<message from='` + user + `' to='` + room + `' type='groupchat'><error xmlns='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></error><stream xmlns='http://etherx.jabber.org/streams'/><body>still here</body></message>`,
		want: ircbridge.Message{
			From: j(user), To: j(room), Type: stanza.GroupChatMessage, Body: "still here",
		},
	},
	26: {
		// jabber:client stanzas (some servers keep the namespace) and CDATA.
		in: `<message xmlns='jabber:client' from='` + user + `' to='` + room + `' type='chat'><body>a<![CDATA[<b>]]>c<!-- comment -->d</body></message>`,
		want: ircbridge.Message{
			From: j(user), To: j(room), Type: stanza.ChatMessage, Body: "a<b>cd",
		},
	},
	27: {
		in: `<presence from='` + user + `' to='` + occup + `'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant' jid='` + user + `' nick='N'><actor nick='op'/><reason>r</reason></item><status code='110'/></x></presence>`,
		want: ircbridge.Presence{
			From: j(user), To: j(occup),
			MUCUser: &ircbridge.MUCUser{
				Items:  []ircbridge.MUCItem{{Affiliation: "member", Role: "participant", JID: j(user), Nick: "N", Actor: &ircbridge.Actor{Nick: "op"}, Reason: "r"}},
				Status: []int{110},
			},
		},
	},
	28: {
		// A bad payload in a result is never answered: delivered opaque.
		in: `<iq from='` + user + `' to='irc.localhost' type='result' id='i2'><query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><count>many</count></set></query></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: testDomainJID, ID: "i2", Type: stanza.ResultIQ,
			Payload: &ircbridge.UnknownPayload{Name: xmlName(ircbridge.NSDiscoItems, "query")},
		},
	},
	29: {
		in: "@mam-query-extended.xml",
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "mam2", Type: stanza.SetIQ,
			Payload: &ircbridge.MAMQuery{
				QueryID: "q2",
				Start:   time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
				End:     time.Date(2024, 1, 31, 23, 59, 59, 250e6, time.FixedZone("", 3600)),
				With:    occup,
				AfterID: "0b1c2d3e-aaaa-4bbb-8ccc-000000000001", BeforeID: "0b1c2d3e-aaaa-4bbb-8ccc-000000000009",
				IDs: []string{"id-1", "id-2"},
				RSM: &ircbridge.RSM{Max: 20, After: "0b1c2d3e-aaaa-4bbb-8ccc-000000000002", Index: 4, FirstIndex: -1, Count: -1},
			},
		},
	},
	30: {
		// No data form at all is a valid query (mellium's parser panics).
		in: "@mam-query-noform.xml",
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "mam3", Type: stanza.SetIQ,
			Payload: &ircbridge.MAMQuery{
				QueryID: "q3",
				RSM:     &ircbridge.RSM{Max: 10, Before: sp("0b1c2d3e-aaaa-4bbb-8ccc-000000000005"), Index: -1, FirstIndex: -1, Count: -1},
			},
		},
	},
	31: {
		// The form request (XEP-0313 §6.1).
		in: `<iq from='` + user + `' to='` + room + `' type='get' id='mf'><query xmlns='urn:xmpp:mam:2'/></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "mf", Type: stanza.GetIQ, Payload: &ircbridge.MAMQuery{},
		},
	},
	32: {
		// No FORM_TYPE, empty values (no filter), a form without type.
		in: `<iq from='` + user + `' to='` + room + `' type='set' id='m4'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='start'><value/></field><field var='end'><value>2024-02-03T04:05:06Z</value></field><field var='with'/></x></query></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "m4", Type: stanza.SetIQ,
			Payload: &ircbridge.MAMQuery{End: time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)},
		},
	},
	33: {
		in: "@mam-result.xml",
		want: ircbridge.Message{
			From: j(room), To: j(user), ID: "r1", Type: stanza.NormalMessage,
			MAMResult: &ircbridge.MAMResult{
				QueryID: "q1", ID: "0b1c2d3e-aaaa-4bbb-8ccc-000000000001", Stamp: stamp,
				Message: ircbridge.Message{
					From: j(occup), ID: "0b1c2d3e-aaaa-4bbb-8ccc-000000000001", Type: stanza.GroupChatMessage,
					Body:     "archived <line>",
					StanzaID: &ircbridge.StanzaID{ID: "0b1c2d3e-aaaa-4bbb-8ccc-000000000001", By: j(room)},
				},
			},
		},
	},
	34: {
		in: "@mam-fin.xml",
		want: ircbridge.IQ{
			From: j(room), To: j(user), ID: "mam1", Type: stanza.ResultIQ,
			Payload: &ircbridge.MAMFin{Complete: true, RSM: &ircbridge.RSM{
				Max: -1, Index: -1,
				First: "0b1c2d3e-aaaa-4bbb-8ccc-000000000001", FirstIndex: 0, Last: "0b1c2d3e-aaaa-4bbb-8ccc-000000000009", Count: -1,
			}},
		},
	},
	35: {
		in: "@command-execute.xml",
		want: ircbridge.IQ{
			From: j(user), To: testDomainJID, ID: "c1", Type: stanza.SetIQ,
			Payload: &ircbridge.Command{Node: "hello", Action: "execute"},
		},
	},
	36: {
		// Submitted forms carry no field types: values stay strings.
		in: "@command-submit.xml",
		want: ircbridge.IQ{
			From: j(user), To: j(srvJ), ID: "c2", Type: stanza.SetIQ,
			Payload: &ircbridge.Command{
				Node: "configure", SessionID: "6f1e2d3c-0000-4000-8000-000000000042", Action: "complete",
				Form: &ircbridge.Form{Type: "submit", Fields: []ircbridge.FormField{
					{Var: "ports", Values: []string{"6667", "6668"}},
					{Var: "verify_cert", Values: []string{"1"}},
					{Var: "pass", Values: []string{""}},
					{Var: "nick"},
				}},
			},
		},
	},
	37: {
		// The default action comes first; unknown actions are dropped; a
		// note without type is info; instructions are joined.
		in: "@command-answer.xml",
		want: ircbridge.IQ{
			From: testDomainJID, To: j(user), ID: "c1", Type: stanza.ResultIQ,
			Payload: &ircbridge.Command{
				Node: "hello", SessionID: "6f1e2d3c-0000-4000-8000-000000000001", Status: "executing",
				Actions: []string{"complete", "prev"},
				Notes:   []ircbridge.Note{{Type: "info", Text: "Just a step"}, {Type: "warn", Text: "Careful"}},
				Form: &ircbridge.Form{
					Type: "form", Title: "Configure your name.", Instructions: "Please provide your name.\nTwice.",
					Fields: []ircbridge.FormField{{Var: "name", Type: "text-single", Label: "Your name", Desc: "What we call you", Required: true}},
				},
			},
		},
	},
	38: {
		// A command without action (execute) and a cancel.
		in: `<iq from='` + user + `' to='` + room + `' type='set' id='c3'><command xmlns='http://jabber.org/protocol/commands' node='configure' sessionid='s' action='cancel'/></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "c3", Type: stanza.SetIQ,
			Payload: &ircbridge.Command{Node: "configure", SessionID: "s", Action: "cancel"},
		},
	},
	39: {
		in: "@muc-owner-get.xml",
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "o1", Type: stanza.GetIQ, Payload: &ircbridge.MUCQuery{},
		},
	},
	40: {
		in: "@muc-owner-set.xml",
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "o2", Type: stanza.SetIQ,
			Payload: &ircbridge.MUCQuery{Form: &ircbridge.Form{Type: "submit", Fields: []ircbridge.FormField{
				{Var: "FORM_TYPE", Values: []string{"http://jabber.org/protocol/muc#roomconfig"}},
				{Var: "record_history", Values: []string{"false"}},
				{Var: "encoding_in", Values: []string{"latin-1"}},
				{Var: "persistent", Type: "boolean", Values: []string{"true"}},
			}}},
		},
	},
	41: {
		in: `<iq from='` + user + `' to='` + room + `' type='set' id='o3'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='cancel'/></query></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "o3", Type: stanza.SetIQ,
			Payload: &ircbridge.MUCQuery{Form: &ircbridge.Form{Type: "cancel"}},
		},
	},
	42: {
		// A list-single field with options.
		in: "@muc-owner-form.xml",
		want: ircbridge.IQ{
			From: j(room), To: j(user), ID: "o1", Type: stanza.ResultIQ,
			Payload: &ircbridge.MUCQuery{Form: &ircbridge.Form{
				Type:         "form",
				Title:        "Configure the IRC channel #chan on server irc.example.org",
				Instructions: "Edit the form, to configure the settings of the IRC channel #chan",
				Fields: []ircbridge.FormField{
					{
						Var: "record_history", Type: "list-single", Label: "Record history for this channel",
						Desc:    "If unset, the value is the one configured globally",
						Values:  []string{"unset"},
						Options: []ircbridge.FormOption{{Label: "Unset", Value: "unset"}, {Label: "Yes", Value: "true"}, {Value: "false"}},
					},
					{Var: "persistent", Type: "boolean", Label: "Persistent", Values: []string{"false"}},
				},
			}},
		},
	},
	43: {
		in:   `<presence from='` + user + `' to='` + srvJ + `' type='subscribed' id='s1'/>`,
		want: ircbridge.Presence{From: j(user), To: j(srvJ), ID: "s1", Type: stanza.SubscribedPresence},
	},
	44: {
		in:   `<presence from='` + user + `' to='irc.localhost' type='unsubscribe'/>`,
		want: ircbridge.Presence{From: j(user), To: testDomainJID, Type: stanza.UnsubscribePresence},
	},
	45: {
		in:   `<presence from='` + user + `' to='irc.localhost' type='unsubscribed'/>`,
		want: ircbridge.Presence{From: j(user), To: testDomainJID, Type: stanza.UnsubscribedPresence},
	},
	46: {
		in:   `<presence from='user@localhost' to='` + srvJ + `' type='probe' id='pr'/>`,
		want: ircbridge.Presence{From: j("user@localhost"), To: j(srvJ), ID: "pr", Type: stanza.ProbePresence},
	},
	47: {
		// A fin without a set, and complete='false'.
		in: `<iq from='` + room + `' to='` + user + `' type='result' id='f2'><fin xmlns='urn:xmpp:mam:2' complete='false'/></iq>`,
		want: ircbridge.IQ{
			From: j(room), To: j(user), ID: "f2", Type: stanza.ResultIQ, Payload: &ircbridge.MAMFin{},
		},
	},
	48: {
		// A MAM result whose forwarded message is unusable is dropped,
		// not the message carrying it.
		in:   `<message from='` + room + `' to='` + user + `' id='r2'><result xmlns='urn:xmpp:mam:2' id='x'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='bogus'/></forwarded></result></message>`,
		want: ircbridge.Message{From: j(room), To: j(user), ID: "r2", Type: stanza.NormalMessage},
	},
	49: {
		// Only the first data form of a MAM query counts.
		in: `<iq from='` + user + `' to='` + room + `' type='set' id='m5'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='with'><value>a</value></field></x><x xmlns='jabber:x:data' type='submit'><field var='with'><value>b</value></field><field var='start'><value>bad</value></field></x></query></iq>`,
		want: ircbridge.IQ{
			From: j(user), To: j(room), ID: "m5", Type: stanza.SetIQ, Payload: &ircbridge.MAMQuery{With: "a"},
		},
	},
}

func readTestdata(t testing.TB, dir, in string) string {
	t.Helper()
	if !strings.HasPrefix(in, "@") {
		return in
	}
	b, err := os.ReadFile(filepath.Join("..", "testdata", "xml", dir, in[1:]))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecode(t *testing.T) {
	for i, tc := range decodeTests {
		in := readTestdata(t, "decode", tc.in)
		rec, replies := decodeOne(t, in)
		if len(replies) != 0 {
			t.Errorf("%d: unexpected reply %s", i, replies[0])
		}
		if len(rec.calls) != 1 {
			t.Fatalf("%d: got %d Handler calls, want 1", i, len(rec.calls))
		}
		if got := rec.calls[0]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%d: decoded\n%#v\nwant\n%#v", i, got, tc.want)
		}
	}
}

// badTests are stanzas the link must answer with a stanza error (reply is
// the expected reply, "" for none) and not deliver.
var badTests = [...]struct {
	in    string
	reply string
}{
	0: {
		in:    `<message from='` + user + `' to='a@b@c' id='m1'><body>x</body></message>`,
		reply: `<message from='irc.localhost' to='user@localhost/phone' type='error' id='m1'><error type='modify' code='400'><jid-malformed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>malformed JID in 'to': "a@b@c"</text></error></message>`,
	},
	1: {
		// No usable from: nobody to answer.
		in: `<message from='@bad' to='` + room + `'><body>x</body></message>`,
	},
	2: {
		in: `<presence to='` + occup + `'/>`,
	},
	3: {
		in:    `<iq from='` + user + `' to='` + room + `' type='get'><ping xmlns='urn:xmpp:ping'/></iq>`,
		reply: `<iq from='` + room + `' to='user@localhost/phone' type='error'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>missing 'id' attribute</text></error></iq>`,
	},
	4: {
		in:    `<iq from='` + user + `' to='` + room + `' id='q'><ping xmlns='urn:xmpp:ping'/></iq>`,
		reply: `<iq from='` + room + `' to='user@localhost/phone' type='error' id='q'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>missing 'type' attribute</text></error></iq>`,
	},
	5: {
		in:    `<iq from='` + user + `' to='` + room + `' id='q' type='get'/>`,
		reply: `<iq from='` + room + `' to='user@localhost/phone' type='error' id='q'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>an iq of type get needs exactly one child element, not 0</text></error></iq>`,
	},
	6: {
		in:    `<iq from='` + user + `' to='` + room + `' id='q' type='set'><ping xmlns='urn:xmpp:ping'/><query xmlns='jabber:iq:version'/></iq>`,
		reply: `<iq from='` + room + `' to='user@localhost/phone' type='error' id='q'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>an iq of type set needs exactly one child element, not 2</text></error></iq>`,
	},
	7: {
		in:    `<iq from='` + user + `' to='` + room + `' id='q' type='fetch'><ping xmlns='urn:xmpp:ping'/></iq>`,
		reply: `<iq from='` + room + `' to='user@localhost/phone' type='error' id='q'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>unknown iq type "fetch"</text></error></iq>`,
	},
	8: {
		in:    `<message from='` + user + `' to='` + room + `' type='bogus' id='m'/>`,
		reply: `<message from='` + room + `' to='user@localhost/phone' type='error' id='m'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>unknown message type "bogus"</text></error></message>`,
	},
	9: {
		in:    `<presence from='` + user + `' to='` + occup + `' type='online'/>`,
		reply: `<presence from='` + occup + `' to='user@localhost/phone' type='error'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>unknown presence type "online"</text></error></presence>`,
	},
	10: {
		in:    `<presence from='` + user + `' to='` + occup + `'><x xmlns='http://jabber.org/protocol/muc'><history since='yesterday'/></x></presence>`,
		reply: `<presence from='` + occup + `' to='user@localhost/phone' type='error'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>invalid 'since' in &lt;history/&gt;: "yesterday" is not a XEP-0082 DateTime</text></error></presence>`,
	},
	11: {
		in:    `<presence from='` + user + `' to='` + occup + `'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='ten'/></x></presence>`,
		reply: `<presence from='` + occup + `' to='user@localhost/phone' type='error'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>invalid 'maxstanzas' in &lt;history/&gt;: "ten" is not a non-negative integer</text></error></presence>`,
	},
	12: {
		in:    `<presence from='` + user + `' to='` + occup + `'><show>sleepy</show></presence>`,
		reply: `<presence from='` + occup + `' to='user@localhost/phone' type='error'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>invalid &lt;show/&gt; value "sleepy"</text></error></presence>`,
	},
	13: {
		// Errors are never answered, even malformed ones.
		in: `<message from='` + user + `' to='a@b@c' type='error'/>`,
	},
	14: {
		in:    `<message from='` + user + `' type='chat' id='m'><body>x</body></message>`,
		reply: `<message from='irc.localhost' to='user@localhost/phone' type='error' id='m'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>missing 'to' attribute</text></error></message>`,
	},
	15: {
		in:    `<iq from='` + user + `' to='` + room + `' id='k' type='set'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='x' role='god'/></query></iq>`,
		reply: `<iq from='` + room + `' to='user@localhost/phone' type='error' id='k'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>invalid role "god"</text></error></iq>`,
	},
	16: {
		in:    `<message from='` + user + `' to='` + room + `' id='i'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='@@'/></x></message>`,
		reply: `<message from='` + room + `' to='user@localhost/phone' type='error' id='i'><error type='modify' code='400'><jid-malformed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>malformed JID in 'to': "@@"</text></error></message>`,
	},
	17: {
		in:    `<iq from='` + user + `' to='` + srvJ + `' id='l' type='get'><query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set></query></iq>`,
		reply: `<iq from='` + srvJ + `' to='user@localhost/phone' type='error' id='l'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>invalid &lt;max/&gt;: "-1" is not a non-negative integer</text></error></iq>`,
	},
	18: {
		in:    `<message from='` + user + `' to='` + room + `' type='groupchat' id='big'><body>` + strings.Repeat("x", 100<<10) + `</body></message>`,
		reply: `<message from='` + room + `' to='user@localhost/phone' type='error' id='big'><error type='modify' code='406'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>message too large</text></error></message>`,
	},
	19: {
		in:    `<message from='` + user + `' to='` + room + `' type='groupchat' id='huge'><body>` + strings.Repeat("é", 1<<19) + `</body></message>`,
		reply: `<message from='` + room + `' to='user@localhost/phone' type='error' id='huge'><error type='modify' code='406'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>stanza too large</text></error></message>`,
	},
	20: {
		in:    `<message from='` + user + `' to='` + room + `' type='groupchat' id='deep'>` + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + `<body>x</body></message>`,
		reply: `<message from='` + room + `' to='user@localhost/phone' type='error' id='deep'><error type='modify' code='406'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>stanza nested too deeply</text></error></message>`,
	},
	21: {
		// Unknown top-level elements are ignored.
		in: `<foo from='` + user + `' to='` + room + `'/><message xmlns='urn:example' from='` + user + `' to='` + room + `'/>`,
	},
	22: {
		// A malformed result is never answered (RFC 6120 §8.2.3).
		in: `<iq from='` + user + `' to='` + room + `' type='result'/>`,
	},
	23: {
		in:    `<message from='` + user + `' to='` + room + `' type='groupchat' id='x'><body>ok</body><x xmlns='http://jabber.org/protocol/muc#user'><status code='abc'/></x></message>`,
		reply: `<message from='` + room + `' to='user@localhost/phone' type='error' id='x'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>invalid status code "abc"</text></error></message>`,
	},
	24: {
		// A to outside our domain: answer from our domain.
		in:    `<presence from='` + user + `' to='someone@elsewhere' type='probe' id='p'><show>never</show></presence>`,
		reply: `<presence from='irc.localhost' to='user@localhost/phone' type='error' id='p'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>invalid &lt;show/&gt; value "never"</text></error></presence>`,
	},
	25: {
		in:    `<iq from='` + user + `' to='` + room + `' type='set' id='mb'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='start'><value>yesterday</value></field></x></query></iq>`,
		reply: `<iq from='` + room + `' to='user@localhost/phone' type='error' id='mb'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>invalid 'start' field in the MAM query form: "yesterday" is not a XEP-0082 DateTime</text></error></iq>`,
	},
	26: {
		in:    `<iq from='` + user + `' to='` + room + `' type='set' id='mb'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='end'><value>2024-13-01T00:00:00Z</value></field></x></query></iq>`,
		reply: `<iq from='` + room + `' to='user@localhost/phone' type='error' id='mb'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>invalid 'end' field in the MAM query form: "2024-13-01T00:00:00Z" is not a XEP-0082 DateTime</text></error></iq>`,
	},
	27: {
		in:    `<iq from='` + user + `' to='` + room + `' type='set' id='mr'><query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>ten</max></set></query></iq>`,
		reply: `<iq from='` + room + `' to='user@localhost/phone' type='error' id='mr'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>invalid &lt;max/&gt;: "ten" is not a non-negative integer</text></error></iq>`,
	},
	28: {
		in:    `<iq from='` + user + `' to='` + room + `' type='set' id='mt'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:1</value></field></x></query></iq>`,
		reply: `<iq from='` + room + `' to='user@localhost/phone' type='error' id='mt'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>unsupported FORM_TYPE "urn:xmpp:mam:1" in the MAM query form</text></error></iq>`,
	},
	29: {
		in:    `<iq from='` + user + `' to='irc.localhost' type='set' id='ca'><command xmlns='http://jabber.org/protocol/commands' node='ping' action='run'/></iq>`,
		reply: `<iq from='irc.localhost' to='user@localhost/phone' type='error' id='ca'><error type='modify' code='400'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>invalid action "run" in &lt;command/&gt;</text></error></iq>`,
	},
}

// goodAfter is sent after each bad stanza: it must still be delivered.
const goodAfter = `<message from='` + user + `' to='` + room + `' type='groupchat' id='good'><body>after</body></message>`

func TestBadStanzas(t *testing.T) {
	for i, tc := range badTests {
		rec, replies := decodeOne(t, tc.in+"\n"+goodAfter)
		switch {
		case tc.reply == "" && len(replies) != 0:
			t.Errorf("%d: unexpected reply %s", i, replies[0])
		case tc.reply != "" && len(replies) != 1:
			t.Errorf("%d: got %d replies, want 1", i, len(replies))
		case tc.reply != "" && string(replies[0]) != tc.reply:
			t.Errorf("%d: reply\n%s\nwant\n%s", i, replies[0], tc.reply)
		}
		for _, r := range replies {
			if err := wellFormed(r); err != nil {
				t.Errorf("%d: %v", i, err)
			}
		}
		if len(rec.calls) != 1 {
			t.Fatalf("%d: got %d Handler calls, want only the good stanza: %#v", i, len(rec.calls), rec.calls)
		}
		if m, ok := rec.calls[0].(ircbridge.Message); !ok || m.ID != "good" {
			t.Errorf("%d: the stanza after the bad one was not delivered: %#v", i, rec.calls[0])
		}
	}
}

// TestStreamEnd checks how the read path ends a stream.
func TestStreamEnd(t *testing.T) {
	tests := [...]struct {
		in   string
		want string // error text
	}{
		0: {in: `</stream:stream>`, want: "EOF"},
		1: {in: `<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>replaced</text></stream:error>`, want: "stream error: conflict: replaced"},
		2: {in: `<message><body>unclosed</message>`, want: "XML syntax error"},
		3: {in: `<message><body>` + "\x01" + `</body></message>`, want: "illegal character"},
		4: {in: ` `, want: errConnClosed.Error()},
		7: {in: `<message from='a@b' to='c@d'><body>cut`, want: errConnClosed.Error()},
		5: {in: `<message>` + strings.Repeat("x", 16*1024+10) + `</message>`, want: errHardLimit.Error()},
		6: {in: strings.Repeat("<a>", hardDepth+1), want: errHardLimit.Error()},
	}
	for i, tc := range tests {
		_, err := runStream([]byte(tc.in), newRecorder(), Config{MaxStanzaBytes: 1024})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: stream ended with %v, want %q", i, err, tc.want)
		}
	}
}

// TestDecodeTestdataWellFormed makes sure the testdata inputs are what the
// tests say (parseable stanzas).
func TestDecodeTestdataWellFormed(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "xml", "decode", "*.xml"))
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fakexmpp.Parse(string(b)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func xmlName(space, local string) xml.Name { return xml.Name{Space: space, Local: local} }
