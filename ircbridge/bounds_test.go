package ircbridge

import (
	"math"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// TestMOTDBounded checks that a huge MOTD is cut: it goes out as one
// message, which must stay under the XMPP server's stanza size limit.
func TestMOTDBounded(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	line := strings.Repeat("m", 400)
	c.Send(t, ":irc.test 375 Alice :- motd start")
	for range 5000 { // 2 MB
		c.Send(t, ":irc.test 372 Alice :- "+line)
	}
	c.Send(t, ":irc.test 376 Alice :End of MOTD")
	m := h.rec.expect(t, "message", "from=127.0.0.1@irc.localhost", "mmmm").(Message)
	if len(m.Body) > motdMax+100 {
		t.Errorf("a MOTD of %d bytes sent as one message, bound %d", len(m.Body), motdMax)
	}
	if !strings.HasSuffix(m.Body, "the rest is not shown]") {
		t.Errorf("the cut MOTD does not say so: …%q", m.Body[max(0, len(m.Body)-60):])
	}
}

// TestListPageBounded checks a disco#items page of the channel list with
// a huge <max/>: at most listMaxPage items, and no overflow when an
// <after/> is given (it used to panic, leaving the iq unanswered).
func TestListPageBounded(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	server := jid.MustParse("127.0.0.1@irc.localhost")
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: server, ID: "l1", Type: stanza.GetIQ, Payload: &DiscoItems{}})
	c.Expect(t, "LIST")
	for i := range listMaxPage + 10 {
		c.Send(t, ":irc.test 322 Alice #c"+itoa(i)+" 3 :topic")
	}
	c.Send(t, ":irc.test 323 Alice :End of LIST")
	h.rec.expect(t, "iq", `id="l1"`, `type="result"`)

	// (With an <after/>, the request pages the list already fetched; a
	// request without one would fetch it again.)
	for _, after := range []string{"#c0%127.0.0.1@irc.localhost", "#c1%127.0.0.1@irc.localhost"} {
		rsm := NewRSM()
		rsm.Max = math.MaxInt // <max>9223372036854775807</max>
		rsm.After = after
		h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: server, ID: "l2", Type: stanza.GetIQ, Payload: &DiscoItems{RSM: rsm}})
		iq := h.rec.expect(t, "iq", `id="l2"`).(IQ)
		if iq.Type != stanza.ResultIQ {
			t.Fatalf("after %q: %s", after, describe(iq))
		}
		if n := len(iq.Payload.(*DiscoItems).Items); n != listMaxPage {
			t.Errorf("after %q: %d items, want the bound %d", after, n, listMaxPage)
		}
	}
}

// TestJoinBadChannelName checks that a join to a channel name IRC cannot
// carry (a space, a comma, a control character) is answered at once with
// jid-malformed. With a key, "JOIN #a b key" could not even be written,
// and the join was never answered.
func TestJoinBadChannelName(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	for _, room := range []string{`#a\20b`, "#a,b"} { // (JIDs cannot hold control characters)
		to := jid.MustParse(room + "%127.0.0.1@irc.localhost/Alice")
		h.g.HandlePresence(t.Context(), Presence{From: alicePhone, To: to, MUC: &MUCJoin{Password: "key"}})
		p := h.rec.expect(t, "presence", "from="+to.String()).(Presence)
		if p.Type != stanza.ErrorPresence || p.Error == nil || p.Error.Condition != stanza.JIDMalformed {
			t.Errorf("join of %q: %s, want a jid-malformed error", room, describe(p))
		}
	}
	c.ExpectSilence(t, 50*time.Millisecond) // no JOIN sent
}

// TestParseAge checks the ages of the purge command, up to the largest a
// time.Duration holds: a larger day count used to wrap around to minutes,
// so a purge meant to delete nothing deleted almost everything.
func TestParseAge(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"365d", 365 * 24 * time.Hour, true},
		{" 12h ", 12 * time.Hour, true},
		{"106751d", 106751 * 24 * time.Hour, true},
		{"106752d", 0, false},
		{"213504d", 0, false},
		{"0d", 0, false},
		{"-3h", 0, false},
		{"soon", 0, false},
	} {
		d, err := parseAge(c.in)
		if (err == nil) != c.ok || d != c.want {
			t.Errorf("parseAge(%q) = %v, %v; want %v (ok %v)", c.in, d, err, c.want, c.ok)
		}
	}
}

// TestOccupantNickNotResourcepart checks that an occupant whose nick no
// JID can hold (a control character from the IRC server) is not shown as
// a presence from the bare room, which MUC clients take as the room.
func TestOccupantNickNotResourcepart(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	c.Send(t, ":Bo\x02b!u@h JOIN #test")
	c.Send(t, ":Carol!c@h JOIN #test")
	p := h.rec.expect(t, "presence").(Presence)
	if p.From.String() != h.room()+"/Carol" {
		t.Fatalf("first presence after the joins: %s, want Carol's", describe(p))
	}
}

// TestCTCPFloodBounded checks that a CTCP flood from IRC does not become
// an iq flood to the user's client: at most maxCTCPPending wait at once.
func TestCTCPFloodBounded(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	for range maxCTCPPending + 30 {
		c.Send(t, ":Bob!b@host PRIVMSG Alice :\x01VERSION\x01")
	}
	c.Send(t, ":Bob!b@host PRIVMSG #test :sync") // lines are handled in order
	n := 0
	for {
		v := h.rec.expect(t, "to=alice@localhost/phone")
		if m, ok := v.(Message); ok && m.Body == "sync" {
			break
		}
		if _, ok := v.(IQ); ok {
			n++
		}
	}
	if n != maxCTCPPending {
		t.Errorf("%d version requests sent to the client, want %d", n, maxCTCPPending)
	}
}
