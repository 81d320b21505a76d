package ircclient

import (
	"errors"
	"fmt"
	"golang.org/x/text/encoding"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/ergochat/irc-go/ircreader"
	"github.com/ergochat/irc-go/ircutils"
)

// capState is where CAP negotiation (IRCv3 capability negotiation 3.2)
// stands during registration.
type capState uint8

const (
	capWaitLS  capState = iota // CAP LS 302 sent, reply not complete yet
	capWaitAck                 // CAP REQ sent, waiting for ACK or NAK
	capDone                    // CAP END sent, or the server has no CAP
)

// saslState is where SASL authentication stands.
type saslState uint8

const (
	saslOff  saslState = iota // not configured
	saslWant                  // configured; CAP LS reply not complete yet
	saslReq                   // CAP REQ sasl sent
	saslAuth                  // AUTHENTICATE <mechanism> sent, waiting for "+"
	saslSent                  // response sent, waiting for 903 or a failure
	saslDone                  // 903 received
)

// active reports whether authentication is under way: registration must
// not complete.
func (s saslState) active() bool { return s != saslOff && s != saslDone }

const (
	// maxCapReqBytes bounds the capability list of one CAP REQ line.
	maxCapReqBytes = 400
	// maxOfferedCaps bounds the capabilities we remember from CAP LS and
	// CAP NEW, against a server that never ends its LS.
	maxOfferedCaps = 512
)

// reader is the state of the connection's goroutine while it reads the
// socket. It lives on the heap rather than on that goroutine's stack, which
// then stays small enough for the garbage collector to shrink it.
type reader struct {
	c          *Conn
	nc         net.Conn
	lr         ircreader.Reader
	stopCloser func() bool // stops the closing of nc when ctx is done

	state   capState
	pending int               // CAP REQs of the registration without ACK or NAK yet
	sasl    saslState         // SASL progress
	offered map[string]string // CAP LS/NEW during registration: name → value
	ls      []string          // tokens of a multi-line CAP LS in progress
	regDone bool              // 001 received
	aborted bool              // the connection is ending: report nothing more
	refusal string            // 463/464/465 received: the ERROR that follows is a refusal

	// The keepalive (see timedOut).
	lastRecv time.Time // when the last line was received
	pingAt   time.Time // when the keepalive PING went out; zero before the first
}

// pingMessage is the keepalive PING.
var pingMessage = ircmsg.MakeMessage(nil, "", "PING", "biboumi")

func newReader(c *Conn, nc net.Conn) *reader {
	r := &reader{c: c, nc: nc}
	if c.cfg.SASL != nil {
		r.sasl = saslWant
	}
	r.lr.Initialize(nc, 512, maxReadBytes)
	return r
}

// loop reads, parses, decodes and handles lines until the socket fails,
// the server sends ERROR, a timer expires, or the connection is closing.
// It does nothing else than reading, so that the stack is shallow while it
// waits.
func (r *reader) loop() {
	for {
		raw, err := r.lr.ReadLine()
		var more bool
		if err != nil {
			more = r.readFailed(err)
		} else {
			more = r.received(raw)
		}
		if !more {
			return
		}
	}
}

// received handles one line from the server; false means reading must stop.
func (r *reader) received(raw []byte) bool {
	c := r.c
	r.lastRecv = time.Now()
	if c.log.Enabled(c.ctx, levelTrace) {
		c.log.Log(c.ctx, levelTrace, "irc recv", "line", strings.ToValidUTF8(string(raw), "\uFFFD"))
	}
	msg, ok := c.parse(raw)
	if !ok {
		return true
	}
	return r.handle(msg)
}

// readFailed handles a read error; false means reading must stop.
func (r *reader) readFailed(err error) bool {
	c := r.c
	if errors.Is(err, os.ErrDeadlineExceeded) && c.ctx.Err() == nil {
		// ircreader keeps a partial line across timeouts.
		return r.timedOut()
	}
	c.failParent() // the socket was closed because ctx is done
	// ErrReadQ (a line over maxReadBytes) is fatal too: ircreader cannot
	// skip the rest of an over-long line.
	if errors.Is(err, io.EOF) {
		c.fail(fmt.Errorf("ircclient: server closed the connection: %w", err), closedText)
	} else {
		c.fail(fmt.Errorf("ircclient: read: %w", err), StrError(err))
	}
	return false
}

// setDeadline sets the read deadline; false means the connection ends.
func (r *reader) setDeadline(t time.Time) bool {
	if err := r.nc.SetReadDeadline(t); err != nil {
		r.c.fail(fmt.Errorf("ircclient: read: %w", err), StrError(err))
		return false
	}
	return true
}

// timedOut handles the expiry of the read deadline, which is how the
// connection's timers work without a goroutine of their own; false means
// the connection ends. Before 001 the deadline is the end of
// RegistrationTimeout. After it, a PING goes out each time the deadline
// expires, and the next deadline is PingInterval later: when nothing at all
// arrived in that interval, the server is gone.
func (r *reader) timedOut() bool {
	c := r.c
	if !r.regDone {
		c.fail(ErrRegistrationTimeout, StrError(ErrRegistrationTimeout))
		return false
	}
	now := time.Now()
	if !r.pingAt.IsZero() && r.lastRecv.Before(r.pingAt) {
		// The PING went out just before this read began: the server
		// really sent nothing for a whole interval. (Time spent in the
		// owner's hands only delays the next PING.)
		c.fail(ErrPingTimeout, StrError(ErrPingTimeout))
		return false
	}
	r.pingAt = now
	c.tryControl(pingMessage)
	return r.setDeadline(now.Add(c.cfg.PingInterval))
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
		// A channel's own charset (SetCharset) wins for lines to it.
		dec := c.dec
		if len(msg.Params) > 0 {
			if e := c.charsetFor(msg.Params[0]); e != nil {
				dec = e
			}
		}
		msg.Source = c.decodeWith(dec, msg.Source)
		for i, p := range msg.Params {
			msg.Params[i] = c.decodeWith(dec, p)
		}
	}
	return msg, true
}

// decode returns s if it is valid UTF-8, else s converted from the fallback
// charset. The result is always valid UTF-8.
func (c *Conn) decode(s string) string { return c.decodeWith(c.dec, s) }

func (c *Conn) decodeWith(dec encoding.Encoding, s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out, err := dec.NewDecoder().String(s)
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
		text := lastParam(msg)
		c.fail(&ServerError{Text: text, Numeric: r.refusal}, text)
		return false
	case "AUTHENTICATE":
		r.authenticate(msg)
		return true
	}
	if r.aborted {
		return true // after a SASL failure: wait for the server to close
	}
	switch msg.Command {
	case "421":
		// ERR_UNKNOWNCOMMAND for our CAP LS: the server has no CAP, and
		// registration goes on without it.
		if len(msg.Params) >= 2 && strings.EqualFold(msg.Params[1], "CAP") {
			r.state = capDone
			if r.sasl.active() {
				r.saslFail("", "the server does not support capability negotiation")
			}
			return true
		}
	case "410":
		// ERR_INVALIDCAPCMD: the server has CAP but refused our
		// subcommand; end the negotiation so that registration does not
		// stall.
		if r.state != capDone {
			r.state = capDone
			if r.sasl.active() {
				r.saslFail("", "the server refused capability negotiation: "+lastParam(msg))
				return true
			}
			c.control(ircmsg.MakeMessage(nil, "", "CAP", "END"))
		}
		return true
	case "463", "464", "465":
		// ERR_NOPERMFORHOST, ERR_PASSWDMISMATCH, ERR_YOUREBANNEDCREEP:
		// the server refuses us, usually followed by ERROR.
		r.refusal = msg.Command
	case "900":
		// RPL_LOGGEDIN: reported as a gateway message while we
		// authenticate, as a Line otherwise.
		if r.sasl.active() {
			return c.emit(Progress{Conn: c, Text: lastParam(msg)})
		}
	case "903":
		// RPL_SASLSUCCESS
		if r.sasl.active() {
			r.sasl = saslDone
			r.maybeEnd()
			return true
		}
	case "902", "904", "905", "906", "907":
		// ERR_NICKLOCKED, ERR_SASLFAIL, ERR_SASLTOOLONG, ERR_SASLABORTED,
		// ERR_SASLALREADY
		if r.sasl.active() {
			r.saslFail(msg.Command, lastParam(msg))
			return true
		}
	case "908":
		// RPL_SASLMECHS: our mechanism is not among these.
		if r.sasl.active() && len(msg.Params) >= 2 {
			r.saslFail(msg.Command, fmt.Sprintf("mechanism %s not supported (the server offers %s)", c.cfg.SASL.Mechanism, msg.Params[1]))
			return true
		}
	case "001":
		if r.sasl.active() {
			// Registered without authenticating (a server that ignored
			// CAP): never let the owner join unauthenticated.
			r.saslFail("", "the server completed registration without SASL")
			return true
		}
		if !r.welcome(msg) {
			return false
		}
	case "005":
		if len(msg.Params) >= 2 {
			is := c.isupport.Load().apply(msg.Params[1 : len(msg.Params)-1])
			if c.cfg.ISupportCache != nil {
				is = c.cfg.ISupportCache.intern(is)
			}
			c.isupport.Store(is)
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

func lastParam(msg ircmsg.Message) string {
	if len(msg.Params) == 0 {
		return ""
	}
	return msg.Params[len(msg.Params)-1]
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
	// Registration is over: the keepalive replaces its deadline, and the
	// capabilities offered are no longer needed.
	r.offered = nil
	if !r.setDeadline(time.Now().Add(c.cfg.PingInterval)) {
		return false
	}
	return c.emit(Registered{Conn: c, Nick: c.Nick(), ISupport: c.isupport.Load()})
}

// authenticate answers the server's AUTHENTICATE challenge. PLAIN and
// EXTERNAL only get the empty challenge "+".
func (r *reader) authenticate(msg ircmsg.Message) {
	if r.sasl != saslAuth || lastParam(msg) != "+" {
		return
	}
	var raw []byte
	if sasl := r.c.cfg.SASL; sasl.Mechanism == SASLPlain {
		raw = []byte("\x00" + sasl.Username + "\x00" + sasl.Password)
	}
	for _, chunk := range ircutils.EncodeSASLResponse(raw) {
		r.c.control(ircmsg.MakeMessage(nil, "", "AUTHENTICATE", chunk))
	}
	r.sasl = saslSent
}

// saslFail ends the connection with a *SASLError.
func (r *reader) saslFail(numeric, text string) {
	r.aborted = true
	r.sasl = saslDone
	err := &SASLError{Numeric: numeric, Text: text}
	r.c.abort(err, StrError(err))
}

// handleCAP follows IRCv3 capability negotiation: CAP <target> <sub> ...
func (r *reader) handleCAP(msg ircmsg.Message) {
	if len(msg.Params) < 3 || r.aborted {
		return
	}
	c := r.c
	last := msg.Params[len(msg.Params)-1]
	switch strings.ToUpper(msg.Params[1]) {
	case "LS":
		if len(r.ls) < maxOfferedCaps {
			r.ls = append(r.ls, strings.Fields(last)...)
		}
		if len(msg.Params) >= 4 && msg.Params[2] == "*" {
			return // more LS lines follow
		}
		for _, tok := range r.ls {
			r.offer(tok)
		}
		r.ls = nil
		if r.state != capWaitLS {
			return
		}
		if r.sasl == saslWant {
			if reason := r.saslUnavailable(); reason != "" {
				r.state = capDone
				r.saslFail("", reason)
				return
			}
		}
		r.state = capWaitAck
		r.request(r.wanted())
		if r.sasl == saslWant {
			r.sasl = saslReq
			r.request([]string{"sasl"}) // alone: a NAK of it is unambiguous
		}
		r.offered = nil // read only up to here
		r.maybeEnd()
	case "ACK":
		acked := strings.Fields(last)
		c.mu.Lock()
		for _, tok := range acked {
			if name, ok := strings.CutPrefix(tok, "-"); ok {
				c.caps = slices.DeleteFunc(c.caps, func(s string) bool { return s == name })
			} else if !slices.Contains(c.caps, tok) && (tok == "sasl" || slices.Contains(c.cfg.WantCaps, tok)) {
				// Only what we may have asked for: a server acking
				// anything else cannot grow the list without bound.
				c.caps = append(c.caps, strings.Clone(tok)) // not a piece of the whole line
			}
		}
		slices.Sort(c.caps)
		c.mu.Unlock()
		if r.sasl == saslReq && slices.Contains(acked, "sasl") {
			r.sasl = saslAuth
			c.control(ircmsg.MakeMessage(nil, "", "AUTHENTICATE", c.cfg.SASL.Mechanism))
		}
		r.answered()
	case "NAK":
		refused := strings.Fields(last)
		c.log.Debug("IRC server refused capabilities", "caps", last)
		if r.sasl == saslReq && slices.Contains(refused, "sasl") {
			r.saslFail("", "the server refused the sasl capability")
			return
		}
		if len(refused) > 1 {
			// CAP REQ is all or nothing: ask for each one alone so that
			// one refusal does not cost the others.
			for _, name := range refused {
				r.request([]string{name})
			}
		}
		r.answered()
	case "NEW":
		var req []string
		for _, tok := range strings.Fields(last) {
			name := r.offer(tok)
			if slices.Contains(c.cfg.WantCaps, name) && !c.Has(name) && !slices.Contains(req, name) {
				req = append(req, name)
			}
		}
		if r.state != capWaitLS {
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

// offer records an offered capability ("name" or "name=value") and returns
// its name. Offers are only recorded until the registration's CAP LS reply
// is complete: nothing reads them later.
func (r *reader) offer(tok string) string {
	name, value, _ := strings.Cut(tok, "=")
	if r.state != capWaitLS {
		return name
	}
	if r.offered == nil {
		r.offered = make(map[string]string)
	}
	if _, known := r.offered[name]; known || len(r.offered) < maxOfferedCaps {
		r.offered[name] = value
	}
	return name
}

// saslUnavailable returns why SASL cannot work with the CAP LS offer, or "".
func (r *reader) saslUnavailable() string {
	mechs, ok := r.offered["sasl"]
	if !ok {
		return "the server does not offer SASL"
	}
	want := r.c.cfg.SASL.Mechanism
	if mechs != "" && !slices.ContainsFunc(strings.Split(mechs, ","), func(m string) bool { return strings.EqualFold(m, want) }) {
		return fmt.Sprintf("mechanism %s not supported (the server offers %s)", want, mechs)
	}
	return ""
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

// request sends CAP REQ for caps, in as many lines as needed. During the
// registration the replies are awaited before CAP END.
func (r *reader) request(caps []string) {
	for len(caps) > 0 {
		n, size := 0, 0
		for n < len(caps) && (n == 0 || size+1+len(caps[n]) <= maxCapReqBytes) {
			size += 1 + len(caps[n])
			n++
		}
		m := ircmsg.MakeMessage(nil, "", "CAP", "REQ", strings.Join(caps[:n], " "))
		m.ForceTrailing()
		r.c.control(m)
		if r.state == capWaitAck {
			r.pending++
		}
		caps = caps[n:]
	}
}

// answered counts an ACK or NAK of a registration-time CAP REQ.
func (r *reader) answered() {
	if r.state == capWaitAck && r.pending > 0 {
		r.pending--
	}
	r.maybeEnd()
}

// maybeEnd sends CAP END once every registration-time CAP REQ was answered
// and SASL, if any, succeeded, so that registration never stalls and never
// completes unauthenticated.
func (r *reader) maybeEnd() {
	if r.state == capWaitAck && r.pending == 0 && !r.sasl.active() {
		r.state = capDone
		r.c.control(ircmsg.MakeMessage(nil, "", "CAP", "END"))
	}
}
