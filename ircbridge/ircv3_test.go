package ircbridge

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"biboumi/ircbridge/fakeirc"
	"biboumi/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// registerV3 plays a registration offering IRCv3 capabilities.
func registerV3(t *testing.T, c *fakeirc.Client, nick, caps string) {
	t.Helper()
	var gotNick, gotUser, capEnd bool
	for !gotNick || !gotUser || !capEnd {
		m := c.ReadMessage(t)
		switch m.Command {
		case "NICK":
			gotNick = true
		case "USER":
			gotUser = true
		case "CAP":
			switch strings.ToUpper(m.Params[0]) {
			case "LS":
				c.Send(t, ":irc.test CAP * LS :"+caps)
			case "REQ":
				c.Send(t, ":irc.test CAP * ACK :"+m.Params[1])
			case "END":
				capEnd = true
			}
		}
	}
	for _, l := range fakeirc.WelcomeBurst(nick) {
		c.Send(t, l)
	}
}

func TestEchoMessageAndTags(t *testing.T) {
	h := newHarness(t, true)
	h.join("alice@localhost/phone", "Alice")
	c := h.irc.Accept(t)
	registerV3(t, c, "Alice", "multi-prefix echo-message labeled-response server-time message-tags batch away-notify")
	c.Expect(t, "JOIN")
	c.Send(t, ":Alice!a@h JOIN #test")
	c.Send(t, ":irc.test 353 Alice = #test :Alice Bob")
	c.Send(t, ":irc.test 366 Alice #test :End")
	h.rec.expect(t, "presence", "/Alice", "codes=[110 210 100]")

	// Our line is reflected only when the server echoes it, with the
	// client's id, matched by label.
	h.g.HandleMessage(t.Context(), Message{From: alicePhone, To: jid.MustParse(h.room()), ID: "e1", Type: stanza.GroupChatMessage, Body: "echo me"})
	sent := c.Expect(t, "PRIVMSG")
	ok, label := sent.GetTag("label")
	if !ok || label == "" {
		t.Fatalf("no label on %v", sent)
	}
	h.rec.expectNone(t, 100*time.Millisecond, `id="e1"`)
	c.Send(t, "@label="+label+";msgid=abc;time=2026-01-01T00:00:00.000Z :Alice!a@h PRIVMSG #test :echo me")
	m := h.rec.expect(t, "groupchat", `id="e1"`, `body="echo me"`).(Message)
	if m.StanzaID == nil {
		t.Fatalf("reflection without stanza-id")
	}

	// msgid gives a stable archive id; an old server-time gives a delay.
	c.Send(t, "@msgid=xyz;time=2020-01-01T00:00:00.000Z :Bob!b@h PRIVMSG #test :old line")
	m1 := h.rec.expect(t, "groupchat", `body="old line"`).(Message)
	if m1.Delay == nil || m1.Delay.Stamp.Year() != 2020 {
		t.Errorf("no delay from server-time: %+v", m1.Delay)
	}
	c.Send(t, "@msgid=xyz;time=2020-01-01T00:00:00.000Z :Bob!b@h PRIVMSG #test :old line")
	m2 := h.rec.expect(t, "groupchat", `body="old line"`).(Message)
	if m1.ID != m2.ID || m1.StanzaID.ID != m2.StanzaID.ID {
		t.Errorf("same msgid, different ids: %s %s", m1.ID, m2.ID)
	}

	// A stamp from the future, or before 1970, is not believed: no delay,
	// the line is timed on arrival.
	for i, stamp := range []string{"9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z"} {
		body := "odd clock " + itoa(i)
		c.Send(t, "@time="+stamp+" :Bob!b@h PRIVMSG #test :"+body)
		if m := h.rec.expect(t, "groupchat", `body="`+body+`"`).(Message); m.Delay != nil {
			t.Errorf("time=%s gave a delay stamped %v", stamp, m.Delay.Stamp)
		}
	}

	// A refused line is bounced to its sender.
	h.g.HandleMessage(t.Context(), Message{From: alicePhone, To: jid.MustParse(h.room()), ID: "e2", Type: stanza.GroupChatMessage, Body: "refused"})
	sent = c.Expect(t, "PRIVMSG")
	_, label = sent.GetTag("label")
	c.Send(t, "@label="+label+" :irc.test 404 Alice #test :Cannot send to channel")
	h.rec.expect(t, "message", `type="error"`, `id="e2"`, "cancel/not-allowed", "Cannot send to channel")

	// away-notify becomes presence; ACCOUNT and BATCH are quiet.
	c.Send(t, ":Bob!b@h AWAY :gone fishing")
	h.rec.expect(t, "presence", "/Bob", `status="gone fishing"`)
	c.Send(t, ":Bob!b@h ACCOUNT bob")
	c.Send(t, "BATCH +x netsplit a b")
	h.rec.expectNone(t, 150*time.Millisecond, `type="chat"`) // no gateway message for them
	c.Send(t, ":Bob!b@h PRIVMSG #test :after")
	h.rec.expect(t, "groupchat", `body="after"`)
}

func TestChannelEncoding(t *testing.T) {
	h := newHarness(t, true)
	opts := store.DefaultChannelOptions(jid.MustParse("alice@localhost"), "127.0.0.1", "#test")
	opts.EncodingIn = "koi8-r"
	if err := h.st.StoreChannelOptions(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	c := h.connect()
	c.Send(t, ":Bob!b@h PRIVMSG #test :\xf0\xd2\xc9\xd7\xc5\xd4") // "Привет" in KOI8-R
	h.rec.expect(t, "groupchat", `body="Привет"`)
	c.Send(t, ":Bob!b@h PRIVMSG Alice :caf\xe9") // the server's fallback, latin-1
	h.rec.expect(t, `type="chat"`, `body="café"`)
}

func TestSASLExternalClientCert(t *testing.T) {
	tlsSrv := fakeirc.NewTLSServer(t)
	st := newHarness(t, true).st // a store; the harness's own gateway is unused
	o := store.DefaultServerOptions(jid.MustParse("alice@localhost"), "127.0.0.1")
	o.TLSPorts, o.Ports, o.SASLMechanism = []int{tlsSrv.Port()}, []int{}, "EXTERNAL"
	o.Fingerprint = sha256Hex(tlsSrv.Certificate().Raw) // pin the test server's self-signed cert
	if err := st.StoreServerOptions(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	g := New(Config{Domain: jid.MustParse("irc.localhost")}, rec, st)
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(300 * time.Millisecond)
		defer cancel()
		g.Shutdown(ctx)
	})
	g.HandlePresence(t.Context(), Presence{From: alicePhone, To: jid.MustParse("#test%127.0.0.1@irc.localhost/Alice"), MUC: &MUCJoin{}})
	c := tlsSrv.Accept(t)
	var sawSASL bool
	for {
		m := c.ReadMessage(t)
		if m.Command == "CAP" && strings.ToUpper(m.Params[0]) == "LS" {
			c.Send(t, ":irc.test CAP * LS :sasl=PLAIN,EXTERNAL multi-prefix")
		}
		if m.Command == "CAP" && strings.ToUpper(m.Params[0]) == "REQ" {
			c.Send(t, ":irc.test CAP * ACK :"+m.Params[1])
		}
		if m.Command == "AUTHENTICATE" && m.Params[0] == "EXTERNAL" {
			sawSASL = true
			break
		}
	}
	if !sawSASL || len(c.PeerCertificates()) == 0 {
		t.Fatalf("no EXTERNAL with a client certificate (%d certs)", len(c.PeerCertificates()))
	}
	fp := sha256Hex(c.PeerCertificates()[0].Raw)
	// The same certificate next time: it is stored.
	cp, _, err := st.ClientCert(t.Context(), jid.MustParse("alice@localhost"))
	if err != nil || !strings.Contains(string(cp), "CERTIFICATE") {
		t.Fatalf("stored cert: %v", err)
	}
	c.Send(t, "AUTHENTICATE +")
	c.Expect(t, "AUTHENTICATE")
	c.Send(t, ":irc.test 900 Alice Alice!a@h alice :You are now logged in as alice")
	c.Send(t, ":irc.test 903 Alice :SASL authentication successful")
	c.Expect(t, "CAP")
	for _, l := range fakeirc.WelcomeBurst("Alice") {
		c.Send(t, l)
	}
	c.Expect(t, "JOIN")
	iq := IQ{From: alicePhone, To: jid.MustParse("127.0.0.1@irc.localhost"), ID: "ci", Type: stanza.SetIQ, Payload: &Command{Node: "get-irc-connection-info"}}
	g.HandleIQ(t.Context(), iq)
	got := rec.expect(t, "iq", `id="ci"`).(IQ)
	if text := got.Payload.(*Command).Notes[0].Text; !strings.Contains(text, fp) || !strings.Contains(text, "(using TLS)") {
		t.Errorf("connection info %q lacks the fingerprint %s", text, fp)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
