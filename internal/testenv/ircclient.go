package testenv

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/ergochat/irc-go/ircreader"
)

// IRCClient is a raw IRC connection: a person on IRC in tests. Lines are
// read by a goroutine that answers PING itself; Expect consumes them.
type IRCClient struct {
	Nick string

	conn  net.Conn
	wmu   sync.Mutex
	lines chan ircmsg.Message
	done  chan struct{} // closed by Close
	dead  chan struct{} // closed when the reader stops
	err   error         // why the reader stopped; read after dead

	mu     sync.Mutex
	recent []string // last lines received

	closeOnce sync.Once
}

const recentLines = 30

// DialIRC connects to addr, registers with NICK/USER and waits for 001.
// It fails fast on ERROR and on nick or registration errors. The client
// is closed by t.Cleanup.
//
// inspircd 3 completes registrations on its once-a-second timer, so each
// DialIRC to it takes up to 1 s; DialIRCs registers several clients
// concurrently.
func DialIRC(t testing.TB, addr, nick string) *IRCClient {
	t.Helper()
	c, err := dialIRC(addr, nick)
	if c != nil {
		t.Cleanup(c.Close)
	}
	if err != nil {
		t.Fatalf("%v", err)
	}
	return c
}

// DialIRCs is DialIRC for several nicks at once, registering them
// concurrently.
func DialIRCs(t testing.TB, addr string, nicks ...string) []*IRCClient {
	t.Helper()
	clients := make([]*IRCClient, len(nicks))
	errs := make([]error, len(nicks))
	var wg sync.WaitGroup
	for i, nick := range nicks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i], errs[i] = dialIRC(addr, nick)
		}()
	}
	wg.Wait()
	for _, c := range clients {
		if c != nil {
			t.Cleanup(c.Close)
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%v", err)
	}
	return clients
}

func dialIRC(addr, nick string) (*IRCClient, error) {
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("testenv: DialIRC %s: %w", addr, err)
	}
	c := &IRCClient{
		Nick:  nick,
		conn:  conn,
		lines: make(chan ircmsg.Message, 4096),
		done:  make(chan struct{}),
		dead:  make(chan struct{}),
	}
	go c.readLoop()
	for _, line := range []string{"NICK " + nick, "USER user 0 * :testenv " + nick} {
		c.record("-> " + line)
		if err := c.write(line); err != nil {
			return c, fmt.Errorf("testenv: DialIRC %s as %s: %w", addr, nick, err)
		}
	}
	_, err = c.expect(func(m ircmsg.Message) (bool, error) {
		switch m.Command {
		case "001":
			return true, nil
		case "ERROR":
			return false, fmt.Errorf("server said ERROR %s", lastParam(m))
		case "431", "432", "433", "436", "437", "461", "462", "463", "464", "465", "468":
			return false, fmt.Errorf("registration refused: %s %s", m.Command, strings.Join(m.Params, " "))
		}
		return false, nil
	})
	if err != nil {
		return c, fmt.Errorf("testenv: DialIRC %s as %s: %w%s", addr, nick, err, c.recentText())
	}
	return c, nil
}

func lastParam(m ircmsg.Message) string {
	if len(m.Params) == 0 {
		return ""
	}
	return m.Params[len(m.Params)-1]
}

func (c *IRCClient) readLoop() {
	defer close(c.dead)
	r := ircreader.NewIRCReader(c.conn)
	for {
		line, err := r.ReadLine()
		if err != nil {
			select {
			case <-c.done:
				c.err = errors.New("client closed")
			default:
				c.err = err
			}
			return
		}
		s := string(line)
		c.record("<- " + s)
		m, err := ircmsg.ParseLine(s)
		if err != nil {
			continue
		}
		if m.Command == "PING" {
			_ = c.write("PONG :" + lastParam(m))
		}
		select {
		case c.lines <- m:
		case <-c.done:
			c.err = errors.New("client closed")
			return
		}
	}
}

func (c *IRCClient) record(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recent = append(c.recent, s)
	if len(c.recent) > recentLines {
		c.recent = c.recent[len(c.recent)-recentLines:]
	}
}

func (c *IRCClient) write(line string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(dialTimeout))
	_, err := c.conn.Write([]byte(line + "\r\n"))
	return err
}

// Send writes one raw line (without CRLF).
func (c *IRCClient) Send(t testing.TB, line string) {
	t.Helper()
	if strings.ContainsAny(line, "\r\n") {
		t.Fatalf("testenv: IRC Send: line contains CR or LF: %q", line)
	}
	c.record("-> " + line)
	if err := c.write(line); err != nil {
		t.Fatalf("testenv: IRC %s: send %q: %v", c.Nick, line, err)
	}
}

// Sendf formats and sends one raw line.
func (c *IRCClient) Sendf(t testing.TB, format string, args ...any) {
	t.Helper()
	c.Send(t, fmt.Sprintf(format, args...))
}

// expect returns the next message for which match says true, skipping
// others, or match's error, or an error at the deadline or on EOF.
func (c *IRCClient) expect(match func(ircmsg.Message) (bool, error)) (ircmsg.Message, error) {
	timer := time.NewTimer(ExpectTimeout)
	defer timer.Stop()
	for {
		select {
		case m := <-c.lines:
			ok, err := match(m)
			if err != nil {
				return m, err
			}
			if ok {
				return m, nil
			}
		case <-c.dead:
			// Drain what was read before the connection ended.
			select {
			case m := <-c.lines:
				ok, err := match(m)
				if err != nil {
					return m, err
				}
				if ok {
					return m, nil
				}
				continue
			default:
			}
			return ircmsg.Message{}, fmt.Errorf("connection ended: %v", c.err)
		case <-timer.C:
			return ircmsg.Message{}, fmt.Errorf("timed out after %v", ExpectTimeout)
		}
	}
}

// Expect returns the next message that match accepts, skipping the
// others. After ExpectTimeout, or if the connection ends, the test fails
// naming what and showing the last lines seen.
func (c *IRCClient) Expect(t testing.TB, match func(ircmsg.Message) bool, what string) ircmsg.Message {
	t.Helper()
	m, err := c.expect(func(m ircmsg.Message) (bool, error) { return match(m), nil })
	if err != nil {
		t.Fatalf("testenv: IRC %s: expecting %s: %v%s", c.Nick, what, err, c.recentText())
	}
	return m
}

// ExpectCommand waits for a message with that command (or numeric) whose
// parameters start with params.
func (c *IRCClient) ExpectCommand(t testing.TB, command string, params ...string) ircmsg.Message {
	t.Helper()
	return c.Expect(t, IsCommand(command, params...), command+" "+strings.Join(params, " "))
}

// IsCommand returns a matcher for a command (case-insensitive) whose
// first parameters equal params.
func IsCommand(command string, params ...string) func(ircmsg.Message) bool {
	return func(m ircmsg.Message) bool {
		if !strings.EqualFold(m.Command, command) || len(m.Params) < len(params) {
			return false
		}
		for i, p := range params {
			if m.Params[i] != p {
				return false
			}
		}
		return true
	}
}

// Join joins channel and waits for the end of its NAMES list (366),
// failing fast on a join error numeric.
func (c *IRCClient) Join(t testing.TB, channel string) {
	t.Helper()
	c.Send(t, "JOIN "+channel)
	_, err := c.expect(func(m ircmsg.Message) (bool, error) {
		switch m.Command {
		case "366":
			return len(m.Params) >= 2 && strings.EqualFold(m.Params[1], channel), nil
		case "403", "405", "471", "473", "474", "475", "476", "477", "479", "489":
			if len(m.Params) >= 2 && strings.EqualFold(m.Params[1], channel) {
				return false, fmt.Errorf("join refused: %s %s", m.Command, strings.Join(m.Params, " "))
			}
		case "ERROR":
			return false, fmt.Errorf("server said ERROR %s", lastParam(m))
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("testenv: IRC %s: JOIN %s: %v%s", c.Nick, channel, err, c.recentText())
	}
}

// ExpectClosed waits until the server closes the connection, skipping
// any lines, and fails after ExpectTimeout.
func (c *IRCClient) ExpectClosed(t testing.TB) {
	t.Helper()
	timer := time.NewTimer(ExpectTimeout)
	defer timer.Stop()
	for {
		select {
		case <-c.lines:
		case <-c.dead:
			return
		case <-timer.C:
			t.Fatalf("testenv: IRC %s: expecting the connection to close: still open after %v%s", c.Nick, ExpectTimeout, c.recentText())
		}
	}
}

// Privmsg sends a PRIVMSG.
func (c *IRCClient) Privmsg(t testing.TB, target, text string) {
	t.Helper()
	c.Send(t, "PRIVMSG "+target+" :"+text)
}

// Recent returns the last lines sent (->) and received (<-).
func (c *IRCClient) Recent() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.recent...)
}

func (c *IRCClient) recentText() string {
	r := c.Recent()
	if len(r) == 0 {
		return "\n(no lines seen)"
	}
	return "\nlast lines:\n  " + strings.Join(r, "\n  ")
}

// Close sends QUIT and closes the connection. It may be called more than
// once.
func (c *IRCClient) Close() {
	c.closeOnce.Do(func() {
		_ = c.write("QUIT :testenv")
		close(c.done)
		_ = c.conn.Close()
		<-c.dead
	})
}
