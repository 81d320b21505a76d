package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"biboumi/internal/testenv"
)

// TestChatParity checks, through real XMPP and IRC servers, the stanza
// shapes of everyday chat that clients rely on (reference §5.2–5.8, §5.14,
// §6.1). Each subtest runs its own servers and gateway; the four pairs of
// XMPP and IRC servers are spread over the subtests.
func TestChatParity(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real servers")
	}
	tests := []struct {
		name      string
		xmpp, irc string
		run       func(*testing.T, setup)
	}{
		{"nick_change", "prosody", "inspircd", testNickChange},
		{"kick", "ejabberd", "ngircd", testKick},
		{"roles", "prosody", "ngircd", testRoles},
		{"topic", "ejabberd", "inspircd", testTopic},
		{"two_resources", "prosody", "ngircd", testTwoResources},
		{"channel_key", "prosody", "inspircd", testChannelKey},
		{"nick_conflict", "ejabberd", "ngircd", testNickConflict},
		{"ctcp_version", "prosody", "ngircd", testCTCPVersion},
		{"latin1", "prosody", "inspircd", testLatin1},
		{"colours", "ejabberd", "inspircd", testColours},
		{"long_message", "prosody", "inspircd", testLongMessage},
		{"private_and_me", "ejabberd", "ngircd", testPrivateAndMe},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+tc.xmpp+"+"+tc.irc, func(t *testing.T) {
			t.Parallel()
			tc.run(t, setup{xmpp: tc.xmpp, irc: tc.irc})
		})
	}
}

// 1. Nick change both ways (reference §5.4).
func testNickChange(t *testing.T, s setup) {
	s.nicks = []string{"bob"}
	w := s.start(t)
	alice, bob := w.alice, w.irc[0]
	bob.Join(t, "#nick")
	room := w.room("#nick")
	join(t, alice, room, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#nick"), "Alice's JOIN")

	// XMPP → IRC: an available presence without the MUC <x/> to a new
	// nick is a nick change.
	alice.Sendf(t, `<presence to='%s/Alice2'/>`, room)
	bob.Expect(t, ircFrom("Alice", "NICK", "Alice2"), "NICK Alice2")
	gone := alice.Expect(t, testenv.IsStanza("presence", "from", room+"/Alice", "type", "unavailable"), "the unavailable presence of the old nick")
	for _, code := range []string{"303", "110"} {
		if !hasStatus(gone, code) {
			t.Errorf("unavailable presence of the old nick lacks status %s: %s", code, gone)
		}
	}
	if got := mucItem(gone).Attr("nick"); got != "Alice2" {
		t.Errorf("item nick = %q, want Alice2: %s", got, gone)
	}
	back := alice.Expect(t, and(testenv.IsStanza("presence", "from", room+"/Alice2"), typeIs("")), "the presence of the new nick")
	for _, code := range []string{"110", "210", "100"} {
		if !hasStatus(back, code) {
			t.Errorf("self-presence of the new nick lacks status %s: %s", code, back)
		}
	}
	// The gateway now speaks with the new nick.
	alice.Sendf(t, `<message to='%s' type='groupchat' id='n1'><body>as Alice2</body></message>`, room)
	bob.Expect(t, ircFrom("Alice2", "PRIVMSG", "#nick", "as Alice2"), "a message from Alice2")
	alice.Expect(t, and(groupchatFrom(room+"/Alice2"), testenv.IsStanza("message", "id", "n1")), "the reflection from the new nick")

	// IRC → XMPP: bob (the channel's op) renames himself.
	bob.Send(t, "NICK bobby")
	gone = alice.Expect(t, testenv.IsStanza("presence", "from", room+"/bob", "type", "unavailable"), "bob's unavailable presence")
	if !hasStatus(gone, "303") || hasStatus(gone, "110") {
		t.Errorf("bob's nick change: status %v, want 303 and not 110: %s", statusCodes(gone), gone)
	}
	if got := mucItem(gone).Attr("nick"); got != "bobby" {
		t.Errorf("item nick = %q, want bobby: %s", got, gone)
	}
	back = alice.Expect(t, and(testenv.IsStanza("presence", "from", room+"/bobby"), typeIs("")), "bobby's presence")
	checkItem(t, back, "moderator", "admin") // the op keeps his role
	if hasStatus(back, "110") {
		t.Errorf("bobby's presence has status 110: %s", back)
	}
}

// 2. Kick both ways (reference §5.6).
func testKick(t *testing.T, s setup) {
	s.nicks = []string{"bob", "carol"}
	w := s.start(t)
	alice, bob, carol := w.alice, w.irc[0], w.irc[1]
	carol.Join(t, "#kick2") // carol opens #kick2, so she is its op

	// Alice opens #kick, so she is its op.
	room := w.room("#kick")
	j := join(t, alice, room, "Alice", "")
	checkItem(t, j.self, "moderator", "admin")
	bob.Join(t, "#kick")
	alice.Expect(t, testenv.IsStanza("presence", "from", room+"/bob"), "bob's presence")

	// XMPP → IRC: muc#admin role='none' is a KICK; the iq result comes
	// with the server's echo.
	alice.Sendf(t, `<iq type='set' id='kick1' to='%s'><query xmlns='%s'><item nick='bob' role='none'><reason>flooding</reason></item></query></iq>`, room, nsMUCAdmin)
	k := bob.Expect(t, ircFrom("Alice", "KICK", "#kick", "bob"), "Alice's KICK")
	if lastParam(k) != "flooding" {
		t.Errorf("KICK reason %q, want flooding", lastParam(k))
	}
	got := expectAll(t, alice, "the kick's iq result and bob's unavailable presence",
		testenv.IsStanza("iq", "id", "kick1"),
		testenv.IsStanza("presence", "from", room+"/bob", "type", "unavailable"))
	if got[0].Attr("type") != "result" {
		t.Errorf("kick iq answered with %s", got[0])
	}
	gone := got[1]
	if !hasStatus(gone, "307") || hasStatus(gone, "110") {
		t.Errorf("bob's kick: status %v, want 307 and not 110: %s", statusCodes(gone), gone)
	}
	checkItem(t, gone, "none", "none")
	if a := mucItem(gone).Child("actor"); a.Attr("nick") != "Alice" {
		t.Errorf("actor %s, want nick Alice: %s", a, gone)
	}
	if r := mucItem(gone).ChildText("reason"); r != "flooding" {
		t.Errorf("reason %q, want flooding: %s", r, gone)
	}

	// IRC → XMPP: carol kicks Alice out of #kick2.
	room2 := w.room("#kick2")
	join(t, alice, room2, "Alice", "")
	carol.Expect(t, ircFrom("Alice", "JOIN", "#kick2"), "Alice's JOIN to #kick2")
	carol.Send(t, "KICK #kick2 Alice :bye alice")
	gone = alice.Expect(t, testenv.IsStanza("presence", "from", room2+"/Alice", "type", "unavailable"), "Alice's kick")
	for _, code := range []string{"307", "110"} {
		if !hasStatus(gone, code) {
			t.Errorf("Alice's kick lacks status %s: %s", code, gone)
		}
	}
	checkItem(t, gone, "none", "none")
	if a := mucItem(gone).Child("actor"); a.Attr("nick") != "carol" {
		t.Errorf("actor %s, want nick carol: %s", a, gone)
	}
	if r := mucItem(gone).ChildText("reason"); r != "bye alice" {
		t.Errorf("reason %q, want %q: %s", r, "bye alice", gone)
	}
	// Alice is out of #kick2 (and still in #kick).
	alice.Sendf(t, `<message to='%s' type='groupchat' id='k2'><body>still here?</body></message>`, room2)
	checkError(t, alice.Expect(t, testenv.IsStanza("message", "id", "k2"), "the error for a message to a room Alice was kicked from"), "modify", "not-acceptable")
	alice.Sendf(t, `<message to='%s' type='groupchat' id='k3'><body>still in #kick</body></message>`, room)
	alice.Expect(t, and(groupchatFrom(room+"/Alice"), testenv.IsStanza("message", "id", "k3")), "the reflection of Alice's message to #kick")
}

// 3. Prefix modes ↔ roles and affiliations (reference §5.5).
func testRoles(t *testing.T, s setup) {
	s.nicks = []string{"bob", "carol"}
	w := s.start(t)
	alice, bob, carol := w.alice, w.irc[0], w.irc[1]
	bob.Join(t, "#roles") // bob is op
	carol.Join(t, "#roles")
	room := w.room("#roles")
	j := join(t, alice, room, "Alice", "")
	checkItem(t, j.self, "participant", "none")
	for _, e := range j.stanzas {
		switch e.Attr("from") {
		case room + "/bob":
			checkItem(t, e, "moderator", "admin")
		case room + "/carol":
			checkItem(t, e, "participant", "none")
		}
	}
	bob.Expect(t, ircFrom("Alice", "JOIN", "#roles"), "Alice's JOIN")

	// IRC → XMPP.
	bob.Send(t, "MODE #roles +v carol")
	got := expectAll(t, alice, "the mode message and carol's new presence",
		and(testenv.IsStanza("message", "type", "groupchat", "from", room), bodyIs("Mode #roles [+v carol] by bob")),
		and(testenv.IsStanza("presence", "from", room+"/carol"), typeIs("")))
	checkItem(t, got[1], "participant", "member")

	bob.Send(t, "MODE #roles +o Alice")
	self := alice.Expect(t, and(testenv.IsStanza("presence", "from", room+"/Alice"), typeIs("")), "Alice's new self-presence")
	checkItem(t, self, "moderator", "admin")
	if !hasStatus(self, "110") {
		t.Errorf("self-presence after +o lacks status 110: %s", self)
	}

	// XMPP → IRC: Alice, now op, makes carol an admin (+o), then takes
	// everything away (affiliation none: -v and -o).
	alice.Sendf(t, `<iq type='set' id='aff1' to='%s'><query xmlns='%s'><item nick='carol' affiliation='admin'/></query></iq>`, room, nsMUCAdmin)
	m := bob.Expect(t, ircFrom("Alice", "MODE", "#roles"), "Alice's MODE +o")
	if strings.Join(m.Params[1:], " ") != "+o carol" {
		t.Errorf("MODE %v, want +o carol", m.Params)
	}
	got = expectAll(t, alice, "the iq result and carol's presence as an admin",
		testenv.IsStanza("iq", "id", "aff1"),
		and(testenv.IsStanza("presence", "from", room+"/carol"), hasItem("moderator", "admin")))
	if got[0].Attr("type") != "result" {
		t.Errorf("affiliation admin answered with %s", got[0])
	}

	alice.Sendf(t, `<iq type='set' id='aff2' to='%s'><query xmlns='%s'><item nick='carol' affiliation='none'/></query></iq>`, room, nsMUCAdmin)
	m = bob.Expect(t, ircFrom("Alice", "MODE", "#roles"), "Alice's MODE -vo")
	if p := strings.Join(m.Params[1:], " "); p != "-vo carol carol" && p != "-ov carol carol" {
		t.Errorf("MODE %v, want -vo carol carol", m.Params)
	}
	got = expectAll(t, alice, "the iq result and carol's presence without modes",
		testenv.IsStanza("iq", "id", "aff2"),
		and(testenv.IsStanza("presence", "from", room+"/carol"), hasItem("participant", "none")))
	if got[0].Attr("type") != "result" {
		t.Errorf("affiliation none answered with %s", got[0])
	}
}

// 4. Topic both ways (reference §5.7).
func testTopic(t *testing.T, s setup) {
	s.nicks = []string{"bob"}
	w := s.start(t)
	alice, bob := w.alice, w.irc[0]
	bob.Join(t, "#topic")
	bob.Send(t, "TOPIC #topic :initial topic")
	bob.Expect(t, ircFrom("bob", "TOPIC", "#topic"), "bob's TOPIC echo")
	bob.Send(t, "MODE #topic -t") // anyone may set the topic
	bob.Expect(t, ircFrom("bob", "MODE", "#topic"), "bob's MODE echo")

	room := w.room("#topic")
	j := join(t, alice, room, "Alice", "")
	if got := j.subject.ChildText("subject"); got != "initial topic" {
		t.Errorf("subject on join %q, want %q: %s", got, "initial topic", j.subject)
	}
	bob.Expect(t, ircFrom("Alice", "JOIN", "#topic"), "Alice's JOIN")

	// XMPP → IRC: newlines become spaces.
	alice.Sendf(t, "<message to='%s' type='groupchat' id='s1'><subject>new\nsubject</subject></message>", room)
	m := bob.Expect(t, ircFrom("Alice", "TOPIC", "#topic"), "Alice's TOPIC")
	if lastParam(m) != "new subject" {
		t.Errorf("TOPIC %q, want %q", lastParam(m), "new subject")
	}
	e := alice.Expect(t, and(testenv.IsStanza("message", "type", "groupchat", "from", room+"/Alice"), func(e *testenv.Element) bool {
		return e.Child("subject") != nil
	}), "the new subject from Alice")
	if e.ChildText("subject") != "new subject" || e.Child("body") != nil {
		t.Errorf("subject message %s, want subject %q and no body", e, "new subject")
	}

	// IRC → XMPP.
	bob.Send(t, "TOPIC #topic :from irc")
	e = alice.Expect(t, and(testenv.IsStanza("message", "type", "groupchat", "from", room+"/bob"), func(e *testenv.Element) bool {
		return e.Child("subject") != nil
	}), "bob's subject")
	if e.ChildText("subject") != "from irc" || e.Child("body") != nil {
		t.Errorf("subject message %s, want subject %q and no body", e, "from irc")
	}
}

// 5. Two resources of one user share the IRC connection (reference §5.2
// item 6, §5.3, §6.1; behaviour.md: no NICK for presence updates).
func testTwoResources(t *testing.T, s setup) {
	s.nicks = []string{"bob"}
	w := s.start(t)
	phone, bob := w.alice, w.irc[0]
	laptop := w.dial(t, "alice", "laptop")
	bob.Join(t, "#multi")
	room := w.room("#multi")
	join(t, phone, room, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#multi"), "Alice's JOIN")
	users := lusers(t, bob)

	// The second resource gets the occupants, its self-presence and the
	// subject, and IRC sees nothing.
	j := join(t, laptop, room, "Alice", "")
	sawBob := false
	for _, e := range j.stanzas {
		if e.Attr("from") == room+"/bob" && e.Name() == "presence" {
			sawBob = true
			checkItem(t, e, "moderator", "admin")
		}
	}
	if !sawBob {
		t.Errorf("the second resource got no presence for bob: %v", j.stanzas)
	}
	if to := j.self.Attr("to"); to != w.xs.JID("alice")+"/laptop" {
		t.Errorf("self-presence to %q, want the laptop", to)
	}
	phone.Sendf(t, `<message to='%s' type='groupchat' id='m1'><body>one</body></message>`, room)
	for _, m := range ircUntil(t, bob, ircFrom("Alice", "PRIVMSG", "#multi", "one"), "Alice's message") {
		if m.Command == "JOIN" || m.Command == "NICK" {
			t.Errorf("IRC saw %s %v for the second resource", m.Command, m.Params)
		}
	}
	if got := lusers(t, bob); got != users {
		t.Errorf("the second resource opened an IRC connection: LUSERS %q, then %q", users, got)
	}
	// The reflection of the phone's message goes to both resources.
	for _, c := range []*testenv.XMPPClient{phone, laptop} {
		c.Expect(t, and(groupchatFrom(room+"/Alice"), bodyIs("one")), "the reflection of the phone's message")
	}
	// A message from IRC reaches both resources.
	bob.Privmsg(t, "#multi", "hi both")
	for _, c := range []*testenv.XMPPClient{phone, laptop} {
		c.Expect(t, and(groupchatFrom(room+"/bob"), bodyIs("hi both")), "bob's message")
	}

	// A presence update from a resource (same nick) sends no NICK.
	laptop.Sendf(t, `<presence to='%s/Alice'><show>away</show><status>lunch</status></presence>`, room)
	laptop.Sendf(t, `<message to='%s' type='groupchat' id='m2'><body>two</body></message>`, room)
	for _, m := range ircUntil(t, bob, ircFrom("Alice", "PRIVMSG", "#multi", "two"), "Alice's second message") {
		if m.Command == "NICK" {
			t.Errorf("a presence update sent NICK %v", m.Params)
		}
	}

	// The laptop leaves: only it gets an unavailable presence, with the
	// note; the channel is not parted.
	laptop.Sendf(t, `<presence type='unavailable' to='%s/Alice'/>`, room)
	gone := laptop.Expect(t, testenv.IsStanza("presence", "from", room+"/Alice", "type", "unavailable"), "the laptop's unavailable self-presence")
	if !hasStatus(gone, "110") {
		t.Errorf("unavailable self-presence lacks status 110: %s", gone)
	}
	if st := gone.ChildText("status"); !strings.HasPrefix(st, "Biboumi note: 1 resource") || !strings.HasSuffix(st, " still in this channel.") {
		t.Errorf("status %q, want the note that 1 resource is still in the channel", st)
	}
	bob.Privmsg(t, "#multi", "still there?")
	for _, e := range collectUntil(t, phone, and(groupchatFrom(room+"/bob"), bodyIs("still there?")), "bob's message on the phone") {
		if e.Name() == "presence" && e.Attr("type") == "unavailable" && bareOf(e.Attr("from")) == room {
			t.Errorf("the phone got an unavailable presence when the laptop left: %s", e)
		}
	}
	expectNothing(t, laptop, groupchatFrom(room+"/bob"), 300*time.Millisecond, "message to the resource that left")
	phone.Sendf(t, `<message to='%s' type='groupchat' id='m3'><body>three</body></message>`, room)
	for _, m := range ircUntil(t, bob, ircFrom("Alice", "PRIVMSG", "#multi", "three"), "Alice's third message") {
		if m.Command == "PART" || m.Command == "QUIT" {
			t.Errorf("IRC saw %s %v when one of two resources left", m.Command, m.Params)
		}
	}
}

// lusers returns the server's RPL_LUSERCLIENT text, which counts the
// connections.
func lusers(t *testing.T, c *testenv.IRCClient) string {
	t.Helper()
	c.Send(t, "LUSERS")
	return lastParam(c.Expect(t, testenv.IsCommand("251"), "RPL_LUSERCLIENT"))
}

// 6. A keyed channel: wrong key, then the right one (reference §5.2).
func testChannelKey(t *testing.T, s setup) {
	s.nicks = []string{"bob"}
	w := s.start(t)
	alice, bob := w.alice, w.irc[0]
	bob.Join(t, "#keyed")
	bob.Send(t, "MODE #keyed +k sekrit")
	bob.Expect(t, ircFrom("bob", "MODE", "#keyed"), "bob's MODE +k")
	room := w.room("#keyed")

	e := joinError(t, alice, room, "Alice", "<password>wrong</password>")
	if e.Attr("from") != room+"/Alice" {
		t.Errorf("join error from %q, want %s/Alice", e.Attr("from"), room)
	}
	checkError(t, e, "auth", "not-authorized")

	join(t, alice, room, "Alice", "<password>sekrit</password>")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#keyed"), "Alice's JOIN with the key")
}

// 7. A nick already used on IRC (reference §5.2, §6.1, behaviour.md).
func testNickConflict(t *testing.T, s setup) {
	s.nicks = []string{"bob"}
	w := s.start(t)
	alice, bob := w.alice, w.irc[0]
	bob.Join(t, "#conflict")
	room := w.room("#conflict")

	e := joinError(t, alice, room, "bob", "")
	if e.Attr("from") != room+"/bob" {
		t.Errorf("join error from %q, want %s/bob", e.Attr("from"), room)
	}
	checkError(t, e, "cancel", "conflict")
	if code := e.Child("error").Attr("code"); code != "409" {
		t.Errorf("conflict error without code='409' (reference §5.2: <error type='cancel' code='409'>): %s", e)
	}

	join(t, alice, room, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#conflict"), "Alice's JOIN with another nick")
}

// 8. CTCP VERSION from IRC, answered by the XMPP client (reference §5.14).
func testCTCPVersion(t *testing.T, s setup) {
	s.nicks = []string{"bob"}
	w := s.start(t)
	alice, bob := w.alice, w.irc[0]
	bob.Join(t, "#ctcp")
	join(t, alice, w.room("#ctcp"), "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#ctcp"), "Alice's JOIN")

	bob.Privmsg(t, "Alice", "\x01VERSION\x01")
	iq := alice.Expect(t, testenv.IsStanza("iq", "type", "get", "from", w.user("bob")), "the version request")
	if iq.ChildNS(nsVersion, "query") == nil {
		t.Fatalf("version request without <query xmlns='%s'/>: %s", nsVersion, iq)
	}
	if to := iq.Attr("to"); to != w.xs.JID("alice")+"/phone" {
		t.Errorf("version request to %q, want the full JID of the resource", to)
	}
	alice.Sendf(t, `<iq type='result' id='%s' to='%s'><query xmlns='%s'><name>Gajim</name><version>1.8.4</version><os>Linux</os></query></iq>`,
		testenv.Escape(iq.Attr("id")), testenv.Escape(iq.Attr("from")), nsVersion)
	m := bob.Expect(t, ircFrom("Alice", "NOTICE", "bob"), "the CTCP VERSION reply")
	if want := "\x01VERSION Gajim (through the biboumi gateway) 1.8.4 Linux\x01"; lastParam(m) != want {
		t.Errorf("reply %q, want %q", lastParam(m), want)
	}
}

// 9. A line in latin-1 from IRC (reference §6.1 encodings).
func testLatin1(t *testing.T, s setup) {
	s.nicks = []string{"bob"}
	w := s.start(t)
	alice, bob := w.alice, w.irc[0]
	bob.Join(t, "#latin")
	room := w.room("#latin")
	join(t, alice, room, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#latin"), "Alice's JOIN")

	bob.Send(t, "PRIVMSG #latin :caf\xe9 cr\xe8me")
	e := alice.Expect(t, groupchatFrom(room+"/bob"), "bob's latin-1 message")
	if got := e.ChildText("body"); got != "café crème" {
		t.Errorf("body %q, want %q", got, "café crème")
	}
	bob.Privmsg(t, "#latin", "déjà vu") // UTF-8 stays as it is
	e = alice.Expect(t, groupchatFrom(room+"/bob"), "bob's UTF-8 message")
	if got := e.ChildText("body"); got != "déjà vu" {
		t.Errorf("body %q, want %q", got, "déjà vu")
	}
}

// 10. IRC colours → plain body plus XHTML-IM (reference §6.1).
func testColours(t *testing.T, s setup) {
	s.nicks = []string{"bob"}
	w := s.start(t)
	alice, bob := w.alice, w.irc[0]
	bob.Join(t, "#colour")
	room := w.room("#colour")
	join(t, alice, room, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#colour"), "Alice's JOIN")

	bob.Privmsg(t, "#colour", "\x0304red\x03 text")
	e := alice.Expect(t, groupchatFrom(room+"/bob"), "bob's coloured message")
	if got := e.ChildText("body"); got != "red text" {
		t.Errorf("plain body %q, want %q", got, "red text")
	}
	body := e.ChildNS(nsXHTMLIM, "html").ChildNS(nsXHTML, "body")
	if body == nil {
		t.Fatalf("no <html xmlns='%s'><body xmlns='%s'>: %s", nsXHTMLIM, nsXHTML, e)
	}
	span := body.Child("span")
	if span == nil || span.Text != "red" || body.Text != " text" {
		t.Fatalf("XHTML body %s, want a span holding \"red\" followed by \" text\"", body)
	}
	// Colour 4 is red in the IRC convention (Biboumi 9.0 says indianred;
	// format.go follows the convention on purpose).
	if style := span.Attr("style"); !strings.Contains(style, "color:red;") {
		t.Errorf("span style %q, want color:red;", style)
	}
}

// 11. A long message is split into IRC lines that fit, each reflected once
// (reference §5.7).
func testLongMessage(t *testing.T, s setup) {
	s.nicks = []string{"bob"}
	w := s.start(t)
	alice, bob := w.alice, w.irc[0]
	bob.Join(t, "#long")
	room := w.room("#long")
	join(t, alice, room, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#long"), "Alice's JOIN")

	// 2,000 characters of numbered words with 2-, 3- and 4-byte
	// characters, so that a lost or repeated piece shows.
	var b strings.Builder
	for i := 0; utf8.RuneCountInString(b.String()) < 2000; i++ {
		fmt.Fprintf(&b, "%03d-é€😀 ", i)
	}
	text := string([]rune(b.String())[:2000])
	if strings.HasSuffix(text, " ") {
		text = text[:len(text)-1] + "x"
	}
	alice.Sendf(t, `<message to='%s' type='groupchat' id='long1'><body>%s</body></message>`, room, testenv.Escape(text))

	var pieces []string
	for joined := ""; joined != text; {
		m := bob.Expect(t, ircFrom("Alice", "PRIVMSG", "#long"), fmt.Sprintf("piece %d of Alice's long message", len(pieces)+1))
		line := ":" + m.Source + " PRIVMSG #long :" + lastParam(m) + "\r\n"
		if len(line) > 512 {
			t.Errorf("piece %d is a %d-byte IRC line", len(pieces)+1, len(line))
		}
		if !utf8.ValidString(lastParam(m)) {
			t.Errorf("piece %d is not valid UTF-8 (cut inside a character)", len(pieces)+1)
		}
		pieces = append(pieces, lastParam(m))
		joined += lastParam(m)
		if !strings.HasPrefix(text, joined) {
			t.Fatalf("the pieces so far do not rebuild the message:\n got %q\nwant %q", joined, text[:min(len(text), len(joined))])
		}
	}
	if len(pieces) < 2 {
		t.Errorf("a %d-byte message went out as %d PRIVMSG", len(text), len(pieces))
	}
	t.Logf("%d characters (%d bytes) in %d PRIVMSGs", utf8.RuneCountInString(text), len(text), len(pieces))

	// One reflection per piece, the first with the client's id.
	for i, p := range pieces {
		e := alice.Expect(t, groupchatFrom(room+"/Alice"), fmt.Sprintf("reflection %d", i+1))
		if e.ChildText("body") != p {
			t.Errorf("reflection %d is %q, want piece %q", i+1, e.ChildText("body"), p)
		}
		if i == 0 && e.Attr("id") != "long1" {
			t.Errorf("first reflection has id %q, want long1", e.Attr("id"))
		}
	}
	// Nothing more: a marker message comes right after the last reflection.
	alice.Sendf(t, `<message to='%s' type='groupchat' id='end'><body>end</body></message>`, room)
	for _, e := range collectUntil(t, alice, testenv.IsStanza("message", "id", "end"), "the marker's reflection") {
		if e.Attr("id") != "end" && e.Attr("from") == room+"/Alice" {
			t.Errorf("an extra reflection: %s", e)
		}
	}
	for _, m := range ircUntil(t, bob, ircFrom("Alice", "PRIVMSG", "#long", "end"), "the marker message") {
		if m.Command == "PRIVMSG" && lastParam(m) != "end" {
			t.Errorf("an extra PRIVMSG: %q", lastParam(m))
		}
	}
}

// 12. Private messages (PRIVMSG and NOTICE) and /me both ways (reference
// §5.7, §5.8, §6.1 CTCP).
func testPrivateAndMe(t *testing.T, s setup) {
	s.nicks = []string{"Bob"}
	w := s.start(t)
	alice, bob := w.alice, w.irc[0]
	bob.Join(t, "#pm")
	room := w.room("#pm")
	join(t, alice, room, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#pm"), "Alice's JOIN")
	pm := w.user("bob") // PM JIDs carry the lowercased nick (reference §2)
	isPM := func(e *testenv.Element) bool {
		return e.Name() == "message" && e.Attr("type") == "chat" && e.Attr("from") == pm
	}
	checkPM := func(e *testenv.Element, body string) {
		t.Helper()
		if e.ChildText("body") != body {
			t.Errorf("private message body %q, want %q: %s", e.ChildText("body"), body, e)
		}
		if e.ChildNS(nsCarbons, "private") == nil || e.ChildNS(nsHints, "no-copy") == nil {
			t.Errorf("private message without <private/> and <no-copy/>: %s", e)
		}
	}

	// IRC → XMPP: PRIVMSG.
	bob.Privmsg(t, "Alice", "hello alice")
	checkPM(alice.Expect(t, isPM, "Bob's private message"), "hello alice")

	// A NOTICE from a nick Alice never wrote to is a gateway message.
	bob.Send(t, "NOTICE Alice :a notice")
	e := alice.Expect(t, and(testenv.IsStanza("message", "type", "chat", "from", w.serverJID()), func(e *testenv.Element) bool {
		return strings.Contains(e.ChildText("body"), "a notice")
	}), "Bob's notice as a gateway message")
	if body := e.ChildText("body"); !strings.HasPrefix(body, "Bob (") || !strings.HasSuffix(body, "): a notice") {
		t.Errorf("notice body %q, want \"Bob (user@host): a notice\"", body)
	}

	// XMPP → IRC: chat message and /me.
	alice.Sendf(t, `<message to='%s' type='chat'><body>hi bob</body></message>`, pm)
	bob.Expect(t, ircFrom("Alice", "PRIVMSG", "Bob", "hi bob"), "Alice's private message")
	alice.Sendf(t, `<message to='%s' type='chat'><body>/me waves</body></message>`, pm)
	bob.Expect(t, ircFrom("Alice", "PRIVMSG", "Bob", "\x01ACTION waves\x01"), "Alice's private /me")

	// Now Bob is a private partner: his notices are private messages.
	bob.Send(t, "NOTICE Alice :noticed")
	checkPM(alice.Expect(t, isPM, "Bob's notice as a private message"), "noticed")

	// IRC → XMPP: ACTION in private and in the channel.
	bob.Privmsg(t, "Alice", "\x01ACTION nods\x01")
	checkPM(alice.Expect(t, isPM, "Bob's private /me"), "/me nods")
	bob.Privmsg(t, "#pm", "\x01ACTION claps\x01")
	e = alice.Expect(t, groupchatFrom(room+"/Bob"), "Bob's /me in the channel")
	if e.ChildText("body") != "/me claps" {
		t.Errorf("body %q, want %q", e.ChildText("body"), "/me claps")
	}

	// XMPP → IRC: /me in the channel, reflected as /me.
	alice.Sendf(t, `<message to='%s' type='groupchat' id='me1'><body>/me dances</body></message>`, room)
	bob.Expect(t, ircFrom("Alice", "PRIVMSG", "#pm", "\x01ACTION dances\x01"), "Alice's /me in the channel")
	e = alice.Expect(t, and(groupchatFrom(room+"/Alice"), testenv.IsStanza("message", "id", "me1")), "the reflection of Alice's /me")
	if e.ChildText("body") != "/me dances" {
		t.Errorf("reflection body %q, want %q", e.ChildText("body"), "/me dances")
	}
}
