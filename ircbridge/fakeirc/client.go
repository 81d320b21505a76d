package fakeirc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/ergochat/irc-go/ircreader"
)

// Client is the server side of one accepted connection. Reads and writes may
// happen on different goroutines; concurrent reads are serialized.
type Client struct {
	nc  net.Conn
	rmu sync.Mutex // guards r
	r   ircreader.Reader
	wmu sync.Mutex // serializes writes
}

func newClient(nc net.Conn) *Client {
	c := &Client{nc: nc}
	c.r.Initialize(nc, 512, ircmsg.MaxlenTags+512)
	return c
}

// Next reads the next line (without CR LF), waiting at most timeout. It
// never calls t.Fatal, so it may run on any goroutine. A timeout is reported
// as an error for which errors.Is(err, os.ErrDeadlineExceeded) holds.
func (c *Client) Next(timeout time.Duration) (string, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if err := c.nc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	b, err := c.r.ReadLine()
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Write sends line followed by CR LF. It never calls t.Fatal, so it may run
// on any goroutine.
func (c *Client) Write(line string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.nc.SetWriteDeadline(time.Now().Add(Timeout)); err != nil {
		return err
	}
	_, err := c.nc.Write([]byte(line + "\r\n"))
	return err
}

// ReadLine returns the next line from the client, without CR LF.
func (c *Client) ReadLine(t testing.TB) string {
	t.Helper()
	line, err := c.Next(Timeout)
	if err != nil {
		t.Fatalf("fakeirc: reading from client: %v", err)
	}
	return line
}

// ReadMessage returns the next line from the client, parsed.
func (c *Client) ReadMessage(t testing.TB) ircmsg.Message {
	t.Helper()
	line := c.ReadLine(t)
	m, err := ircmsg.ParseLine(line)
	if err != nil {
		t.Fatalf("fakeirc: unparseable line from client %q: %v", line, err)
	}
	return m
}

// Expect reads the next line, which must have the given command, and
// returns it. It is strict: any other line fails the test.
func (c *Client) Expect(t testing.TB, command string) ircmsg.Message {
	t.Helper()
	line := c.ReadLine(t)
	m, err := ircmsg.ParseLine(line)
	if err != nil {
		t.Fatalf("fakeirc: want %s, got unparseable line %q: %v", command, line, err)
	}
	if !strings.EqualFold(m.Command, command) {
		t.Fatalf("fakeirc: want %s, got %q", command, line)
	}
	return m
}

// ExpectLine reads the next line, which must be exactly want (without
// CR LF).
func (c *Client) ExpectLine(t testing.TB, want string) {
	t.Helper()
	if got := c.ReadLine(t); got != want {
		t.Fatalf("fakeirc: got line %q, want %q", got, want)
	}
}

// ExpectClosed waits for the client to close the connection; a line or a
// timeout fails the test.
func (c *Client) ExpectClosed(t testing.TB) {
	t.Helper()
	line, err := c.Next(Timeout)
	switch {
	case err == nil:
		t.Fatalf("fakeirc: want the connection closed, got line %q", line)
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Fatalf("fakeirc: connection not closed within %v", Timeout)
	}
}

// ExpectSilence checks that the client sends nothing for d. It waits the
// whole of d, so keep d short and use it only where no event can be awaited.
func (c *Client) ExpectSilence(t testing.TB, d time.Duration) {
	t.Helper()
	line, err := c.Next(d)
	switch {
	case err == nil:
		t.Fatalf("fakeirc: want silence, got line %q", line)
	case !errors.Is(err, os.ErrDeadlineExceeded):
		t.Fatalf("fakeirc: want silence, got %v", err)
	}
}

// Send writes line followed by CR LF. The line may hold any bytes, such as
// Latin-1 text.
func (c *Client) Send(t testing.TB, line string) {
	t.Helper()
	if err := c.Write(line); err != nil {
		t.Fatalf("fakeirc: writing %q: %v", line, err)
	}
}

// Register plays the server side of a registration: it reads the client's
// WEBIRC, PASS, CAP, NICK and USER lines in whatever order they come, answers
// CAP LS with "multi-prefix" and acknowledges any CAP REQ, and when NICK,
// USER and (if CAP LS was sent) CAP END have arrived, sends the welcome
// burst (001 to 005, with PREFIX=(qaohv)~&@%+ CHANTYPES=# CASEMAPPING=rfc1459)
// and 422 (no MOTD), all addressed to nick.
func (c *Client) Register(t testing.TB, nick string) {
	t.Helper()
	c.RegisterCaps(t, nick, "multi-prefix")
}

// RegisterCaps is Register with caps (space-separated, "name" or
// "name=value") as the CAP LS reply. It acknowledges every CAP REQ.
func (c *Client) RegisterCaps(t testing.TB, nick, caps string) {
	t.Helper()
	var gotNick, gotUser, capLS, capEnd bool
	for !gotNick || !gotUser || (capLS && !capEnd) {
		m := c.ReadMessage(t)
		switch m.Command {
		case "PASS", "WEBIRC":
		case "NICK":
			gotNick = true
		case "USER":
			gotUser = true
		case "CAP":
			switch sub := strings.ToUpper(param(m, 0)); sub {
			case "LS":
				capLS = true
				c.Send(t, ":"+ServerName+" CAP * LS :"+caps)
			case "REQ":
				c.Send(t, ":"+ServerName+" CAP * ACK :"+param(m, 1))
			case "END":
				capEnd = true
			default:
				t.Fatalf("fakeirc: unexpected CAP %s during registration", sub)
			}
		default:
			line, _ := m.Line()
			t.Fatalf("fakeirc: unexpected line during registration: %q", line)
		}
	}
	for _, l := range WelcomeBurst(nick) {
		c.Send(t, l)
	}
}

// WelcomeBurst returns the lines Register sends once the client registered.
func WelcomeBurst(nick string) []string {
	p := ":" + ServerName + " "
	return []string{
		p + "001 " + nick + " :Welcome to the fake IRC network " + nick,
		p + "002 " + nick + " :Your host is " + ServerName + ", running fakeirc",
		p + "003 " + nick + " :This server was created today",
		p + "004 " + nick + " " + ServerName + " fakeirc-1 iowx bcIiklmnopqstvhaq",
		p + "005 " + nick + " PREFIX=(qaohv)~&@%+ CHANTYPES=# CASEMAPPING=rfc1459 NETWORK=FakeNet CHANMODES=beI,k,l,imnpst :are supported by this server",
		p + "422 " + nick + " :MOTD File is missing",
	}
}

func param(m ircmsg.Message, i int) string {
	if i < len(m.Params) {
		return m.Params[i]
	}
	return ""
}

// PeerCertificates returns the certificates the client presented in the TLS
// handshake (nil for a plain-text connection or a client without one).
func (c *Client) PeerCertificates() []*x509.Certificate {
	if tc, ok := c.nc.(*tls.Conn); ok {
		return tc.ConnectionState().PeerCertificates
	}
	return nil
}

// RemoteAddr returns the client's address.
func (c *Client) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Close closes the connection.
func (c *Client) Close() { c.nc.Close() }
