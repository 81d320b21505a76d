package ircbridge

import (
	"strconv"
	"testing"

	"biboumi/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// TestRosterSubscriptionsBounded checks that a user cannot store
// subscriptions without bound (each is a row and a probe at every start),
// nor subscribe to a server the policy denies.
func TestRosterSubscriptionsBounded(t *testing.T) {
	h := newHarness(t, true)
	h.g.SetConfig(Config{Domain: jid.MustParse("irc.localhost"), TLSPorts: []int{}, Ports: []int{h.irc.Port()},
		Policy: Policy{IRCDeny: []string{"denied.example"}},
		Limits: Limits{StanzaBurst: 1 << 20, StanzaRate: 1 << 20}})
	subscribe := func(to string) Presence {
		t.Helper()
		h.g.HandlePresence(t.Context(), Presence{From: alicePhone, To: jid.MustParse(to), Type: stanza.SubscribePresence})
		return h.rec.expect(t, "presence", "from="+to).(Presence)
	}
	if p := subscribe("denied.example@irc.localhost"); p.Type != stanza.ErrorPresence || p.Error.Condition != stanza.NotAllowed {
		t.Errorf("subscription to a denied server: %s", describe(p))
	}
	for i := range rosterMax {
		if p := subscribe("s" + strconv.Itoa(i) + "@irc.localhost"); p.Type != stanza.SubscribedPresence {
			t.Fatalf("subscription %d: %s", i, describe(p))
		}
	}
	if p := subscribe("one-more@irc.localhost"); p.Type != stanza.ErrorPresence || p.Error.Condition != stanza.ResourceConstraint {
		t.Errorf("subscription %d: %s, want resource-constraint", rosterMax+1, describe(p))
	}
	// Subscribing again to a subscribed JID is still fine.
	if p := subscribe("s0@irc.localhost"); p.Type != stanza.SubscribedPresence {
		t.Errorf("subscribing again: %s", describe(p))
	}
	items, err := h.st.Roster(t.Context(), store.RosterQuery{})
	if err != nil || len(items) != rosterMax {
		t.Errorf("%d roster rows (%v), want %d", len(items), err, rosterMax)
	}
}
