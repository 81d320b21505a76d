package ircclient

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"golang.org/x/text/encoding"
)

const (
	// maxLineBytes is the longest line written: RFC 1459's 512 bytes,
	// CR LF included.
	maxLineBytes = 512
	// maxLineLimit caps what ISUPPORT LINELEN may raise the line length to.
	maxLineLimit = 8192
	// maxReadBytes is the longest line accepted from the server: 8191 bytes
	// of tags (IRCv3 message-tags) plus a message of up to maxLineLimit
	// bytes (512 unless LINELEN says more). The read buffer only grows to
	// what the server actually sends.
	maxReadBytes = ircmsg.MaxlenTags + maxLineLimit
	// ctrlQueueSize bounds the connection's own lines waiting for the
	// writer (registration, PONG, PING, CAP).
	ctrlQueueSize = 16
	// closedText is Biboumi's text for a connection that simply ended.
	closedText = "Connection closed."
)

// defaultISupport is the snapshot of every Conn until its first 005
// (snapshots are immutable, so they share it).
var defaultISupport = DefaultISupport()

// Conn is one IRC client connection. Create it with Dial; it reports on
// Config.Handler or Config.Events until its Closed event. All methods are
// safe for concurrent use. See the package documentation for the goroutines
// it owns.
type Conn struct {
	cfg Config
	dec encoding.Encoding
	log *slog.Logger

	parent context.Context    // the caller's context
	ctx    context.Context    // cancelled as soon as the connection is closing
	cancel context.CancelFunc // cancels ctx

	done chan struct{} // closed when every goroutine has exited
	// wg counts the goroutines the connection's goroutine waits for before
	// Closed: the writer while one runs, and the socket closer.
	wg sync.WaitGroup

	isupport atomic.Pointer[ISupport]

	mu        sync.Mutex
	closing   bool // no more Send; set by Quit, Close and failures
	quitting  bool // QUIT is queued (Quit or a SASL failure): no more throttling
	causeSet  bool
	cause     error // Closed.Err
	causeText string
	netConn   net.Conn
	encrypted bool      // netConn is TLS
	connected time.Time // when netConn was established
	nick      string
	caps      []string // acknowledged capabilities, sorted

	// The send queues. They are nil while empty, so that an idle
	// connection holds no memory for them.
	ctrl     []outLine     // the connection's own lines; written first
	queue    []outLine     // lines from Send, SendRaw and Quit
	ctrlRoom chan struct{} // made by control when ctrl is full; closed by the writer
	writing  bool          // a writer goroutine is running
	ended    bool          // the connection's goroutine is finishing: start no writer
	// limitCtx is given to Config.Limiter while a writer runs; Quit
	// cancels it.
	limitCtx    context.Context
	limitCancel context.CancelFunc
	quitTimer   *time.Timer // closes the connection QuitTimeout after QUIT

	identRelease func()                       // from Config.Ident for netConn; run by the connection's goroutine
	charsets     map[string]encoding.Encoding // SetCharset, by folded target
}

// outLine is a serialized line (CR LF included) waiting for the writer.
type outLine struct {
	b        []byte
	throttle bool // subject to Config.Limiter
}

// Dial starts connecting to cfg.Server and returns at once. A goroutine
// tries each TLS port, then each plain port, reporting Progress events, then
// registers. Everything else is reported on cfg.Handler or cfg.Events,
// ending with Closed. An invalid Config is reported as an immediate Closed
// event. Cancelling ctx closes the connection without QUIT.
func Dial(ctx context.Context, cfg Config) *Conn {
	cfg, dec, cfgErr := cfg.withDefaults()
	c := &Conn{
		cfg:    cfg,
		dec:    dec,
		log:    cfg.Logger,
		parent: ctx,
		done:   make(chan struct{}),
		nick:   cfg.Nick,
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.isupport.Store(defaultISupport)
	go c.run(cfgErr)
	return c
}

// run is the connection's goroutine: it dials, registers and then reads
// the socket until the connection closes, and finally reports Closed.
func (c *Conn) run(cfgErr error) {
	defer close(c.done)
	if r := c.connect(cfgErr); r != nil {
		r.loop()
		c.disconnect(r)
	}
	c.cancel()
	c.reportClosed()
}

// connect dials, queues the registration and returns the reader of the
// socket, or nil when the connection failed (the cause is recorded).
func (c *Conn) connect(cfgErr error) *reader {
	if cfgErr != nil {
		c.fail(cfgErr, StrError(cfgErr))
		return nil
	}
	nc, encrypted, err := c.dial()
	if err != nil {
		c.failParent()
		c.fail(err, StrError(err))
		return nil
	}
	// From now on closing the connection (Close, a failure, the caller's
	// context, the quit timer) closes the socket, which ends the read.
	r := newReader(c, nc)
	c.wg.Add(1)
	r.stopCloser = context.AfterFunc(c.ctx, func() {
		defer c.wg.Done()
		nc.Close()
	})
	connected := time.Now()
	reg := c.registrationLines()
	c.mu.Lock()
	c.netConn, c.encrypted, c.connected = nc, encrypted, connected
	c.ctrl = append(c.ctrl, reg...)
	c.startWriter()
	c.mu.Unlock()
	r.lastRecv = connected
	r.setDeadline(connected.Add(c.cfg.RegistrationTimeout))
	if encrypted {
		c.emit(Progress{Conn: c, Text: "Connected to IRC server (encrypted)."})
	} else {
		c.emit(Progress{Conn: c, Text: "Connected to IRC server."})
	}
	return r
}

// disconnect closes the socket once reading ended, and waits for the
// writer.
func (c *Conn) disconnect(r *reader) {
	c.failParent()
	c.fail(nil, closedText) // only when nothing else said why
	if r.stopCloser() {
		c.wg.Done() // the closer never ran
	}
	r.nc.Close()
	c.mu.Lock()
	c.ended = true
	if c.quitTimer != nil {
		c.quitTimer.Stop()
	}
	c.mu.Unlock()
	if c.identRelease != nil {
		c.identRelease()
	}
	c.wg.Wait()
}

// registrationLines returns [WEBIRC], [PASS], CAP LS 302, NICK and USER,
// which the writer sends before anything from Send. NICK and USER do not
// wait for the CAP LS reply: a server that supports CAP holds registration
// until CAP END, and one that does not simply registers.
func (c *Conn) registrationLines() []outLine {
	var msgs []ircmsg.Message
	if w := c.cfg.WebIRC; w != nil {
		msgs = append(msgs, ircmsg.MakeMessage(nil, "", "WEBIRC", w.Password, w.Gateway, webircParam(w.Hostname), webircParam(w.IP)))
	}
	if c.cfg.Password != "" {
		msgs = append(msgs, ircmsg.MakeMessage(nil, "", "PASS", c.cfg.Password))
	}
	msgs = append(msgs, ircmsg.MakeMessage(nil, "", "CAP", "LS", "302"), ircmsg.MakeMessage(nil, "", "NICK", c.cfg.Nick))
	user := ircmsg.MakeMessage(nil, "", "USER", c.cfg.Username, c.cfg.Hostname, "ignored", c.cfg.Realname)
	user.ForceTrailing()
	msgs = append(msgs, user)
	lines := make([]outLine, 0, len(msgs))
	for _, m := range msgs {
		if b, ok := c.serialize(m); ok {
			lines = append(lines, outLine{b: b})
		}
	}
	return lines
}

// failParent records the caller's context error as the cause, if that is
// why the connection is closing.
func (c *Conn) failParent() {
	if err := c.parent.Err(); err != nil {
		c.fail(err, closedText)
	}
}

// fail records why the connection ends (the first call wins) and starts
// closing it: cancelling ctx closes the socket. err nil means a closure the
// owner asked for.
func (c *Conn) fail(err error, text string) {
	c.mu.Lock()
	if !c.causeSet {
		c.causeSet = true
		if c.quitting {
			// After our own QUIT, an ERROR reply or the server closing the
			// socket is the expected outcome, not a failure.
			if _, isServer := err.(*ServerError); !isServer {
				text = closedText
			}
			err = nil
		}
		c.cause, c.causeText = err, text
		if err != nil {
			c.log.Debug("irc connection closing", "err", err)
		}
	}
	c.closing = true
	c.mu.Unlock()
	c.cancel()
}

// abort ends the connection because of err, as Quit would: QUIT with text
// as the reason goes out before anything else, then the server gets
// QuitTimeout to close. Closed reports err and text. It does nothing when the
// connection is already closing.
func (c *Conn) abort(err error, text string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing, c.causeSet, c.cause, c.causeText = true, true, err, text
	c.startQuit()
	c.mu.Unlock()
	c.log.Debug("irc connection aborted", "err", err)
	quit := ircmsg.MakeMessage(nil, "", "QUIT", text)
	quit.ForceTrailing()
	c.control(quit)
}

// startQuit ends the throttling of queued lines, so that QUIT is not stuck
// behind them, and starts the quit timer. c.mu is held.
func (c *Conn) startQuit() {
	c.quitting = true
	if c.limitCancel != nil {
		c.limitCancel()
	}
	if c.quitTimer == nil && !c.ended {
		c.quitTimer = time.AfterFunc(c.cfg.QuitTimeout, func() {
			c.log.Debug("server did not close the connection after QUIT")
			c.fail(nil, closedText)
		})
	}
}

// emit delivers ev to the owner: it calls Config.Handler, or sends on
// Config.Events, giving up when the connection is closing. It returns false
// when the connection is closing.
func (c *Conn) emit(ev Event) bool {
	if h := c.cfg.Handler; h != nil {
		if c.ctx.Err() != nil {
			return false
		}
		h(ev)
		return c.ctx.Err() == nil
	}
	if c.cfg.Events == nil {
		return c.ctx.Err() == nil
	}
	select {
	case c.cfg.Events <- ev:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// reportClosed delivers the Closed event. Config.Handler is always called.
// A send on Config.Events waits for the owner unless the caller's context is
// done; then it is delivered only if the channel has room or the owner is
// receiving.
func (c *Conn) reportClosed() {
	c.mu.Lock()
	ev := Closed{Conn: c, Err: c.cause, Text: c.causeText}
	c.mu.Unlock()
	if h := c.cfg.Handler; h != nil {
		h(ev)
		return
	}
	events := c.cfg.Events
	if events == nil {
		return
	}
	select {
	case events <- ev:
		return
	default:
	}
	select {
	case events <- ev:
	case <-c.parent.Done():
	}
}

// serialize turns one of the connection's own lines into bytes.
func (c *Conn) serialize(m ircmsg.Message) ([]byte, bool) {
	b, err := m.LineBytesStrict(true, maxLineBytes)
	if err != nil && err != ircmsg.ErrorBodyTooLong {
		c.log.Warn("cannot serialize IRC line", "command", m.Command, "err", err)
		return nil, false
	}
	return b, true
}

// control queues one of the connection's own lines, waiting while the
// control queue is full unless the connection is closing.
func (c *Conn) control(m ircmsg.Message) {
	b, ok := c.serialize(m)
	if !ok {
		return
	}
	c.mu.Lock()
	for len(c.ctrl) >= ctrlQueueSize {
		if c.ctx.Err() != nil {
			c.mu.Unlock()
			return
		}
		if c.ctrlRoom == nil {
			c.ctrlRoom = make(chan struct{})
		}
		room := c.ctrlRoom
		c.mu.Unlock()
		select {
		case <-room:
		case <-c.ctx.Done():
			return
		}
		c.mu.Lock()
	}
	c.ctrl = append(c.ctrl, outLine{b: b})
	c.startWriter()
	c.mu.Unlock()
}

// tryControl queues one of the connection's own lines unless the control
// queue is full.
func (c *Conn) tryControl(m ircmsg.Message) {
	b, err := m.LineBytesStrict(true, maxLineBytes)
	if err != nil {
		return
	}
	c.mu.Lock()
	if len(c.ctrl) < ctrlQueueSize {
		c.ctrl = append(c.ctrl, outLine{b: b})
		c.startWriter()
	}
	c.mu.Unlock()
}

// Send queues m for the writer. It never blocks: it returns ErrQueueFull when
// the queue is full, ErrClosed once the connection is closing, or the
// serialization error of an invalid message (a non-final parameter that is
// empty, contains a space or starts with ':', or CR, LF or NUL anywhere).
// A line longer than LineLimit (512 bytes unless ISUPPORT LINELEN says more,
// tags not counted) is truncated at a UTF-8 boundary and sent with a logged
// warning; callers split text with SplitText and LineBudget first. Lines
// queued before registration completes are sent right after NICK and USER,
// so the owner should wait for Registered before JOIN.
//
// Tags of m are sent only when the server can take them: "label" when
// labeled-response was acknowledged, every other tag (client-only "+…" tags
// included) when message-tags was; others are dropped (logged at debug
// level). To send a labeled line:
//
//	m := ircmsg.MakeMessage(map[string]string{"label": "x1"}, "", "PRIVMSG", "#chan", "hi")
//	err := c.Send(m) // the reply (or the echo, or a BATCH of replies) carries label=x1
//
// and check c.Has("labeled-response") first when the owner waits for the
// reply.
func (c *Conn) Send(m ircmsg.Message) error {
	m = c.filterTags(m)
	b, err := m.LineBytesStrict(true, c.LineLimit())
	switch {
	case err == ircmsg.ErrorBodyTooLong:
		c.log.Warn("IRC line truncated", "command", m.Command, "limit", c.LineLimit())
	case err != nil:
		return fmt.Errorf("ircclient: cannot send %s: %w", m.Command, err)
	}
	return c.enqueue(outLine{b: b, throttle: true})
}

// filterTags drops the tags of m the server did not agree to receive.
func (c *Conn) filterTags(m ircmsg.Message) ircmsg.Message {
	tags := m.AllTags()
	if len(tags) == 0 {
		return m
	}
	msgTags, labeled := c.Has("message-tags"), c.Has("labeled-response")
	keep := make(map[string]string, len(tags))
	for name, value := range tags {
		if msgTags || name == "label" && labeled {
			keep[name] = value
		} else {
			c.log.Debug("dropping a tag the server did not negotiate", "tag", name, "command", m.Command)
		}
	}
	if len(keep) == len(tags) {
		return m
	}
	// A new message, as m's tag maps belong to the caller.
	out := ircmsg.MakeMessage(keep, m.Source, m.Command, m.Params...)
	if untagged(m) != untagged(out) {
		out.ForceTrailing() // MakeMessage does not copy it
	}
	return out
}

// untagged serializes m without its tags.
func untagged(m ircmsg.Message) string {
	l, _ := m.Line()
	if strings.HasPrefix(l, "@") {
		if i := strings.IndexByte(l, ' '); i >= 0 {
			l = l[i+1:]
		}
	}
	return l
}

// SendRaw queues a raw line, such as a command a user typed to the IRC
// server's JID. CR, LF and NUL are removed and the line is cut to
// LineLimit()-2 bytes (510 by default) at a UTF-8 boundary. As in Biboumi, raw lines take no token from
// Config.Limiter (they still leave in queue order). It returns ErrEmptyLine,
// ErrQueueFull or ErrClosed like Send.
func (c *Conn) SendRaw(line string) error {
	line = removeBytes(line, "\r\n\x00")
	if strings.TrimSpace(line) == "" {
		return ErrEmptyLine
	}
	line = ircmsg.TruncateUTF8Safe(line, c.LineLimit()-2)
	return c.enqueue(outLine{b: []byte(line + "\r\n")})
}

func (c *Conn) enqueue(l outLine) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return ErrClosed
	}
	if len(c.queue) >= c.cfg.QueueSize {
		return ErrQueueFull
	}
	c.queue = append(c.queue, l)
	c.startWriter()
	return nil
}

// Quit sends "QUIT :reason" after the lines already queued, which are no
// longer throttled, then waits for the server to close the connection, for at
// most Config.QuitTimeout, and closes it. It returns at once; Closed follows,
// with a nil Err and the server's ERROR text or "Connection closed.". When
// the queue is full its lines are dropped so that QUIT goes out at once.
// Before the connection is established, Quit is Close. Later calls, and Send
// after Quit, do nothing (Send returns ErrClosed).
func (c *Conn) Quit(reason string) {
	quit := ircmsg.MakeMessage(nil, "", "QUIT", reason)
	quit.ForceTrailing()
	b, _ := quit.LineBytesStrict(true, maxLineBytes) // a single trailing parameter; truncation is fine
	if b == nil {
		b = []byte("QUIT :\r\n") // reason held CR, LF or NUL
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing, c.quitting = true, true
	connected := c.netConn != nil
	if connected {
		if len(c.queue) >= c.cfg.QueueSize {
			c.log.Warn("send queue full at QUIT: dropped lines", "count", len(c.queue))
			c.queue = nil
		}
		c.queue = append(c.queue, outLine{b: b})
		c.startQuit()
		c.startWriter()
	}
	c.mu.Unlock()
	if !connected {
		c.fail(nil, closedText)
	}
}

// Close closes the connection at once, without QUIT. Closed follows, with a
// nil Err. It returns at once; wait on Done for the goroutines to exit.
func (c *Conn) Close() {
	c.fail(nil, closedText)
}

// Done returns a channel closed when every goroutine of the connection has
// exited, after the Closed event was delivered (or given up on) and, with
// Config.Handler, after the Handler returned from it.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Nick returns our current nick: the requested one until 001, then the one
// 001 gave, then the one of our latest NICK change.
func (c *Conn) Nick() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nick
}

// ISupport returns the latest ISUPPORT snapshot (never nil).
func (c *Conn) ISupport() *ISupport { return c.isupport.Load() }

// Server returns Config.Server.
func (c *Conn) Server() string { return c.cfg.Server }

// Has reports whether the server acknowledged the capability name (and has
// not deleted it since).
func (c *Conn) Has(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := slices.BinarySearch(c.caps, name)
	return ok
}

// LineLimit returns the longest line the server accepts, CR LF included and
// tags not counted: 512 bytes, or ISUPPORT LINELEN when it says more (at
// most 8192). Send and SendRaw truncate to it. LineBudget assumes 512: add
// LineLimit()-512 to its result on servers with a larger LINELEN.
func (c *Conn) LineLimit() int {
	if n := c.ISupport().LineLen(); n > maxLineBytes {
		return min(n, maxLineLimit)
	}
	return maxLineBytes
}

// AckedCaps returns the capabilities the server acknowledged, sorted.
func (c *Conn) AckedCaps() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.caps)
}

// LocalAddr returns the local address of the socket, or nil before the
// connection is established (for identd).
func (c *Conn) LocalAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.netConn == nil {
		return nil
	}
	return c.netConn.LocalAddr()
}

// RemoteAddr returns the server's address, or nil before the connection is
// established.
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.netConn == nil {
		return nil
	}
	return c.netConn.RemoteAddr()
}

// Encrypted reports whether the connection uses TLS, and since when it is
// established (the zero time before that).
func (c *Conn) Encrypted() (tls bool, since time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.encrypted, c.connected
}

// setNick records our nick, copied from the line it came in (which it
// would otherwise keep alive).
func (c *Conn) setNick(nick string) {
	nick = strings.Clone(nick)
	c.mu.Lock()
	c.nick = nick
	c.mu.Unlock()
}

// SetCharset makes lines addressed to target (a channel) that are not
// valid UTF-8 decode with the named charset instead of Config.Fallback;
// an empty name removes the override. Safe for concurrent use.
func (c *Conn) SetCharset(target, name string) error {
	key := Fold(c.ISupport().CaseMapping(), target)
	if name == "" {
		c.mu.Lock()
		delete(c.charsets, key)
		c.mu.Unlock()
		return nil
	}
	enc, err := Charset(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.charsets == nil {
		c.charsets = make(map[string]encoding.Encoding)
	}
	c.charsets[key] = enc
	c.mu.Unlock()
	return nil
}

func (c *Conn) charsetFor(target string) encoding.Encoding {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.charsets) == 0 {
		return nil
	}
	return c.charsets[Fold(c.ISupport().CaseMapping(), target)]
}
