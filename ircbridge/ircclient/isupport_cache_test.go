package ircclient

import (
	"testing"
	"time"

	"biboumi/ircbridge/fakeirc"
)

// TestISupportCache: connections given one cache share their snapshot when
// the server sent them the same 005 lines, and only then.
func TestISupportCache(t *testing.T) {
	srv := fakeirc.NewServer(t)
	var cache ISupportCache
	conn := func(cache *ISupportCache, nick string) (*Conn, *fakeirc.Client) {
		events := make(chan Event, 64)
		cfg := baseConfig(t, srv, events)
		cfg.ISupportCache = cache
		return registered(t, srv, cfg, events, nick)
	}
	a, _ := conn(&cache, "a")
	b, clb := conn(&cache, "b") // 005 addressed to another nick: same tokens
	if a.ISupport() != b.ISupport() {
		t.Fatal("equal 005 lines, two snapshots")
	}
	if a.ISupport().Network() != "FakeNet" {
		t.Fatalf("shared snapshot lost its tokens: NETWORK=%q", a.ISupport().Network())
	}
	c, _ := conn(nil, "c")
	if c.ISupport() == a.ISupport() {
		t.Fatal("a connection without the cache got the shared snapshot")
	}
	// A new token on one connection makes a snapshot of its own.
	clb.Send(t, ":"+fakeirc.ServerName+" 005 b LINELEN=1024 :are supported by this server")
	deadline := time.Now().Add(eventTimeout)
	for b.ISupport().LineLen() != 1024 {
		if time.Now().After(deadline) {
			t.Fatal("005 not applied")
		}
		time.Sleep(time.Millisecond)
	}
	if a.ISupport() == b.ISupport() || a.ISupport().LineLen() == 1024 {
		t.Fatal("a 005 to one connection changed another's snapshot")
	}
}

// TestISupportKey: the cache key tells apart token sets that a naive
// concatenation would confuse.
func TestISupportKey(t *testing.T) {
	x := newISupport(map[string]string{"AB": "C"})
	y := newISupport(map[string]string{"A": "BC"})
	z := newISupport(map[string]string{"AB": "C"})
	if x.key() == y.key() || x.key() != z.key() {
		t.Fatalf("keys %q %q %q", x.key(), y.key(), z.key())
	}
}
