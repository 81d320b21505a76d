package ircclient

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"biboumi/ircbridge/fakeirc"
	"github.com/ergochat/irc-go/ircmsg"
)

// syncBuffer is a bytes.Buffer safe for the Conn's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestWebIRC: WEBIRC goes first, before PASS and CAP, and its password
// never reaches the logs.
func TestWebIRC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		webirc   WebIRCConfig
		wantLine string
		wantLog  string
	}{{
		name:     "IPv4",
		webirc:   WebIRCConfig{Password: "s3cr3t-webirc", Gateway: "biboumi", Hostname: "user.example.org", IP: "192.0.2.7"},
		wantLine: "WEBIRC s3cr3t-webirc biboumi user.example.org 192.0.2.7",
		wantLog:  "WEBIRC <redacted> biboumi user.example.org 192.0.2.7",
	}, {
		name:     "IPv6 as hostname and IP",
		webirc:   WebIRCConfig{Password: "s3cr3t-webirc", Gateway: "biboumi", Hostname: "::1", IP: "::1"},
		wantLine: "WEBIRC s3cr3t-webirc biboumi 0::1 0::1",
		wantLog:  "WEBIRC <redacted> biboumi 0::1 0::1",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeirc.NewServer(t)
			events := make(chan Event, 16)
			var logs syncBuffer
			cfg := baseConfig(t, srv, events)
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: levelTrace}))
			cfg.Password = "server-pass"
			cfg.WebIRC = &tc.webirc
			c := dial(t, t.Context(), cfg)
			cl := srv.Accept(t)
			cl.ExpectLine(t, tc.wantLine)
			cl.ExpectLine(t, "PASS server-pass")
			cl.ExpectLine(t, "CAP LS 302")
			cl.Expect(t, "NICK")
			cl.Expect(t, "USER")
			c.Close()
			<-c.Done()
			log := logs.String()
			if strings.Contains(log, "s3cr3t-webirc") || strings.Contains(log, "server-pass") {
				t.Errorf("a password reached the logs:\n%s", log)
			}
			if !strings.Contains(log, tc.wantLog) {
				t.Errorf("logs lack %q:\n%s", tc.wantLog, log)
			}
		})
	}
}

func TestWebIRCInvalidConfig(t *testing.T) {
	t.Parallel()
	for _, w := range []WebIRCConfig{
		{Password: "", Gateway: "g", Hostname: "h", IP: "192.0.2.1"},
		{Password: "p w", Gateway: "g", Hostname: "h", IP: "192.0.2.1"},
		{Password: "p", Gateway: "g", Hostname: "h", IP: "not-an-ip"},
		{Password: ":p", Gateway: "g", Hostname: "h", IP: "192.0.2.1"},
	} {
		events := make(chan Event, 4)
		c := dial(t, t.Context(), Config{Server: "127.0.0.1", Ports: []int{6667}, Nick: "n", WebIRC: &w, Events: events})
		if closed := expectClosed(t, c, events); !errors.Is(closed.Err, ErrConfig) {
			t.Errorf("WebIRC %+v: Closed = %q, %v", w, closed.Text, closed.Err)
		}
	}
}

// TestTagsDelivered: IRCv3 tags reach the owner unchanged, next to
// parameters decoded from the fallback charset.
func TestTagsDelivered(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	_, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
	cl.Send(t, `@time=2026-11-28T12:00:00.123Z;msgid=AB-12_cd;label=l1;batch=b1;+draft/reply=x\sy :n!u@h PRIVMSG #c :caf`+"\xe9")
	m := expectLine(t, events, "PRIVMSG").Msg
	want := map[string]string{"time": "2026-11-28T12:00:00.123Z", "msgid": "AB-12_cd", "label": "l1", "batch": "b1", "+draft/reply": "x y"}
	got := m.AllTags()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("tag %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) || m.Params[1] != "café" {
		t.Errorf("tags %q, params %q", got, m.Params)
	}
	cl.Send(t, ":srv BATCH +b1 chathistory #c")
	if l := expectLine(t, events, "BATCH"); l.Msg.Params[0] != "+b1" {
		t.Errorf("BATCH %q", l.Msg.Params)
	}
}

// TestSendTags: tags go out only when the server negotiated them.
func TestSendTags(t *testing.T) {
	t.Parallel()
	labeled := ircmsg.MakeMessage(map[string]string{"label": "x1"}, "", "PRIVMSG", "#c", "hi there")
	typing := ircmsg.MakeMessage(map[string]string{"+typing": "active"}, "", "TAGMSG", "#c")
	forced := ircmsg.MakeMessage(map[string]string{"label": "x2", "+typing": "active"}, "", "PRIVMSG", "#c", "word")
	forced.ForceTrailing()
	tests := []struct {
		caps string
		want []string // lines for labeled, typing, forced
	}{
		{"multi-prefix", []string{"PRIVMSG #c :hi there", "TAGMSG #c", "PRIVMSG #c :word"}},
		{"labeled-response batch", []string{"@label=x1 PRIVMSG #c :hi there", "TAGMSG #c", "@label=x2 PRIVMSG #c :word"}},
		{"message-tags labeled-response batch", []string{"@label=x1 PRIVMSG #c :hi there", "@+typing=active TAGMSG #c", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.caps, func(t *testing.T) {
			t.Parallel()
			srv := fakeirc.NewServer(t)
			events := make(chan Event, 64)
			c := dial(t, t.Context(), baseConfig(t, srv, events))
			cl := srv.Accept(t)
			cl.RegisterCaps(t, "nick", tc.caps)
			expectEvent[Progress](t, events)
			expectEvent[Progress](t, events)
			expectEvent[Registered](t, events)
			for i, m := range []ircmsg.Message{labeled, typing, forced} {
				if err := c.Send(m); err != nil {
					t.Fatal(err)
				}
				line := cl.ReadLine(t)
				if tc.want[i] == "" {
					// Two tags: their order is a map's.
					if line != "@label=x2;+typing=active PRIVMSG #c :word" && line != "@+typing=active;label=x2 PRIVMSG #c :word" {
						t.Errorf("got %q", line)
					}
					continue
				}
				if line != tc.want[i] {
					t.Errorf("got %q, want %q", line, tc.want[i])
				}
			}
			if _, v := forced.GetTag("+typing"); v != "active" {
				t.Errorf("Send modified the caller's message")
			}
		})
	}
}

// TestLineLimit: 512 bytes unless LINELEN says more.
func TestLineLimit(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	c, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
	if n := c.LineLimit(); n != 512 {
		t.Fatalf("LineLimit = %d", n)
	}
	long := strings.Repeat("a", 900)
	if err := c.Send(ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", long)); err != nil {
		t.Fatal(err)
	}
	if line := cl.ReadLine(t); len(line) != 510 {
		t.Errorf("line of %d bytes, want 510", len(line))
	}
	cl.Send(t, ":srv 005 nick LINELEN=1024 :are supported by this server")
	expectLine(t, events, "005")
	if n := c.LineLimit(); n != 1024 {
		t.Fatalf("LineLimit = %d after LINELEN=1024", n)
	}
	if err := c.Send(ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", long)); err != nil {
		t.Fatal(err)
	}
	if m := cl.Expect(t, "PRIVMSG"); m.Params[1] != long {
		t.Errorf("text cut to %d bytes", len(m.Params[1]))
	}
	// Lines longer than 512 bytes are read too.
	cl.Send(t, ":n!u@h PRIVMSG #c :"+long)
	if l := expectLine(t, events, "PRIVMSG"); l.Msg.Params[1] != long {
		t.Errorf("read %d bytes", len(l.Msg.Params[1]))
	}
	cl.Send(t, ":srv 005 nick LINELEN=100000 :are supported by this server")
	expectLine(t, events, "005")
	if n := c.LineLimit(); n != maxLineLimit {
		t.Fatalf("LineLimit = %d after LINELEN=100000", n)
	}
}

// TestCapNotify: CAP NEW requests newly offered wanted caps, CAP DEL drops
// them from AckedCaps.
func TestCapNotify(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	c, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
	if !c.Has("multi-prefix") || c.Has("away-notify") {
		t.Fatalf("AckedCaps = %q", c.AckedCaps())
	}
	cl.Send(t, ":srv CAP nick NEW :away-notify draft/unknown sasl=PLAIN account-notify")
	cl.ExpectLine(t, "CAP REQ :away-notify account-notify")
	cl.Send(t, ":srv CAP nick ACK :away-notify account-notify")
	cl.Send(t, "PING :sync")
	cl.ExpectLine(t, "PONG sync")
	if !c.Has("away-notify") || !c.Has("account-notify") {
		t.Fatalf("AckedCaps = %q", c.AckedCaps())
	}
	cl.Send(t, ":srv CAP nick DEL :away-notify multi-prefix")
	cl.Send(t, "PING :sync2")
	cl.ExpectLine(t, "PONG sync2")
	if c.Has("away-notify") || c.Has("multi-prefix") || !c.Has("account-notify") {
		t.Fatalf("AckedCaps after DEL = %q", c.AckedCaps())
	}
}

// TestIdentHook: Config.Ident gets the socket's addresses before the
// server sees any line, and its release runs when the socket closes.
func TestIdentHook(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	cfg := baseConfig(t, srv, events)
	type pair struct{ local, remote netip.AddrPort }
	got := make(chan pair, 1)
	released := make(chan struct{})
	cfg.Ident = func(local, remote netip.AddrPort) func() {
		got <- pair{local, remote}
		return func() { close(released) }
	}
	c := dial(t, t.Context(), cfg)
	cl := srv.Accept(t)
	p := <-got
	if p.remote.String() != srv.Addr() || p.local.String() != cl.RemoteAddr().String() {
		t.Errorf("Ident(%v, %v); want %v, %v", p.local, p.remote, cl.RemoteAddr(), srv.Addr())
	}
	select {
	case <-released:
		t.Fatal("released while connected")
	default:
	}
	c.Close()
	<-c.Done()
	select {
	case <-released:
	default:
		t.Fatal("not released after close")
	}
}
