package servers

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/ergochat/irc-go/ircreader"
)

// IRCClient is a raw IRC connection: a person on IRC. Lines are read by a
// goroutine that answers PING itself; Expect consumes them. Read lines
// wait in a buffer of 4096: a long-lived client must keep calling Expect.
type IRCClient struct {
	Nick string
	// QuitMessage is the reason of the QUIT that Close sends.
	QuitMessage string

	conn  net.Conn
	wmu   sync.Mutex
	lines chan ircmsg.Message
	done  chan struct{} // closed by Close
	dead  chan struct{} // closed when the reader stops
	err   error         // why the reader stopped; read after dead

	mu     sync.Mutex
	recent []string // last lines sent and received

	closeOnce sync.Once
}

const recentLines = 30

// DialIRC connects to addr, registers with NICK/USER and waits for 001.
// It fails fast on ERROR and on nick or registration errors, and then
// closes the connection.
//
// inspircd 3 completes registrations on its once-a-second timer, so each
// DialIRC to it takes up to 1 s; DialIRCs registers several clients
// concurrently.
func DialIRC(addr, nick string) (*IRCClient, error) {
	c, err := dialIRC(addr, nick)
	if err != nil {
		if c != nil {
			_ = c.Close()
		}
		return nil, err
	}
	return c, nil
}

// DialIRCs is DialIRC for several nicks at once, registering them
// concurrently. If one fails, all are closed.
func DialIRCs(addr string, nicks ...string) ([]*IRCClient, error) {
	clients := make([]*IRCClient, len(nicks))
	errs := make([]error, len(nicks))
	var wg sync.WaitGroup
	for i, nick := range nicks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i], errs[i] = DialIRC(addr, nick)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range clients {
			if c != nil {
				_ = c.Close()
			}
		}
		return nil, err
	}
	return clients, nil
}

func dialIRC(addr, nick string) (*IRCClient, error) {
	conn, err := net.DialTimeout("tcp", addr, DialTimeout)
	if err != nil {
		return nil, fmt.Errorf("DialIRC %s: %w", addr, err)
	}
	c := &IRCClient{
		Nick:        nick,
		QuitMessage: "bye",
		conn:        conn,
		lines:       make(chan ircmsg.Message, 4096),
		done:        make(chan struct{}),
		dead:        make(chan struct{}),
	}
	go c.readLoop()
	for _, line := range []string{"NICK " + nick, "USER user 0 * :" + nick} {
		if err := c.Send(line); err != nil {
			return c, fmt.Errorf("DialIRC %s as %s: %w", addr, nick, err)
		}
	}
	_, err = c.expect(DefaultTimeout, func(m ircmsg.Message) (bool, error) {
		switch m.Command {
		case "001":
			return true, nil
		case "ERROR":
			return false, fmt.Errorf("server said ERROR %s", LastParam(m))
		case "431", "432", "433", "436", "437", "461", "462", "463", "464", "465", "468":
			return false, fmt.Errorf("registration refused: %s %s", m.Command, strings.Join(m.Params, " "))
		}
		return false, nil
	})
	if err != nil {
		return c, fmt.Errorf("DialIRC %s as %s: %w%s", addr, nick, err, c.recentText())
	}
	return c, nil
}

// LastParam returns the last parameter of m (the trailing one), or "".
func LastParam(m ircmsg.Message) string {
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
			_ = c.write("PONG :" + LastParam(m))
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
	_ = c.conn.SetWriteDeadline(time.Now().Add(DialTimeout))
	_, err := c.conn.Write([]byte(line + "\r\n"))
	return err
}

// Send writes one raw line (without CRLF).
func (c *IRCClient) Send(line string) error {
	if strings.ContainsAny(line, "\r\n") {
		return fmt.Errorf("IRC %s: send: line contains CR or LF: %q", c.Nick, line)
	}
	c.record("-> " + line)
	if err := c.write(line); err != nil {
		return fmt.Errorf("IRC %s: send %q: %w", c.Nick, line, err)
	}
	return nil
}

// Sendf formats and sends one raw line.
func (c *IRCClient) Sendf(format string, args ...any) error {
	return c.Send(fmt.Sprintf(format, args...))
}

// Privmsg sends a PRIVMSG.
func (c *IRCClient) Privmsg(target, text string) error {
	return c.Send("PRIVMSG " + target + " :" + text)
}

// expect returns the next message for which match says true, skipping
// others, or match's error, or an error wrapping ErrTimeout or ErrClosed.
func (c *IRCClient) expect(timeout time.Duration, match func(ircmsg.Message) (bool, error)) (ircmsg.Message, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	timer := time.NewTimer(timeout)
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
			return ircmsg.Message{}, fmt.Errorf("%w: %v", ErrClosed, c.err)
		case <-timer.C:
			return ircmsg.Message{}, fmt.Errorf("%w after %v", ErrTimeout, timeout)
		}
	}
}

// Expect returns the next message that match accepts, skipping (and
// dropping) the others. After timeout (0: DefaultTimeout) it fails with
// an error wrapping ErrTimeout, and if the connection ends with one
// wrapping ErrClosed; the error shows the last lines seen.
func (c *IRCClient) Expect(match func(ircmsg.Message) bool, timeout time.Duration) (ircmsg.Message, error) {
	m, err := c.expect(timeout, func(m ircmsg.Message) (bool, error) { return match(m), nil })
	if err != nil {
		return m, fmt.Errorf("IRC %s: %w%s", c.Nick, err, c.recentText())
	}
	return m, nil
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
func (c *IRCClient) Join(channel string, timeout time.Duration) error {
	if err := c.Send("JOIN " + channel); err != nil {
		return err
	}
	_, err := c.expect(timeout, func(m ircmsg.Message) (bool, error) {
		switch m.Command {
		case "366":
			return len(m.Params) >= 2 && strings.EqualFold(m.Params[1], channel), nil
		case "403", "405", "471", "473", "474", "475", "476", "477", "479", "489":
			if len(m.Params) >= 2 && strings.EqualFold(m.Params[1], channel) {
				return false, fmt.Errorf("join refused: %s %s", m.Command, strings.Join(m.Params, " "))
			}
		case "ERROR":
			return false, fmt.Errorf("server said ERROR %s", LastParam(m))
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("IRC %s: JOIN %s: %w%s", c.Nick, channel, err, c.recentText())
	}
	return nil
}

// ExpectClosed waits until the server closes the connection, skipping
// any lines; after timeout (0: DefaultTimeout) it fails with an error
// wrapping ErrTimeout.
func (c *IRCClient) ExpectClosed(timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-c.lines:
		case <-c.dead:
			return nil
		case <-timer.C:
			return fmt.Errorf("IRC %s: expecting the connection to close: still open, %w after %v%s", c.Nick, ErrTimeout, timeout, c.recentText())
		}
	}
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
// once, and concurrently with Expect, which then fails with ErrClosed.
func (c *IRCClient) Close() error {
	c.closeOnce.Do(func() {
		_ = c.write("QUIT :" + c.QuitMessage)
		close(c.done)
		_ = c.conn.Close()
		<-c.dead
	})
	return nil
}
