package identd_test

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"biboumi/internal/testenv"
	"biboumi/ircbridge/identd"
	"biboumi/ircbridge/ircclient"
)

// TestInspircdQueriesUs: inspircd (ident module) queries port 113 of the
// gateway's address when ircclient connects (ngircd only does with its DNS
// resolver on, which the test config keeps off); the
// connection registered through Config.Ident gets our user id as its
// username, without the "~" of an unanswered query. This checks the port
// order of the query against real servers. It needs port 113 on 127.0.0.1
// (root), and is skipped without it, except in CI (CI=true), which runs as
// root and must run it.
func TestInspircdQueriesUs(t *testing.T) {
	t.Parallel()
	srv, err := identd.New(identd.Config{Addr: "127.0.0.1:113", Timeout: 2 * time.Second, Grace: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("cannot listen on 127.0.0.1:113 (CI runs as root): %v", err)
		}
		t.Skipf("cannot listen on 127.0.0.1:113: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-served })

	for _, kind := range []string{"inspircd"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			irc := testenv.StartInspircd(t, testenv.IRCOptions{Ident: true})
			events := make(chan ircclient.Event, 64)
			var registered []netip.AddrPort
			c := ircclient.Dial(t.Context(), ircclient.Config{
				Server: irc.Host,
				Ports:  []int{irc.Port},
				Nick:   "identuser",
				Events: events,
				Ident: func(local, remote netip.AddrPort) func() {
					registered = []netip.AddrPort{local, remote}
					return srv.Register(local, remote, "a1b2c3d4")
				},
			})
			t.Cleanup(func() { c.Close(); <-c.Done() })
			begin := time.Now()
			for {
				ev := <-events
				if _, ok := ev.(ircclient.Registered); ok {
					break
				}
				if cl, ok := ev.(ircclient.Closed); ok {
					t.Fatalf("closed: %q", cl.Text)
				}
			}
			t.Logf("%s: registered in %v; Ident(%v, %v)", kind, time.Since(begin), registered[0], registered[1])
			watcher := testenv.DialIRC(t, irc.Addr, "watcher")
			watcher.Send(t, "WHOIS identuser")
			m := watcher.Expect(t, testenv.IsCommand("311", "watcher", "identuser"), "WHOIS 311")
			if user := m.Params[2]; user != "a1b2c3d4" {
				t.Errorf("%s: username %q, want the identd answer a1b2c3d4", kind, user)
			}
		})
	}
}
