package ircclient

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/ergochat/irc-go/ircreader"
)

// capState is where CAP negotiation (IRCv3 capability negotiation 3.2)
// stands during registration.
type capState uint8

const (
	capWaitLS  capState = iota // CAP LS 302 sent, reply not complete yet
	capWaitAck                 // CAP REQ sent, waiting for ACK or NAK
	capDone                    // CAP END sent, or the server has no CAP
)

// reader is the state owned by the reader goroutine.
type reader struct {
	c       *Conn
	state   capState
	offered map[string]string // CAP LS/NEW: name → value
	ls      []string          // tokens of a multi-line CAP LS in progress
	regDone bool              // 001 received
}

// readLoop is the reader goroutine: it reads, parses, decodes and handles
// lines until the socket fails, the server sends ERROR, or the owner is gone.
func (c *Conn) readLoop(nc net.Conn) {
	defer c.wg.Done()
	r := reader{c: c, offered: make(map[string]string)}
	var lr ircreader.Reader
	lr.Initialize(nc, 512, maxReadBytes)
	for {
		raw, err := lr.ReadLine()
		if err != nil {
			// ErrReadQ (a line over maxReadBytes) is fatal too: ircreader
			// cannot skip the rest of an over-long line.
			if errors.Is(err, io.EOF) {
				c.fail(fmt.Errorf("ircclient: server closed the connection: %w", err), closedText)
			} else {
				c.fail(fmt.Errorf("ircclient: read: %w", err), StrError(err))
			}
			return
		}
		c.lastRecv.Store(int64(time.Since(c.start)))
		if c.log.Enabled(c.ctx, levelTrace) {
			c.log.Log(c.ctx, levelTrace, "irc recv", "line", strings.ToValidUTF8(string(raw), "\uFFFD"))
		}
		msg, ok := c.parse(raw)
		if !ok {
			continue
		}
		if !r.handle(msg) {
			return
		}
	}
}

// parse turns a raw line into a message whose source, parameters and tag
// values are valid UTF-8. Unparseable lines are logged and skipped.
func (c *Conn) parse(raw []byte) (ircmsg.Message, bool) {
	valid := utf8.Valid(raw)
	line := string(raw)
	if !valid && strings.HasPrefix(line, "@") {
		// Tag values must be UTF-8 or ircmsg rejects the whole line: decode
		// the tag section as a whole (its syntax is ASCII).
		if end := strings.IndexByte(line, ' '); end > 0 && !utf8.ValidString(line[:end]) {
			line = c.decode(line[:end]) + line[end:]
		}
	}
	msg, err := ircmsg.ParseLine(line)
	if err != nil {
		if err != ircmsg.ErrorLineIsEmpty {
			c.log.Debug("skipping unparseable IRC line", "err", err, "line", strings.ToValidUTF8(line, "\uFFFD"))
		}
		return msg, false
	}
	if !valid {
		msg.Source = c.decode(msg.Source)
		for i, p := range msg.Params {
			msg.Params[i] = c.decode(p)
		}
	}
	return msg, true
}

// decode returns s if it is valid UTF-8, else s converted from the fallback
// charset. The result is always valid UTF-8.
func (c *Conn) decode(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out, err := c.dec.NewDecoder().String(s)
	if err != nil {
		out = s
	}
	return strings.ToValidUTF8(out, "\uFFFD")
}

// handle processes one message; it returns false when reading must stop.
func (r *reader) handle(msg ircmsg.Message) bool {
	c := r.c
	switch msg.Command {
	case "PING":
		c.control(ircmsg.MakeMessage(nil, "", "PONG", msg.Params...))
		return true
	case "CAP":
		r.handleCAP(msg)
		return true
	case "ERROR":
		text := ""
		if len(msg.Params) > 0 {
			text = msg.Params[len(msg.Params)-1]
		}
		c.fail(&ServerError{Text: text}, text)
		return false
	case "421":
		// ERR_UNKNOWNCOMMAND for our CAP LS: the server has no CAP, and
		// registration goes on without it.
		if len(msg.Params) >= 2 && strings.EqualFold(msg.Params[1], "CAP") {
			r.state = capDone
			return true
		}
	case "410":
		// ERR_INVALIDCAPCMD: the server has CAP but refused our
		// subcommand; end the negotiation so that registration does not
		// stall.
		if r.state != capDone {
			r.state = capDone
			c.control(ircmsg.MakeMessage(nil, "", "CAP", "END"))
		}
		return true
	case "001":
		if !r.welcome(msg) {
			return false
		}
	case "005":
		if len(msg.Params) >= 2 {
			c.isupport.Store(c.isupport.Load().apply(msg.Params[1 : len(msg.Params)-1]))
		}
	case "NICK":
		if len(msg.Params) >= 1 {
			is := c.isupport.Load()
			if is.Fold(msg.Nick()) == is.Fold(c.Nick()) {
				c.setNick(msg.Params[0])
			}
		}
	}
	return c.emit(Line{Conn: c, Msg: msg})
}

// welcome handles 001: registration is complete.
func (r *reader) welcome(msg ircmsg.Message) bool {
	c := r.c
	if r.regDone {
		return true
	}
	r.regDone = true
	// A server that sends 001 while we wait for a CAP reply ignored CAP.
	r.state = capDone
	if len(msg.Params) > 0 && msg.Params[0] != "" && msg.Params[0] != "*" {
		c.setNick(msg.Params[0])
	}
	close(c.registered)
	return c.emit(Registered{Conn: c, Nick: c.Nick(), ISupport: c.isupport.Load()})
}

// handleCAP follows IRCv3 capability negotiation: CAP <target> <sub> ...
func (r *reader) handleCAP(msg ircmsg.Message) {
	if len(msg.Params) < 3 {
		return
	}
	c := r.c
	last := msg.Params[len(msg.Params)-1]
	switch strings.ToUpper(msg.Params[1]) {
	case "LS":
		r.ls = append(r.ls, strings.Fields(last)...)
		if len(msg.Params) >= 4 && msg.Params[2] == "*" {
			return // more LS lines follow
		}
		for _, tok := range r.ls {
			name, value, _ := strings.Cut(tok, "=")
			r.offered[name] = value
		}
		r.ls = nil
		if r.state != capWaitLS {
			return
		}
		if req := r.wanted(); len(req) > 0 {
			r.state = capWaitAck
			r.request(req)
			return
		}
		r.state = capDone
		c.control(ircmsg.MakeMessage(nil, "", "CAP", "END"))
	case "ACK":
		c.mu.Lock()
		for _, tok := range strings.Fields(last) {
			if name, ok := strings.CutPrefix(tok, "-"); ok {
				c.caps = slices.DeleteFunc(c.caps, func(s string) bool { return s == name })
			} else if !slices.Contains(c.caps, tok) {
				c.caps = append(c.caps, tok)
			}
		}
		slices.Sort(c.caps)
		c.mu.Unlock()
		r.endNegotiation()
	case "NAK":
		c.log.Debug("IRC server refused capabilities", "caps", last)
		r.endNegotiation()
	case "NEW":
		var req []string
		for _, tok := range strings.Fields(last) {
			name, value, _ := strings.Cut(tok, "=")
			r.offered[name] = value
			if slices.Contains(c.cfg.WantCaps, name) && !slices.Contains(c.AckedCaps(), name) {
				req = append(req, name)
			}
		}
		if len(req) > 0 && r.state == capDone {
			r.request(req)
		}
	case "DEL":
		c.mu.Lock()
		for _, name := range strings.Fields(last) {
			delete(r.offered, name)
			c.caps = slices.DeleteFunc(c.caps, func(s string) bool { return s == name })
		}
		c.mu.Unlock()
	}
}

// wanted returns the capabilities of Config.WantCaps the server offers.
func (r *reader) wanted() []string {
	var req []string
	for _, name := range r.c.cfg.WantCaps {
		if _, ok := r.offered[name]; ok && !slices.Contains(req, name) {
			req = append(req, name)
		}
	}
	return req
}

func (r *reader) request(caps []string) {
	m := ircmsg.MakeMessage(nil, "", "CAP", "REQ", strings.Join(caps, " "))
	m.ForceTrailing()
	r.c.control(m)
}

// endNegotiation sends CAP END after the reply to our registration-time
// CAP REQ, whether ACK or NAK, so that registration never stalls.
func (r *reader) endNegotiation() {
	if r.state == capWaitAck {
		r.state = capDone
		r.c.control(ircmsg.MakeMessage(nil, "", "CAP", "END"))
	}
}
