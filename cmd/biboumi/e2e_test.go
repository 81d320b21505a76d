package main

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"biboumi/internal/testenv"

	"github.com/ergochat/irc-go/ircmsg"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testWriter{}

func startXMPP(t *testing.T, kind string) *testenv.XMPPServer {
	if kind == "ejabberd" {
		return testenv.StartEjabberd(t, testenv.XMPPOptions{})
	}
	return testenv.StartProsody(t, testenv.XMPPOptions{})
}

func startIRC(t *testing.T, kind string) *testenv.IRCServer {
	if kind == "ngircd" {
		return testenv.StartNgircd(t, testenv.IRCOptions{})
	}
	return testenv.StartInspircd(t, testenv.IRCOptions{})
}

func hasStatus(e *testenv.Element, code string) bool {
	x := e.ChildNS("http://jabber.org/protocol/muc#user", "x")
	if x == nil {
		return false
	}
	for _, s := range x.ChildrenNamed("status") {
		if s.Attr("code") == code {
			return true
		}
	}
	return false
}

func fromIs(want string) func(*testenv.Element) bool {
	return func(e *testenv.Element) bool { return e.Attr("from") == want }
}

func and(ms ...func(*testenv.Element) bool) func(*testenv.Element) bool {
	return func(e *testenv.Element) bool {
		for _, m := range ms {
			if !m(e) {
				return false
			}
		}
		return true
	}
}

func bodyIs(want string) func(*testenv.Element) bool {
	return func(e *testenv.Element) bool { return e.ChildText("body") == want }
}

// TestEndToEnd runs the spine's user story on every pair of real XMPP and
// IRC servers: join, talk both ways, nick change, part, private messages
// both ways, and a clean shutdown.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real servers")
	}
	for _, xk := range []string{"prosody", "ejabberd"} {
		for _, ik := range []string{"inspircd", "ngircd"} {
			t.Run(xk+"+"+ik, func(t *testing.T) {
				t.Parallel()
				endToEnd(t, xk, ik)
			})
		}
	}
}

func endToEnd(t *testing.T, xmppKind, ircKind string) {
	xs := startXMPP(t, xmppKind)
	is := startIRC(t, ircKind)
	xs.AddUser(t, "alice", "pass")
	alice := testenv.DialXMPP(t, xs, "alice", "pass", "phone")
	g := startGateway(t, xs, is.Port, alice)

	bob := testenv.DialIRC(t, is.Addr, "bob")
	bob.Join(t, "#test")

	room := "#test%127.0.0.1@" + g.host
	alice.Sendf(t, `<presence to='%s/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, room)
	alice.Expect(t, and(testenv.IsStanza("presence", "from", room+"/bob"), func(e *testenv.Element) bool {
		it := e.Find("x", "item")
		return it != nil && it.Attr("role") == "moderator" && it.Attr("affiliation") == "admin"
	}), "bob's presence as an op")
	self := alice.Expect(t, and(testenv.IsStanza("presence", "from", room+"/Alice"), func(e *testenv.Element) bool {
		return hasStatus(e, "110")
	}), "self-presence")
	for _, code := range []string{"110", "210", "100"} {
		if !hasStatus(self, code) {
			t.Errorf("self-presence lacks status %s: %s", code, self)
		}
	}
	alice.Expect(t, and(testenv.IsStanza("message", "type", "groupchat"), func(e *testenv.Element) bool {
		return e.Child("subject") != nil
	}), "the subject")
	bob.Expect(t, testenv.IsCommand("JOIN", "#test"), "Alice's JOIN")

	// XMPP → IRC, and the reflection.
	alice.Sendf(t, `<message to='%s' type='groupchat' id='g1'><body>hello from xmpp</body></message>`, room)
	m := bob.Expect(t, testenv.IsCommand("PRIVMSG", "#test", "hello from xmpp"), "Alice's message")
	if m.Nick() != "Alice" {
		t.Errorf("message from %q, want Alice", m.Source)
	}
	alice.Expect(t, and(testenv.IsStanza("message", "id", "g1", "type", "groupchat", "from", room+"/Alice"), bodyIs("hello from xmpp")), "the reflection")

	// IRC → XMPP.
	bob.Privmsg(t, "#test", "hello from irc")
	alice.Expect(t, and(testenv.IsStanza("message", "type", "groupchat", "from", room+"/bob"), bodyIs("hello from irc")), "Bob's message")

	// Nick change from IRC.
	bob.Send(t, "NICK bobby")
	alice.Expect(t, and(testenv.IsStanza("presence", "type", "unavailable", "from", room+"/bob"), func(e *testenv.Element) bool {
		return hasStatus(e, "303") && e.Find("x", "item").Attr("nick") == "bobby"
	}), "bob's nick change")
	alice.Expect(t, testenv.IsStanza("presence", "from", room+"/bobby"), "bobby's presence")

	// Private messages both ways.
	pm := "bobby%127.0.0.1@" + g.host
	alice.Sendf(t, `<message to='%s' type='chat'><body>psst</body></message>`, pm)
	bob.Expect(t, testenv.IsCommand("PRIVMSG", "bobby", "psst"), "Alice's private message")
	bob.Privmsg(t, "Alice", "back at you")
	alice.Expect(t, and(testenv.IsStanza("message", "type", "chat", "from", pm), bodyIs("back at you")), "bobby's private message")

	// Part from IRC, then join again.
	bob.Send(t, "PART #test :see you")
	alice.Expect(t, and(testenv.IsStanza("presence", "type", "unavailable", "from", room+"/bobby"), func(e *testenv.Element) bool {
		return e.ChildText("status") == "see you"
	}), "bobby's part")
	bob.Join(t, "#test")
	alice.Expect(t, and(testenv.IsStanza("presence", "from", room+"/bobby"), func(e *testenv.Element) bool {
		return e.Attr("type") == ""
	}), "bobby back")

	// Alice leaves: PART (and QUIT, which Bob cannot see, as they share no
	// channel any more; the unit tests check it).
	alice.Sendf(t, `<presence type='unavailable' to='%s/Alice'/>`, room)
	alice.Expect(t, and(testenv.IsStanza("presence", "type", "unavailable", "from", room+"/Alice"), func(e *testenv.Element) bool {
		return hasStatus(e, "110")
	}), "Alice's unavailable self-presence")
	bob.Expect(t, func(m ircmsg.Message) bool { return m.Command == "PART" && m.Nick() == "Alice" }, "Alice's PART")

	// Join again, then stop the gateway: QUIT :Gateway shutdown on IRC,
	// an unavailable presence on XMPP, exit status 0.
	alice.Sendf(t, `<presence to='%s/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, room)
	alice.Expect(t, and(testenv.IsStanza("presence", "from", room+"/Alice"), func(e *testenv.Element) bool {
		return hasStatus(e, "110") && e.Attr("type") == ""
	}), "self-presence again")
	bob.Expect(t, func(m ircmsg.Message) bool { return m.Command == "JOIN" && m.Nick() == "Alice" }, "Alice's JOIN again")
	start := time.Now()
	if code := g.shutdown(t); code != 0 {
		t.Errorf("exit status %d", code)
	}
	t.Logf("shutdown took %v", time.Since(start))
	bob.Expect(t, func(m ircmsg.Message) bool {
		return m.Command == "QUIT" && m.Nick() == "Alice" && strings.Contains(strings.Join(m.Params, " "), "Gateway shutdown")
	}, "QUIT :Gateway shutdown")
	alice.Expect(t, and(testenv.IsStanza("presence", "type", "unavailable", "from", room+"/Alice")), "unavailable self-presence at shutdown")
}
