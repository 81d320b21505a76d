package ircclient

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"biboumi/ircbridge/fakeirc"
	"github.com/ergochat/irc-go/ircmsg"
)

// TestRegistrationLines checks the exact registration sequence (reference
// §6.1): PASS, CAP LS 302, NICK, USER <username> <xmpp domain> ignored.
func TestRegistrationLines(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 16)
	cfg := baseConfig(t, srv, events)
	cfg.Password = "secret pass"
	dial(t, t.Context(), cfg)
	cl := srv.Accept(t)
	cl.ExpectLine(t, "PASS :secret pass")
	cl.ExpectLine(t, "CAP LS 302")
	cl.ExpectLine(t, "NICK nick")
	cl.ExpectLine(t, "USER user example.org ignored :Real Name")
}

func TestRegistrationDefaults(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 16)
	dial(t, t.Context(), Config{Server: srv.Host(), Ports: []int{srv.Port()}, Nick: "nick", Events: events})
	cl := srv.Accept(t)
	cl.ExpectLine(t, "CAP LS 302")
	cl.ExpectLine(t, "NICK nick")
	cl.ExpectLine(t, "USER nick 0 ignored :nick")
}

// TestCAPNegotiation plays several servers' CAP behaviours. After each
// script the server sends 001: the client must register, and the next line
// it sends must be the PONG to a PING, proving nothing else was queued.
func TestCAPNegotiation(t *testing.T) {
	t.Parallel()
	type step struct{ send, expect string }
	tests := []struct {
		name     string
		wantCaps []string
		steps    []step
		acked    []string
	}{{
		name: "multi-line LS then ACK, default caps in our order, never sasl",
		steps: []step{
			{send: ":srv CAP * LS * :away-notify sasl=PLAIN,EXTERNAL draft/foo"},
			{send: ":srv CAP * LS :multi-prefix server-time"},
			{expect: "CAP REQ :multi-prefix server-time away-notify"},
			{send: ":srv CAP * ACK :multi-prefix server-time away-notify"},
			{expect: "CAP END"},
		},
		acked: []string{"away-notify", "multi-prefix", "server-time"},
	}, {
		name: "NAK ends negotiation",
		steps: []step{
			{send: ":srv CAP * LS :multi-prefix"},
			{expect: "CAP REQ :multi-prefix"},
			{send: ":srv CAP * NAK :multi-prefix"},
			{expect: "CAP END"},
		},
	}, {
		name: "nothing wanted is offered",
		steps: []step{
			{send: ":srv CAP * LS :draft/foo sasl znc.in/playback"},
			{expect: "CAP END"},
		},
	}, {
		name:     "a NAK of several caps retries each alone",
		wantCaps: []string{"multi-prefix", "server-time", "echo-message"},
		steps: []step{
			{send: ":srv CAP * LS :server-time echo-message multi-prefix"},
			{expect: "CAP REQ :multi-prefix server-time echo-message"},
			{send: ":srv CAP * NAK :multi-prefix server-time echo-message"},
			{expect: "CAP REQ :multi-prefix"},
			{expect: "CAP REQ :server-time"},
			{expect: "CAP REQ :echo-message"},
			{send: ":srv CAP * ACK :multi-prefix"},
			{send: ":srv CAP * NAK :server-time"},
			{send: ":srv CAP * ACK :echo-message"},
			{expect: "CAP END"},
		},
		acked: []string{"echo-message", "multi-prefix"},
	}, {
		name:     "CAP NEW during negotiation is awaited too",
		wantCaps: []string{"multi-prefix", "server-time"},
		steps: []step{
			{send: ":srv CAP * LS :multi-prefix"},
			{expect: "CAP REQ :multi-prefix"},
			{send: ":srv CAP * NEW :server-time"},
			{expect: "CAP REQ :server-time"},
			{send: ":srv CAP * ACK :multi-prefix"},
			{send: ":srv CAP * ACK :server-time"},
			{expect: "CAP END"},
		},
		acked: []string{"multi-prefix", "server-time"},
	}, {
		name:     "several wanted, in our order",
		wantCaps: []string{"multi-prefix", "server-time", "echo-message"},
		steps: []step{
			{send: ":srv CAP * LS :server-time echo-message multi-prefix"},
			{expect: "CAP REQ :multi-prefix server-time echo-message"},
			{send: ":srv CAP * ACK :multi-prefix server-time echo-message"},
			{expect: "CAP END"},
		},
		acked: []string{"echo-message", "multi-prefix", "server-time"},
	}, {
		name:     "empty WantCaps requests nothing",
		wantCaps: []string{},
		steps: []step{
			{send: ":srv CAP * LS :multi-prefix"},
			{expect: "CAP END"},
		},
	}, {
		name: "410 ends negotiation",
		steps: []step{
			{send: ":srv 410 * LS :Invalid CAP command"},
			{expect: "CAP END"},
		},
	}, {
		name:  "no CAP support: 421",
		steps: []step{{send: ":srv 421 * CAP :Unknown command"}},
	}, {
		name: "no CAP support: 001 at once",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeirc.NewServer(t)
			events := make(chan Event, 64)
			cfg := baseConfig(t, srv, events)
			cfg.WantCaps = tc.wantCaps
			c := dial(t, t.Context(), cfg)
			cl := srv.Accept(t)
			cl.Expect(t, "CAP")
			cl.Expect(t, "NICK")
			cl.Expect(t, "USER")
			for _, s := range tc.steps {
				if s.send != "" {
					cl.Send(t, s.send)
				} else {
					cl.ExpectLine(t, s.expect)
				}
			}
			for _, l := range fakeirc.WelcomeBurst("nick") {
				cl.Send(t, l)
			}
			cl.Send(t, "PING :check")
			cl.ExpectLine(t, "PONG check")
			expectEvent[Progress](t, events)
			expectEvent[Progress](t, events)
			expectEvent[Registered](t, events)
			if got := c.AckedCaps(); !slices.Equal(got, tc.acked) {
				t.Errorf("AckedCaps = %q, want %q", got, tc.acked)
			}
			for _, cmd := range []string{"001", "002", "003", "004", "005", "422"} {
				expectLine(t, events, cmd) // CAP and 421 CAP are not reported
			}
		})
	}
}

func TestCAPNewAndDel(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	c, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
	if got := c.AckedCaps(); !slices.Equal(got, []string{"multi-prefix"}) {
		t.Fatalf("AckedCaps = %q", got)
	}
	cl.Send(t, ":srv CAP nick DEL :multi-prefix")
	cl.Send(t, ":srv CAP nick NEW :multi-prefix")
	cl.ExpectLine(t, "CAP REQ :multi-prefix") // no CAP END after registration
	cl.Send(t, ":srv CAP nick ACK :multi-prefix")
	cl.Send(t, "PING :sync")
	cl.ExpectLine(t, "PONG sync")
	if got := c.AckedCaps(); !slices.Equal(got, []string{"multi-prefix"}) {
		t.Fatalf("AckedCaps = %q", got)
	}
}

func TestPingPong(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	_, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
	cl.Send(t, "PING :hello world")
	cl.ExpectLine(t, "PONG :hello world")
	cl.Send(t, ":srv PING srv")
	cl.ExpectLine(t, "PONG srv")
	cl.Send(t, ":srv PRIVMSG nick :after")
	// PING is answered, not reported.
	if l := expectLine(t, events, "PRIVMSG"); l.Msg.Params[1] != "after" {
		t.Fatalf("got %q", l.Msg.Params)
	}
}

// TestKeepalive: a PING every PingInterval once registered; a server that
// stays silent for a whole interval after a PING is dropped.
func TestKeepalive(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	cfg := baseConfig(t, srv, events)
	cfg.PingInterval = 30 * time.Millisecond
	c, cl := registered(t, srv, cfg, events, "nick")
	cl.ExpectLine(t, "PING biboumi")
	cl.Send(t, ":srv PONG srv :biboumi")
	cl.ExpectLine(t, "PING biboumi")
	cl.Send(t, ":srv PONG srv :biboumi")
	cl.ExpectLine(t, "PING biboumi")
	// Silence now.
	closed := expectClosed(t, c, events)
	if closed.Text != "Ping timeout" || !errors.Is(closed.Err, ErrPingTimeout) {
		t.Fatalf("Closed = %q, %v", closed.Text, closed.Err)
	}
}

func TestRegistrationTimeout(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 16)
	cfg := baseConfig(t, srv, events)
	cfg.RegistrationTimeout = 50 * time.Millisecond
	c := dial(t, t.Context(), cfg)
	srv.Accept(t) // and never answer
	expectEvent[Progress](t, events)
	expectEvent[Progress](t, events)
	closed := expectClosed(t, c, events)
	if closed.Text != "Registration timed out" || !errors.Is(closed.Err, ErrRegistrationTimeout) {
		t.Fatalf("Closed = %q, %v", closed.Text, closed.Err)
	}
}

func TestISupportUpdates(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	c, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
	is := c.ISupport()
	if m, ok := is.PrefixMode('~'); !ok || m != 'q' {
		t.Errorf("PrefixMode('~') = %c, %v", m, ok)
	}
	if !is.IsChannel("#a") || is.IsChannel("&a") {
		t.Errorf("CHANTYPES=# not applied: %q", is.ChanTypes())
	}
	if is.Network() != "FakeNet" || is.Fold("Nick[A]") != "nick{a}" {
		t.Errorf("Network %q, Fold %q", is.Network(), is.Fold("Nick[A]"))
	}
	// 005 after registration applies too, and is reported.
	cl.Send(t, ":srv 005 nick CHANTYPES=#& -NETWORK CASEMAPPING=ascii :are supported by this server")
	expectLine(t, events, "005")
	is2 := c.ISupport()
	if !is2.IsChannel("&a") || is2.Network() != "" || is2.Fold("Nick[A]") != "nick[a]" {
		t.Errorf("after update: CHANTYPES %q, NETWORK %q, Fold %q", is2.ChanTypes(), is2.Network(), is2.Fold("Nick[A]"))
	}
	if is.IsChannel("&a") {
		t.Errorf("the earlier snapshot changed")
	}
}

func TestNickTracking(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	// The server may register us under another nick than requested.
	c, cl := registered(t, srv, baseConfig(t, srv, events), events, "Other[1]")
	if c.Nick() != "Other[1]" {
		t.Fatalf("Nick = %q", c.Nick())
	}
	cl.Send(t, ":someone!u@h NICK :someone2")
	expectLine(t, events, "NICK")
	if c.Nick() != "Other[1]" {
		t.Fatalf("someone else's NICK changed ours: %q", c.Nick())
	}
	cl.Send(t, ":other{1}!u@h NICK :newnick") // same nick under rfc1459
	expectLine(t, events, "NICK")
	if c.Nick() != "newnick" {
		t.Fatalf("Nick = %q, want newnick", c.Nick())
	}
}

// TestCharsetDecoding: parameters, source and tag values that are not
// UTF-8 are decoded from the fallback charset; UTF-8 ones are kept.
func TestCharsetDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fallback   string
		line       string
		wantSource string
		wantParams []string
		wantTag    string
	}{{
		name:       "latin1",
		line:       ":caf\xe9!u@h PRIVMSG #chan :caf\xe9 cr\xe8me",
		wantSource: "café!u@h",
		wantParams: []string{"#chan", "café crème"},
	}, {
		name:       "UTF-8 and latin1 parameters in one line",
		line:       ":n!u@h PRIVMSG #ch\u00e4n :\xe9t\xe9",
		wantSource: "n!u@h",
		wantParams: []string{"#chän", "été"},
	}, {
		name:       "windows-1252 punctuation",
		line:       ":n!u@h PRIVMSG #c :\x93quoted\x94 \x80",
		wantSource: "n!u@h",
		wantParams: []string{"#c", "“quoted” €"},
	}, {
		name:       "koi8-r",
		fallback:   "koi8-r",
		line:       ":n!u@h PRIVMSG #c :\xf0\xd2\xc9\xd7\xc5\xd4",
		wantSource: "n!u@h",
		wantParams: []string{"#c", "Привет"},
	}, {
		name:       "tag value",
		line:       "@+example.org/t=\xe9t\xe9;msgid=abc :n!u@h PRIVMSG #c :x",
		wantSource: "n!u@h",
		wantParams: []string{"#c", "x"},
		wantTag:    "été",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeirc.NewServer(t)
			events := make(chan Event, 64)
			cfg := baseConfig(t, srv, events)
			cfg.Fallback = tc.fallback
			_, cl := registered(t, srv, cfg, events, "nick")
			cl.Send(t, tc.line)
			m := expectLine(t, events, "PRIVMSG").Msg
			if m.Source != tc.wantSource || !slices.Equal(m.Params, tc.wantParams) {
				t.Errorf("got %q %q, want %q %q", m.Source, m.Params, tc.wantSource, tc.wantParams)
			}
			if tc.wantTag != "" {
				if _, v := m.GetTag("+example.org/t"); v != tc.wantTag {
					t.Errorf("tag = %q, want %q", v, tc.wantTag)
				}
			}
			for _, s := range append([]string{m.Source}, m.Params...) {
				if !utf8.ValidString(s) {
					t.Errorf("invalid UTF-8: %q", s)
				}
			}
		})
	}
}

// TestUnparseableLinesSkipped: bad lines are skipped, the connection lives.
func TestUnparseableLinesSkipped(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	_, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
	for _, bad := range []string{"", "   ", ":onlysource", "@tag=1", "PRIV\xe9MSG #c :x", ":a PRIVMSG #c :nul\x00byte"} {
		cl.Send(t, bad)
	}
	cl.Send(t, ":a PRIVMSG #c :good")
	if l := expectLine(t, events, "PRIVMSG"); l.Msg.Params[1] != "good" {
		t.Fatalf("got %q", l.Msg.Params)
	}
}

func TestServerError(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	c, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
	cl.Send(t, "ERROR :Closing Link: nick[127.0.0.1] (Excess Flood)")
	closed := expectEvent[Closed](t, events) // ERROR itself is no Line
	var srvErr *ServerError
	if closed.Text != "Closing Link: nick[127.0.0.1] (Excess Flood)" || !errors.As(closed.Err, &srvErr) {
		t.Fatalf("Closed = %q, %v", closed.Text, closed.Err)
	}
	<-c.Done()
	if err := c.Send(ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", "x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after close: %v", err)
	}
}

func TestServerClosesConnection(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	c, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
	cl.Send(t, ":a PRIVMSG #c :last words")
	cl.Close()
	if l := expectLine(t, events, "PRIVMSG"); l.Msg.Params[1] != "last words" {
		t.Fatalf("got %q", l.Msg.Params)
	}
	closed := expectClosed(t, c, events)
	if closed.Text != "Connection closed." || !errors.Is(closed.Err, io.EOF) {
		t.Fatalf("Closed = %q, %v", closed.Text, closed.Err)
	}
}

// TestContextCancel closes without QUIT and still reports Closed when the
// owner's channel has room.
func TestContextCancel(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	ctx, cancel := context.WithCancel(t.Context())
	cfg := baseConfig(t, srv, events)
	c := dial(t, ctx, cfg)
	cl := srv.Accept(t)
	cl.Register(t, "nick")
	expectEvent[Progress](t, events)
	expectEvent[Progress](t, events)
	expectEvent[Registered](t, events)
	cancel()
	cl.ExpectClosed(t) // no QUIT
	closed := expectClosed(t, c, events)
	if !errors.Is(closed.Err, context.Canceled) {
		t.Fatalf("Closed = %q, %v", closed.Text, closed.Err)
	}
}

// TestContextCancelOwnerGone: with a cancelled context the Conn never blocks
// on an owner that stopped reading.
func TestContextCancelOwnerGone(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event) // unbuffered and never read after cancel
	ctx, cancel := context.WithCancel(t.Context())
	c := dial(t, ctx, baseConfig(t, srv, events))
	<-events // Connecting…
	cl := srv.Accept(t)
	cl.Send(t, ":srv NOTICE * :hello") // the reader will block sending it
	cancel()
	select {
	case <-c.Done():
	case <-time.After(eventTimeout):
		t.Fatal("Conn blocked on an owner that is gone")
	}
}

func TestQuit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answer   func(t *testing.T, cl *fakeirc.Client)
		wantText string
		maxTime  time.Duration
	}{{
		name: "server answers ERROR and closes",
		answer: func(t *testing.T, cl *fakeirc.Client) {
			cl.Send(t, "ERROR :Closing Link: nick (Quit: bye)")
			cl.Close()
		},
		wantText: "Closing Link: nick (Quit: bye)",
		maxTime:  time.Second,
	}, {
		name:     "server closes",
		answer:   func(t *testing.T, cl *fakeirc.Client) { cl.Close() },
		wantText: "Connection closed.",
		maxTime:  time.Second,
	}, {
		name:     "server never answers",
		answer:   func(t *testing.T, cl *fakeirc.Client) {},
		wantText: "Connection closed.",
		maxTime:  DefaultQuitTimeout + time.Second,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeirc.NewServer(t)
			events := make(chan Event, 64)
			c, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
			if err := c.Send(ircmsg.MakeMessage(nil, "", "PART", "#c")); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			c.Quit("bye")
			c.Quit("twice") // no effect
			if err := c.Send(ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", "late")); !errors.Is(err, ErrClosed) {
				t.Errorf("Send after Quit: %v", err)
			}
			cl.ExpectLine(t, "PART #c") // queued lines go first
			cl.ExpectLine(t, "QUIT :bye")
			tc.answer(t, cl)
			closed := expectClosed(t, c, events)
			if closed.Err != nil || closed.Text != tc.wantText {
				t.Errorf("Closed = %q, %v; want %q, nil", closed.Text, closed.Err, tc.wantText)
			}
			if d := time.Since(start); d > tc.maxTime {
				t.Errorf("Quit took %v", d)
			}
		})
	}
}

// blockingLimiter throttles until its context is done, and reports each
// Wait on entered.
type blockingLimiter struct{ entered chan struct{} }

func (l blockingLimiter) Wait(ctx context.Context) error {
	l.entered <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// TestSendQueue: the queue is bounded, the limiter hook throttles Send, and
// Quit flushes the queue unthrottled before QUIT.
func TestSendQueue(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	cfg := baseConfig(t, srv, events)
	lim := blockingLimiter{entered: make(chan struct{}, 8)}
	cfg.Limiter = lim
	cfg.QueueSize = 2
	c, cl := registered(t, srv, cfg, events, "nick")
	privmsg := func(text string) ircmsg.Message { return ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", text) }
	if err := c.Send(privmsg("one")); err != nil {
		t.Fatal(err)
	}
	<-lim.entered // the writer holds "one", waiting for the limiter
	for _, text := range []string{"two", "three"} {
		if err := c.Send(privmsg(text)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Send(privmsg("four")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Send to a full queue: %v", err)
	}
	c.Quit("bye")
	cl.ExpectLine(t, "PRIVMSG #c one")
	cl.ExpectLine(t, "QUIT :bye") // two and three were dropped: the queue was full
	cl.Close()
	if closed := expectClosed(t, c, events); closed.Err != nil {
		t.Fatalf("Closed = %q, %v", closed.Text, closed.Err)
	}
}

func TestSendLimits(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	c, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")

	// Over 512 bytes: truncated to 510 + CR LF, at a UTF-8 boundary.
	if err := c.Send(ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", strings.Repeat("a", 600))); err != nil {
		t.Fatal(err)
	}
	if line := cl.ReadLine(t); len(line) != 510 {
		t.Errorf("line of %d bytes, want 510", len(line))
	}
	if err := c.Send(ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", strings.Repeat("é", 300))); err != nil {
		t.Fatal(err)
	}
	if line := cl.ReadLine(t); len(line) > 510 || !utf8.ValidString(line) {
		t.Errorf("line of %d bytes, valid UTF-8 %v", len(line), utf8.ValidString(line))
	}
	// Exactly at the budget: not truncated.
	text := strings.Repeat("b", LineBudget("nick", "user", "host", "PRIVMSG", "#c"))
	if err := c.Send(ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", text)); err != nil {
		t.Fatal(err)
	}
	if m := cl.Expect(t, "PRIVMSG"); m.Params[1] != text {
		t.Errorf("text within the budget was cut to %d bytes", len(m.Params[1]))
	}

	// Invalid messages are refused synchronously.
	for _, m := range []ircmsg.Message{
		ircmsg.MakeMessage(nil, "", "PRIVMSG", "#a b", "x"),
		ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", "line\r\nQUIT"),
		ircmsg.MakeMessage(nil, "", ""),
	} {
		if err := c.Send(m); err == nil {
			t.Errorf("Send(%q %q) accepted", m.Command, m.Params)
		}
	}

	// Raw lines: CR, LF and NUL removed, cut to 510 bytes.
	if err := c.SendRaw("PRIVMSG #c :hi\r\nQUIT\x00"); err != nil {
		t.Fatal(err)
	}
	cl.ExpectLine(t, "PRIVMSG #c :hiQUIT")
	if err := c.SendRaw("PRIVMSG #c :" + strings.Repeat("z", 600)); err != nil {
		t.Fatal(err)
	}
	if line := cl.ReadLine(t); len(line) != 510 {
		t.Errorf("raw line of %d bytes, want 510", len(line))
	}
	if err := c.SendRaw("\r\n"); !errors.Is(err, ErrEmptyLine) {
		t.Errorf("SendRaw(CRLF) = %v", err)
	}
}

// TestSendBeforeRegistration: lines queued early go out after the
// registration lines, never before.
func TestSendBeforeRegistration(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	c := dial(t, t.Context(), baseConfig(t, srv, events))
	if err := c.Send(ircmsg.MakeMessage(nil, "", "JOIN", "#early")); err != nil {
		t.Fatal(err)
	}
	cl := srv.Accept(t)
	cl.Expect(t, "CAP")
	cl.Expect(t, "NICK")
	cl.Expect(t, "USER")
	cl.ExpectLine(t, "JOIN #early")
}

// TestOverlongLine: a line longer than tags + 512 bytes cannot be skipped by
// ircreader; the connection ends with a clear reason.
func TestOverlongLine(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	c, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
	cl.Send(t, ":a PRIVMSG #c :"+strings.Repeat("x", maxReadBytes))
	if closed := expectClosed(t, c, events); closed.Text != "Line too long" || closed.Err == nil {
		t.Fatalf("Closed = %q, %v", closed.Text, closed.Err)
	}
}
