package testenv

import (
	"fmt"
	"strings"
	"testing"

	"biboumi/internal/servers"

	"github.com/ergochat/irc-go/ircmsg"
)

// IRCClient is a raw IRC connection: a person on IRC in tests. Lines are
// read by a goroutine that answers PING itself; Expect consumes them. Its
// Nick field and its methods without a testing.TB (Recent) are those of
// the servers.IRCClient it wraps.
type IRCClient struct {
	*servers.IRCClient
}

// DialIRC connects to addr, registers with NICK/USER and waits for 001.
// It fails fast on ERROR and on nick or registration errors. The client
// is closed by t.Cleanup.
//
// inspircd 3 completes registrations on its once-a-second timer, so each
// DialIRC to it takes up to 1 s; DialIRCs registers several clients
// concurrently.
func DialIRC(t testing.TB, addr, nick string) *IRCClient {
	t.Helper()
	c, err := servers.DialIRC(addr, nick)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return wrapIRC(t, c)
}

// DialIRCs is DialIRC for several nicks at once, registering them
// concurrently.
func DialIRCs(t testing.TB, addr string, nicks ...string) []*IRCClient {
	t.Helper()
	cs, err := servers.DialIRCs(addr, nicks...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	out := make([]*IRCClient, len(cs))
	for i, c := range cs {
		out[i] = wrapIRC(t, c)
	}
	return out
}

func wrapIRC(t testing.TB, c *servers.IRCClient) *IRCClient {
	c.QuitMessage = "testenv"
	w := &IRCClient{c}
	t.Cleanup(w.Close)
	return w
}

// Send writes one raw line (without CRLF).
func (c *IRCClient) Send(t testing.TB, line string) {
	t.Helper()
	if err := c.IRCClient.Send(line); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Sendf formats and sends one raw line.
func (c *IRCClient) Sendf(t testing.TB, format string, args ...any) {
	t.Helper()
	c.Send(t, fmt.Sprintf(format, args...))
}

// Privmsg sends a PRIVMSG.
func (c *IRCClient) Privmsg(t testing.TB, target, text string) {
	t.Helper()
	c.Send(t, "PRIVMSG "+target+" :"+text)
}

// Expect returns the next message that match accepts, skipping the
// others. After ExpectTimeout, or if the connection ends, the test fails
// naming what and showing the last lines seen.
func (c *IRCClient) Expect(t testing.TB, match func(ircmsg.Message) bool, what string) ircmsg.Message {
	t.Helper()
	m, err := c.IRCClient.Expect(match, ExpectTimeout)
	if err != nil {
		t.Fatalf("testenv: expecting %s: %v", what, err)
	}
	return m
}

// ExpectCommand waits for a message with that command (or numeric) whose
// parameters start with params.
func (c *IRCClient) ExpectCommand(t testing.TB, command string, params ...string) ircmsg.Message {
	t.Helper()
	return c.Expect(t, IsCommand(command, params...), command+" "+strings.Join(params, " "))
}

// Join joins channel and waits for the end of its NAMES list (366),
// failing fast on a join error numeric.
func (c *IRCClient) Join(t testing.TB, channel string) {
	t.Helper()
	if err := c.IRCClient.Join(channel, ExpectTimeout); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// ExpectClosed waits until the server closes the connection, skipping
// any lines, and fails after ExpectTimeout.
func (c *IRCClient) ExpectClosed(t testing.TB) {
	t.Helper()
	if err := c.IRCClient.ExpectClosed(ExpectTimeout); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Close sends QUIT and closes the connection. It may be called more than
// once.
func (c *IRCClient) Close() { _ = c.IRCClient.Close() }
