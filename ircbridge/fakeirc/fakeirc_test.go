package fakeirc

import (
	"bufio"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRegister drives Register from a raw client that sends its lines in an
// unusual order.
func TestRegister(t *testing.T) {
	t.Parallel()
	for _, useTLS := range []bool{false, true} {
		name := "plain"
		if useTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var srv *Server
			var nc net.Conn
			var err error
			if useTLS {
				srv = NewTLSServer(t)
				nc, err = tls.Dial("tcp", srv.Addr(), srv.ClientTLSConfig())
			} else {
				srv = NewServer(t)
				nc, err = net.Dial("tcp", srv.Addr())
			}
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(Timeout))
			cl := srv.Accept(t)
			// Pipelined: the kernel buffers both directions, so no goroutine
			// is needed.
			if _, err := nc.Write([]byte("NICK n\r\nCAP LS 302\r\nUSER u 0 * :r\r\nCAP REQ :multi-prefix\r\nCAP END\r\n")); err != nil {
				t.Fatal(err)
			}
			cl.Register(t, "n")
			r := bufio.NewReader(nc)
			want := append([]string{":fake.irc CAP * LS :multi-prefix", ":fake.irc CAP * ACK :multi-prefix"}, WelcomeBurst("n")...)
			for _, w := range want {
				l, err := r.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if l = strings.TrimRight(l, "\r\n"); l != w {
					t.Fatalf("got %q, want %q", l, w)
				}
			}

			nc.Write([]byte("PRIVMSG #c :hi\r\n"))
			if m := cl.Expect(t, "privmsg"); m.Params[1] != "hi" {
				t.Errorf("got %q", m.Params)
			}
			cl.ExpectSilence(t, 10*time.Millisecond)
			nc.Close()
			cl.ExpectClosed(t)
		})
	}
}

func TestClosedPortRefuses(t *testing.T) {
	t.Parallel()
	port := ClosedPort(t)
	if nc, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
		nc.Close()
		t.Fatalf("port %d accepted a connection", port)
	}
}
