package ircbridge

import (
	"testing"
	"time"

	"biboumi/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

func TestArchiveAndHistory(t *testing.T) {
	h := newHarness(t, true)
	c := h.connect()
	h.g.HandleMessage(t.Context(), Message{From: alicePhone, To: jid.MustParse(h.room()), ID: "m1", Type: stanza.GroupChatMessage, Body: "one"})
	c.ExpectLine(t, "PRIVMSG #test one")
	refl := h.rec.expect(t, "groupchat", `id="m1"`).(Message)
	if refl.StanzaID == nil || refl.StanzaID.ID == "" || !refl.StanzaID.By.Equal(jid.MustParse(h.room())) {
		t.Fatalf("reflection lacks a stanza-id by the room: %+v", refl.StanzaID)
	}
	c.Send(t, ":Bob!b@h PRIVMSG #test :two")
	live := h.rec.expect(t, "groupchat", `body="two"`).(Message)
	if live.StanzaID == nil || live.StanzaID.ID != live.ID {
		t.Fatalf("live message stanza-id %+v, id %q", live.StanzaID, live.ID)
	}
	c.Send(t, ":Bob!b@h PRIVMSG #test :\x01ACTION three\x01")
	h.rec.expect(t, "groupchat", `body="/me three"`)

	// A second resource joins with maxstanzas=2: the last two lines, oldest
	// first, with delays, between the self-presence and the subject.
	laptop := jid.MustParse("alice@localhost/laptop")
	waitArchived(t, h.st, 3)
	h.g.HandlePresence(t.Context(), Presence{From: laptop, To: jid.MustParse(h.room() + "/Alice"),
		MUC: &MUCJoin{History: &HistoryRequest{MaxStanzas: 2, MaxChars: -1, Seconds: -1}}})
	h.rec.expect(t, "presence", "/Alice", "to=alice@localhost/laptop", "codes=[110 210 100]")
	m1 := h.rec.expect(t, "groupchat", "to=alice@localhost/laptop", `body="two"`).(Message)
	m2 := h.rec.expect(t, "groupchat", "to=alice@localhost/laptop", `body="/me three"`).(Message)
	if m1.Delay == nil || m2.Delay == nil || !m1.Delay.From.Equal(jid.MustParse(h.room())) || m1.ID != live.ID {
		t.Errorf("history without delay or with another id: %+v %+v", m1, m2)
	}
	if m1.From.String() != h.room()+"/Bob" {
		t.Errorf("history from %s", m1.From)
	}
	h.rec.expect(t, "message", "to=alice@localhost/laptop", `subject=""`)

	// maxchars=0: no history.
	tablet := jid.MustParse("alice@localhost/tablet")
	h.g.HandlePresence(t.Context(), Presence{From: tablet, To: jid.MustParse(h.room() + "/Alice"),
		MUC: &MUCJoin{History: &HistoryRequest{MaxChars: 0, MaxStanzas: -1, Seconds: -1}}})
	h.rec.expect(t, "presence", "/Alice", "to=alice@localhost/tablet", "codes=[110 210 100]")
	h.rec.expect(t, "message", "to=alice@localhost/tablet", `subject=""`)

	// seconds beyond what a Duration holds (317 years): all the history,
	// not a start in the future.
	desk := jid.MustParse("alice@localhost/desk")
	h.g.HandlePresence(t.Context(), Presence{From: desk, To: jid.MustParse(h.room() + "/Alice"),
		MUC: &MUCJoin{History: &HistoryRequest{MaxChars: -1, MaxStanzas: 1, Seconds: 10000000000}}})
	h.rec.expect(t, "presence", "/Alice", "to=alice@localhost/desk", "codes=[110 210 100]")
	h.rec.expect(t, "groupchat", "to=alice@localhost/desk", `body="/me three"`)
}

func TestRecordHistoryPerChannel(t *testing.T) {
	h := newHarness(t, true)
	opts := store.DefaultChannelOptions(jid.MustParse("alice@localhost"), "127.0.0.1", "#test")
	opts.RecordHistory = store.False
	if err := h.st.StoreChannelOptions(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	c := h.connect()
	c.Send(t, ":Bob!b@h PRIVMSG #test :not archived")
	m := h.rec.expect(t, "groupchat", `body="not archived"`).(Message)
	if m.StanzaID != nil {
		t.Errorf("stanza-id on a line of a channel with record_history=false")
	}
	page, err := h.st.ListLogs(t.Context(), store.LogQuery{Owner: jid.MustParse("alice@localhost"), Server: "127.0.0.1", Channel: "#test", Last: true})
	if err != nil || len(page.Lines) != 0 {
		t.Errorf("archive: %v, %v", page.Lines, err)
	}
}

// waitArchived waits until the archive of alice in #test has n lines (the
// archiver writes in the background).
func waitArchived(t *testing.T, st store.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		page, err := st.ListLogs(t.Context(), store.LogQuery{Owner: jid.MustParse("alice@localhost"), Server: "127.0.0.1", Channel: "#test", Last: true})
		if err == nil && len(page.Lines) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive has %d lines, want %d (err %v)", len(page.Lines), n, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
