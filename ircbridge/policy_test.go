package ircbridge

import (
	"testing"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

func TestPolicyDefaults(t *testing.T) {
	c := (&Config{Domain: jid.MustParse("irc.example.org")}).withDefaults()
	for in, want := range map[string]bool{
		"alice@example.org/x": true, "bob@chat.example.org": true, "eve@evil.net": false, "x@example.org.evil.net": false,
	} {
		if got := c.userAllowed(jid.MustParse(in)); got != want {
			t.Errorf("userAllowed(%s) = %v", in, got)
		}
	}
	c = (&Config{Domain: jid.MustParse("irc.example.org"), Policy: Policy{XMPPDomains: []string{"*"}, IRCAllow: []string{"*.libera.chat", "127.0.0.1"}, IRCDeny: []string{"bad.libera.chat"}}}).withDefaults()
	if !c.userAllowed(jid.MustParse("eve@evil.net")) {
		t.Error("* does not allow everyone")
	}
	for in, want := range map[string]bool{"irc.libera.chat": true, "libera.chat": true, "bad.libera.chat": false, "127.0.0.1": true, "irc.oftc.net": false} {
		if got := c.ircAllowed(in); got != want {
			t.Errorf("ircAllowed(%s) = %v", in, got)
		}
	}
}

func TestPolicyEnforced(t *testing.T) {
	h := newHarness(t)
	h.g.SetConfig(Config{Domain: jid.MustParse("irc.localhost"), TLSPorts: []int{}, Ports: []int{h.irc.Port()},
		Policy: Policy{IRCDeny: []string{"10.0.0.1"}}, Limits: Limits{IRCConnections: 1, StanzaBurst: 5, StanzaRate: 0.001}})
	// A user of another server is refused, but can see what the gateway is.
	h.g.HandlePresence(t.Context(), Presence{From: jid.MustParse("eve@evil.example/x"), To: jid.MustParse(h.room() + "/Eve"), MUC: &MUCJoin{}})
	h.rec.expect(t, "presence", `type="error"`, "to=eve@evil.example/x", "auth/forbidden")
	h.g.HandleIQ(t.Context(), IQ{From: jid.MustParse("eve@evil.example/x"), To: jid.MustParse("irc.localhost"), ID: "d", Type: stanza.GetIQ, Payload: &DiscoInfo{}})
	h.rec.expect(t, "iq", `id="d"`, `type="result"`)
	// A denied IRC server.
	h.g.HandlePresence(t.Context(), Presence{From: alicePhone, To: jid.MustParse("#x%10.0.0.1@irc.localhost/A"), MUC: &MUCJoin{}})
	h.rec.expect(t, "presence", `type="error"`, "cancel/not-allowed", "10.0.0.1 is not allowed")
	// One connection at most.
	h.connect()
	h.g.HandlePresence(t.Context(), Presence{From: alicePhone, To: jid.MustParse("#x%other.example@irc.localhost/A"), MUC: &MUCJoin{}})
	h.rec.expect(t, "presence", `type="error"`, "wait/resource-constraint", "too many IRC servers")
	// The stanza rate: the burst is spent, the next ones bounce.
	for i := 0; i < 10; i++ {
		h.g.HandleMessage(t.Context(), Message{From: alicePhone, To: jid.MustParse(h.room()), ID: "r" + itoa(i), Type: stanza.GroupChatMessage, Body: "x"})
	}
	h.rec.expect(t, "message", `type="error"`, "wait/resource-constraint", "slow down")
}
