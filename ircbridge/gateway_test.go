package ircbridge

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"biboumi/ircbridge/fakeirc"
	"biboumi/store"
	"biboumi/store/sqlstore"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

type harness struct {
	t   *testing.T
	irc *fakeirc.Server
	rec *recorder
	st  store.Store // nil unless withStore
	g   *Gateway
}

// newHarness starts a gateway without a store; withStore gives it a SQLite
// database in a temp dir.
func newHarness(t *testing.T, withStore ...bool) *harness {
	t.Helper()
	h := &harness{t: t, irc: fakeirc.NewServer(t), rec: newRecorder()}
	if len(withStore) > 0 && withStore[0] {
		st, err := sqlstore.Open(t.Context(), store.DriverSQLite, filepath.Join(t.TempDir(), "db.sqlite"), sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		h.st = st
	}
	h.g = New(Config{
		Domain:   jid.MustParse("irc.localhost"),
		TLSPorts: []int{},
		Ports:    []int{h.irc.Port()},
		Version:  "test",
	}, h.rec, h.st)
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(300 * time.Millisecond)
		defer cancel()
		h.g.Shutdown(ctx)
	})
	return h
}

func (h *harness) room() string { return "#test%127.0.0.1@irc.localhost" }

func (h *harness) join(from, nick string) {
	h.g.HandlePresence(h.t.Context(), Presence{
		From: jid.MustParse(from), To: jid.MustParse(h.room() + "/" + nick), MUC: &MUCJoin{},
	})
}

// connect joins #test as Alice from alice@localhost/phone and plays the IRC
// server's part until the join is complete; Bob (an op) is in the channel.
func (h *harness) connect() *fakeirc.Client {
	t := h.t
	h.join("alice@localhost/phone", "Alice")
	c := h.irc.Accept(t)
	c.Register(t, "Alice")
	j := c.Expect(t, "JOIN")
	if j.Params[0] != "#test" {
		t.Fatalf("JOIN %v", j.Params)
	}
	c.Send(t, ":Alice!a@127.0.0.1 JOIN #test")
	c.Send(t, ":irc.test 353 Alice = #test :Alice @Bob")
	c.Send(t, ":irc.test 366 Alice #test :End of /NAMES list.")
	h.rec.expect(t, "presence", "from="+h.room()+"/Bob", "aff=admin role=moderator")
	h.rec.expect(t, "presence", "from="+h.room()+"/Alice", "codes=[110 210 100]", "jid=alice@localhost/phone")
	h.rec.expect(t, "message", `subject=""`)
	return c
}

func TestJoinAndTalk(t *testing.T) {
	h := newHarness(t)
	h.join("alice@localhost/phone", "Alice")
	h.rec.expect(t, "message", "from=127.0.0.1@irc.localhost", "Connecting to 127.0.0.1:"+strconv.Itoa(h.irc.Port())+" (not encrypted)")
	h.rec.expect(t, "message", "Connected to IRC server.")
	c := h.irc.Accept(t)
	c.Register(t, "Alice")
	h.rec.expect(t, "message", "body=\"fake.irc: MOTD File is missing: Unspecified error\"")
	c.Expect(t, "JOIN")
	c.Send(t, ":Alice!a@127.0.0.1 JOIN #test")
	c.Send(t, ":irc.test 332 Alice #test :the topic")
	c.Send(t, ":irc.test 353 Alice = #test :Alice @Bob +Carol")
	c.Send(t, ":irc.test 366 Alice #test :End of /NAMES list.")
	h.rec.expect(t, "presence", "/Bob", "aff=admin role=moderator")
	h.rec.expect(t, "presence", "/Carol", "aff=member role=participant")
	h.rec.expect(t, "presence", "/Alice", "codes=[110 210 100]")
	h.rec.expect(t, "message", `subject="the topic"`)

	// XMPP → IRC, reflected with the client's id.
	h.g.HandleMessage(t.Context(), Message{
		From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse(h.room()),
		ID: "m1", Type: stanza.GroupChatMessage, Body: "hello\n/me waves",
	})
	c.ExpectLine(t, "PRIVMSG #test hello")
	c.ExpectLine(t, "PRIVMSG #test :\x01ACTION waves\x01")
	h.rec.expect(t, "groupchat", "from="+h.room()+"/Alice", `id="m1"`, `body="hello"`)
	h.rec.expect(t, "groupchat", `body="/me waves"`)

	// IRC → XMPP, formatting stripped.
	c.Send(t, ":Bob!b@host PRIVMSG #test :\x02hi\x02 there")
	h.rec.expect(t, "groupchat", "from="+h.room()+"/Bob", `body="hi there"`, "to=alice@localhost/phone")

	// Private messages both ways.
	c.Send(t, ":Bob!b@host PRIVMSG Alice :psst")
	h.rec.expect(t, `type="chat"`, "from=bob%127.0.0.1@irc.localhost", `body="psst"`)
	h.g.HandleMessage(t.Context(), Message{
		From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse("bob%127.0.0.1@irc.localhost"),
		Type: stanza.ChatMessage, Body: "back",
	})
	c.ExpectLine(t, "PRIVMSG bob back")

	// Someone joins, changes nick, leaves.
	c.Send(t, ":Dave!d@host JOIN #test")
	h.rec.expect(t, "presence", `type=""`, "/Dave", "aff=none role=participant")
	c.Send(t, ":Dave!d@host NICK David")
	h.rec.expect(t, "presence", `type="unavailable"`, "/Dave", "codes=[303]", "nick=David")
	h.rec.expect(t, "presence", `type=""`, "/David")
	c.Send(t, ":David!d@host PART #test :bye")
	h.rec.expect(t, "presence", `type="unavailable"`, "/David", `status="bye"`)

	// Leaving parts, then quits the server when the echo arrives.
	h.g.HandlePresence(t.Context(), Presence{
		From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse(h.room() + "/Alice"),
		Type: stanza.UnavailablePresence, Status: "gone",
	})
	c.ExpectLine(t, "PART #test gone")
	c.Send(t, ":Alice!a@127.0.0.1 PART #test :gone")
	h.rec.expect(t, "presence", `type="unavailable"`, "/Alice", "codes=[110]")
	c.Expect(t, "QUIT")
}

func TestNotParticipant(t *testing.T) {
	h := newHarness(t)
	h.g.HandleMessage(t.Context(), Message{
		From: jid.MustParse("eve@localhost/x"), To: jid.MustParse(h.room()),
		ID: "g1", Type: stanza.GroupChatMessage, Body: "hi",
	})
	h.rec.expect(t, `type="error"`, `id="g1"`, "modify/not-acceptable", "You are not a participant in this room.")
	h.g.HandleMessage(t.Context(), Message{
		From: jid.MustParse("eve@localhost/x"), To: jid.MustParse("bob%127.0.0.1@irc.localhost"),
		ID: "p1", Type: stanza.ChatMessage, Body: "hi",
	})
	h.rec.expect(t, `type="error"`, `id="p1"`, "cancel/remote-server-not-found", "Not connected to IRC server 127.0.0.1")
	// Leaving a room never joined is ignored.
	h.g.HandlePresence(t.Context(), Presence{
		From: jid.MustParse("eve@localhost/x"), To: jid.MustParse(h.room() + "/Eve"), Type: stanza.UnavailablePresence,
	})
	h.rec.expectNone(t, 200*time.Millisecond, "eve")
}

func TestConnectionRefused(t *testing.T) {
	rec := newRecorder()
	port := fakeirc.ClosedPort(t)
	g := New(Config{Domain: jid.MustParse("irc.localhost"), TLSPorts: []int{}, Ports: []int{port}}, rec, nil)
	defer g.Shutdown(t.Context())
	g.HandlePresence(t.Context(), Presence{
		From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse("#test%127.0.0.1@irc.localhost/Alice"), MUC: &MUCJoin{},
	})
	rec.expect(t, "Connection failed: Connection refused")
	rec.expect(t, "presence", `type="error"`, "cancel/item-not-found", "Connection refused")
}

func TestNickInUse(t *testing.T) {
	h := newHarness(t)
	h.join("alice@localhost/phone", "Alice")
	c := h.irc.Accept(t)
	for {
		m := c.ReadMessage(t)
		if m.Command == "USER" {
			break
		}
		if m.Command == "CAP" {
			c.Send(t, ":fake.irc CAP * LS :")
		}
	}
	c.Send(t, ":fake.irc 433 * Alice :Nickname is already in use")
	h.rec.expect(t, "presence", `type="error"`, "/Alice", "cancel/conflict")
	for c.ReadMessage(t).Command != "QUIT" {
	}
}

func TestBadKey(t *testing.T) {
	h := newHarness(t)
	h.g.HandlePresence(t.Context(), Presence{
		From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse(h.room() + "/Alice"), MUC: &MUCJoin{Password: "wrong"},
	})
	c := h.irc.Accept(t)
	c.Register(t, "Alice")
	c.ExpectLine(t, "JOIN #test wrong")
	c.Send(t, ":irc.test 475 Alice #test :Cannot join channel (+k)")
	h.rec.expect(t, "presence", `type="error"`, "auth/not-authorized", "Cannot join channel (+k)")
}

func TestTwoResources(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	// A second resource gets the room replayed without IRC traffic.
	h.join("alice@localhost/laptop", "Whatever")
	h.rec.expect(t, "presence", "/Bob", "to=alice@localhost/laptop")
	h.rec.expect(t, "presence", "/Alice", "codes=[110 210 100]", "to=alice@localhost/laptop")
	h.rec.expect(t, "message", `subject=""`, "to=alice@localhost/laptop")
	c.ExpectSilence(t, 100*time.Millisecond)

	// Both get IRC messages.
	c.Send(t, ":Bob!b@host PRIVMSG #test :yo")
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		m := h.rec.expect(t, "groupchat", `body="yo"`).(Message)
		got[m.To.String()] = true
	}
	if !got["alice@localhost/phone"] || !got["alice@localhost/laptop"] {
		t.Fatalf("recipients %v", got)
	}

	// A presence update from one resource sends no NICK.
	h.g.HandlePresence(t.Context(), Presence{
		From: jid.MustParse("alice@localhost/laptop"), To: jid.MustParse(h.room() + "/Alice"), Show: "away",
	})
	// One resource leaves: only it gets its unavailable presence, no PART.
	h.g.HandlePresence(t.Context(), Presence{
		From: jid.MustParse("alice@localhost/laptop"), To: jid.MustParse(h.room() + "/Alice"), Type: stanza.UnavailablePresence,
	})
	h.rec.expect(t, "presence", `type="unavailable"`, "to=alice@localhost/laptop", "1 resource is still in this channel")
	c.ExpectSilence(t, 100*time.Millisecond)
}

func TestNickChangeFromXMPP(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	h.g.HandlePresence(t.Context(), Presence{
		From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse(h.room() + "/Alicia"),
	})
	c.ExpectLine(t, "NICK Alicia")
	c.Send(t, ":Alice!a@127.0.0.1 NICK Alicia")
	h.rec.expect(t, "presence", `type="unavailable"`, "/Alice", "codes=[303 110]", "nick=Alicia")
	h.rec.expect(t, "presence", `type=""`, "/Alicia", "codes=[110 210 100]")
	// Groupchat now comes from the new nick.
	h.g.HandleMessage(t.Context(), Message{
		From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse(h.room()), Type: stanza.GroupChatMessage, Body: "x",
	})
	h.rec.expect(t, "groupchat", "/Alicia", `body="x"`)
}

func TestLongMessageSplit(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	body := strings.Repeat("é", 1000) // 2,000 bytes
	h.g.HandleMessage(t.Context(), Message{
		From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse(h.room()), Type: stanza.GroupChatMessage, Body: body,
	})
	var got strings.Builder
	for got.Len() < len(body) {
		m := c.Expect(t, "PRIVMSG")
		line, _ := m.LineBytesStrict(false, 0)
		if n := len(":Alice!" + strings.Repeat("u", 10) + "@" + strings.Repeat("h", 63) + " "); len(line)+n > 512 {
			t.Fatalf("line of %d bytes would exceed 512 with our prefix", len(line))
		}
		got.WriteString(m.Params[1])
	}
	if got.String() != body {
		t.Fatalf("split lost or added characters")
	}
}

func TestGatewayDisco(t *testing.T) {
	h := newHarness(t)
	h.g.HandleIQ(t.Context(), IQ{
		From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse("irc.localhost"),
		ID: "d1", Type: stanza.GetIQ, Payload: &DiscoInfo{},
	})
	iq := h.rec.expect(t, "iq", `id="d1"`, `type="result"`).(IQ)
	info := iq.Payload.(*DiscoInfo)
	if info.Identities[0].Name != "Biboumi XMPP-IRC gateway" || info.Identities[0].Category != "conference" {
		t.Errorf("identity %+v", info.Identities)
	}
	if !contains(info.Features, NSMUC) {
		t.Errorf("features %v lack MUC", info.Features)
	}
	h.g.HandleIQ(t.Context(), IQ{
		From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse(h.room()),
		ID: "d2", Type: stanza.GetIQ, Payload: &DiscoInfo{},
	})
	iq = h.rec.expect(t, "iq", `id="d2"`, `type="result"`).(IQ)
	info = iq.Payload.(*DiscoInfo)
	if info.Identities[0].Name != "#test on 127.0.0.1" || !contains(info.Features, NSMUCSelfPing) {
		t.Errorf("channel disco %+v", info)
	}
	for i, p := range []Payload{&Ping{}, &Version{}} {
		h.g.HandleIQ(t.Context(), IQ{
			From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse("irc.localhost"),
			ID: "x" + strconv.Itoa(i), Type: stanza.GetIQ, Payload: p,
		})
		h.rec.expect(t, "iq", `id="x`+strconv.Itoa(i)+`"`, `type="result"`)
	}
	h.g.HandleIQ(t.Context(), IQ{
		From: jid.MustParse("alice@localhost/phone"), To: jid.MustParse("irc.localhost"),
		ID: "u1", Type: stanza.GetIQ, Payload: &UnknownPayload{},
	})
	h.rec.expect(t, "iq", `id="u1"`, `type="error"`, "cancel/feature-not-implemented")
}
