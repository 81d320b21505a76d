package ircbridge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"biboumi/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

func (h *harness) command(from jid.JID, to, id string, c *Command) IQ {
	h.t.Helper()
	h.g.HandleIQ(h.t.Context(), IQ{From: from, To: jid.MustParse(to), ID: id, Type: stanza.SetIQ, Payload: c})
	return h.rec.expect(h.t, "iq", `id="`+id+`"`).(IQ)
}

func TestCommandList(t *testing.T) {
	h := newHarness(t)
	h.g.SetConfig(Config{Domain: jid.MustParse("irc.localhost"), Admins: []jid.JID{jid.MustParse("admin@localhost")}, TLSPorts: []int{}, Ports: []int{h.irc.Port()}})
	list := func(from, to string) []string {
		h.g.HandleIQ(t.Context(), IQ{From: jid.MustParse(from), To: jid.MustParse(to), ID: "l", Type: stanza.GetIQ, Payload: &DiscoItems{Node: NSCommands}})
		iq := h.rec.expect(t, "iq", `id="l"`, `type="result"`).(IQ)
		var nodes []string
		for _, it := range iq.Payload.(*DiscoItems).Items {
			nodes = append(nodes, it.Node)
		}
		return nodes
	}
	for _, tc := range []struct{ from, to, want string }{
		{"alice@localhost/a", "irc.localhost", "configure disconnect-from-irc-server hello ping"},
		{"admin@localhost/a", "irc.localhost", "configure disconnect-from-irc-server disconnect-user hello ping purge-archive reload"},
		{"alice@localhost/a", "127.0.0.1@irc.localhost", "configure get-irc-connection-info"},
		{"alice@localhost/a", h.room(), "configure"},
	} {
		if got := strings.Join(list(tc.from, tc.to), " "); got != tc.want {
			t.Errorf("%s on %s: %q, want %q", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestCommandsPingHello(t *testing.T) {
	h := newHarness(t)
	iq := h.command(alicePhone, "irc.localhost", "c1", &Command{Node: "ping"})
	c := iq.Payload.(*Command)
	if c.Status != statusCompleted || len(c.Notes) != 1 || c.Notes[0].Text != "Pong" {
		t.Errorf("ping: %+v", c)
	}
	iq = h.command(alicePhone, "irc.localhost", "c2", &Command{Node: "hello"})
	c = iq.Payload.(*Command)
	if c.Status != statusExecuting || c.Form == nil || c.Form.Field("name") == nil || c.SessionID == "" {
		t.Fatalf("hello step 1: %+v", c)
	}
	// Another resource cannot continue this session.
	iq = h.command(jid.MustParse("alice@localhost/other"), "irc.localhost", "c3", &Command{Node: "hello", SessionID: c.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "name", Values: []string{"Mallory"}}}}})
	if iq.Type != stanza.ErrorIQ {
		t.Errorf("session used by another resource: %s", describe(iq))
	}
	iq = h.command(alicePhone, "irc.localhost", "c4", &Command{Node: "hello", SessionID: c.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "name", Values: []string{"Alice"}}}}})
	if c := iq.Payload.(*Command); c.Status != statusCompleted || c.Notes[0].Text != "Hello Alice!" {
		t.Errorf("hello step 2: %+v", c)
	}
	// The session is gone once completed.
	iq = h.command(alicePhone, "irc.localhost", "c5", &Command{Node: "hello", SessionID: c.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "name", Values: []string{"Alice"}}}}})
	if iq.Type != stanza.ErrorIQ || iq.Error.Condition != stanza.BadRequest {
		t.Errorf("finished session reused: %s", describe(iq))
	}
	iq = h.command(alicePhone, "irc.localhost", "c6", &Command{Node: "nope"})
	if iq.Type != stanza.ErrorIQ || iq.Error.Condition != stanza.ItemNotFound {
		t.Errorf("unknown node: %s", describe(iq))
	}
	iq = h.command(alicePhone, "irc.localhost", "c7", &Command{Node: "reload"})
	if iq.Type != stanza.ErrorIQ || iq.Error.Condition != stanza.Forbidden {
		t.Errorf("reload by a non-admin: %s", describe(iq))
	}
	// Cancel.
	iq = h.command(alicePhone, "irc.localhost", "c8", &Command{Node: "hello"})
	iq = h.command(alicePhone, "irc.localhost", "c9", &Command{Node: "hello", SessionID: iq.Payload.(*Command).SessionID, Action: actionCancel})
	if c := iq.Payload.(*Command); c.Status != statusCanceled {
		t.Errorf("cancel: %+v", c)
	}
}

func TestAdminDisconnectUser(t *testing.T) {
	h := newHarness(t)
	h.g.SetConfig(Config{Domain: jid.MustParse("irc.localhost"), Admins: []jid.JID{jid.MustParse("admin@localhost")}, TLSPorts: []int{}, Ports: []int{h.irc.Port()}})
	c := h.connect()
	admin := jid.MustParse("admin@localhost/desk")
	iq := h.command(admin, "irc.localhost", "d1", &Command{Node: "disconnect-user"})
	cmd := iq.Payload.(*Command)
	f := cmd.Form.Field("jids")
	if f == nil || len(f.Options) != 2 || f.Options[1].Value != "alice@localhost" {
		t.Fatalf("jids field %+v", f)
	}
	iq = h.command(admin, "irc.localhost", "d2", &Command{Node: "disconnect-user", SessionID: cmd.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "jids", Values: []string{"alice@localhost"}}, {Var: "quit-message", Values: []string{"bye now"}}}}})
	if c := iq.Payload.(*Command); c.Notes[0].Text != "1 user has been disconnected." {
		t.Errorf("note %+v", c.Notes)
	}
	c.ExpectLine(t, "QUIT :bye now")

	// A non-admin cannot run it, even knowing the node.
	iq = h.command(alicePhone, "irc.localhost", "d3", &Command{Node: "disconnect-user"})
	if iq.Type != stanza.ErrorIQ || iq.Error.Condition != stanza.Forbidden {
		t.Errorf("non-admin: %s", describe(iq))
	}
}

func TestDisconnectFromServerSelf(t *testing.T) {
	h := newHarness(t)
	h.connect()
	iq := h.command(alicePhone, "irc.localhost", "s1", &Command{Node: "disconnect-from-irc-server"})
	cmd := iq.Payload.(*Command)
	if f := cmd.Form.Field("irc-servers"); f == nil || len(f.Options) != 1 || f.Options[0].Value != "127.0.0.1" {
		t.Fatalf("servers field %+v", cmd.Form)
	}
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: jid.MustParse("irc.localhost"), ID: "s2", Type: stanza.SetIQ, Payload: &Command{
		Node: "disconnect-from-irc-server", SessionID: cmd.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "irc-servers", Values: []string{"127.0.0.1"}}}}}})
	h.rec.expect(t, "presence", `type="unavailable"`, "/Alice", "codes=[110 332]", "Killed by admin")
	iq = h.rec.expect(t, "iq", `id="s2"`).(IQ)
	if c := iq.Payload.(*Command); !strings.Contains(c.Notes[0].Text, "was disconnected from 1 IRC server.") {
		t.Errorf("note %+v", c.Notes)
	}
}

func TestConnectionInfo(t *testing.T) {
	h := newHarness(t)
	iq := h.command(alicePhone, "127.0.0.1@irc.localhost", "i1", &Command{Node: "get-irc-connection-info"})
	if c := iq.Payload.(*Command); c.Notes[0].Text != "You are not connected to the IRC server 127.0.0.1" {
		t.Errorf("note %q", c.Notes[0].Text)
	}
	h.connect()
	iq = h.command(alicePhone, "127.0.0.1@irc.localhost", "i2", &Command{Node: "get-irc-connection-info"})
	text := iq.Payload.(*Command).Notes[0].Text
	want := fmt.Sprintf("Connected to IRC server 127.0.0.1 on port %d since ", h.irc.Port())
	if !strings.HasPrefix(text, want) || !strings.Contains(text, "\n#test from 1 resource: phone") {
		t.Errorf("info %q", text)
	}
}

func TestPersistentChannel(t *testing.T) {
	h := newHarness(t, true)
	opts := store.DefaultChannelOptions(jid.MustParse("alice@localhost"), "127.0.0.1", "#test")
	opts.Persistent = true
	if err := h.st.StoreChannelOptions(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	c := h.connect()
	h.g.HandlePresence(t.Context(), Presence{From: alicePhone, To: jid.MustParse(h.room() + "/Alice"), Type: stanza.UnavailablePresence})
	h.rec.expect(t, "presence", `type="unavailable"`, "/Alice", "codes=[110]")
	c.ExpectSilence(t, 100e6) // no PART, no QUIT
	// Still archiving.
	c.Send(t, ":Bob!b@h PRIVMSG #test :while away")
	waitArchived(t, h.st, 1)
	// Coming back is answered from state, with the history.
	h.join("alice@localhost/phone", "Alice")
	h.rec.expect(t, "presence", "/Alice", "codes=[110 210 100]")
	h.rec.expect(t, "groupchat", `body="while away"`)
	c.ExpectSilence(t, 100e6)
}

func TestRejoinPersistent(t *testing.T) {
	h := newHarness(t, true)
	opts := store.DefaultChannelOptions(jid.MustParse("alice@localhost"), "127.0.0.1", "#kept")
	opts.Persistent = true
	if err := h.st.StoreChannelOptions(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	if n, err := h.g.RejoinPersistent(t.Context()); n != 1 || err != nil {
		t.Fatalf("RejoinPersistent = %d, %v", n, err)
	}
	c := h.irc.Accept(t)
	c.Register(t, "alice")
	c.ExpectLine(t, "JOIN #kept")
}

func TestChannelList(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	server := jid.MustParse("127.0.0.1@irc.localhost")
	get := func(id string, rsm *RSM) {
		h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: server, ID: id, Type: stanza.GetIQ, Payload: &DiscoItems{RSM: rsm}})
	}
	get("l1", nil)
	c.ExpectLine(t, "LIST")
	for i := 0; i < 250; i++ {
		c.Send(t, fmt.Sprintf(":irc.test 322 Alice #c%03d 3 :topic", i))
	}
	// The first page is answered before the list ends, without a count.
	iq := h.rec.expect(t, "iq", `id="l1"`).(IQ)
	items := iq.Payload.(*DiscoItems)
	if len(items.Items) != 100 || items.RSM.Count != -1 || items.RSM.First != "#c000%127.0.0.1@irc.localhost" || items.RSM.FirstIndex != 0 {
		t.Fatalf("page 1: %d items, rsm %+v", len(items.Items), items.RSM)
	}
	c.Send(t, ":irc.test 323 Alice :End of /LIST")
	c.Send(t, ":Bob!b@h PRIVMSG #test :sync") // IRC lines are handled in order
	h.rec.expect(t, "groupchat", `body="sync"`)
	rsm := NewRSM()
	rsm.After = items.RSM.Last
	get("l2", rsm)
	iq = h.rec.expect(t, "iq", `id="l2"`).(IQ)
	items = iq.Payload.(*DiscoItems)
	if len(items.Items) != 100 || items.RSM.FirstIndex != 100 || items.RSM.Count != 250 {
		t.Fatalf("page 2: %d items, rsm %+v", len(items.Items), items.RSM)
	}
	rsm = NewRSM()
	empty := ""
	rsm.Before, rsm.Max = &empty, 10
	get("l3", rsm)
	iq = h.rec.expect(t, "iq", `id="l3"`).(IQ)
	items = iq.Payload.(*DiscoItems)
	if len(items.Items) != 10 || items.RSM.Last != "#c249%127.0.0.1@irc.localhost" {
		t.Fatalf("last page: %d items, rsm %+v", len(items.Items), items.RSM)
	}
	// Not connected to another server.
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: jid.MustParse("other@irc.localhost"), ID: "l4", Type: stanza.GetIQ, Payload: &DiscoItems{}})
	h.rec.expect(t, "iq", `id="l4"`, "cancel/remote-server-not-found")
}

func TestRoster(t *testing.T) {
	h := newHarness(t, true)
	gw := jid.MustParse("irc.localhost")
	pres := func(typ stanza.PresenceType, to jid.JID) {
		h.g.HandlePresence(t.Context(), Presence{From: jid.MustParse("alice@localhost"), To: to, ID: "p", Type: typ})
	}
	pres(stanza.SubscribePresence, gw)
	h.rec.expect(t, "presence", `type="subscribed"`, "from=irc.localhost")
	h.rec.expect(t, "presence", `type=""`, "from=irc.localhost")
	h.rec.expect(t, "presence", `type="subscribe"`, "from=irc.localhost")
	items, err := h.st.Roster(t.Context(), store.RosterQuery{Remote: jid.MustParse("alice@localhost")})
	if err != nil || len(items) != 1 {
		t.Fatalf("roster %v %v", items, err)
	}
	pres(stanza.ProbePresence, gw)
	h.rec.expect(t, "presence", `type=""`, "from=irc.localhost")
	items, err = h.g.RosterSnapshot(t.Context())
	if err != nil || len(items) != 1 {
		t.Fatalf("RosterSnapshot = %v, %v", items, err)
	}
	if n := h.g.ProbeRoster(t.Context(), items); n != 1 {
		t.Errorf("ProbeRoster = %d", n)
	}
	h.rec.expect(t, "presence", `type="probe"`, "from=irc.localhost", "to=alice@localhost")
	pres(stanza.UnsubscribePresence, gw)
	h.rec.expect(t, "presence", `type="unsubscribed"`)
	items, _ = h.st.Roster(t.Context(), store.RosterQuery{Remote: jid.MustParse("alice@localhost")})
	if len(items) != 0 {
		t.Errorf("unsubscribe kept %v", items)
	}
	pres(stanza.ProbePresence, gw)
	h.rec.expect(t, "presence", `type="unsubscribed"`)

	// A server JID is available while connected.
	server := jid.MustParse("127.0.0.1@irc.localhost")
	pres(stanza.SubscribePresence, server)
	h.rec.expect(t, "presence", `type="unavailable"`, "from=127.0.0.1@irc.localhost")
	h.connect()
	h.rec.expectNone(t, 0) // drain
	c := h.irc             // connection already accepted by connect
	_ = c
}

func TestServerConfigureTakesEffect(t *testing.T) {
	h := newHarness(t, true)
	server := "127.0.0.1@irc.localhost"
	iq := h.command(alicePhone, server, "f1", &Command{Node: "configure"})
	cmd := iq.Payload.(*Command)
	if cmd.Form == nil || cmd.Form.Field("nick") == nil || cmd.Form.Field("throttle_limit") == nil {
		t.Fatalf("server form %+v", cmd.Form)
	}
	if f := cmd.Form.Field("ports"); f == nil || len(f.Values) != 1 || f.Values[0] != fmt.Sprint(h.irc.Port()) {
		t.Errorf("ports shown %+v, want the gateway's default", f)
	}
	// A bad value names the field and saves nothing.
	iq = h.command(alicePhone, server, "f2", &Command{Node: "configure", SessionID: cmd.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "nick", Values: []string{"Zed"}}, {Var: "throttle_limit", Values: []string{"many"}}}}})
	if iq.Type != stanza.ErrorIQ || !strings.Contains(ErrorText(*iq.Error), "throttle_limit") {
		t.Fatalf("bad throttle: %s", describe(iq))
	}
	o, _ := h.st.ServerOptions(t.Context(), jid.MustParse("alice@localhost"), "127.0.0.1")
	if o.Stored {
		t.Fatalf("a refused form was saved: %+v", o)
	}
	iq = h.command(alicePhone, server, "f3", &Command{Node: "configure"})
	cmd = iq.Payload.(*Command)
	iq = h.command(alicePhone, server, "f4", &Command{Node: "configure", SessionID: cmd.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{
			{Var: "nick", Values: []string{"Zed"}},
			{Var: "after_connect_commands", Values: []string{"MODE Zed +i", "PRIVMSG NickServ :IDENTIFY x"}},
			{Var: "ports", Values: []string{fmt.Sprint(h.irc.Port())}},
			{Var: "tls_ports"},
		}}})
	if iq.Type != stanza.ResultIQ {
		t.Fatalf("configure: %s", describe(iq))
	}
	o, _ = h.st.ServerOptions(t.Context(), jid.MustParse("alice@localhost"), "127.0.0.1")
	if o.Nick != "Zed" || o.ThrottleLimit != 10 {
		t.Errorf("stored %+v", o)
	}
	// The next connection uses them: nick Zed whatever the join says, and
	// the after-connect commands before the JOIN.
	h.join("alice@localhost/phone", "Alice")
	c := h.irc.Accept(t)
	c.Register(t, "Zed")
	c.ExpectLine(t, "MODE Zed +i")
	c.ExpectLine(t, "PRIVMSG NickServ :IDENTIFY x")
	c.ExpectLine(t, "JOIN #test")
}

func TestGlobalAndChannelConfigure(t *testing.T) {
	h := newHarness(t, true)
	iq := h.command(alicePhone, "irc.localhost", "g1", &Command{Node: "configure"})
	cmd := iq.Payload.(*Command)
	iq = h.command(alicePhone, "irc.localhost", "g2", &Command{Node: "configure", SessionID: cmd.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "record_history", Values: []string{"false"}}, {Var: "max_history_length", Values: []string{"5"}}}}})
	if iq.Type != stanza.ResultIQ {
		t.Fatalf("global: %s", describe(iq))
	}
	g, _ := h.st.GlobalOptions(t.Context(), jid.MustParse("alice@localhost"))
	if g.RecordHistory || g.MaxHistoryLength != 5 {
		t.Errorf("global stored %+v", g)
	}
	// muc#owner serves the channel form.
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: jid.MustParse(h.room()), ID: "o1", Type: stanza.GetIQ, Payload: &MUCQuery{}})
	iq = h.rec.expect(t, "iq", `id="o1"`).(IQ)
	if q, ok := iq.Payload.(*MUCQuery); !ok || q.Form.Field("record_history") == nil {
		t.Fatalf("muc#owner get: %s", describe(iq))
	}
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: jid.MustParse(h.room()), ID: "o2", Type: stanza.SetIQ, Payload: &MUCQuery{
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "record_history", Values: []string{"true"}}, {Var: "persistent", Values: []string{"true"}}}}}})
	h.rec.expect(t, "iq", `id="o2"`, `type="result"`)
	co, _ := h.st.ChannelOptions(t.Context(), jid.MustParse("alice@localhost"), "127.0.0.1", "#test")
	if co.RecordHistory != store.True || !co.Persistent {
		t.Errorf("channel stored %+v", co)
	}
	// The channel's record_history=true wins over the global false.
	c := h.connect()
	c.Send(t, ":Bob!b@h PRIVMSG #test :kept")
	m := h.rec.expect(t, "groupchat", `body="kept"`).(Message)
	if m.StanzaID == nil {
		t.Errorf("not archived despite the channel setting")
	}
}

func TestReconnectAndRejoin(t *testing.T) {
	h := newHarness(t)
	h.g.SetConfig(Config{Domain: jid.MustParse("irc.localhost"), TLSPorts: []int{}, Ports: []int{h.irc.Port()},
		ReconnectMin: 20 * time.Millisecond, ReconnectSpread: -1})
	c := h.connect()
	c.Close() // the server goes away
	h.rec.expect(t, "presence", `type="unavailable"`, "/Bob")
	h.rec.expect(t, "groupchat", "from="+h.room(), "Connection to the IRC server lost")
	// The user stays in the room, and what they send waits.
	h.g.HandleMessage(t.Context(), Message{From: alicePhone, To: jid.MustParse(h.room()), ID: "w1", Type: stanza.GroupChatMessage, Body: "sent while down"})
	c = h.irc.Accept(t)
	c.Register(t, "Alice")
	c.ExpectLine(t, "JOIN #test")
	c.Send(t, ":Alice!a@h JOIN #test")
	c.Send(t, ":irc.test 353 Alice = #test :Alice @Bob")
	c.Send(t, ":irc.test 366 Alice #test :End")
	h.rec.expect(t, "presence", "/Bob", "aff=admin")
	h.rec.expect(t, "presence", "/Alice", "codes=[110 210 100]")
	h.rec.expect(t, "groupchat", "Reconnected to the IRC server.")
	c.ExpectLine(t, "PRIVMSG #test :sent while down")
	h.rec.expect(t, "groupchat", `id="w1"`, `body="sent while down"`)
	h.rec.expectNone(t, 100*time.Millisecond, `body="sent while down"`) // reflected once
	// A ban is not retried.
	c.Send(t, "ERROR :Closing link: (You are K-Lined)")
	c.Close()
	h.rec.expect(t, "presence", `type="unavailable"`, "/Alice", "codes=[110 332]")
}
