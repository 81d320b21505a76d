package ircbridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"biboumi/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

func TestRetention(t *testing.T) {
	h := newHarness(t, true)
	old := time.Now().Add(-48 * time.Hour)
	lines := []*store.LogLine{
		{Owner: jid.MustParse("alice@localhost"), Server: "127.0.0.1", Channel: "#test", Time: old, Nick: "a", Body: "old"},
		{Owner: jid.MustParse("alice@localhost"), Server: "127.0.0.1", Channel: "#test", Time: time.Now(), Nick: "a", Body: "new"},
	}
	if err := h.st.AppendLogs(t.Context(), lines); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	h.g.SetConfig(Config{Domain: jid.MustParse("irc.localhost"), Retention: 24 * time.Hour})
	go func() { h.g.RunRetention(ctx, time.Hour); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		page, err := h.st.ListLogs(t.Context(), store.LogQuery{Owner: jid.MustParse("alice@localhost"), Server: "127.0.0.1", Channel: "#test"})
		if err == nil && len(page.Lines) == 1 && page.Lines[0].Body == "new" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive after purge: %+v, %v", page.Lines, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestPurgeArchiveCommand(t *testing.T) {
	h := newHarness(t, true)
	h.g.SetConfig(Config{Domain: jid.MustParse("irc.localhost"), Admins: []jid.JID{jid.MustParse("admin@localhost")}})
	if err := h.st.AppendLogs(t.Context(), []*store.LogLine{
		{Owner: jid.MustParse("alice@localhost"), Server: "s", Channel: "#c", Time: time.Now().Add(-72 * time.Hour), Nick: "a", Body: "old"},
		{Owner: jid.MustParse("bob@localhost"), Server: "s", Channel: "#c", Time: time.Now(), Nick: "a", Body: "new"},
	}); err != nil {
		t.Fatal(err)
	}
	admin := jid.MustParse("admin@localhost/desk")
	iq := h.command(admin, "irc.localhost", "p1", &Command{Node: "purge-archive"})
	cmd := iq.Payload.(*Command)
	if f := cmd.Form.Field("older_than"); f == nil || f.Values[0] != "365d" {
		t.Fatalf("form %+v", cmd.Form)
	}
	iq = h.command(admin, "irc.localhost", "p2", &Command{Node: "purge-archive", SessionID: cmd.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "older_than", Values: []string{"soon"}}}}})
	if iq.Error == nil || !strings.Contains(ErrorText(*iq.Error), "older_than") {
		t.Fatalf("bad value: %s", describe(iq))
	}
	iq = h.command(admin, "irc.localhost", "p3", &Command{Node: "purge-archive"})
	cmd = iq.Payload.(*Command)
	iq = h.command(admin, "irc.localhost", "p4", &Command{Node: "purge-archive", SessionID: cmd.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "older_than", Values: []string{"2d"}}}}})
	if c := iq.Payload.(*Command); c.Notes[0].Text != "1 lines older than 2d were deleted." {
		t.Errorf("note %q", c.Notes[0].Text)
	}
	iq = h.command(alicePhone, "irc.localhost", "p5", &Command{Node: "purge-archive"})
	if iq.Error == nil || iq.Error.Condition != stanza.Forbidden {
		t.Errorf("non-admin: %s", describe(iq))
	}
}
