package testenv

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
)

func TestMain(m *testing.M) { os.Exit(RunMain(m)) }

// fakeComponent is a minimal XEP-0114 component: it authenticates to the
// server's component port and collects the stanzas routed to it.
type fakeComponent struct {
	conn net.Conn
	dec  *xml.Decoder
}

func dialComponent(t *testing.T, srv *XMPPServer) *fakeComponent {
	t.Helper()
	conn, err := net.DialTimeout("tcp", srv.ComponentAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("component dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(ExpectTimeout))
	fmt.Fprintf(conn, "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='%s'>", srv.ComponentHost)
	dec := xml.NewDecoder(bufio.NewReader(conn))
	var id string
	for id == "" {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("component: reading stream header: %v\n%s", err, srv.Logs())
		}
		if st, ok := tok.(xml.StartElement); ok && st.Name.Local == "stream" {
			for _, a := range st.Attr {
				if a.Name.Local == "id" {
					id = a.Value
				}
			}
			if id == "" {
				t.Fatalf("component: stream header without id")
			}
		}
	}
	sum := sha1.Sum([]byte(id + srv.Secret))
	fmt.Fprintf(conn, "<handshake>%s</handshake>", hex.EncodeToString(sum[:]))
	c := &fakeComponent{conn: conn, dec: dec}
	e := c.next(t)
	if e.XMLName.Local != "handshake" {
		t.Fatalf("component: expected <handshake/>, got %s", e)
	}
	_ = conn.SetDeadline(time.Time{})
	return c
}

func (c *fakeComponent) next(t *testing.T) *Element {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ExpectTimeout))
	for {
		tok, err := c.dec.Token()
		if err != nil {
			t.Fatalf("component: read: %v", err)
		}
		if st, ok := tok.(xml.StartElement); ok {
			e, err := decodeElement(c.dec, st)
			if err != nil {
				t.Fatalf("component: decode: %v", err)
			}
			return e
		}
	}
}

func testXMPPServer(t *testing.T, srv *XMPPServer) {
	start := time.Now()
	srv.AddUser(t, "alice", "alicepw")
	srv.AddUserCtl(t, "bob", "bobpw") // the ctl path, whatever AddUser uses
	t.Logf("%s: AddUser + AddUserCtl took %v", srv.Kind, time.Since(start))

	start = time.Now()
	alice := DialXMPP(t, srv, "alice", "alicepw", "test")
	bob := DialXMPP(t, srv, "bob", "bobpw", "phone")
	t.Logf("%s: two logins took %v", srv.Kind, time.Since(start))
	if got, want := alice.JID().String(), "alice@localhost/test"; got != want {
		t.Errorf("alice JID = %q, want %q", got, want)
	}

	// Client to client, to the bare JID (both resources are available).
	alice.SendMessage(t, "bob@localhost", "chat", "hello <bob> & co")
	msg := bob.Expect(t, func(e *Element) bool {
		return e.Name() == "message" && e.ChildText("body") != ""
	}, "alice's chat message")
	if got := msg.ChildText("body"); got != "hello <bob> & co" {
		t.Errorf("bob got body %q; stanza %s", got, msg)
	}
	if got := msg.Attr("from"); got != "alice@localhost/test" {
		t.Errorf("from = %q", got)
	}

	// Client to component.
	start = time.Now()
	comp := dialComponent(t, srv)
	t.Logf("%s: component handshake took %v", srv.Kind, time.Since(start))
	alice.SendMessage(t, "someone@"+srv.ComponentHost, "chat", "to the gateway")
	got := comp.next(t)
	for got.Name() != "message" {
		got = comp.next(t)
	}
	if got.XMLName.Space != "jabber:component:accept" || got.ChildText("body") != "to the gateway" ||
		got.Attr("to") != "someone@"+srv.ComponentHost || got.Attr("from") != "alice@localhost/test" {
		t.Errorf("component got %s", got)
	}

	// Component to client.
	fmt.Fprintf(comp.conn, "<message from='someone@%s/x' to='alice@localhost/test' type='chat'><body>from irc</body></message>", srv.ComponentHost)
	reply := alice.Expect(t, IsStanza("message", "from", "someone@"+srv.ComponentHost+"/x"), "message from the component")
	if reply.ChildText("body") != "from irc" {
		t.Errorf("alice got %s", reply)
	}

	if srv.Kind == "ejabberd" {
		// Accounts survive a crash (SIGKILL) and a restart on the same ports.
		start := time.Now()
		srv.Kill(t)
		alice.ExpectClosed(t)
		srv.Start(t)
		t.Logf("ejabberd: kill + start again took %v", time.Since(start))
		alice = DialXMPP(t, srv, "alice", "alicepw", "test")
	}

	// Wrong password fails fast with a SASL failure.
	if _, err := dialXMPP(srv.C2SAddr, srv.Domain, "alice", "wrong", "x"); err == nil || !strings.Contains(err.Error(), "SASL") {
		t.Errorf("login with a wrong password: err = %v", err)
	}
}

func TestProsody(t *testing.T) {
	t.Parallel()
	start := time.Now()
	srv := StartProsody(t, XMPPOptions{})
	t.Logf("prosody: started in %v (ready check %v), c2s %s, component %s", time.Since(start), srv.StartupTime(), srv.C2SAddr, srv.ComponentAddr)
	testXMPPServer(t, srv)
}

func TestEjabberd(t *testing.T) {
	t.Parallel()
	start := time.Now()
	srv := StartEjabberd(t, XMPPOptions{})
	t.Logf("ejabberd: started in %v (ready check %v), c2s %s, component %s", time.Since(start), srv.StartupTime(), srv.C2SAddr, srv.ComponentAddr)
	testXMPPServer(t, srv)
}

func testIRCServer(t *testing.T, srv *IRCServer) {
	start := time.Now()
	a := DialIRC(t, srv.Addr, "alice")
	t.Logf("%s: one registration took %v", srv.Kind, time.Since(start))
	start = time.Now()
	cs := DialIRCs(t, srv.Addr, "bob", "carol", "dave")
	b := cs[0]
	t.Logf("%s: three concurrent registrations took %v", srv.Kind, time.Since(start))
	start = time.Now()
	a.Join(t, "#test")
	b.Join(t, "#test")
	a.Expect(t, func(m ircmsg.Message) bool {
		return m.Command == "JOIN" && m.Nick() == "bob"
	}, "bob's JOIN")
	a.Privmsg(t, "#test", "hello bob")
	m := b.Expect(t, IsCommand("PRIVMSG", "#test"), "alice's PRIVMSG")
	if m.Nick() != "alice" || lastParam(m) != "hello bob" {
		t.Errorf("bob got %+v", m)
	}
	t.Logf("%s: join + privmsg took %v", srv.Kind, time.Since(start))

	// Nick collision fails fast (not after the Expect timeout).
	if srv.Kind == "ngircd" {
		ft := &fakeT{TB: t}
		start = time.Now()
		func() {
			defer func() { recover() }()
			DialIRC(ft, srv.Addr, "alice")
		}()
		if !ft.failed || !strings.Contains(ft.msg, "433") || time.Since(start) > 5*time.Second {
			t.Errorf("DialIRC with a taken nick: failed=%v after %v: %s", ft.failed, time.Since(start), ft.msg)
		}
	}
}

// fakeT records a Fatalf instead of ending the test.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}

func TestInspircd(t *testing.T) {
	t.Parallel()
	start := time.Now()
	srv := StartInspircd(t, IRCOptions{})
	t.Logf("inspircd: started in %v (ready check %v) on %s", time.Since(start), srv.StartupTime(), srv.Addr)
	testIRCServer(t, srv)
}

func TestNgircd(t *testing.T) {
	t.Parallel()
	start := time.Now()
	srv := StartNgircd(t, IRCOptions{})
	t.Logf("ngircd: started in %v (ready check %v) on %s", time.Since(start), srv.StartupTime(), srv.Addr)
	testIRCServer(t, srv)
}

func TestElementString(t *testing.T) {
	e, err := ParseElement(`<message xmlns="jabber:client" to="a@b" xml:lang="en"><body>x &amp; y</body><x xmlns="urn:ns" a="it's"/></message>`)
	if err != nil {
		t.Fatal(err)
	}
	want := `<message xmlns='jabber:client' to='a@b' xml:lang='en'><body>x &amp; y</body><x xmlns='urn:ns' a='it&#39;s'/></message>`
	if got := e.String(); got != want {
		t.Errorf("String() =\n %s\nwant\n %s", got, want)
	}
	if e.ChildNS("urn:ns", "x").Attr("a") != "it's" || e.Find("body").Text != "x & y" || e.Find("nope", "x") != nil {
		t.Errorf("accessors wrong on %s", e)
	}
}

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

// Restart keeps the ports and the accounts; clients see the server go.
func TestRestartProsody(t *testing.T) {
	t.Parallel()
	srv := StartProsody(t, XMPPOptions{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", srv.Logs())
		}
	})
	srv.AddUser(t, "carol", "pw")
	c := DialXMPP(t, srv, "carol", "pw", "r")
	start := time.Now()
	srv.Stop(t)
	// Usually a system-shutdown stream error comes first, but prosody
	// 0.12 sometimes closes the connection without flushing it.
	c.ExpectClosed(t)
	t.Logf("prosody: graceful stop took %v", time.Since(start))
	if srv.Running() {
		t.Fatal("still running after Stop")
	}
	start = time.Now()
	srv.Start(t)
	t.Logf("prosody: start again took %v", time.Since(start))
	DialXMPP(t, srv, "carol", "pw", "r2")

	srv.Kill(t)
	srv.Restart(t)
	DialXMPP(t, srv, "carol", "pw", "r3")
}

func TestRestartIRC(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"inspircd", "ngircd"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var srv *IRCServer
			if kind == "inspircd" {
				srv = StartInspircd(t, IRCOptions{})
			} else {
				srv = StartNgircd(t, IRCOptions{})
			}
			c := DialIRC(t, srv.Addr, "dave")
			start := time.Now()
			srv.Restart(t)
			t.Logf("%s: restart took %v", kind, time.Since(start))
			c.ExpectClosed(t)
			c = DialIRC(t, srv.Addr, "dave")
			c.Join(t, "#test")
			srv.Kill(t)
			c.ExpectClosed(t)
			srv.Start(t)
			DialIRC(t, srv.Addr, "dave")
		})
	}
}

func TestShared(t *testing.T) {
	t.Parallel()
	a := SharedProsody(t, XMPPOptions{})
	b := SharedProsody(t, XMPPOptions{})
	if a != b {
		t.Fatal("SharedProsody returned two servers")
	}
	if c := SharedProsody(t, XMPPOptions{ComponentHost: "other.localhost"}); c == a {
		t.Fatal("SharedProsody with other options returned the same server")
	}
	u1, p1 := a.NewUser(t, "eve")
	u2, _ := a.NewUser(t, "eve")
	if u1 == u2 {
		t.Fatalf("NewUser returned %q twice", u1)
	}
	DialXMPP(t, a, u1, p1, "r")
	irc := SharedNgircd(t, IRCOptions{})
	if irc != SharedNgircd(t, IRCOptions{}) {
		t.Fatal("SharedNgircd returned two servers")
	}
	DialIRC(t, irc.Addr, "frank")
}

func (f *fakeT) Skipf(format string, args ...any) {
	f.msg = "skip: " + fmt.Sprintf(format, args...)
	panic("skip")
}

func TestRequire(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			ft := &fakeT{TB: t}
			func() {
				defer func() { recover() }()
				Require(ft, "sh", "no-such-binary-testenv")
			}()
			if ci == "true" && (!ft.failed || !strings.Contains(ft.msg, "no-such-binary-testenv")) {
				t.Errorf("CI=true: want Fatalf, got failed=%v %q", ft.failed, ft.msg)
			}
			if ci == "" && (ft.failed || !strings.HasPrefix(ft.msg, "skip: ")) {
				t.Errorf("CI unset: want Skipf, got failed=%v %q", ft.failed, ft.msg)
			}
			ft = &fakeT{TB: t}
			Require(ft, "sh", "inspircd") // inspircd is in /usr/sbin
			if ft.msg != "" {
				t.Errorf("Require(sh, inspircd): %s", ft.msg)
			}
		})
	}
}

// A port taken between FreePort and the server's bind makes the start
// retry on other ports. Not parallel: it replaces serverPort.
func TestPortConflictRetry(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	servers := map[string]func(t *testing.T) string{
		"prosody":  func(t *testing.T) string { return StartProsody(t, XMPPOptions{}).C2SAddr },
		"inspircd": func(t *testing.T) string { return StartInspircd(t, IRCOptions{}).Addr },
		"ngircd":   func(t *testing.T) string { return StartNgircd(t, IRCOptions{}).Addr },
	}
	if os.Getenv("TESTENV_SLOW") != "" {
		servers["ejabberd"] = func(t *testing.T) string { return StartEjabberd(t, XMPPOptions{}).C2SAddr }
	}
	for kind, start := range servers {
		t.Run(kind, func(t *testing.T) {
			calls := 0
			serverPort = func() (int, error) {
				calls++
				if calls == 1 {
					return busyPort, nil
				}
				return freePort()
			}
			defer func() { serverPort = freePort }()
			begin := time.Now()
			addr := start(t)
			if addr == busy.Addr().String() {
				t.Fatalf("server reported the busy port")
			}
			t.Logf("%s: started after a port conflict in %v (%d ports picked)", kind, time.Since(begin), calls)
		})
	}
}
