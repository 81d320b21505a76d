package ircbridge

import (
	"context"
	"testing"
	"time"

	"biboumi/store"

	"mellium.im/xmpp/jid"
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
	go func() { h.g.RunRetention(ctx, 24*time.Hour, time.Hour); close(done) }()
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
