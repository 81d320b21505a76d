package ircbridge

import (
	"errors"
	"testing"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

func TestMapperParse(t *testing.T) {
	normal := Mapper{Domain: jid.MustParse("irc.localhost")}
	fixed := Mapper{Domain: jid.MustParse("irc.localhost"), FixedServer: "irc.example.org"}
	for i, tc := range []struct {
		m         Mapper
		in        string
		chanTypes string
		want      Address
		err       bool
	}{
		0:  {m: normal, in: "irc.localhost", want: Address{Kind: KindGateway}},
		1:  {m: normal, in: "irc.example.org@irc.localhost", want: Address{Kind: KindServer, Server: "irc.example.org"}},
		2:  {m: normal, in: "IRC.Example.org@irc.localhost", want: Address{Kind: KindServer, Server: "irc.example.org"}},
		3:  {m: normal, in: "#chan%irc.example.org@irc.localhost", want: Address{Kind: KindChannel, Server: "irc.example.org", Channel: "#chan"}},
		4:  {m: normal, in: "#Chan%IRC.example.org@irc.localhost", want: Address{Kind: KindChannel, Server: "irc.example.org", Channel: "#chan"}},
		5:  {m: normal, in: "#chan%irc.example.org@irc.localhost/Nick[x]", want: Address{Kind: KindParticipant, Server: "irc.example.org", Channel: "#chan", Nick: "Nick[x]"}},
		6:  {m: normal, in: "nick%irc.example.org@irc.localhost", want: Address{Kind: KindUser, Server: "irc.example.org", Nick: "nick"}},
		7:  {m: normal, in: `\26local%irc.example.org@irc.localhost`, want: Address{Kind: KindChannel, Server: "irc.example.org", Channel: "&local"}},
		8:  {m: normal, in: `\26local%irc.example.org@irc.localhost`, chanTypes: "#", want: Address{Kind: KindUser, Server: "irc.example.org", Nick: "&local"}},
		9:  {m: normal, in: `#biboumi\40louiz.org\3a80%irc.localhost@irc.localhost`, want: Address{Kind: KindChannel, Server: "irc.localhost", Channel: "#biboumi@louiz.org:80"}},
		10: {m: normal, in: `#true\2ffalse%irc.localhost@irc.localhost`, want: Address{Kind: KindChannel, Server: "irc.localhost", Channel: "#true/false"}},
		11: {m: normal, in: `#a\20b%irc.localhost@irc.localhost`, want: Address{Kind: KindChannel, Server: "irc.localhost", Channel: "#a b"}},
		12: {m: normal, in: "%irc.example.org@irc.localhost/weird@nick", want: Address{Kind: KindUser, Server: "irc.example.org", Nick: "weird@nick"}},
		13: {m: normal, in: "#chan%@irc.localhost", err: true},
		14: {m: normal, in: "nick%@irc.localhost", err: true},
		15: {m: normal, in: "%irc.example.org@irc.localhost", err: true},
		16: {m: normal, in: "#chan%irc.example.org@other.localhost", err: true},
		17: {m: normal, in: "#c%d%e@irc.localhost", want: Address{Kind: KindChannel, Server: "d%e", Channel: "#c"}},
		18: {m: fixed, in: "irc.localhost", want: Address{Kind: KindGateway, Server: "irc.example.org"}},
		19: {m: fixed, in: "#chan@irc.localhost", want: Address{Kind: KindChannel, Server: "irc.example.org", Channel: "#chan"}},
		20: {m: fixed, in: "#chan%foo@irc.localhost", want: Address{Kind: KindChannel, Server: "irc.example.org", Channel: "#chan%foo"}},
		21: {m: fixed, in: "#chan@irc.localhost/Me", want: Address{Kind: KindParticipant, Server: "irc.example.org", Channel: "#chan", Nick: "Me"}},
		22: {m: fixed, in: "nick@irc.localhost", want: Address{Kind: KindUser, Server: "irc.example.org", Nick: "nick"}},
	} {
		got, err := tc.m.Parse(jid.MustParse(tc.in), tc.chanTypes)
		if tc.err {
			var se stanza.Error
			if !errors.As(err, &se) || se.Condition != stanza.JIDMalformed {
				t.Errorf("%d: Parse(%q) error = %v, want jid-malformed", i, tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: Parse(%q): %v", i, tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%d: Parse(%q) = %+v, want %+v", i, tc.in, got, tc.want)
		}
	}
}

func TestMapperJIDRoundTrip(t *testing.T) {
	for _, m := range []Mapper{
		{Domain: jid.MustParse("irc.localhost")},
		{Domain: jid.MustParse("irc.localhost"), FixedServer: "irc.example.org"},
	} {
		server := "irc.example.org"
		for i, a := range []Address{
			{Kind: KindChannel, Server: server, Channel: "#chan"},
			{Kind: KindChannel, Server: server, Channel: "#a b@c:d/e'f\"g&h<i>j"},
			{Kind: KindChannel, Server: server, Channel: `#back\slash\20`},
			{Kind: KindParticipant, Server: server, Channel: "#chan", Nick: "Some[Nick]"},
			{Kind: KindUser, Server: server, Nick: "nick"},
		} {
			j, err := m.JID(a)
			if err != nil {
				t.Errorf("%d: JID(%+v): %v", i, a, err)
				continue
			}
			back, err := m.Parse(j, "")
			if err != nil {
				t.Errorf("%d: Parse(%s): %v", i, j, err)
				continue
			}
			if back != a {
				t.Errorf("%d (fixed=%q): %+v → %s → %+v", i, m.FixedServer, a, j, back)
			}
		}
	}
}

func TestMapperJIDForms(t *testing.T) {
	m := Mapper{Domain: jid.MustParse("irc.localhost")}
	for i, tc := range []struct {
		a    Address
		want string
	}{
		{Address{Kind: KindGateway}, "irc.localhost"},
		{Address{Kind: KindServer, Server: "127.0.0.1"}, "127.0.0.1@irc.localhost"},
		{Address{Kind: KindChannel, Server: "127.0.0.1", Channel: "#test"}, "#test%127.0.0.1@irc.localhost"},
		{Address{Kind: KindParticipant, Server: "127.0.0.1", Channel: "#test", Nick: "Bob"}, "#test%127.0.0.1@irc.localhost/Bob"},
		{Address{Kind: KindUser, Server: "127.0.0.1", Nick: "Bob"}, "bob%127.0.0.1@irc.localhost"},
		{Address{Kind: KindChannel, Server: "s", Channel: "#a@b"}, `#a\40b%s@irc.localhost`},
	} {
		if got := m.MustJID(tc.a).String(); got != tc.want {
			t.Errorf("%d: JID = %q, want %q", i, got, tc.want)
		}
	}
}

func TestEscapeUnescape(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", `\`, `\5c`, `\\`, `\2`, "x@y/z", `c:\net\friends`} {
		if got := unescape(escape(s)); got != s {
			t.Errorf("unescape(escape(%q)) = %q (escaped %q)", s, got, escape(s))
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"#chan", "a b", `\20`, `\5c`, "@@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := unescape(escape(s)); got != s {
			t.Errorf("round trip of %q gave %q", s, got)
		}
	})
}
