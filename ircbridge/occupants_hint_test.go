package ircbridge

import (
	"testing"

	"biboumi/ircbridge/fakeirc"
	"biboumi/store"

	"mellium.im/xmpp/jid"
)

// TestOccupantHintsPerEndpoint checks that the user@host hints shared
// between sessions come only from connections to the same server: a user
// can point a server name at an IRC server of their own (address, ports),
// which must not set the real JIDs other users see.
func TestOccupantHintsPerEndpoint(t *testing.T) {
	h := newHarness(t, true)
	evil := fakeirc.NewServer(t)
	eve := jid.MustParse("eve@localhost")
	o := store.DefaultServerOptions(eve, "127.0.0.1")
	o.Ports, o.TLSPorts = []int{evil.Port()}, []int{}
	if err := h.st.StoreServerOptions(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	// Eve joins #test%127.0.0.1, which her settings send to her own server.
	h.join("eve@localhost/x", "Eve")
	ec := evil.Accept(t)
	ec.Register(t, "Eve")
	ec.Expect(t, "JOIN")
	ec.Send(t, ":Eve!e@h JOIN #test")
	ec.Send(t, ":irc.evil 353 Eve = #test :Eve @Bob")
	ec.Send(t, ":irc.evil 366 Eve #test :End")
	ec.Send(t, ":Bob!spoofed@attacker.example JOIN #test") // Bob rejoins, says her server
	h.rec.expect(t, "presence", "to=eve@localhost/x", "/Bob", "spoofed@attacker.example")

	// Alice joins the real #test on the real server (no userhost-in-names).
	h.join("alice@localhost/phone", "Alice")
	c := h.irc.Accept(t)
	c.Register(t, "Alice")
	c.Expect(t, "JOIN")
	c.Send(t, ":Alice!a@127.0.0.1 JOIN #test")
	c.Send(t, ":irc.test 353 Alice = #test :Alice @Bob")
	c.Send(t, ":irc.test 366 Alice #test :End of /NAMES list.")
	p := h.rec.expect(t, "presence", "to=alice@localhost/phone", "/Bob").(Presence)
	if got := p.MUCUser.Items[0].JID.String(); got != "" {
		t.Fatalf("Alice sees Bob (real server, NAMES without user@host) as %q: user@host from Eve's server", got)
	}
	// Bob is still known on the real server through its own lines.
	c.Send(t, ":Bob!b@real.example PRIVMSG #test :hi")
	h.rec.expect(t, "groupchat", "to=alice@localhost/phone", `body="hi"`)
}
