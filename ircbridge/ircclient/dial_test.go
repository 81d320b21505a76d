package ircclient

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"biboumi/ircbridge/fakeirc"
)

func connecting(host string, port int, tls bool) string {
	if tls {
		return "Connecting to " + host + ":" + strconv.Itoa(port) + " (encrypted)"
	}
	return "Connecting to " + host + ":" + strconv.Itoa(port) + " (not encrypted)"
}

// TestDialPortFallback checks the order of attempts and Biboumi's exact
// progress texts.
func TestDialPortFallback(t *testing.T) {
	t.Parallel()
	plain := fakeirc.NewServer(t)
	selfSigned := fakeirc.NewTLSServer(t)
	refused := fakeirc.ClosedPort(t)
	host := plain.Host()

	tests := []struct {
		name     string
		tlsPorts []int
		ports    []int
		tlsCfg   *tls.Config
		// progress lists the expected Progress texts; a text ending in "…"
		// is matched as a prefix.
		progress []string
		// srv is the server that accepts the connection in the end.
		srv *fakeirc.Server
	}{{
		name:  "refused then plain",
		ports: []int{refused, plain.Port()},
		progress: []string{
			connecting(host, refused, false),
			"Connection failed: Connection refused",
			connecting(host, plain.Port(), false),
			"Connected to IRC server.",
		},
		srv: plain,
	}, {
		name:     "refused TLS port then plain",
		tlsPorts: []int{refused},
		ports:    []int{plain.Port()},
		progress: []string{
			connecting(host, refused, true),
			"Connection failed: Connection refused",
			connecting(host, plain.Port(), false),
			"Connected to IRC server.",
		},
		srv: plain,
	}, {
		name:     "self-signed certificate rejected with system roots",
		tlsPorts: []int{selfSigned.Port()},
		ports:    []int{plain.Port()},
		progress: []string{
			connecting(host, selfSigned.Port(), true),
			"Connection failed: TLS error: failed to verify certificate: x509: certificate signed by unknown authority",
			connecting(host, plain.Port(), false),
			"Connected to IRC server.",
		},
		srv: plain,
	}, {
		name:     "self-signed certificate with InsecureSkipVerify",
		tlsPorts: []int{selfSigned.Port()},
		ports:    []int{plain.Port()},
		tlsCfg:   &tls.Config{InsecureSkipVerify: true},
		progress: []string{
			connecting(host, selfSigned.Port(), true),
			"Connected to IRC server (encrypted).",
		},
		srv: selfSigned,
	}, {
		name:     "certificate trusted by RootCAs",
		tlsPorts: []int{selfSigned.Port()},
		tlsCfg:   selfSigned.ClientTLSConfig(),
		progress: []string{
			connecting(host, selfSigned.Port(), true),
			"Connected to IRC server (encrypted).",
		},
		srv: selfSigned,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := make(chan Event, 16)
			cfg := baseConfig(t, tc.srv, events)
			cfg.TLSPorts, cfg.Ports, cfg.TLSConfig = tc.tlsPorts, tc.ports, tc.tlsCfg
			c := dial(t, t.Context(), cfg)
			for _, want := range tc.progress {
				got := expectEvent[Progress](t, events)
				if got.Conn != c {
					t.Fatalf("Progress.Conn = %p, want %p", got.Conn, c)
				}
				if got.Text != want {
					t.Fatalf("Progress %q, want %q", got.Text, want)
				}
			}
			cl := tc.srv.Accept(t)
			cl.Register(t, "nick")
			expectEvent[Registered](t, events)
			if got, want := c.RemoteAddr().String(), tc.srv.Addr(); got != want {
				t.Errorf("RemoteAddr = %s, want %s", got, want)
			}
			if got, want := c.LocalAddr().String(), cl.RemoteAddr().String(); got != want {
				t.Errorf("LocalAddr = %s, want %s", got, want)
			}
		})
	}
}

// TestDialTLSOnPlainPort: a plain IRC server greets at once, which is no TLS
// record; one that says nothing and closes ends the handshake with EOF.
func TestDialTLSOnPlainPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		serve func(cl *fakeirc.Client)
		want  []string // any of these
	}{{
		name:  "server greets",
		serve: func(cl *fakeirc.Client) { cl.Write(":irc NOTICE * :*** Looking up your hostname...") },
		want:  []string{"TLS error: first record does not look like a TLS handshake"},
	}, {
		name:  "server closes",
		serve: func(cl *fakeirc.Client) { cl.Close() },
		// Reset when the ClientHello reached the server before the close.
		want: []string{"TLS error: Connection closed.", "TLS error: Connection reset by peer"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeirc.NewServer(t)
			events := make(chan Event, 16)
			cfg := baseConfig(t, srv, events)
			cfg.TLSPorts, cfg.Ports = []int{srv.Port()}, nil
			c := dial(t, t.Context(), cfg)
			expectProgress(t, events, connecting(srv.Host(), srv.Port(), true))
			tc.serve(srv.Accept(t))
			p := expectEvent[Progress](t, events)
			if !slices.Contains(tc.want, strings.TrimPrefix(p.Text, "Connection failed: ")) {
				t.Fatalf("Progress %q, want Connection failed: one of %q", p.Text, tc.want)
			}
			closed := expectClosed(t, c, events)
			var tlsErr *TLSError
			if !errors.As(closed.Err, &tlsErr) {
				t.Errorf("Closed.Err = %v, want a *TLSError", closed.Err)
			}
			if want := strings.TrimPrefix(p.Text, "Connection failed: "); closed.Text != want {
				t.Errorf("Closed.Text = %q, want %q", closed.Text, want)
			}
		})
	}
}

func TestDialAllPortsFail(t *testing.T) {
	t.Parallel()
	p1, p2 := fakeirc.ClosedPort(t), fakeirc.ClosedPort(t)
	events := make(chan Event, 16)
	c := dial(t, t.Context(), Config{
		Server: "127.0.0.1", TLSPorts: []int{p1}, Ports: []int{p2}, Nick: "nick",
		Logger: testLogger(t), Events: events,
	})
	expectProgress(t, events, connecting("127.0.0.1", p1, true))
	expectProgress(t, events, "Connection failed: Connection refused")
	expectProgress(t, events, connecting("127.0.0.1", p2, false))
	expectProgress(t, events, "Connection failed: Connection refused")
	closed := expectClosed(t, c, events)
	if closed.Text != "Connection refused" || !errors.Is(closed.Err, syscall.ECONNREFUSED) {
		t.Errorf("Closed = %q, %v; want Connection refused, ECONNREFUSED", closed.Text, closed.Err)
	}
	if c.LocalAddr() != nil || c.RemoteAddr() != nil {
		t.Errorf("addresses of a connection never established: %v, %v", c.LocalAddr(), c.RemoteAddr())
	}
}

// TestDialDomainNotFound uses a resolver whose DNS server answers NXDOMAIN
// to everything: the first failure ends the attempts.
func TestDialDomainNotFound(t *testing.T) {
	t.Parallel()
	dns := nxDomainServer(t)
	events := make(chan Event, 16)
	c := dial(t, t.Context(), Config{
		Server:   "irc.does-not-exist.invalid",
		TLSPorts: []int{6697, 6670},
		Ports:    []int{6667},
		Resolver: &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "udp", dns)
			},
		},
		Nick:   "nick",
		Logger: testLogger(t),
		Events: events,
	})
	expectProgress(t, events, "Connecting to irc.does-not-exist.invalid:6697 (encrypted)")
	expectProgress(t, events, "Connection failed: Domain name not found")
	closed := expectClosed(t, c, events)
	var dnsErr *net.DNSError
	if closed.Text != "Domain name not found" || !errors.As(closed.Err, &dnsErr) {
		t.Errorf("Closed = %q, %v; want Domain name not found, a *net.DNSError", closed.Text, closed.Err)
	}
}

// nxDomainServer runs a UDP DNS server answering NXDOMAIN to every query
// and returns its address.
func nxDomainServer(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			if len(q) < 12 {
				continue
			}
			// The question: QNAME labels up to the root label, QTYPE, QCLASS.
			end := 12
			for end < len(q) && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5
			if end > len(q) {
				continue
			}
			resp := make([]byte, 0, end)
			resp = append(resp, q[0], q[1])             // ID
			resp = append(resp, 0x80|q[2]&0x79, 0x80|3) // QR, opcode, RD; RA, NXDOMAIN
			resp = append(resp, 0, 1, 0, 0, 0, 0, 0, 0) // QDCOUNT=1
			resp = append(resp, q[12:end]...)           // the question
			pc.WriteTo(resp, addr)
		}
	}()
	return pc.LocalAddr().String()
}

// TestCloseDuringHandshake: Close and Quit end a connection stuck in its TLS
// handshake at once, with a nil Err.
func TestCloseDuringHandshake(t *testing.T) {
	t.Parallel()
	for _, quit := range []bool{false, true} {
		t.Run("quit="+strconv.FormatBool(quit), func(t *testing.T) {
			srv := fakeirc.NewServer(t) // plain: it never answers the ClientHello
			events := make(chan Event, 16)
			cfg := baseConfig(t, srv, events)
			cfg.TLSPorts, cfg.Ports = []int{srv.Port()}, nil
			c := dial(t, t.Context(), cfg)
			expectEvent[Progress](t, events)
			srv.Accept(t)
			start := time.Now()
			if quit {
				c.Quit("bye")
			} else {
				c.Close()
			}
			closed := expectClosed(t, c, events)
			if closed.Err != nil || closed.Text != "Connection closed." {
				t.Errorf("Closed = %q, %v; want Connection closed., nil", closed.Text, closed.Err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("closing took %v", d)
			}
		})
	}
}

func TestDialBindLocalAddr(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 16)
	cfg := baseConfig(t, srv, events)
	cfg.LocalAddr = "127.0.0.1"
	c, _ := registered(t, srv, cfg, events, "nick")
	if ip := c.LocalAddr().(*net.TCPAddr).IP.String(); ip != "127.0.0.1" {
		t.Errorf("local IP %s", ip)
	}
}

func TestDialInvalidConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no nick", Config{Server: "127.0.0.1", Ports: []int{6667}}},
		{"nick with space", Config{Server: "127.0.0.1", Ports: []int{6667}, Nick: "a b"}},
		{"no port", Config{Server: "127.0.0.1", Nick: "n"}},
		{"no server", Config{Ports: []int{6667}, Nick: "n"}},
		{"bad charset", Config{Server: "127.0.0.1", Ports: []int{6667}, Nick: "n", Fallback: "no-such-charset"}},
		{"bad bind", Config{Server: "127.0.0.1", Ports: []int{6667}, Nick: "n", LocalAddr: "example.org"}},
		{"realname with newline", Config{Server: "127.0.0.1", Ports: []int{6667}, Nick: "n", Realname: "a\nb"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := make(chan Event, 4)
			tc.cfg.Events = events
			c := dial(t, t.Context(), tc.cfg)
			closed := expectClosed(t, c, events)
			if closed.Err == nil || closed.Text == "" {
				t.Errorf("Closed = %q, %v; want an error", closed.Text, closed.Err)
			}
		})
	}
}
