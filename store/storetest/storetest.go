// Package storetest is the conformance suite of store.Store: every
// implementation must pass Run.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openMyStore(t) })
//	}
package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"biboumi/store"
)

// Run runs the suite. open must return a new, empty store for t; Run closes
// it when t ends. Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s store.Store)
	}{
		{"GlobalOptions", testGlobalOptions},
		{"ServerOptions", testServerOptions},
		{"ChannelOptions", testChannelOptions},
		{"PersistentChannels", testPersistentChannels},
		{"KeptChannels", testKeptChannels},
		{"ClientCert", testClientCert},
		{"OptionsNeedOwner", testOptionsNeedOwner},
		{"Roster", testRoster},
		{"AppendLog", testAppendLog},
		{"AppendLogIdempotent", testAppendLogIdempotent},
		{"AppendLogs", testAppendLogs},
		{"AppendLogsAtomic", testAppendLogsAtomic},
		{"TimesRoundTrip", testTimesRoundTrip},
		{"ListLast", testListLast},
		{"ListForwardPaging", testListForwardPaging},
		{"ListBackwardPaging", testListBackwardPaging},
		{"ListTimeRange", testListTimeRange},
		{"ListIDs", testListIDs},
		{"ListEmpty", testListEmpty},
		{"ListUnknownID", testListUnknownID},
		{"ListLimit", testListLimit},
		{"ListIsolation", testListIsolation},
		{"PurgeLogs", testPurgeLogs},
		{"Concurrent", testConcurrent},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.f(t, s)
		})
	}
}

var (
	alice  = jid.MustParse("alice@example.org")
	bob    = jid.MustParse("bob@example.org")
	gw     = jid.MustParse("irc.example.org")
	server = jid.MustParse("irc.libera.chat@irc.example.org")
	// base is a time with sub-second digits, after 2038.
	base = time.Date(2041, 3, 4, 5, 6, 7, 123456000, time.UTC)
)

func testGlobalOptions(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.GlobalOptions(ctx, withResource(alice, "phone"))
	if err != nil {
		t.Fatal(err)
	}
	if want := store.DefaultGlobalOptions(alice); !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults: got %+v, want %+v", got, want)
	}
	if want := (store.GlobalOptions{Owner: alice, MaxHistoryLength: 20, RecordHistory: true}); !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults differ from Biboumi's: got %+v", got)
	}

	for _, o := range []store.GlobalOptions{
		{Owner: alice, MaxHistoryLength: 50, RecordHistory: false, Persistent: store.True},
		{Owner: alice, MaxHistoryLength: 0, RecordHistory: true, Persistent: store.False}, // overwrite
		{Owner: alice, MaxHistoryLength: -1, RecordHistory: false, Persistent: store.Unset},
	} {
		if err := s.StoreGlobalOptions(ctx, o); err != nil {
			t.Fatal(err)
		}
		got, err := s.GlobalOptions(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, o) {
			t.Fatalf("round trip: got %+v, want %+v", got, o)
		}
	}
	// Another owner still gets the defaults.
	got, err = s.GlobalOptions(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	if want := store.DefaultGlobalOptions(bob); !reflect.DeepEqual(got, want) {
		t.Fatalf("other owner: got %+v, want defaults", got)
	}
}

func testServerOptions(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ServerOptions(ctx, alice, "irc.libera.chat")
	if err != nil {
		t.Fatal(err)
	}
	want := store.ServerOptions{
		Owner: alice, Server: "irc.libera.chat",
		Ports: []int{6667}, TLSPorts: []int{6697, 6670}, VerifyCert: true,
		MaxHistoryLength: 20, ThrottleLimit: 10,
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(got, store.DefaultServerOptions(alice, "irc.libera.chat")) {
		t.Fatalf("defaults: got %+v, want %+v", got, want)
	}

	full := store.ServerOptions{
		Owner: alice, Server: "irc.libera.chat",
		Address: "irc.eu.libera.chat", Ports: []int{6667, 8000}, TLSPorts: []int{6697},
		VerifyCert: false, Fingerprint: "AA:BB:CC", Pass: "server pass", SASLPassword: "s3cret;'\"",
		Nick: "alice_", Username: "ali", Realname: "Alice Liddell", EncodingIn: "iso-8859-15", EncodingOut: "utf-8",
		MaxHistoryLength: 30, ThrottleLimit: 0,
		AfterConnectCommands: []string{"PRIVMSG NickServ :IDENTIFY x", "MODE alice_ +x", "JOIN #a,#b"},
	}
	for i, o := range []store.ServerOptions{
		full,
		// Overwrite with fewer commands, and no TLS ports (Biboumi's form
		// without tls_ports disables TLS).
		func() store.ServerOptions {
			o := full
			o.TLSPorts = nil
			o.AfterConnectCommands = []string{"MODE alice_ +i"}
			o.ThrottleLimit = 3
			return o
		}(),
		// Clear every command.
		func() store.ServerOptions { o := full; o.AfterConnectCommands = nil; return o }(),
	} {
		if err := s.StoreServerOptions(ctx, o); err != nil {
			t.Fatal(err)
		}
		got, err := s.ServerOptions(ctx, alice, "irc.libera.chat")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Stored {
			t.Errorf("round trip %d: Stored is false for a saved row", i)
		}
		got.Stored = o.Stored
		if !serverOptionsEqual(got, o) {
			t.Fatalf("round trip %d: got %+v, want %+v", i, got, o)
		}
	}
	// Per owner and per server.
	for _, k := range []struct {
		owner  jid.JID
		server string
	}{{bob, "irc.libera.chat"}, {alice, "irc.oftc.net"}} {
		got, err := s.ServerOptions(ctx, k.owner, k.server)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, store.DefaultServerOptions(k.owner, k.server)) {
			t.Fatalf("%s %s: got %+v, want defaults", k.owner, k.server, got)
		}
	}
}

// serverOptionsEqual compares like reflect.DeepEqual, except that a nil and
// an empty list are equal.
func serverOptionsEqual(a, b store.ServerOptions) bool {
	if !slices.Equal(a.Ports, b.Ports) || !slices.Equal(a.TLSPorts, b.TLSPorts) ||
		!slices.Equal(a.AfterConnectCommands, b.AfterConnectCommands) {
		return false
	}
	a.Ports, a.TLSPorts, a.AfterConnectCommands = nil, nil, nil
	b.Ports, b.TLSPorts, b.AfterConnectCommands = nil, nil, nil
	return reflect.DeepEqual(a, b)
}

func testChannelOptions(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ChannelOptions(ctx, alice, "irc.libera.chat", "#go-nuts")
	if err != nil {
		t.Fatal(err)
	}
	want := store.ChannelOptions{Owner: alice, Server: "irc.libera.chat", Channel: "#go-nuts", MaxHistoryLength: 20}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(got, store.DefaultChannelOptions(alice, "irc.libera.chat", "#go-nuts")) {
		t.Fatalf("defaults: got %+v, want %+v", got, want)
	}
	for _, rh := range []store.Tristate{store.True, store.False, store.Unset} {
		o := store.ChannelOptions{Owner: alice, Server: "irc.libera.chat", Channel: "#go-nuts",
			EncodingIn: "latin1", EncodingOut: "", MaxHistoryLength: 5, Persistent: rh == store.True, RecordHistory: rh}
		if err := s.StoreChannelOptions(ctx, o); err != nil {
			t.Fatal(err)
		}
		got, err := s.ChannelOptions(ctx, alice, "irc.libera.chat", "#go-nuts")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, o) {
			t.Fatalf("round trip: got %+v, want %+v", got, o)
		}
	}
	got, err = s.ChannelOptions(ctx, alice, "irc.libera.chat", "#other")
	if err != nil {
		t.Fatal(err)
	}
	if got.RecordHistory != store.Unset || got.Persistent {
		t.Fatalf("other channel: got %+v, want defaults", got)
	}
}

func testOptionsNeedOwner(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GlobalOptions(ctx, jid.JID{}); err == nil {
		t.Error("GlobalOptions accepted an empty owner")
	}
	if err := s.StoreServerOptions(ctx, store.ServerOptions{Server: "x"}); err == nil {
		t.Error("StoreServerOptions accepted an empty owner")
	}
	if err := s.AppendLog(ctx, &store.LogLine{Server: "x", Channel: "#x", Body: "b"}); err == nil {
		t.Error("AppendLog accepted an empty owner")
	}
	if _, err := s.ListLogs(ctx, store.LogQuery{Server: "x", Channel: "#x"}); err == nil {
		t.Error("ListLogs accepted an empty owner")
	}
	if err := s.AddRosterItem(ctx, gw, jid.JID{}); err == nil {
		t.Error("AddRosterItem accepted an empty remote")
	}
}

func testRoster(t *testing.T, s store.Store) {
	ctx := t.Context()
	list := func(q store.RosterQuery) []string {
		t.Helper()
		items, err := s.Roster(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range items {
			out = append(out, it.Local.String()+" "+it.Remote.String())
		}
		return out
	}
	if got := list(store.RosterQuery{}); len(got) != 0 {
		t.Fatalf("empty roster lists %v", got)
	}
	for _, it := range [][2]jid.JID{
		{gw, withResource(alice, "phone")}, // stored bare
		{gw, bob},
		{server, alice},
		{gw, alice}, // duplicate: no error
	} {
		if err := s.AddRosterItem(ctx, it[0], it[1]); err != nil {
			t.Fatal(err)
		}
	}
	all := []string{
		"irc.example.org alice@example.org",
		"irc.example.org bob@example.org",
		"irc.libera.chat@irc.example.org alice@example.org",
	}
	if got := list(store.RosterQuery{}); !slices.Equal(got, all) {
		t.Fatalf("all: got %q, want %q", got, all)
	}
	if got := list(store.RosterQuery{Local: gw}); !slices.Equal(got, all[:2]) {
		t.Fatalf("by local: got %q", got)
	}
	if got := list(store.RosterQuery{Remote: alice}); !slices.Equal(got, []string{all[0], all[2]}) {
		t.Fatalf("by remote: got %q", got)
	}
	if got := list(store.RosterQuery{Local: server, Remote: alice}); !slices.Equal(got, all[2:]) {
		t.Fatalf("by pair: got %q", got)
	}
	items, err := s.Roster(ctx, store.RosterQuery{Local: server})
	if err != nil || len(items) != 1 || !items[0].Local.Equal(server) || !items[0].Remote.Equal(alice) {
		t.Fatalf("typed items: %v, %v", items, err)
	}

	// Delete really deletes (Biboumi 9 left the row), and deleting again is
	// not an error.
	for range 2 {
		if err := s.DeleteRosterItem(ctx, gw, alice); err != nil {
			t.Fatal(err)
		}
	}
	if got := list(store.RosterQuery{}); !slices.Equal(got, all[1:]) {
		t.Fatalf("after delete: got %q", got)
	}
}

// withResource returns the full JID j/res.
func withResource(j jid.JID, res string) jid.JID {
	f, err := j.WithResource(res)
	if err != nil {
		panic(err)
	}
	return f
}

func testPersistentChannels(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.PersistentChannels(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	bob := jid.MustParse("bob@example.org")
	for _, o := range []store.ChannelOptions{
		{Owner: alice, Server: "irc.b", Channel: "#two", Persistent: true, RecordHistory: store.False},
		{Owner: alice, Server: "irc.a", Channel: "#one", Persistent: true},
		{Owner: alice, Server: "irc.a", Channel: "#not", Persistent: false},
		{Owner: bob, Server: "irc.a", Channel: "#one", Persistent: true},
	} {
		if err := s.StoreChannelOptions(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	got, err = s.PersistentChannels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range got {
		keys = append(keys, o.Owner.String()+" "+o.Server+" "+o.Channel+" "+o.RecordHistory.String())
	}
	want := []string{"alice@example.org irc.a #one unset", "alice@example.org irc.b #two false", "bob@example.org irc.a #one unset"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("PersistentChannels = %q, want %q", keys, want)
	}
}

func testKeptChannels(t *testing.T, s store.Store) {
	ctx := t.Context()
	list := func() []string {
		t.Helper()
		got, err := s.KeptChannels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, c := range got {
			keys = append(keys, c.Owner.String()+" "+c.Server+" "+c.Channel)
		}
		return keys
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("empty store: %q", got)
	}
	bob := jid.MustParse("bob@example.org")
	for _, c := range []store.KeptChannel{
		{Owner: alice, Server: "irc.b", Channel: "#two"},
		{Owner: withResource(alice, "phone"), Server: "irc.a", Channel: "#one"}, // stored under the bare JID
		{Owner: bob, Server: "irc.a", Channel: "#one"},
		{Owner: alice, Server: "irc.a", Channel: "#one"}, // again: not an error
	} {
		if err := s.KeepChannel(ctx, c); err != nil {
			t.Fatalf("KeepChannel(%v): %v", c, err)
		}
	}
	want := []string{"alice@example.org irc.a #one", "alice@example.org irc.b #two", "bob@example.org irc.a #one"}
	if got := list(); !reflect.DeepEqual(got, want) {
		t.Errorf("KeptChannels = %q, want %q", got, want)
	}
	for _, c := range []store.KeptChannel{
		{Owner: alice, Server: "irc.a", Channel: "#one"},
		{Owner: alice, Server: "irc.a", Channel: "#one"},   // again: not an error
		{Owner: alice, Server: "irc.c", Channel: "#never"}, // never kept: not an error
	} {
		if err := s.ForgetChannel(ctx, c); err != nil {
			t.Fatalf("ForgetChannel(%v): %v", c, err)
		}
	}
	want = []string{"alice@example.org irc.b #two", "bob@example.org irc.a #one"}
	if got := list(); !reflect.DeepEqual(got, want) {
		t.Errorf("after ForgetChannel: KeptChannels = %q, want %q", got, want)
	}
	for _, c := range []store.KeptChannel{{Server: "irc.a", Channel: "#x"}, {Owner: alice, Channel: "#x"}, {Owner: alice, Server: "irc.a"}} {
		if err := s.KeepChannel(ctx, c); err == nil {
			t.Errorf("KeepChannel(%+v) accepted an empty key", c)
		}
	}
}

func testClientCert(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, _, err := s.ClientCert(ctx, alice); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no cert yet: %v", err)
	}
	if err := s.StoreClientCert(ctx, alice, []byte("CERT"), []byte("KEY")); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreClientCert(ctx, alice, []byte("OTHER"), []byte("OTHER")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second cert: %v, want ErrConflict", err)
	}
	c, k, err := s.ClientCert(ctx, alice)
	if err != nil || string(c) != "CERT" || string(k) != "KEY" {
		t.Errorf("ClientCert = %q, %q, %v", c, k, err)
	}
}
