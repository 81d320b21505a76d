package ircclient

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"biboumi/ircbridge/fakeirc"
	"github.com/ergochat/irc-go/ircutils"
)

// saslStart dials srv with cfg and plays the server side up to the client's
// CAP REQ, answering CAP LS with ls. It returns the Conn and the server side.
func saslStart(t *testing.T, srv *fakeirc.Server, cfg Config, ls string) (*Conn, *fakeirc.Client) {
	t.Helper()
	c := dial(t, t.Context(), cfg)
	cl := srv.Accept(t)
	cl.ExpectLine(t, "CAP LS 302")
	cl.Expect(t, "NICK")
	cl.Expect(t, "USER")
	cl.Send(t, ":srv CAP * LS :"+ls)
	return c, cl
}

// expectSASLClosed checks the end of a connection whose authentication
// failed: QUIT with the reason, then Closed with a *SASLError, no
// Registered on the way, and no stall.
func expectSASLClosed(t *testing.T, c *Conn, cl *fakeirc.Client, events <-chan Event, wantText string) {
	t.Helper()
	start := time.Now()
	cl.ExpectLine(t, "QUIT :"+wantText)
	cl.Send(t, "ERROR :Closing link: (user@127.0.0.1) [Quit: "+wantText+"]")
	cl.Close()
	for {
		switch ev := nextEvent(t, events).(type) {
		case Progress:
			continue
		case Registered:
			t.Fatalf("Registered after a SASL failure")
		case Line:
			t.Fatalf("Line %q after a SASL failure", ev.Msg.Command)
		case Closed:
			var saslErr *SASLError
			if ev.Text != wantText || !errors.As(ev.Err, &saslErr) {
				t.Fatalf("Closed = %q, %v; want %q and a *SASLError", ev.Text, ev.Err, wantText)
			}
			if Retryable(ev.Err) {
				t.Errorf("Retryable(%v) = true", ev.Err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("closing took %v", d)
			}
			<-c.Done()
			return
		}
	}
}

func TestSASLPlainSuccess(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	cfg := baseConfig(t, srv, events)
	cfg.WantCaps = []string{"multi-prefix"}
	cfg.SASL = &SASLConfig{Mechanism: "plain", Username: "account", Password: "pass word"}
	c, cl := saslStart(t, srv, cfg, "multi-prefix sasl=PLAIN,EXTERNAL")
	cl.ExpectLine(t, "CAP REQ :multi-prefix")
	cl.ExpectLine(t, "CAP REQ :sasl")
	cl.Send(t, ":srv CAP * ACK :multi-prefix")
	cl.Send(t, ":srv CAP * ACK :sasl")
	cl.ExpectLine(t, "AUTHENTICATE PLAIN") // and no CAP END before it
	cl.Send(t, "AUTHENTICATE +")
	cl.ExpectLine(t, "AUTHENTICATE "+base64.StdEncoding.EncodeToString([]byte("\x00account\x00pass word")))
	// Nothing until the server's verdict: registration waits.
	cl.ExpectSilence(t, 50*time.Millisecond)
	cl.Send(t, ":srv 900 nick nick!user@host account :You are now logged in as account")
	cl.Send(t, ":srv 903 nick :SASL authentication successful")
	cl.ExpectLine(t, "CAP END")
	for _, l := range fakeirc.WelcomeBurst("nick") {
		cl.Send(t, l)
	}
	expectEvent[Progress](t, events) // Connecting
	expectEvent[Progress](t, events) // Connected
	expectProgress(t, events, "You are now logged in as account")
	expectEvent[Registered](t, events)
	expectLine(t, events, "001") // 900 and 903 are not Lines
	if !c.Has("sasl") || !c.Has("multi-prefix") {
		t.Errorf("AckedCaps = %q", c.AckedCaps())
	}
}

// TestSASLPlainUsernameDefault: an empty Username is the nick.
func TestSASLPlainUsernameDefault(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	cfg := baseConfig(t, srv, events)
	cfg.SASL = &SASLConfig{Password: "pw"}
	_, cl := saslStart(t, srv, cfg, "sasl")
	cl.ExpectLine(t, "CAP REQ :sasl")
	cl.Send(t, ":srv CAP * ACK :sasl")
	cl.ExpectLine(t, "AUTHENTICATE PLAIN")
	cl.Send(t, "AUTHENTICATE +")
	cl.ExpectLine(t, "AUTHENTICATE "+base64.StdEncoding.EncodeToString([]byte("\x00nick\x00pw")))
}

func TestSASLFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply string
		want  string
	}{
		{"904", ":srv 904 nick :SASL authentication failed", "SASL authentication failed: SASL authentication failed"},
		{"902", ":srv 902 nick :You must use a nick assigned to you", "SASL authentication failed: You must use a nick assigned to you"},
		{"905", ":srv 905 nick :SASL message too long", "SASL authentication failed: SASL message too long"},
		{"906", ":srv 906 nick :SASL authentication aborted", "SASL authentication failed: SASL authentication aborted"},
		{"907", ":srv 907 nick :You have already authenticated using SASL", "SASL authentication failed: You have already authenticated using SASL"},
		{"908", ":srv 908 nick EXTERNAL :are available SASL mechanisms", "SASL authentication failed: mechanism PLAIN not supported (the server offers EXTERNAL)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeirc.NewServer(t)
			events := make(chan Event, 64)
			cfg := baseConfig(t, srv, events)
			cfg.SASL = &SASLConfig{Mechanism: SASLPlain, Username: "account", Password: "wrong"}
			c, cl := saslStart(t, srv, cfg, "sasl")
			cl.ExpectLine(t, "CAP REQ :sasl")
			cl.Send(t, ":srv CAP * ACK :sasl")
			cl.ExpectLine(t, "AUTHENTICATE PLAIN")
			cl.Send(t, "AUTHENTICATE +")
			cl.Expect(t, "AUTHENTICATE")
			cl.Send(t, tc.reply)
			expectSASLClosed(t, c, cl, events, tc.want)
		})
	}
}

// TestSASLUnavailable: every way the server can lack SASL ends the
// connection at once instead of stalling (Biboumi stalls on CAP NAK) or
// registering unauthenticated.
func TestSASLUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ls     string // CAP LS reply; "" for none
		script func(t *testing.T, cl *fakeirc.Client)
		want   string
	}{{
		name: "CAP NAK sasl",
		ls:   "multi-prefix sasl",
		script: func(t *testing.T, cl *fakeirc.Client) {
			cl.ExpectLine(t, "CAP REQ :multi-prefix")
			cl.ExpectLine(t, "CAP REQ :sasl")
			cl.Send(t, ":srv CAP * ACK :multi-prefix")
			cl.Send(t, ":srv CAP * NAK :sasl")
		},
		want: "SASL authentication failed: the server refused the sasl capability",
	}, {
		name: "sasl not offered",
		ls:   "multi-prefix server-time",
		want: "SASL authentication failed: the server does not offer SASL",
	}, {
		name: "mechanism not offered",
		ls:   "sasl=EXTERNAL,SCRAM-SHA-256",
		want: "SASL authentication failed: mechanism PLAIN not supported (the server offers EXTERNAL,SCRAM-SHA-256)",
	}, {
		name: "no CAP: 421",
		script: func(t *testing.T, cl *fakeirc.Client) {
			cl.Send(t, ":srv 421 * CAP :Unknown command")
		},
		want: "SASL authentication failed: the server does not support capability negotiation",
	}, {
		name: "no CAP: 001 at once",
		script: func(t *testing.T, cl *fakeirc.Client) {
			cl.Send(t, fakeirc.WelcomeBurst("nick")[0])
		},
		want: "SASL authentication failed: the server completed registration without SASL",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeirc.NewServer(t)
			events := make(chan Event, 64)
			cfg := baseConfig(t, srv, events)
			cfg.WantCaps = []string{"multi-prefix"}
			cfg.SASL = &SASLConfig{Username: "account", Password: "pw"}
			c := dial(t, t.Context(), cfg)
			cl := srv.Accept(t)
			cl.ExpectLine(t, "CAP LS 302")
			cl.Expect(t, "NICK")
			cl.Expect(t, "USER")
			if tc.ls != "" {
				cl.Send(t, ":srv CAP * LS :"+tc.ls)
			}
			if tc.script != nil {
				tc.script(t, cl)
			}
			expectSASLClosed(t, c, cl, events, tc.want)
		})
	}
}

// TestSASLServerNeverCloses: after a failure the Conn closes by itself
// after QuitTimeout.
func TestSASLServerNeverCloses(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	cfg := baseConfig(t, srv, events)
	cfg.SASL = &SASLConfig{Password: "pw"}
	cfg.QuitTimeout = 50 * time.Millisecond
	c, cl := saslStart(t, srv, cfg, "multi-prefix")
	cl.ExpectLine(t, "QUIT :SASL authentication failed: the server does not offer SASL")
	expectEvent[Progress](t, events)
	expectEvent[Progress](t, events)
	closed := expectClosed(t, c, events)
	var saslErr *SASLError
	if !errors.As(closed.Err, &saslErr) || closed.Text != "SASL authentication failed: the server does not offer SASL" {
		t.Fatalf("Closed = %q, %v", closed.Text, closed.Err)
	}
}

// TestSASLExternal authenticates with a client certificate over TLS.
func TestSASLExternal(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewTLSServer(t)
	cert := fakeirc.ClientCertificate(t)
	events := make(chan Event, 64)
	cfg := baseConfig(t, srv, events)
	cfg.TLSPorts, cfg.Ports, cfg.TLSConfig = []int{srv.Port()}, nil, srv.ClientTLSConfig()
	cfg.ClientCert = &cert
	cfg.SASL = &SASLConfig{Mechanism: SASLExternal}
	c, cl := saslStart(t, srv, cfg, "sasl=PLAIN,EXTERNAL")
	peer := cl.PeerCertificates()
	if len(peer) == 0 || !bytes.Equal(peer[0].Raw, cert.Certificate[0]) {
		t.Fatalf("the server saw client certificates %v, want ours", peer)
	}
	cl.ExpectLine(t, "CAP REQ :sasl")
	cl.Send(t, ":srv CAP * ACK :sasl")
	cl.ExpectLine(t, "AUTHENTICATE EXTERNAL")
	cl.Send(t, "AUTHENTICATE +")
	cl.ExpectLine(t, "AUTHENTICATE +") // the empty response
	cl.Send(t, ":srv 900 nick nick!user@host certuser :You are now logged in as certuser")
	cl.Send(t, ":srv 903 nick :SASL authentication successful")
	cl.ExpectLine(t, "CAP END")
	cl.Send(t, fakeirc.WelcomeBurst("nick")[0])
	expectEvent[Progress](t, events)
	expectProgress(t, events, "Connected to IRC server (encrypted).")
	expectProgress(t, events, "You are now logged in as certuser")
	expectEvent[Registered](t, events)
	_ = c
}

// TestClientCertWithoutSASL: the certificate is presented on TLS
// connections even without SASL (CertFP for NickServ).
func TestClientCertWithoutSASL(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewTLSServer(t)
	cert := fakeirc.ClientCertificate(t)
	events := make(chan Event, 64)
	cfg := baseConfig(t, srv, events)
	cfg.TLSPorts, cfg.Ports, cfg.TLSConfig = []int{srv.Port()}, nil, srv.ClientTLSConfig()
	cfg.ClientCert = &cert
	dial(t, t.Context(), cfg)
	cl := srv.Accept(t)
	if peer := cl.PeerCertificates(); len(peer) == 0 || !bytes.Equal(peer[0].Raw, cert.Certificate[0]) {
		t.Fatalf("the server saw client certificates %v, want ours", peer)
	}
}

// TestSASLChunking: responses are sent in 400-byte AUTHENTICATE chunks,
// with a final "+" when the last chunk is exactly 400 bytes.
func TestSASLChunking(t *testing.T) {
	t.Parallel()
	for _, n := range []int{297, 600, 1000} {
		password := strings.Repeat("p", n) // "\0u\0" + password: 300 bytes = 400 in base64 for 297
		t.Run("", func(t *testing.T) {
			t.Parallel()
			srv := fakeirc.NewServer(t)
			events := make(chan Event, 64)
			cfg := baseConfig(t, srv, events)
			cfg.SASL = &SASLConfig{Username: "u", Password: password}
			_, cl := saslStart(t, srv, cfg, "sasl")
			cl.ExpectLine(t, "CAP REQ :sasl")
			cl.Send(t, ":srv CAP * ACK :sasl")
			cl.ExpectLine(t, "AUTHENTICATE PLAIN")
			cl.Send(t, "AUTHENTICATE +")
			raw := []byte("\x00u\x00" + password)
			want := ircutils.EncodeSASLResponse(raw)
			var buf ircutils.SASLBuffer
			buf.Initialize(0)
			for i, chunk := range want {
				m := cl.Expect(t, "AUTHENTICATE")
				if len(m.Params) != 1 || m.Params[0] != chunk {
					t.Fatalf("chunk %d = %q, want %q", i, m.Params, chunk)
				}
				if len(chunk) > 400 {
					t.Fatalf("chunk of %d bytes", len(chunk))
				}
				done, out, err := buf.Add(m.Params[0])
				if done != (i == len(want)-1) || err != nil {
					t.Fatalf("chunk %d: done %v, err %v", i, done, err)
				}
				if done && !bytes.Equal(out, raw) {
					t.Fatalf("reassembled %q", out)
				}
			}
			if n == 297 && want[len(want)-1] != "+" {
				t.Fatalf("no final + for a 400-byte response: %q", want)
			}
			cl.Send(t, ":srv 903 nick :SASL authentication successful")
			cl.ExpectLine(t, "CAP END")
		})
	}
}

func TestSASLInvalidConfig(t *testing.T) {
	t.Parallel()
	base := Config{Server: "127.0.0.1", Ports: []int{6667}, Nick: "n"}
	tests := []struct {
		name string
		sasl *SASLConfig
	}{
		{"PLAIN without password", &SASLConfig{Username: "u"}},
		{"unknown mechanism", &SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "u", Password: "p"}},
		{"EXTERNAL without certificate", &SASLConfig{Mechanism: "EXTERNAL"}},
		{"NUL in password", &SASLConfig{Username: "u", Password: "a\x00b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := make(chan Event, 4)
			cfg := base
			cfg.SASL, cfg.Events = tc.sasl, events
			c := dial(t, t.Context(), cfg)
			closed := expectClosed(t, c, events)
			if !errors.Is(closed.Err, ErrConfig) || !strings.HasPrefix(closed.Text, "Invalid configuration: ") || Retryable(closed.Err) {
				t.Errorf("Closed = %q, %v", closed.Text, closed.Err)
			}
		})
	}
}
