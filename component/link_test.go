package component

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/stanza"

	"biboumi/component/fakexmpp"
	"biboumi/ircbridge"
)

func groupchat(i int) ircbridge.Message {
	return ircbridge.Message{
		From: j(occup), To: j(user), Type: stanza.GroupChatMessage,
		ID: fmt.Sprintf("m%d", i), Body: fmt.Sprintf("line %d", i),
	}
}

func TestLinkExchange(t *testing.T) {
	srv, l, rec, _, _ := startLink(t, nil)
	if !l.Connected() {
		t.Error("not Connected after Ready")
	}

	// Server → component.
	srv.Send(t, readTestdata(t, "decode", "@groupchat.xml"))
	if m := rec.nextMessage(t); m.Body != "hello <world> & ünïcode 🎉" || m.ID != "m1" {
		t.Errorf("got %#v", m)
	}
	// Component → server, byte for byte.
	m := encodeCase(t, "groupchat").(ircbridge.Message)
	if err := l.SendMessage(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if got, want := srv.Expect(t).Raw, string(encodeMessage(&m)); got != want {
		t.Errorf("server got\n%s\nwant\n%s", got, want)
	}
	p := encodeCase(t, "presence-self").(ircbridge.Presence)
	if err := l.SendPresence(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if el := srv.Expect(t); el.Name.Local != "presence" || el.ChildNS(ircbridge.NSMUCUser, "x") == nil {
		t.Errorf("server got %s", el.Raw)
	}
	iq := ircbridge.IQ{From: testDomainJID, To: j(user), ID: "ping1", Type: stanza.GetIQ, Payload: &ircbridge.Ping{}}
	if err := l.SendIQ(t.Context(), iq); err != nil {
		t.Fatal(err)
	}
	if el := srv.Expect(t); el.Attr("id") != "ping1" || el.ChildNS(ircbridge.NSPing, "ping") == nil {
		t.Errorf("server got %s", el.Raw)
	}
	// The answer from the client reaches the Handler.
	srv.Send(t, `<iq from='`+user+`' to='irc.localhost' type='result' id='ping1'/>`)
	if v, ok := rec.next(t).(ircbridge.IQ); !ok || v.ID != "ping1" || v.Type != stanza.ResultIQ || v.Payload != nil {
		t.Errorf("got %#v", v)
	}
	if err := l.SendIQ(t.Context(), ircbridge.IQ{Type: stanza.GetIQ}); err == nil {
		t.Error("SendIQ accepted an iq without id")
	}
}

// TestLinkBadInput sends every bad stanza over the wire, each followed by
// a good one: each gets the right answer and the link stays up.
func TestLinkBadInput(t *testing.T) {
	srv, l, rec, _, _ := startLink(t, nil)
	for i, tc := range badTests {
		srv.Send(t, tc.in)
		srv.Send(t, strings.Replace(goodAfter, "id='good'", fmt.Sprintf("id='good%d'", i), 1))
		if m := rec.nextMessage(t); m.ID != fmt.Sprintf("good%d", i) {
			t.Fatalf("%d: got %#v", i, m)
		}
		if tc.reply != "" {
			if got := srv.Expect(t).Raw; got != tc.reply {
				t.Errorf("%d: reply\n%s\nwant\n%s", i, got, tc.reply)
			}
		}
	}
	srv.ExpectNone(t, 50*time.Millisecond)
	rec.none(t, 10*time.Millisecond)
	if srv.Connections() != 1 || !l.Connected() {
		t.Errorf("the link was re-established (%d connections)", srv.Connections())
	}
}

// TestLinkIRCControlCharacters sends IRC formatting and invalid UTF-8 to a
// real decoder: the server must accept the stream.
func TestLinkIRCControlCharacters(t *testing.T) {
	srv, l, _, _, _ := startLink(t, nil)
	m := groupchat(1)
	m.Body = "\x02bold\x02 \x0304,12colour\x03 \x00\x01\x1f bad:\xff\xfe"
	m.Subject = sp("\x1dtopic\x1d")
	m.ID = "id\x03"
	if err := l.SendMessage(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	el := srv.Expect(t)
	if got, want := el.Child("body").Text, "bold 04,12colour  bad:\uFFFD\uFFFD"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if el.Attr("id") != "id" || el.Child("subject").Text != "topic" {
		t.Errorf("got %s", el.Raw)
	}
}

func TestRunFailsOnFirstConnection(t *testing.T) {
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()

	tests := [...]struct {
		name string
		addr func(t *testing.T) string
		want string
	}{
		{"wrong secret", func(t *testing.T) string {
			return fakexmpp.NewServer(t, testDomain, "other secret").Addr()
		}, "not-authorized"},
		{"rejected secret", func(t *testing.T) string {
			return fakexmpp.NewServer(t, testDomain, testSecret, fakexmpp.RejectSecret()).Addr()
		}, "not-authorized"},
		{"unknown domain", func(t *testing.T) string {
			return fakexmpp.NewServer(t, "other.localhost", testSecret).Addr()
		}, "host-unknown"},
		{"refused domain", func(t *testing.T) string {
			return fakexmpp.NewServer(t, testDomain, testSecret, fakexmpp.RefuseDomain()).Addr()
		}, "host-unknown"},
		{"no stream id", func(t *testing.T) string {
			return fakexmpp.NewServer(t, testDomain, testSecret, fakexmpp.StreamID("")).Addr()
		}, "stream ID"},
		{"connection refused", func(*testing.T) string { return refused }, "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := New(testConfig(t, tc.addr(t)), newRecorder())
			start := time.Now()
			err := l.Run(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run returned %v, want an error containing %q", err, tc.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Run took %v to fail", d)
			}
			if !strings.Contains(err.Error(), testDomain) {
				t.Errorf("error %q does not name the domain", err)
			}
			select {
			case <-l.Ready():
				t.Error("Ready closed")
			default:
			}
			t.Log(err)
		})
	}
}

// TestReconnect drops the connection after authentication: the link comes
// back with backoff, and what was sent meanwhile arrives, in order.
func TestReconnect(t *testing.T) {
	srv, l, rec, _, _ := startLink(t, nil)
	for round := 1; round <= 3; round++ {
		srv.CloseConn()
		waitUntil(t, "link down", func() bool { return !l.Connected() })
		for i := range 50 {
			if err := l.SendMessage(t.Context(), groupchat(round*100+i)); err != nil {
				t.Fatal(err)
			}
		}
		srv.WaitAuthenticated(t, round+1)
		for i := range 50 {
			if el := srv.Expect(t); el.Attr("id") != fmt.Sprintf("m%d", round*100+i) {
				t.Fatalf("round %d: stanza %d is %s", round, i, el.Raw)
			}
		}
		// Input still flows on the new connection.
		srv.Send(t, goodAfter)
		rec.nextMessage(t)
	}
	srv.ExpectNone(t, 50*time.Millisecond)
}

// TestReconnectAfterStreamError: a stream error from the server ends the
// connection, not the link.
func TestReconnectAfterStreamError(t *testing.T) {
	srv, l, _, _, _ := startLink(t, nil)
	srv.Send(t, `<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></stream:error></stream:stream>`)
	srv.ExpectStreamEnd(t)
	srv.WaitAuthenticated(t, 2)
	if err := l.SendMessage(t.Context(), groupchat(1)); err != nil {
		t.Fatal(err)
	}
	if el := srv.Expect(t); el.Attr("id") != "m1" {
		t.Errorf("got %s", el.Raw)
	}
}

// TestHardLimit: a stanza too large to buffer ends the connection with a
// policy-violation stream error, and the link reconnects.
func TestHardLimit(t *testing.T) {
	srv, _, rec, _, _ := startLink(t, func(c *Config) { c.MaxStanzaBytes = 1024 })
	srv.Send(t, `<message from='`+user+`' to='`+room+`'><body>`+strings.Repeat("x", 20<<10)+`</body></message>`)
	el := srv.Expect(t)
	if el.Name.Local != "error" || el.Child("policy-violation") == nil {
		t.Fatalf("got %s, want a policy-violation stream error", el.Raw)
	}
	srv.ExpectStreamEnd(t)
	srv.WaitAuthenticated(t, 2)
	srv.Send(t, goodAfter)
	rec.nextMessage(t)
}

// TestNotWellFormed: XML errors end the connection with not-well-formed.
func TestNotWellFormed(t *testing.T) {
	srv, _, _, _, _ := startLink(t, nil)
	srv.Send(t, `<message><body></message>`)
	el := srv.Expect(t)
	if el.Name.Local != "error" || el.Child("not-well-formed") == nil {
		t.Fatalf("got %s", el.Raw)
	}
	srv.WaitAuthenticated(t, 2)
}

func TestQueueFull(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1:1")
	cfg.QueueSize = 3
	l := New(cfg, newRecorder())
	for i := range 3 {
		if err := l.SendMessage(t.Context(), groupchat(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.SendMessage(t.Context(), groupchat(3)); !errors.Is(err, ErrQueueFull) {
		t.Errorf("4th SendMessage: %v, want ErrQueueFull", err)
	}
	if err := l.SendPresence(t.Context(), ircbridge.Presence{}); !errors.Is(err, ErrQueueFull) {
		t.Errorf("SendPresence: %v, want ErrQueueFull", err)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := l.SendMessage(t.Context(), groupchat(4)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// TestCancel: cancelling Run's context flushes the queue, ends the stream
// and makes Run return nil.
func TestCancel(t *testing.T) {
	srv, l, _, cancel, errc := startLink(t, nil)
	const n = 2000
	for i := range n {
		if err := l.SendMessage(t.Context(), groupchat(i)); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	for i := range n {
		if el := srv.Expect(t); el.Attr("id") != fmt.Sprintf("m%d", i) {
			t.Fatalf("stanza %d is %s", i, el.Raw)
		}
	}
	srv.ExpectStreamEnd(t)
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(fakexmpp.Timeout):
		t.Fatal("Run did not return")
	}
	if l.Connected() {
		t.Error("still Connected")
	}
	if err := l.SendMessage(t.Context(), groupchat(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("SendMessage after shutdown: %v", err)
	}
}

// TestClose: Close flushes what the gateway sent last and Run returns nil.
func TestClose(t *testing.T) {
	srv, l, _, _, errc := startLink(t, nil)
	for i := range 10 {
		l.SendMessage(t.Context(), groupchat(i))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Errorf("Run returned %v", err)
	}
	for i := range 10 {
		if el := srv.Expect(t); el.Attr("id") != fmt.Sprintf("m%d", i) {
			t.Fatalf("stanza %d is %s", i, el.Raw)
		}
	}
	srv.ExpectStreamEnd(t)
}

// TestCloseDuringOutage: Close while reconnecting returns at once.
func TestCloseDuringOutage(t *testing.T) {
	srv, l, _, _, errc := startLink(t, func(c *Config) {
		c.ReconnectMin, c.ReconnectMax = time.Hour, time.Hour
	})
	srv.CloseConn()
	waitUntil(t, "link down", func() bool { return !l.Connected() })
	l.SendMessage(t.Context(), groupchat(1))
	start := time.Now()
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Errorf("Run returned %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
}

// TestCloseUnresponsive: a server that never closes its side holds the
// shutdown for CloseTimeout at most, or until Close's context ends.
func TestCloseUnresponsive(t *testing.T) {
	for _, viaCtx := range []bool{false, true} {
		srv := fakexmpp.NewServer(t, testDomain, testSecret, fakexmpp.IgnoreStreamEnd())
		cfg := testConfig(t, srv.Addr())
		cfg.CloseTimeout = 300 * time.Millisecond
		if viaCtx {
			cfg.CloseTimeout = time.Hour
		}
		l := New(cfg, newRecorder())
		_, errc := runLink(t, l)
		srv.WaitAuthenticated(t, 1)
		waitUntil(t, "connected", l.Connected)
		wait := 5 * time.Second
		if viaCtx {
			wait = 100 * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		start := time.Now()
		err := l.Close(ctx)
		cancel()
		d := time.Since(start)
		if viaCtx && !errors.Is(err, context.DeadlineExceeded) || !viaCtx && err != nil {
			t.Errorf("viaCtx=%v: Close returned %v", viaCtx, err)
		}
		if err := <-errc; err != nil {
			t.Errorf("Run returned %v", err)
		}
		srv.ExpectStreamEnd(t)
		if d < 90*time.Millisecond || d > time.Second {
			t.Errorf("viaCtx=%v: Close took %v", viaCtx, d)
		}
	}
}

func TestKeepAlive(t *testing.T) {
	srv, l, _, _, _ := startLink(t, func(c *Config) { c.KeepAlive = 20 * time.Millisecond })
	time.Sleep(200 * time.Millisecond)
	// The fake server's decoder sees whitespace once the next element
	// starts.
	l.SendMessage(t.Context(), groupchat(1))
	srv.Expect(t)
	if srv.KeepAlives() == 0 {
		t.Error("no whitespace keepalive was sent")
	}
}

// TestConcurrentSenders: per-goroutine order is kept, nothing is lost.
func TestConcurrentSenders(t *testing.T) {
	srv, l, _, _, _ := startLink(t, nil)
	const senders, each = 8, 500
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m := groupchat(i)
				m.ID = fmt.Sprintf("%d-%d", s, i)
				if err := l.SendMessage(context.Background(), m); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	next := make([]int, senders)
	for range senders * each {
		var s, i int
		id := srv.Expect(t).Attr("id")
		if _, err := fmt.Sscanf(id, "%d-%d", &s, &i); err != nil {
			t.Fatal(err)
		}
		if i != next[s] {
			t.Fatalf("sender %d: got %d, want %d", s, i, next[s])
		}
		next[s]++
	}
}

func TestRunTwice(t *testing.T) {
	_, l, _, _, _ := startLink(t, nil)
	if err := l.Run(t.Context()); err == nil {
		t.Error("second Run succeeded")
	}
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(fakexmpp.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// silentServer accepts connections and never says anything.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestHandshakeTimeout: a server that never answers fails the first
// connection after DialTimeout.
func TestHandshakeTimeout(t *testing.T) {
	cfg := testConfig(t, silentServer(t))
	cfg.DialTimeout = 200 * time.Millisecond
	start := time.Now()
	err := New(cfg, newRecorder()).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("Run returned %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %v", d)
	}
}

// TestCancelDuringHandshake: shutting down interrupts a handshake, and Run
// returns nil since it was asked to stop.
func TestCancelDuringHandshake(t *testing.T) {
	cfg := testConfig(t, silentServer(t))
	cfg.DialTimeout = time.Hour
	l := New(cfg, newRecorder())
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- l.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return")
	}
}

func TestRunNeedsDomainAndSecret(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1:1")
	cfg.Secret = ""
	if err := New(cfg, newRecorder()).Run(t.Context()); err == nil {
		t.Error("Run accepted an empty secret")
	}
}

// encodeCase returns the value of the encodeTests entry called name.
func encodeCase(t testing.TB, name string) any {
	for _, tc := range encodeTests {
		if tc.name == name {
			return tc.v
		}
	}
	t.Fatalf("no encode test %q", name)
	return nil
}

func TestBackoff(t *testing.T) {
	l := New(Config{ReconnectMin: time.Second, ReconnectMax: 60 * time.Second}, nil)
	for attempt := range 100 {
		want := time.Second << min(attempt, 10)
		if want > 60*time.Second {
			want = 60 * time.Second
		}
		for range 20 {
			if d := l.backoff(attempt); d < want/2 || d > want {
				t.Fatalf("attempt %d: %v not in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

// panicky panics on messages whose body is "panic".
type panicky struct{ *recorder }

func (p panicky) HandleMessage(ctx context.Context, m ircbridge.Message) {
	if m.Body == "panic" {
		panic("boom")
	}
	p.recorder.HandleMessage(ctx, m)
}

// TestHandlerPanic: a panic while handling one stanza is recovered; the
// link stays up.
func TestHandlerPanic(t *testing.T) {
	srv := fakexmpp.NewServer(t, testDomain, testSecret)
	rec := newRecorder()
	l := New(testConfig(t, srv.Addr()), panicky{rec})
	runLink(t, l)
	srv.Send(t, `<message from='`+user+`' to='`+room+`' type='groupchat'><body>panic</body></message>`)
	srv.Send(t, goodAfter)
	if m := rec.nextMessage(t); m.ID != "good" {
		t.Errorf("got %#v", m)
	}
	if srv.Connections() != 1 {
		t.Errorf("%d connections", srv.Connections())
	}
}
