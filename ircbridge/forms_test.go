package ircbridge

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"biboumi/store"
)

// Tests of forms.go: the three configure forms (biboumi-reference §5.11).

var formOwner = jid.MustParse("user@example.com")

// wantField is a field as the reference tables describe it.
type wantField struct {
	Var, Type, Label, Desc string
	Values                 []string
}

const (
	descSASL = "Use it to authenticate with your nick. Leave empty to keep the current password; send a single space to clear it."
	descPass = "Will be used in a PASS command when connecting. Leave empty to keep the current password; send a single space to clear it."
)

func globalFields(maxHist, record, persistent string) []wantField {
	return []wantField{
		{"max_history_length", "text-single", "Max history length", "The maximum number of lines in the history that the server sends when joining a channel", []string{maxHist}},
		{"record_history", "boolean", "Record history", "Whether to save the messages into the database, or not", []string{record}},
		{"persistent", "boolean", "Make all channels persistent", "If true, all channels will be persistent", []string{persistent}},
	}
}

// serverFields returns the server form fields for values keyed by var; a
// missing key means no value. fixed drops address, !realname drops username
// and realname.
func serverFields(vals map[string][]string, fixed, realname bool) []wantField {
	all := []wantField{
		{"address", "text-single", "Address", "The address (hostname or IP) to connect to.", nil},
		{"ports", "text-multi", "Ports", "List of ports to try, without TLS. Defaults: 6667.", nil},
		{"tls_ports", "text-multi", "TLS ports", "List of ports to try, with TLS. Defaults: 6697, 6670.", nil},
		{"verify_cert", "boolean", "Verify certificate", "Whether or not to abort the connection if the server’s TLS certificate is invalid", nil},
		{"fingerprint", "text-single", "SHA-1 fingerprint of the TLS certificate to trust.", "", nil},
		{"sasl_password", "text-private", "SASL Password", descSASL, nil},
		{"sasl_mechanism", "list-single", "SASL mechanism", descMechanism, nil},
		{"nick", "text-single", "Nickname", "If set, will override the nickname provided in the initial presence sent to join the first server channel", nil},
		{"pass", "text-private", "Server password", descPass, nil},
		{"after_connect_commands", "text-multi", "After-connection IRC commands", "Custom IRC commands sent after the connection is established with the server.", nil},
		{"username", "text-single", "Username", "", nil},
		{"realname", "text-single", "Realname", "", nil},
		{"throttle_limit", "text-single", "Throttle limit", "", nil},
		{"max_history_length", "text-single", "Max history length", "", nil},
		{"encoding_out", "text-single", "Out encoding", "The encoding used when sending messages to the IRC server.", nil},
		{"encoding_in", "text-single", "In encoding", "The encoding used to decode message received from the IRC server.", nil},
	}
	var out []wantField
	for _, f := range all {
		if fixed && f.Var == "address" || !realname && (f.Var == "username" || f.Var == "realname") {
			continue
		}
		f.Values = vals[f.Var]
		if f.Var == "sasl_mechanism" && f.Values == nil {
			f.Values = []string{"PLAIN"}
		}
		out = append(out, f)
	}
	return out
}

func channelFields(record, out, in, persistent string) []wantField {
	opt := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	return []wantField{
		{"record_history", "list-single", "Record history for this channel", "If unset, the value is the one configured globally", []string{record}},
		{"encoding_out", "text-single", "Out encoding", "The encoding used when sending messages to the IRC server. Defaults to the server's “out encoding” if unset for the channel", opt(out)},
		{"encoding_in", "text-single", "In encoding", "The encoding used to decode message received from the IRC server. Defaults to the server's “in encoding” if unset for the channel", opt(in)},
		{"persistent", "boolean", "Persistent", "If set to true, when all XMPP clients have left this channel, biboumi will stay idle in it, without sending a PART command.", []string{persistent}},
	}
}

// checkForm compares a built form with the reference.
func checkForm(t *testing.T, got *Form, title, instructions string, want []wantField) {
	t.Helper()
	if got.Type != "form" || got.Title != title || got.Instructions != instructions {
		t.Errorf("form = %q %q %q, want form %q %q", got.Type, got.Title, got.Instructions, title, instructions)
	}
	var gotVars, wantVars []string
	for _, f := range got.Fields {
		gotVars = append(gotVars, f.Var)
	}
	for _, f := range want {
		wantVars = append(wantVars, f.Var)
	}
	if !slices.Equal(gotVars, wantVars) {
		t.Fatalf("fields = %q\nwant %q", gotVars, wantVars)
	}
	for i, w := range want {
		g := got.Fields[i]
		if g.Type != w.Type || g.Label != w.Label || g.Desc != w.Desc {
			t.Errorf("field %s = type %q label %q desc %q\nwant type %q label %q desc %q", w.Var, g.Type, g.Label, g.Desc, w.Type, w.Label, w.Desc)
		}
		if !slices.Equal(g.Values, w.Values) {
			t.Errorf("field %s values = %q, want %q", w.Var, g.Values, w.Values)
		}
		if g.Required {
			t.Errorf("field %s is required", w.Var)
		}
		if g.Type == "list-single" {
			want := []FormOption{{"unset", "unset"}, {"true", "true"}, {"false", "false"}}
			if w.Var == "sasl_mechanism" {
				want = []FormOption{{"PLAIN (password)", "PLAIN"}, {"EXTERNAL (client certificate)", "EXTERNAL"}}
			}
			if !slices.Equal(g.Options, want) {
				t.Errorf("field %s options = %v, want %v", w.Var, g.Options, want)
			}
		} else if len(g.Options) != 0 {
			t.Errorf("field %s has options %v", w.Var, g.Options)
		}
	}
}

// submitOf returns f as a client submits it: type submit, a FORM_TYPE
// field, only vars and values.
func submitOf(f *Form) *Form {
	s := &Form{Type: "submit", Fields: []FormField{{Var: "FORM_TYPE", Type: "hidden", Values: []string{"urn:example"}}}}
	for _, fld := range f.Fields {
		s.Fields = append(s.Fields, FormField{Var: fld.Var, Values: slices.Clone(fld.Values)})
	}
	return s
}

// submit builds a submitted form from var/values pairs.
func submit(fields ...FormField) *Form { return &Form{Type: "submit", Fields: fields} }

func fv(v string, values ...string) FormField { return FormField{Var: v, Values: values} }

func fullServer() store.ServerOptions {
	o := store.DefaultServerOptions(formOwner, "irc.example.org")
	o.Address = "irc.eu.example.org"
	o.Ports = []int{6667, 6668}
	o.TLSPorts = []int{7000}
	o.VerifyCert = false
	o.Fingerprint = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"
	o.Pass = "server secret"
	o.SASLPassword = "sasl secret"
	o.Nick = "nicky"
	o.Username = "user_name"
	o.Realname = "Real Name"
	o.EncodingIn = "ISO-8859-15"
	o.EncodingOut = "utf-8"
	o.MaxHistoryLength = 42
	o.ThrottleLimit = -1
	o.AfterConnectCommands = []string{"PRIVMSG NickServ :identify x", "MODE nicky +x"}
	return o
}

func equalServer(a, b store.ServerOptions) bool {
	return a.Owner.Equal(b.Owner) && a.Server == b.Server && a.Address == b.Address &&
		slices.Equal(a.Ports, b.Ports) && slices.Equal(a.TLSPorts, b.TLSPorts) &&
		a.VerifyCert == b.VerifyCert && a.Fingerprint == b.Fingerprint && a.Pass == b.Pass &&
		a.SASLPassword == b.SASLPassword && a.Nick == b.Nick && a.Username == b.Username &&
		a.Realname == b.Realname && a.EncodingIn == b.EncodingIn && a.EncodingOut == b.EncodingOut &&
		a.MaxHistoryLength == b.MaxHistoryLength && a.ThrottleLimit == b.ThrottleLimit &&
		slices.Equal(a.AfterConnectCommands, b.AfterConnectCommands)
}

func equalGlobal(a, b store.GlobalOptions) bool {
	return a.Owner.Equal(b.Owner) && a.MaxHistoryLength == b.MaxHistoryLength &&
		a.RecordHistory == b.RecordHistory && a.Persistent == b.Persistent
}

func equalChannel(a, b store.ChannelOptions) bool {
	return a.Owner.Equal(b.Owner) && a.Server == b.Server && a.Channel == b.Channel &&
		a.EncodingIn == b.EncodingIn && a.EncodingOut == b.EncodingOut &&
		a.MaxHistoryLength == b.MaxHistoryLength && a.Persistent == b.Persistent &&
		a.RecordHistory == b.RecordHistory
}

func TestFormGlobalBuild(t *testing.T) {
	const title, instr = "Configure some global default settings.", "Edit the form, to configure your global settings for the component."
	def := store.DefaultGlobalOptions(formOwner)
	for _, tc := range []struct {
		name string
		o    store.GlobalOptions
		fs   FormSettings
		want []wantField
	}{
		{"defaults", def, FormSettings{}, globalFields("20", "true", "false")},
		{"persistent by default", def, FormSettings{PersistentByDefault: true}, globalFields("20", "true", "true")},
		{"explicit false beats default", store.GlobalOptions{Owner: formOwner, MaxHistoryLength: 0, Persistent: store.False},
			FormSettings{PersistentByDefault: true}, globalFields("0", "false", "false")},
		{"explicit true", store.GlobalOptions{Owner: formOwner, MaxHistoryLength: 5, RecordHistory: true, Persistent: store.True},
			FormSettings{}, globalFields("5", "true", "true")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkForm(t, globalForm(tc.o, tc.fs), title, instr, tc.want)
		})
	}
}

func TestFormServerBuild(t *testing.T) {
	const title, instr = "Configure the IRC server irc.example.org", "Edit the form, to configure the settings of the IRC server irc.example.org"
	def := store.DefaultServerOptions(formOwner, "irc.example.org")
	defVals := map[string][]string{
		"address": {"irc.example.org"}, "ports": {"6667"}, "tls_ports": {"6697", "6670"},
		"verify_cert": {"true"}, "throttle_limit": {"10"}, "max_history_length": {"20"},
	}
	fullVals := map[string][]string{
		"address": {"irc.eu.example.org"}, "ports": {"6667", "6668"}, "tls_ports": {"7000"},
		"verify_cert": {"false"}, "fingerprint": {"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"},
		"nick":                   {"nicky"},
		"after_connect_commands": {"PRIVMSG NickServ :identify x", "MODE nicky +x"},
		"username":               {"user_name"}, "realname": {"Real Name"},
		"throttle_limit": {"-1"}, "max_history_length": {"42"},
		"encoding_out": {"utf-8"}, "encoding_in": {"ISO-8859-15"},
	}
	noPorts := def
	noPorts.Ports, noPorts.TLSPorts = nil, []int{}
	noPortsVals := map[string][]string{
		"address": {"irc.example.org"}, "verify_cert": {"true"}, "throttle_limit": {"10"}, "max_history_length": {"20"},
	}
	for _, tc := range []struct {
		name     string
		o        store.ServerOptions
		fs       FormSettings
		vals     map[string][]string
		fixed    bool
		realname bool
	}{
		{"defaults", def, FormSettings{RealnameCustomization: true}, defVals, false, true},
		{"full", fullServer(), FormSettings{RealnameCustomization: true}, fullVals, false, true},
		{"fixed", fullServer(), FormSettings{FixedServer: true, RealnameCustomization: true}, fullVals, true, true},
		{"no realname customization", fullServer(), FormSettings{}, fullVals, false, false},
		{"fixed, no realname", def, FormSettings{FixedServer: true}, defVals, true, false},
		{"no ports", noPorts, FormSettings{RealnameCustomization: true}, noPortsVals, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := serverForm(tc.o, tc.fs)
			checkForm(t, f, title, instr, serverFields(tc.vals, tc.fixed, tc.realname))
			for _, fld := range f.Fields {
				for _, v := range fld.Values {
					if tc.o.Pass != "" && strings.Contains(v, tc.o.Pass) || tc.o.SASLPassword != "" && strings.Contains(v, tc.o.SASLPassword) {
						t.Errorf("field %s shows a password: %q", fld.Var, v)
					}
				}
			}
		})
	}
}

func TestFormChannelBuild(t *testing.T) {
	const title, instr = "Configure the IRC channel #chan on server irc.example.org", "Edit the form, to configure the settings of the IRC channel #chan"
	def := store.DefaultChannelOptions(formOwner, "irc.example.org", "#chan")
	srv := store.DefaultServerOptions(formOwner, "irc.example.org")
	srvEnc := srv
	srvEnc.EncodingIn, srvEnc.EncodingOut = "latin1", "utf-8"
	set := def
	set.EncodingIn, set.EncodingOut, set.Persistent, set.RecordHistory = "koi8-r", "windows-1252", true, store.False
	onlyIn := def
	onlyIn.EncodingIn, onlyIn.RecordHistory = "koi8-r", store.True
	for _, tc := range []struct {
		name   string
		o      store.ChannelOptions
		server store.ServerOptions
		want   []wantField
	}{
		{"defaults", def, srv, channelFields("unset", "", "", "false")},
		{"server encodings shown", def, srvEnc, channelFields("unset", "utf-8", "latin1", "false")},
		{"channel values win", set, srvEnc, channelFields("false", "windows-1252", "koi8-r", "true")},
		{"mixed", onlyIn, srvEnc, channelFields("true", "utf-8", "koi8-r", "false")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkForm(t, channelForm(tc.o, tc.server), title, instr, tc.want)
		})
	}
}

func TestFormRoundTrip(t *testing.T) {
	t.Run("global", func(t *testing.T) {
		for _, fs := range []FormSettings{{}, {PersistentByDefault: true}} {
			for _, o := range []store.GlobalOptions{
				store.DefaultGlobalOptions(formOwner),
				{Owner: formOwner, MaxHistoryLength: 0, RecordHistory: false, Persistent: store.True},
				{Owner: formOwner, MaxHistoryLength: 1000, RecordHistory: true, Persistent: store.False},
			} {
				got, err := parseGlobalForm(submitOf(globalForm(o, fs)), o, fs)
				if err != nil || !equalGlobal(got, o) {
					t.Errorf("%+v %+v: round trip = %+v, %v", fs, o, got, err)
				}
			}
		}
	})
	t.Run("server", func(t *testing.T) {
		weird := fullServer()
		weird.Address, weird.Ports, weird.TLSPorts, weird.AfterConnectCommands = "", nil, nil, nil
		weird.Pass, weird.SASLPassword, weird.Fingerprint = "", "", ""
		v6 := fullServer()
		v6.Address = "2001:db8::1"
		v6.Fingerprint = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"
		for _, fs := range []FormSettings{{RealnameCustomization: true}, {}, {FixedServer: true}} {
			for _, o := range []store.ServerOptions{store.DefaultServerOptions(formOwner, "irc.example.org"), fullServer(), weird, v6} {
				got, err := parseServerForm(submitOf(serverForm(o, fs)), o, fs)
				if err != nil || !equalServer(got, o) {
					t.Errorf("%+v:\n%+v\nround trip = %+v, %v", fs, o, got, err)
				}
			}
		}
	})
	t.Run("channel", func(t *testing.T) {
		srv := store.DefaultServerOptions(formOwner, "irc.example.org")
		srvEnc := srv
		srvEnc.EncodingIn, srvEnc.EncodingOut = "latin1", "utf-8"
		def := store.DefaultChannelOptions(formOwner, "irc.example.org", "#chan")
		set := def
		set.EncodingIn, set.EncodingOut, set.Persistent, set.RecordHistory = "koi8-r", "windows-1252", true, store.False
		tru := def
		tru.RecordHistory, tru.EncodingIn = store.True, "latin1"
		for _, o := range []store.ChannelOptions{def, set, tru} {
			got, err := parseChannelForm(submitOf(channelForm(o, srv)), o)
			if err != nil || !equalChannel(got, o) {
				t.Errorf("%+v: round trip = %+v, %v", o, got, err)
			}
			for _, server := range []store.ServerOptions{srv, srvEnc} {
				got, err := parseChannelFormWithServer(submitOf(channelForm(o, server)), o, server)
				if err != nil || !equalChannel(got, o) {
					t.Errorf("%+v with server %q/%q: round trip = %+v, %v", o, server.EncodingIn, server.EncodingOut, got, err)
				}
			}
		}
		// Without the server, the shown server encodings become explicit
		// (Biboumi's behaviour).
		got, err := parseChannelForm(submitOf(channelForm(def, srvEnc)), def)
		if err != nil || got.EncodingIn != "latin1" || got.EncodingOut != "utf-8" {
			t.Errorf("parseChannelForm of inherited encodings = %+v, %v", got, err)
		}
		// A changed encoding becomes explicit with the server too.
		s := submitOf(channelForm(def, srvEnc))
		s.Field("encoding_in").Values = []string{"koi8-r"}
		got, err = parseChannelFormWithServer(s, def, srvEnc)
		if err != nil || got.EncodingIn != "koi8-r" || got.EncodingOut != "" {
			t.Errorf("changed inherited encoding = %+v, %v", got, err)
		}
	})
}

func TestFormMissingFieldsKeep(t *testing.T) {
	fs := FormSettings{RealnameCustomization: true}
	empty := submit(fv("FORM_TYPE", "urn:example"))

	g := store.GlobalOptions{Owner: formOwner, MaxHistoryLength: 3, RecordHistory: false, Persistent: store.True}
	if got, err := parseGlobalForm(empty, g, fs); err != nil || !equalGlobal(got, g) {
		t.Errorf("empty global submission = %+v, %v", got, err)
	}
	s := fullServer()
	if got, err := parseServerForm(empty, s, fs); err != nil || !equalServer(got, s) {
		t.Errorf("empty server submission = %+v, %v", got, err)
	}
	c := store.DefaultChannelOptions(formOwner, "irc.example.org", "#chan")
	c.Persistent, c.RecordHistory, c.EncodingIn = true, store.False, "latin1"
	if got, err := parseChannelForm(empty, c); err != nil || !equalChannel(got, c) {
		t.Errorf("empty channel submission = %+v, %v", got, err)
	}

	// Biboumi stores throttle_limit 0 when the field is missing.
	s.ThrottleLimit = 3
	sub := submit(fv("nick", "other"), fv("ports", "6669"))
	got, err := parseServerForm(sub, s, fs)
	if err != nil {
		t.Fatal(err)
	}
	if got.ThrottleLimit != 3 || !slices.Equal(got.TLSPorts, s.TLSPorts) || got.Address != s.Address || got.MaxHistoryLength != 42 {
		t.Errorf("missing fields changed: %+v", got)
	}
	if got.Nick != "other" || !slices.Equal(got.Ports, []int{6669}) {
		t.Errorf("present fields not applied: %+v", got)
	}
	if s.Nick != "nicky" || !slices.Equal(s.Ports, []int{6667, 6668}) {
		t.Errorf("cur was modified: %+v", s)
	}
}

func TestFormValues(t *testing.T) {
	fs := FormSettings{RealnameCustomization: true}
	cur := fullServer()
	for _, tc := range []struct {
		name  string
		field FormField
		check func(o store.ServerOptions) bool
	}{
		{"empty throttle is the default", fv("throttle_limit", ""), func(o store.ServerOptions) bool { return o.ThrottleLimit == 10 }},
		{"throttle without value is the default", fv("throttle_limit"), func(o store.ServerOptions) bool { return o.ThrottleLimit == 10 }},
		{"negative throttle is unthrottled", fv("throttle_limit", " -5 "), func(o store.ServerOptions) bool { return o.ThrottleLimit == -5 }},
		{"zero throttle", fv("throttle_limit", "0"), func(o store.ServerOptions) bool { return o.ThrottleLimit == 0 }},
		{"empty history is the default", fv("max_history_length", ""), func(o store.ServerOptions) bool { return o.MaxHistoryLength == 20 }},
		{"ports trimmed, deduplicated", fv("ports", " 6697 ", "", "6667", "6697", "7000"), func(o store.ServerOptions) bool { return slices.Equal(o.Ports, []int{6697, 6667, 7000}) }},
		{"ports in one value", fv("ports", "6667;6668, 6669\n6670"), func(o store.ServerOptions) bool { return slices.Equal(o.Ports, []int{6667, 6668, 6669, 6670}) }},
		{"no TLS ports", fv("tls_ports"), func(o store.ServerOptions) bool { return len(o.TLSPorts) == 0 }},
		{"empty TLS port values", fv("tls_ports", "", " "), func(o store.ServerOptions) bool { return len(o.TLSPorts) == 0 }},
		{"verify 1", fv("verify_cert", "1"), func(o store.ServerOptions) bool { return o.VerifyCert }},
		{"verify TRUE", fv("verify_cert", "TRUE"), func(o store.ServerOptions) bool { return o.VerifyCert }},
		{"verify empty is the default", fv("verify_cert"), func(o store.ServerOptions) bool { return o.VerifyCert }},
		{"username spaces", fv("username", " my user "), func(o store.ServerOptions) bool { return o.Username == "my_user" }},
		{"realname", fv("realname", "Jane Doe"), func(o store.ServerOptions) bool { return o.Realname == "Jane Doe" }},
		{"empty realname", fv("realname"), func(o store.ServerOptions) bool { return o.Realname == "" }},
		{"commands", fv("after_connect_commands", "", "JOIN #a", "  ", " PRIVMSG x :y "), func(o store.ServerOptions) bool {
			return slices.Equal(o.AfterConnectCommands, []string{"JOIN #a", "PRIVMSG x :y"})
		}},
		{"no commands", fv("after_connect_commands"), func(o store.ServerOptions) bool { return len(o.AfterConnectCommands) == 0 }},
		{"address", fv("address", " irc.other.net "), func(o store.ServerOptions) bool { return o.Address == "irc.other.net" }},
		{"address IPv4", fv("address", "192.0.2.1"), func(o store.ServerOptions) bool { return o.Address == "192.0.2.1" }},
		{"address IPv6 brackets", fv("address", "[2001:db8::1]"), func(o store.ServerOptions) bool { return o.Address == "2001:db8::1" }},
		{"address server name is the default", fv("address", "IRC.example.org"), func(o store.ServerOptions) bool { return o.Address == "" }},
		{"empty address is the default", fv("address"), func(o store.ServerOptions) bool { return o.Address == "" }},
		{"empty encodings", fv("encoding_in", ""), func(o store.ServerOptions) bool { return o.EncodingIn == "" }},
		{"encoding", fv("encoding_out", " Shift_JIS "), func(o store.ServerOptions) bool { return o.EncodingOut == "Shift_JIS" }},
		{"nick", fv("nick", " Nick[away] "), func(o store.ServerOptions) bool { return o.Nick == "Nick[away]" }},
		{"empty nick", fv("nick", ""), func(o store.ServerOptions) bool { return o.Nick == "" }},
		{"nick 64 bytes", fv("nick", strings.Repeat("n", 64)), func(o store.ServerOptions) bool { return len(o.Nick) == 64 }},
		{"empty fingerprint", fv("fingerprint", ""), func(o store.ServerOptions) bool { return o.Fingerprint == "" }},
		{"FORM_TYPE and unknown ignored", fv("bogus", "x"), func(o store.ServerOptions) bool { return equalServer(o, cur) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseServerForm(submit(fv("FORM_TYPE", "x"), tc.field), cur, fs)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got) {
				t.Errorf("got %+v", got)
			}
		})
	}

	g := store.GlobalOptions{Owner: formOwner, MaxHistoryLength: 3, RecordHistory: false, Persistent: store.True}
	for _, tc := range []struct {
		sub  *Form
		fs   FormSettings
		want store.GlobalOptions
	}{
		{submit(fv("max_history_length", "")), FormSettings{}, store.GlobalOptions{Owner: formOwner, MaxHistoryLength: 20, Persistent: store.True}},
		{submit(fv("record_history", "1"), fv("persistent", "0")), FormSettings{}, store.GlobalOptions{Owner: formOwner, MaxHistoryLength: 3, RecordHistory: true, Persistent: store.False}},
		{submit(fv("record_history", "")), FormSettings{}, store.GlobalOptions{Owner: formOwner, MaxHistoryLength: 3, RecordHistory: true, Persistent: store.True}},
		// An empty persistent follows persistent_by_default again.
		{submit(fv("persistent", "")), FormSettings{}, store.GlobalOptions{Owner: formOwner, MaxHistoryLength: 3, Persistent: store.Unset}},
	} {
		if got, err := parseGlobalForm(tc.sub, g, tc.fs); err != nil || !equalGlobal(got, tc.want) {
			t.Errorf("%v: got %+v, %v; want %+v", tc.sub.Fields, got, err, tc.want)
		}
	}
	// The global persistent: an untouched value keeps following the
	// default; a change becomes explicit.
	unset := store.DefaultGlobalOptions(formOwner)
	for _, tc := range []struct {
		byDefault bool
		value     string
		want      store.Tristate
	}{
		{true, "true", store.Unset}, {true, "false", store.False},
		{false, "false", store.Unset}, {false, "1", store.True},
	} {
		fs := FormSettings{PersistentByDefault: tc.byDefault}
		if got, err := parseGlobalForm(submit(fv("persistent", tc.value)), unset, fs); err != nil || got.Persistent != tc.want {
			t.Errorf("by default %v, submitted %q: persistent = %v, %v; want %v", tc.byDefault, tc.value, got.Persistent, err, tc.want)
		}
	}

	c := store.DefaultChannelOptions(formOwner, "irc.example.org", "#chan")
	for _, tc := range []struct {
		value string
		want  store.Tristate
	}{{"unset", store.Unset}, {"", store.Unset}, {"true", store.True}, {"false", store.False}, {"1", store.True}, {"0", store.False}} {
		c.RecordHistory = store.True
		if tc.want == store.True {
			c.RecordHistory = store.False
		}
		got, err := parseChannelForm(submit(fv("record_history", tc.value)), c)
		if err != nil || got.RecordHistory != tc.want {
			t.Errorf("record_history %q = %v, %v; want %v", tc.value, got.RecordHistory, err, tc.want)
		}
	}
	got, err := parseChannelForm(submit(fv("persistent", "true"), fv("encoding_in", "latin1"), fv("encoding_out", "")), c)
	if err != nil || !got.Persistent || got.EncodingIn != "latin1" || got.EncodingOut != "" {
		t.Errorf("channel values = %+v, %v", got, err)
	}
}

func TestFormInvalid(t *testing.T) {
	fs := FormSettings{RealnameCustomization: true}
	longLine := "PRIVMSG x :" + strings.Repeat("a", 600)
	server := []struct {
		field FormField
	}{
		{fv("ports", "0")},
		{fv("ports", "65536")},
		{fv("ports", "6667", "http")},
		{fv("ports", "-1")},
		{fv("tls_ports", "6697", "99999")},
		{fv("throttle_limit", "ten")},
		{fv("throttle_limit", "1.5")},
		{fv("throttle_limit", "99999999999999999999999")},
		{fv("max_history_length", "-1")},
		{fv("max_history_length", "x")},
		{fv("encoding_in", "klingon")},
		{fv("encoding_out", "no such charset")},
		{fv("encoding_in", "iso-2022-kr")}, // the WHATWG "replacement" encoding
		{fv("address", "irc example")},
		{fv("address", "irc.example.org/6667")},
		{fv("address", "user@irc.example.org")},
		{fv("address", "irc%example")},
		{fv("address", "irc.example.org:6667")},
		{fv("address", "irc\r\nexample")},
		{fv("nick", "two words")},
		{fv("nick", ":colon")},
		{fv("nick", "#hash")},
		{fv("nick", strings.Repeat("n", 65))},
		{fv("nick", "a\x01b")},
		{fv("verify_cert", "yes")},
		{fv("fingerprint", "AB:CD")},
		{fv("fingerprint", "zz"+strings.Repeat("0", 38))},
		{fv("fingerprint", strings.Repeat("0", 48))},
		{fv("after_connect_commands", "JOIN #a", "PRIVMSG x :y\r\nQUIT")},
		{fv("after_connect_commands", "JOIN #a\nQUIT")},
		{fv("after_connect_commands", longLine)},
		{fv("pass", "a\r\nQUIT")},
		{fv("sasl_password", "a\nb")},
		{fv("username", "u\r\nQUIT")},
		{fv("realname", "r\nQUIT")},
	}
	for _, tc := range server {
		t.Run("server "+tc.field.Var+" "+fmt.Sprintf("%q", tc.field.Values), func(t *testing.T) {
			cur := fullServer()
			// A valid change before the bad field must not be applied.
			before := fv("nick", "changed")
			if tc.field.Var == "nick" {
				before = fv("realname", "changed")
			}
			sub := submit(fv("FORM_TYPE", "x"), before, tc.field, fv("throttle_limit", "bad too"))
			if tc.field.Var == "throttle_limit" {
				sub.Fields = sub.Fields[:3]
			}
			got, err := parseServerForm(sub, cur, fs)
			var fe *FormError
			if !errors.As(err, &fe) || fe.Var != tc.field.Var {
				t.Fatalf("err = %v, want a FormError on %s", err, tc.field.Var)
			}
			if !strings.HasPrefix(fe.Error(), tc.field.Var+": ") || fe.Reason == "" {
				t.Errorf("Error() = %q", fe.Error())
			}
			if !equalServer(got, fullServer()) || !equalServer(cur, fullServer()) {
				t.Errorf("options changed: %+v", got)
			}
		})
	}

	g := store.GlobalOptions{Owner: formOwner, MaxHistoryLength: 3, RecordHistory: false, Persistent: store.True}
	for _, field := range []FormField{
		fv("max_history_length", "-1"), fv("max_history_length", "many"),
		fv("record_history", "yes"), fv("persistent", "maybe"),
	} {
		before := fv("record_history", "true")
		if field.Var == before.Var {
			before = fv("max_history_length", "7")
		}
		got, err := parseGlobalForm(submit(before, field), g, FormSettings{})
		var fe *FormError
		if !errors.As(err, &fe) || fe.Var != field.Var || !equalGlobal(got, g) {
			t.Errorf("global %s %q: %+v, %v", field.Var, field.Values, got, err)
		}
	}

	c := store.DefaultChannelOptions(formOwner, "irc.example.org", "#chan")
	for _, field := range []FormField{
		fv("record_history", "maybe"), fv("encoding_in", "klingon"), fv("encoding_out", "x-unknown"),
		fv("persistent", "2"),
	} {
		before := fv("persistent", "true")
		if field.Var == before.Var {
			before = fv("record_history", "true")
		}
		got, err := parseChannelForm(submit(before, field), c)
		var fe *FormError
		if !errors.As(err, &fe) || fe.Var != field.Var || !equalChannel(got, c) {
			t.Errorf("channel %s %q: %+v, %v", field.Var, field.Values, got, err)
		}
	}

	// Nothing to parse: not a FormError.
	for _, f := range []*Form{nil, {Type: "cancel"}} {
		_, err := parseChannelForm(f, c)
		var fe *FormError
		if err == nil || errors.As(err, &fe) {
			t.Errorf("parse of %+v: err = %v", f, err)
		}
	}
}

func TestFormFixedServer(t *testing.T) {
	fs := FormSettings{FixedServer: true, RealnameCustomization: true}
	cur := fullServer()
	if serverForm(cur, fs).Field("address") != nil {
		t.Error("fixed mode form has an address field")
	}
	got, err := parseServerForm(submit(fv("address", "evil.example.net"), fv("nick", "n2")), cur, fs)
	if err != nil || got.Address != cur.Address || got.Nick != "n2" {
		t.Errorf("fixed mode submission = %+v, %v", got, err)
	}
	// Even an invalid address is ignored.
	if _, err := parseServerForm(submit(fv("address", "a b/c")), cur, fs); err != nil {
		t.Errorf("fixed mode invalid address: %v", err)
	}
	got, err = parseServerForm(submit(fv("address", "other.example.net")), cur, FormSettings{})
	if err != nil || got.Address != "other.example.net" {
		t.Errorf("normal mode address = %+v, %v", got, err)
	}
}

func TestFormRealnameCustomization(t *testing.T) {
	cur := fullServer()
	f := serverForm(cur, FormSettings{})
	if f.Field("username") != nil || f.Field("realname") != nil {
		t.Error("username/realname shown without realname customization")
	}
	sub := submit(fv("username", "new user"), fv("realname", "New\r\nName"))
	got, err := parseServerForm(sub, cur, FormSettings{})
	if err != nil || got.Username != cur.Username || got.Realname != cur.Realname {
		t.Errorf("without customization = %+v, %v", got, err)
	}
	got, err = parseServerForm(submit(fv("username", "new user"), fv("realname", "New Name")), cur, FormSettings{RealnameCustomization: true})
	if err != nil || got.Username != "new_user" || got.Realname != "New Name" {
		t.Errorf("with customization = %+v, %v", got, err)
	}
}

func TestFormPasswords(t *testing.T) {
	fs := FormSettings{RealnameCustomization: true}
	cur := fullServer()
	f := serverForm(cur, fs)
	for _, v := range []string{"pass", "sasl_password"} {
		fld := f.Field(v)
		if fld == nil || fld.Type != "text-private" || len(fld.Values) != 0 {
			t.Errorf("%s = %+v, want an empty text-private field", v, fld)
		}
		if fld != nil && !strings.Contains(fld.Desc, "Leave empty to keep the current password; send a single space to clear it") {
			t.Errorf("%s desc = %q", v, fld.Desc)
		}
	}
	for _, tc := range []struct {
		name       string
		sub        *Form
		pass, sasl string
	}{
		{"empty keeps", submit(fv("pass", ""), fv("sasl_password", "")), cur.Pass, cur.SASLPassword},
		{"no value keeps", submit(fv("pass"), fv("sasl_password")), cur.Pass, cur.SASLPassword},
		{"missing keeps", submit(), cur.Pass, cur.SASLPassword},
		{"space clears", submit(fv("pass", " "), fv("sasl_password", " ")), "", ""},
		{"new values", submit(fv("pass", " new pass "), fv("sasl_password", "n3w")), " new pass ", "n3w"},
		{"one of each", submit(fv("pass", " "), fv("sasl_password", "other")), "", "other"},
	} {
		got, err := parseServerForm(tc.sub, cur, fs)
		if err != nil || got.Pass != tc.pass || got.SASLPassword != tc.sasl {
			t.Errorf("%s: pass %q sasl %q, %v; want %q %q", tc.name, got.Pass, got.SASLPassword, err, tc.pass, tc.sasl)
		}
	}
}

func TestFormFingerprint(t *testing.T) {
	const sha1 = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"
	const sha256 = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"
	for _, tc := range []struct{ in, want string }{
		{sha1, sha1},
		{strings.ToLower(sha1), sha1},
		{strings.ReplaceAll(sha1, ":", ""), sha1},
		{" " + strings.ToLower(strings.ReplaceAll(sha1, ":", "")) + " ", sha1},
		{sha256, sha256},
		{strings.ToLower(strings.ReplaceAll(sha256, ":", "")), sha256},
		{"", ""},
	} {
		got, err := normalizeFingerprint(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("normalizeFingerprint(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		o, err := parseServerForm(submit(fv("fingerprint", tc.in)), fullServer(), FormSettings{})
		if err != nil || o.Fingerprint != tc.want {
			t.Errorf("fingerprint %q stored %q, %v", tc.in, o.Fingerprint, err)
		}
	}
	for _, in := range []string{"AB", strings.Repeat("A", 39), strings.Repeat("A", 42), strings.Repeat("A", 128), "G" + strings.Repeat("A", 39), "AB CD"} {
		if got, err := normalizeFingerprint(in); err == nil {
			t.Errorf("normalizeFingerprint(%q) = %q, want an error", in, got)
		}
	}
}

const descMechanism = "PLAIN uses the SASL password; EXTERNAL presents a client certificate the gateway made for you (see get-irc-connection-info for its fingerprint, to register with the network's services)."

func TestFormSASLMechanism(t *testing.T) {
	cur := store.DefaultServerOptions(jid.MustParse("a@b"), "irc.example.org")
	for in, want := range map[string]string{"EXTERNAL": "EXTERNAL", "external": "EXTERNAL", "PLAIN": "", "": ""} {
		o, err := parseServerForm(&Form{Type: "submit", Fields: []FormField{{Var: "sasl_mechanism", Values: []string{in}}}}, cur, FormSettings{})
		if err != nil || o.SASLMechanism != want {
			t.Errorf("%q: %q, %v", in, o.SASLMechanism, err)
		}
	}
	if _, err := parseServerForm(&Form{Type: "submit", Fields: []FormField{{Var: "sasl_mechanism", Values: []string{"SCRAM"}}}}, cur, FormSettings{}); err == nil {
		t.Error("SCRAM accepted")
	}
}
