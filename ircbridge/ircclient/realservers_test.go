package ircclient

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"biboumi/internal/testenv"
	"github.com/ergochat/irc-go/ircmsg"
)

// End-to-end tests against real inspircd 3 and ngircd 26 (skipped when
// they are not installed, failing in CI): TLS verified against a test CA,
// a pinned self-signed certificate, WEBIRC, and the IRCv3 capabilities
// each server offers and acknowledges.

// realConfig is a Config for a real server's TLS port.
func realConfig(t *testing.T, srv *testenv.IRCServer, nick string, events chan Event) Config {
	return Config{
		Server:   "127.0.0.1",
		TLSPorts: []int{srv.TLSPort},
		Nick:     nick,
		Hostname: "xmpp.example",
		Logger:   testLogger(t),
		Events:   events,
	}
}

// waitRegistered skips Progress events up to Registered; anything else
// fails the test.
func waitRegistered(t *testing.T, events <-chan Event) Registered {
	t.Helper()
	for {
		switch ev := nextEvent(t, events).(type) {
		case Progress:
			continue
		case Registered:
			return ev
		default:
			t.Fatalf("got %#v while waiting for Registered", ev)
		}
	}
}

// waitLine returns the next Line event that match accepts.
func waitLine(t *testing.T, events <-chan Event, match func(ircmsg.Message) bool) ircmsg.Message {
	t.Helper()
	for {
		switch ev := nextEvent(t, events).(type) {
		case Line:
			if match(ev.Msg) {
				return ev.Msg
			}
		case Closed:
			t.Fatalf("closed while waiting for a line: %q, %v", ev.Text, ev.Err)
		}
	}
}

// waitClosed skips Progress events up to Closed.
func waitClosed(t *testing.T, events <-chan Event) Closed {
	t.Helper()
	for {
		switch ev := nextEvent(t, events).(type) {
		case Progress:
			continue
		case Closed:
			return ev
		default:
			t.Fatalf("got %#v while waiting for Closed", ev)
		}
	}
}

// pinned verifies the server's leaf certificate by its SHA-256 fingerprint
// only, as the session does for a user's trusted fingerprint.
func pinned(fingerprint string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if got := hex.EncodeToString(sum[:]); got != fingerprint {
				return fmt.Errorf("certificate fingerprint %s is not the trusted one", got)
			}
			return nil
		},
	}
}

func TestRealServers(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"inspircd", "ngircd"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			start := testenv.StartInspircd
			if kind == "ngircd" {
				start = testenv.StartNgircd
			}
			t.Run("TLS with a test CA, WEBIRC, caps", func(t *testing.T) {
				t.Parallel()
				srv := start(t, testenv.IRCOptions{TLS: true, WebIRCPassword: "gw-pass"})
				testRealCA(t, srv)
			})
			t.Run("pinned self-signed certificate", func(t *testing.T) {
				t.Parallel()
				srv := start(t, testenv.IRCOptions{TLSSelfSigned: true})
				testRealPinned(t, srv)
			})
		})
	}
}

func testRealCA(t *testing.T, srv *testenv.IRCServer) {
	begin := time.Now()
	// Against the system roots the test CA is unknown.
	events := make(chan Event, 64)
	cfg := realConfig(t, srv, "gwroots", events)
	dial(t, t.Context(), cfg)
	closed := waitClosed(t, events)
	if !strings.HasPrefix(closed.Text, "TLS error: ") || !strings.Contains(closed.Text, "certificate signed by unknown authority") || Retryable(closed.Err) {
		t.Errorf("with the system roots: Closed = %q, %v (retryable %v)", closed.Text, closed.Err, Retryable(closed.Err))
	}

	// Against the test CA: the gateway's connection, with WEBIRC and the
	// default capabilities.
	events = make(chan Event, 256)
	cfg = realConfig(t, srv, "gwuser", events)
	cfg.TLSConfig = srv.TLS.ClientConfig()
	cfg.WebIRC = &WebIRCConfig{Password: srv.WebIRCPassword, Gateway: "biboumi", Hostname: "user.gateway.test", IP: "127.0.0.55"}
	c := dial(t, t.Context(), cfg)
	reg := waitRegistered(t, events)
	if tlsOn, _ := c.Encrypted(); !tlsOn || reg.Nick != "gwuser" {
		t.Fatalf("Encrypted %v, nick %q", tlsOn, reg.Nick)
	}
	t.Logf("%s: TLS (test CA) registration took %v", srv.Kind, time.Since(begin))

	// A person on IRC sees the host WEBIRC gave, and what the server
	// offers with CAP LS 302.
	watcher := testenv.DialIRC(t, srv.Addr, "watcher")
	t.Logf("%s: watcher registered after %v", srv.Kind, time.Since(begin))
	watcher.Send(t, "WHOIS gwuser")
	whois := watcher.Expect(t, testenv.IsCommand("311", "watcher", "gwuser"), "WHOIS 311")
	if host := whois.Params[3]; host != "user.gateway.test" && host != "127.0.0.55" {
		t.Errorf("%s: WHOIS shows host %q, want the WEBIRC one", srv.Kind, host)
	}
	t.Logf("%s: WHOIS gwuser → %q", srv.Kind, whois.Params)
	// The gateway's own WHOIS shows its real IP (RPL_WHOISHOST 378 or
	// RPL_WHOISACTUALLY 338) where the server tells it.
	if err := c.Send(ircmsg.MakeMessage(nil, "", "WHOIS", "gwuser")); err != nil {
		t.Fatal(err)
	}
	var ipSeen bool
	waitLine(t, events, func(m ircmsg.Message) bool {
		switch m.Command {
		case "378", "338":
			t.Logf("%s: own WHOIS %s %q", srv.Kind, m.Command, m.Params)
			ipSeen = ipSeen || slices.ContainsFunc(m.Params, func(p string) bool { return strings.Contains(p, "127.0.0.55") })
		case "311":
			t.Logf("%s: own WHOIS 311 %q", srv.Kind, m.Params)
		}
		return m.Command == "318"
	})
	if srv.Kind == "inspircd" && !ipSeen {
		t.Errorf("inspircd: the own WHOIS does not show the WEBIRC IP 127.0.0.55")
	}

	watcher.Send(t, "CAP LS 302")
	var offered []string
	for {
		m := watcher.Expect(t, testenv.IsCommand("CAP"), "CAP LS")
		offered = append(offered, strings.Fields(m.Params[len(m.Params)-1])...)
		if len(m.Params) < 4 || m.Params[2] != "*" {
			break
		}
	}
	slices.Sort(offered)
	t.Logf("%s: CAP LS 302 offers %q", srv.Kind, offered)
	t.Logf("%s: default WantCaps acknowledged %q", srv.Kind, c.AckedCaps())
	for _, name := range c.AckedCaps() {
		if !slices.Contains(DefaultCaps(), name) {
			t.Errorf("acknowledged %q, which we never requested", name)
		}
	}
	if !c.Has("multi-prefix") {
		t.Errorf("%s: multi-prefix not acknowledged", srv.Kind)
	}
	t.Logf("%s: LineLimit %d", srv.Kind, c.LineLimit())

	if c.Has("labeled-response") {
		// A labeled PING comes back as a labeled PONG (or an ACK).
		if err := c.Send(ircmsg.MakeMessage(map[string]string{"label": "lbl1"}, "", "PING", "labelcheck")); err != nil {
			t.Fatal(err)
		}
		m := waitLine(t, events, func(m ircmsg.Message) bool { return m.HasTag("label") })
		if _, v := m.GetTag("label"); v != "lbl1" {
			t.Errorf("%s: label %q on %s", srv.Kind, v, m.Command)
		}
		t.Logf("%s: labeled reply %s %q", srv.Kind, m.Command, m.AllTags())
	}
	if c.Has("server-time") {
		if err := c.Send(ircmsg.MakeMessage(nil, "", "JOIN", "#tagcheck")); err != nil {
			t.Fatal(err)
		}
		m := waitLine(t, events, func(m ircmsg.Message) bool { return m.Command == "JOIN" })
		if !m.HasTag("time") {
			t.Errorf("%s: JOIN without a time tag although server-time is acknowledged: %q", srv.Kind, m.AllTags())
		}
		t.Logf("%s: JOIN tags %q", srv.Kind, m.AllTags())
	}

	t.Logf("%s: checks done after %v", srv.Kind, time.Since(begin))
	c.Quit("bye")
	if closed := expectClosed(t, c, events); closed.Err != nil || Retryable(closed.Err) {
		t.Errorf("Closed after Quit = %q, %v", closed.Text, closed.Err)
	}
}

func testRealPinned(t *testing.T, srv *testenv.IRCServer) {
	begin := time.Now()
	sum := sha256.Sum256(srv.TLS.Cert.Raw)
	fingerprint := hex.EncodeToString(sum[:])

	events := make(chan Event, 64)
	cfg := realConfig(t, srv, "pinroots", events)
	dial(t, t.Context(), cfg)
	if closed := waitClosed(t, events); !strings.HasPrefix(closed.Text, "TLS error: ") {
		t.Errorf("self-signed with the system roots: Closed = %q, %v", closed.Text, closed.Err)
	}

	events = make(chan Event, 64)
	cfg = realConfig(t, srv, "pinwrong", events)
	cfg.TLSConfig = pinned(strings.Repeat("0", 64))
	dial(t, t.Context(), cfg)
	if closed := waitClosed(t, events); !strings.HasPrefix(closed.Text, "TLS error: ") || !strings.Contains(closed.Text, "is not the trusted one") || Retryable(closed.Err) {
		t.Errorf("wrong pin: Closed = %q, %v", closed.Text, closed.Err)
	}

	events = make(chan Event, 64)
	cfg = realConfig(t, srv, "pinok", events)
	cfg.TLSConfig = pinned(fingerprint)
	c := dial(t, t.Context(), cfg)
	waitRegistered(t, events)
	if tlsOn, _ := c.Encrypted(); !tlsOn {
		t.Fatal("not encrypted")
	}
	if !bytes.Equal(srv.TLS.CA.Raw, srv.TLS.Cert.Raw) {
		t.Errorf("TLSSelfSigned gave a CA-issued certificate")
	}
	t.Logf("%s: pinned self-signed: three attempts, one registration in %v", srv.Kind, time.Since(begin))
}
