package ircbridge

import (
	"testing"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

var alicePhone = jid.MustParse("alice@localhost/phone")

func TestCTCPVersionFromIRC(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	c.Send(t, ":Bob!b@host PRIVMSG Alice :\x01VERSION\x01")
	iq := h.rec.expect(t, "iq", `type="get"`, "from=bob%127.0.0.1@irc.localhost", "to=alice@localhost/phone", "*ircbridge.Version").(IQ)
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: iq.From, ID: iq.ID, Type: stanza.ResultIQ,
		Payload: &Version{Name: "Gajim", Version: "1.9", OS: "Linux"}})
	c.ExpectLine(t, "NOTICE Bob :\x01VERSION Gajim (through the biboumi gateway) 1.9 Linux\x01")
}

func TestCTCPPingFromIRC(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	c.Send(t, ":Bob!b@host PRIVMSG Alice :\x01PING 12345\x01")
	iq := h.rec.expect(t, "iq", `type="get"`, "*ircbridge.Ping").(IQ)
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: iq.From, ID: iq.ID, Type: stanza.ErrorIQ,
		Error: &stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}})
	c.ExpectLine(t, "NOTICE Bob :\x01PING 12345\x01")
}

func TestVersionAndPingToIRC(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: jid.MustParse(h.room() + "/Bob"), ID: "v1", Type: stanza.GetIQ, Payload: &Version{}})
	c.ExpectLine(t, "PRIVMSG Bob \x01VERSION\x01")
	c.Send(t, ":Bob!b@host NOTICE Alice :\x01VERSION irssi 1.4\x01")
	iq := h.rec.expect(t, "iq", `id="v1"`, `type="result"`).(IQ)
	if v := iq.Payload.(*Version); v.Name != "irssi 1.4" {
		t.Errorf("version %+v", v)
	}
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: jid.MustParse("bob%127.0.0.1@irc.localhost"), ID: "p1", Type: stanza.GetIQ, Payload: &Ping{}})
	c.ExpectLine(t, "PRIVMSG bob :\x01PING p1\x01")
	c.Send(t, ":Bob!b@host NOTICE Alice :\x01PING p1\x01")
	h.rec.expect(t, "iq", `id="p1"`, `type="result"`)

	// Unknown nick: 401 fails the request.
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: jid.MustParse("zed%127.0.0.1@irc.localhost"), ID: "v2", Type: stanza.GetIQ, Payload: &Version{}})
	c.ExpectLine(t, "PRIVMSG zed \x01VERSION\x01")
	c.Send(t, ":irc.test 401 Alice zed :No such nick/channel")
	h.rec.expect(t, "iq", `id="v2"`, "cancel/item-not-found")

	// Self-ping (XEP-0410) is answered at once; a stranger is not in the room.
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: jid.MustParse(h.room() + "/Alice"), ID: "s1", Type: stanza.GetIQ, Payload: &Ping{}})
	h.rec.expect(t, "iq", `id="s1"`, `type="result"`)
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: jid.MustParse(h.room() + "/Nobody"), ID: "s2", Type: stanza.GetIQ, Payload: &Ping{}})
	h.rec.expect(t, "iq", `id="s2"`, "cancel/item-not-found")
	h.g.HandleIQ(t.Context(), IQ{From: jid.MustParse("alice@localhost/other"), To: jid.MustParse(h.room() + "/Alice"), ID: "s3", Type: stanza.GetIQ, Payload: &Ping{}})
	h.rec.expect(t, "iq", `id="s3"`, "cancel/not-acceptable")
}

func TestAdminToIRC(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	room := jid.MustParse(h.room())
	// Give Bob voice... he is an op: making him a member removes +o, adds +v.
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: room, ID: "a1", Type: stanza.SetIQ,
		Payload: &MUCAdmin{Items: []MUCItem{{Nick: "Bob", Affiliation: AffMember}}}})
	c.ExpectLine(t, "MODE #test +v-o Bob Bob")
	c.Send(t, ":Alice!a@h MODE #test +v-o Bob Bob")
	h.rec.expect(t, "message", "groupchat", "Mode #test [+v-o Bob Bob] by Alice")
	h.rec.expect(t, "presence", "/Bob", "aff=member role=participant")
	h.rec.expect(t, "iq", `id="a1"`, `type="result"`)

	// Refused by the server.
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: room, ID: "a2", Type: stanza.SetIQ,
		Payload: &MUCAdmin{Items: []MUCItem{{Nick: "Bob", Affiliation: AffAdmin}}}})
	c.ExpectLine(t, "MODE #test +o Bob")
	c.Send(t, ":irc.test 482 Alice #test :You're not channel operator")
	h.rec.expect(t, "iq", `id="a2"`, "cancel/not-allowed")

	// Kick.
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: room, ID: "k1", Type: stanza.SetIQ,
		Payload: &MUCAdmin{Items: []MUCItem{{Nick: "Bob", Role: RoleNone, Reason: "bye"}}}})
	c.ExpectLine(t, "KICK #test Bob bye")
	c.Send(t, ":Alice!a@h KICK #test Bob :bye")
	h.rec.expect(t, "presence", `type="unavailable"`, "/Bob", "codes=[307]")
	h.rec.expect(t, "iq", `id="k1"`, `type="result"`)

	// Unknown nick.
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: room, ID: "a3", Type: stanza.SetIQ,
		Payload: &MUCAdmin{Items: []MUCItem{{Nick: "Nobody", Role: RoleNone}}}})
	h.rec.expect(t, "iq", `id="a3"`, "cancel/item-not-found")
}

func TestKickedFromIRC(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	c.Send(t, ":Bob!b@h KICK #test Alice :out")
	p := h.rec.expect(t, "presence", `type="unavailable"`, "/Alice", "codes=[110 307]").(Presence)
	if it := p.MUCUser.Items[0]; it.Actor == nil || it.Actor.Nick != "Bob" || it.Reason != "out" {
		t.Errorf("item %+v", it)
	}
	c.Expect(t, "QUIT")
}

func TestTopicAndFormatting(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	subject := "new\ntopic"
	h.g.HandleMessage(t.Context(), Message{From: alicePhone, To: jid.MustParse(h.room()), Type: stanza.GroupChatMessage, Subject: &subject})
	c.ExpectLine(t, "TOPIC #test :new topic")
	c.Send(t, ":Bob!b@h TOPIC #test :\x02bold\x02 topic")
	h.rec.expect(t, "message", "from="+h.room()+"/Bob", `subject="bold topic"`)

	c.Send(t, ":Bob!b@h PRIVMSG #test :\x0304red\x03 text")
	m := h.rec.expect(t, "groupchat", `body="red text"`).(Message)
	if len(m.XHTML) != 2 || m.XHTML[0].Color != "red" || m.XHTML[0].Text != "red" {
		t.Errorf("xhtml %+v", m.XHTML)
	}
	c.Send(t, ":Bob!b@h NOTICE #test :heads up")
	h.rec.expect(t, "groupchat", `body="[notice] heads up"`)
	c.Send(t, ":Bob!b@h NOTICE Alice :not a partner")
	h.rec.expect(t, `type="chat"`, "from=127.0.0.1@irc.localhost", `body="Bob (b@h): not a partner"`)
	c.Send(t, ":Bob!b@h MODE Alice +i")
	h.rec.expect(t, `type="chat"`, "User mode for Alice is [+i]")
}

func TestConnectionLost(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	c.Send(t, "ERROR :Closing link (K-lined)")
	c.Close()
	h.rec.expect(t, "presence", `type="unavailable"`, "/Alice", "codes=[110 332]", "Closing link (K-lined)")
	h.rec.expect(t, `type="chat"`, "ERROR: Closing link (K-lined)")
}

func TestInvitations(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	room := jid.MustParse(h.room())
	h.g.HandleMessage(t.Context(), Message{From: alicePhone, To: room, MUCUser: &MUCUser{Invite: &Invite{To: jid.MustParse("carol%127.0.0.1@irc.localhost")}}})
	c.ExpectLine(t, "INVITE carol #test")
	h.g.HandleMessage(t.Context(), Message{From: alicePhone, To: room, MUCUser: &MUCUser{Invite: &Invite{To: jid.MustParse("dave@localhost"), Reason: "come"}}})
	m := h.rec.expect(t, "message", "from="+h.room(), "to=dave@localhost").(Message)
	if m.MUCUser == nil || m.MUCUser.Invite == nil || !m.MUCUser.Invite.From.Equal(alicePhone) || m.MUCUser.Invite.Reason != "come" {
		t.Errorf("mediated invitation %+v", m.MUCUser)
	}
	c.Send(t, ":Bob!b@h INVITE Alice #other")
	m = h.rec.expect(t, "message", "from=#other%127.0.0.1@irc.localhost", "to=alice@localhost/phone").(Message)
	if m.MUCUser.Invite.From.String() != "#other%127.0.0.1@irc.localhost/Bob" {
		t.Errorf("invite from %s", m.MUCUser.Invite.From)
	}
	// A forced join invites the user, and a later join is answered from state.
	c.Send(t, ":Alice!a@h JOIN #forced")
	h.rec.expect(t, "message", "from=#forced%127.0.0.1@irc.localhost", "to=alice@localhost/phone")
	c.Send(t, ":irc.test 353 Alice = #forced :Alice Zoe")
	c.Send(t, ":irc.test 366 Alice #forced :End")
	h.g.HandlePresence(t.Context(), Presence{From: alicePhone, To: jid.MustParse("#forced%127.0.0.1@irc.localhost/Alice"), MUC: &MUCJoin{}})
	h.rec.expect(t, "presence", "#forced%127.0.0.1@irc.localhost/Zoe")
	h.rec.expect(t, "presence", "#forced%127.0.0.1@irc.localhost/Alice", "codes=[110 210 100]")
	c.ExpectSilence(t, 100e6)

	// The user joins while the NAMES lines of a forced join are arriving:
	// the occupants listed before the join are not lost.
	c.Send(t, ":Alice!a@h JOIN #midway")
	h.rec.expect(t, "message", "from=#midway%127.0.0.1@irc.localhost", "to=alice@localhost/phone")
	c.Send(t, ":irc.test 353 Alice = #midway :Alice Yann")
	c.Send(t, ":Bob!b@h PRIVMSG #test :sync") // IRC lines are handled in order
	h.rec.expect(t, "groupchat", `body="sync"`)
	h.g.HandlePresence(t.Context(), Presence{From: alicePhone, To: jid.MustParse("#midway%127.0.0.1@irc.localhost/Alice"), MUC: &MUCJoin{}})
	h.rec.expect(t, "presence", "#midway%127.0.0.1@irc.localhost/Yann")
	c.Send(t, ":irc.test 353 Alice = #midway :Xavi")
	h.rec.expect(t, "presence", "#midway%127.0.0.1@irc.localhost/Xavi")
	c.Send(t, ":irc.test 366 Alice #midway :End")
	h.rec.expect(t, "presence", "#midway%127.0.0.1@irc.localhost/Alice", "codes=[110 210 100]")
}
