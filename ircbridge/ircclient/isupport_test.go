package ircclient

import (
	"strings"
	"testing"
)

func TestISupportParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		lines       [][]string // successive 005 token lists
		chanTypes   string
		modes       string
		prefixes    string
		chanModes   [4]string
		caseMapping string
		network     string
		nickLen     int
		lineLen     int
	}{{
		name:      "defaults",
		chanTypes: "#&", modes: "ov", prefixes: "@+", caseMapping: "rfc1459",
	}, {
		name: "typical",
		lines: [][]string{{"PREFIX=(qaohv)~&@%+", "CHANTYPES=#", "CHANMODES=beI,k,l,imnpst", "CASEMAPPING=ascii",
			"NETWORK=Libera.Chat", "NICKLEN=16", "LINELEN=2048", "EXCEPTS"}},
		chanTypes: "#", modes: "qaohv", prefixes: "~&@%+", chanModes: [4]string{"beI", "k", "l", "imnpst"},
		caseMapping: "ascii", network: "Libera.Chat", nickLen: 16, lineLen: 2048,
	}, {
		name:      "several lines accumulate; later values win",
		lines:     [][]string{{"CHANTYPES=#", "NETWORK=A"}, {"NETWORK=B", "PREFIX=(ov)@+"}},
		chanTypes: "#", modes: "ov", prefixes: "@+", caseMapping: "rfc1459", network: "B",
	}, {
		name:      "removal restores the default",
		lines:     [][]string{{"CHANTYPES=#", "CASEMAPPING=ascii", "NETWORK=A"}, {"-CHANTYPES", "-casemapping", "-NETWORK"}},
		chanTypes: "#&", modes: "ov", prefixes: "@+", caseMapping: "rfc1459",
	}, {
		name:      "empty values: no channel types, no prefixes",
		lines:     [][]string{{"CHANTYPES=", "PREFIX="}},
		chanTypes: "", modes: "", prefixes: "", caseMapping: "rfc1459",
	}, {
		name:      "malformed PREFIX is ignored",
		lines:     [][]string{{"PREFIX=(ov)@"}, {"PREFIX=ov@+"}},
		chanTypes: "#&", modes: "ov", prefixes: "@+", caseMapping: "rfc1459",
	}, {
		name:      "escaped value, upper-cased casemapping, extra CHANMODES list",
		lines:     [][]string{{`NETWORK=Some\x20Net\x3D`, "CASEMAPPING=RFC1459", "CHANMODES=a,b,c,d,e"}},
		chanTypes: "#&", modes: "ov", prefixes: "@+", chanModes: [4]string{"a", "b", "c", "d"},
		caseMapping: "rfc1459", network: "Some Net=",
	}, {
		name:      "bad numbers are unknown",
		lines:     [][]string{{"NICKLEN=abc", "LINELEN="}},
		chanTypes: "#&", modes: "ov", prefixes: "@+", caseMapping: "rfc1459",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := DefaultISupport()
			for _, l := range tc.lines {
				is = is.apply(l)
			}
			if is.ChanTypes() != tc.chanTypes || is.PrefixModes() != tc.modes || is.PrefixChars() != tc.prefixes ||
				is.ChanModes() != tc.chanModes || is.CaseMapping() != tc.caseMapping || is.Network() != tc.network ||
				is.NickLen() != tc.nickLen || is.LineLen() != tc.lineLen {
				t.Errorf("got CHANTYPES %q PREFIX (%s)%s CHANMODES %q CASEMAPPING %q NETWORK %q NICKLEN %d LINELEN %d",
					is.ChanTypes(), is.PrefixModes(), is.PrefixChars(), is.ChanModes(), is.CaseMapping(),
					is.Network(), is.NickLen(), is.LineLen())
			}
		})
	}
}

func TestISupportTokenAndPrefixes(t *testing.T) {
	t.Parallel()
	is := DefaultISupport().apply([]string{"PREFIX=(qaohv)~&@%+", "EXCEPTS", "CHANLIMIT=#:120"})
	if v, ok := is.Token("excepts"); !ok || v != "" {
		t.Errorf("Token(EXCEPTS) = %q, %v", v, ok)
	}
	if v, ok := is.Token("CHANLIMIT"); !ok || v != "#:120" {
		t.Errorf("Token(CHANLIMIT) = %q, %v", v, ok)
	}
	if _, ok := is.Token("WHOX"); ok {
		t.Errorf("Token(WHOX) present")
	}
	for i, c := range []byte("~&@%+") {
		m, ok := is.PrefixMode(c)
		if !ok || m != "qaohv"[i] {
			t.Errorf("PrefixMode(%c) = %c, %v", c, m, ok)
		}
		p, ok := is.ModePrefix(m)
		if !ok || p != c {
			t.Errorf("ModePrefix(%c) = %c, %v", m, p, ok)
		}
	}
	if _, ok := is.PrefixMode('!'); ok {
		t.Errorf("PrefixMode('!') found")
	}
	if _, ok := is.ModePrefix('b'); ok {
		t.Errorf("ModePrefix('b') found")
	}
}

func TestISupportTokenLimit(t *testing.T) {
	t.Parallel()
	is := DefaultISupport()
	for i := range 1000 {
		is = is.apply([]string{"T" + strings.Repeat("x", i%50) + string(rune('A'+i%26)) + "=" + strings.Repeat("v", i)})
	}
	if len(is.tokens) > maxISupportTokens {
		t.Errorf("%d tokens retained", len(is.tokens))
	}
}

func TestIsChannel(t *testing.T) {
	t.Parallel()
	def := DefaultISupport()
	hash := def.apply([]string{"CHANTYPES=#"})
	tests := []struct {
		is   *ISupport
		name string
		want bool
	}{
		{def, "#chan", true},
		{def, "&local", true},
		{def, "nick", false},
		{def, "", false},
		{def, "+modeless", false},
		{hash, "&local", false},
		{hash, "#c", true},
	}
	for _, tc := range tests {
		if got := tc.is.IsChannel(tc.name); got != tc.want {
			t.Errorf("IsChannel(%q) with CHANTYPES %q = %v", tc.name, tc.is.ChanTypes(), got)
		}
	}
}

func TestFold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mapping, in, want string
	}{
		{"rfc1459", "Nick[A]\\~^", "nick{a}|~~"},
		{"rfc1459", "#Chan", "#chan"},
		{"", "ABC^", "abc~"},
		{"strict-rfc1459", "Nick[A]\\~^", "nick{a}|~^"},
		{"ascii", "Nick[A]\\~^", "nick[a]\\~^"},
		{"ascii", "ÉCOLE", "École"},
		{"rfc7613", "ÉCOLE[]", "école[]"},
		{"rfc1459", "already{lower}", "already{lower}"},
		{"rfc1459", "", ""},
	}
	for _, tc := range tests {
		is := DefaultISupport().apply([]string{"CASEMAPPING=" + tc.mapping})
		if tc.mapping == "" {
			is = DefaultISupport()
		}
		if got := is.Fold(tc.in); got != tc.want {
			t.Errorf("%s Fold(%q) = %q, want %q", tc.mapping, tc.in, got, tc.want)
		}
		if got := Fold(tc.mapping, tc.in); got != tc.want {
			t.Errorf("Fold(%q, %q) = %q, want %q", tc.mapping, tc.in, got, tc.want)
		}
	}
}
