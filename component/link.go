package component

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"biboumi/ircbridge"
)

// Handler receives decoded stanzas; ircbridge.Gateway implements it.
//
// The methods are called one at a time from the link's read goroutine, in
// the order the stanzas arrived. They must return quickly (enqueue the
// work): while one runs, no other stanza is read, for any user.
type Handler interface {
	HandleMessage(ctx context.Context, m ircbridge.Message)
	HandlePresence(ctx context.Context, p ircbridge.Presence)
	HandleIQ(ctx context.Context, iq ircbridge.IQ)
}

// Config configures a Link. Zero values take the documented defaults.
type Config struct {
	// Addr is the XMPP server's component port, e.g. "127.0.0.1:5347".
	Addr string
	// Domain is the component's domain, e.g. irc.localhost.
	Domain jid.JID
	// Secret is the XEP-0114 shared secret.
	Secret string
	// ReconnectMin and ReconnectMax bound the jittered exponential backoff
	// between reconnection attempts (defaults 1s and 60s).
	ReconnectMin, ReconnectMax time.Duration
	// QueueSize bounds the outgoing queue (default 10000 stanzas).
	QueueSize int
	// KeepAlive is the idle time after which a whitespace keepalive is sent
	// (default 60s).
	KeepAlive time.Duration
	// DialTimeout bounds the TCP connection and, separately, the XEP-0114
	// handshake (default 10s).
	DialTimeout time.Duration
	// WriteTimeout bounds one write to the server; a server that accepts
	// nothing for this long is considered gone (default 30s).
	WriteTimeout time.Duration
	// CloseTimeout bounds the graceful close: flushing the queue, writing
	// </stream:stream> and waiting for the server's (default 2s).
	CloseTimeout time.Duration
	// MaxBodyBytes is the largest accepted message body, subject or
	// presence status; larger ones are answered with not-acceptable
	// (default 64 KiB).
	MaxBodyBytes int
	// MaxStanzaBytes bounds the text and attributes kept from one incoming
	// stanza, and MaxDepth its element nesting; beyond either the stanza is
	// answered with not-acceptable and the link stays up (defaults 256 KiB
	// and 64).
	// A stanza larger than 16×MaxStanzaBytes on the wire, or nested deeper
	// than 100000, ends the connection with a policy-violation stream
	// error: the XML decoder would otherwise hold it all in memory (its
	// state costs about 86 bytes per level, so 100000 levels are 9 MB).
	// Both are far beyond what XMPP servers let a client send (prosody and
	// ejabberd cut client stanzas at 256 KiB by default), so a user cannot
	// end the link for everyone.
	MaxStanzaBytes int
	MaxDepth       int
	// Logger receives the link's logs (default slog.Default()).
	Logger *slog.Logger
}

const hardDepth = 100000

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:5347"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ReconnectMin, time.Second)
	def(&c.ReconnectMax, 60*time.Second)
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	def(&c.KeepAlive, 60*time.Second)
	def(&c.DialTimeout, 10*time.Second)
	def(&c.WriteTimeout, 30*time.Second)
	def(&c.CloseTimeout, 2*time.Second)
	if c.QueueSize <= 0 {
		c.QueueSize = 10000
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.MaxStanzaBytes <= 0 {
		c.MaxStanzaBytes = 256 << 10
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = 64
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Errors returned by the Send methods.
var (
	// ErrQueueFull means the outgoing queue is full (the server is slow or
	// the link has been down for long); the stanza was dropped.
	ErrQueueFull = errors.New("component: outgoing queue full")
	// ErrClosed means the link is shutting down; the stanza was dropped.
	ErrClosed = errors.New("component: link closed")
)

// Link is the gateway's XEP-0114 connection to the XMPP server, kept up
// across disconnections.
//
// Concurrency: Send*, Ready, Connected and Close are safe for concurrent
// use. Run is called once. A live connection has exactly two goroutines:
// Run's, which reads and decodes stanzas and calls the Handler, and one
// writer, the only goroutine that writes to the connection. Send* render
// the stanza to bytes in the caller's goroutine and put them on a bounded
// queue that outlives connections, so stanzas sent during an outage are
// delivered, in order, after the reconnection.
//
// After the handshake the link bypasses mellium's Session entirely (see
// reader.go for why): the writer writes the net.Conn directly through a
// bufio.Writer, which is safe because nothing else writes to it.
type Link struct {
	cfg Config
	h   Handler
	log *slog.Logger

	queue chan []byte

	ready     chan struct{}
	readyOnce sync.Once
	connected atomic.Bool

	// sendMu makes "check closed, then queue" atomic against beginClose, so
	// that the final drain sees every accepted stanza.
	sendMu sync.RWMutex
	closed bool
	// closing is closed first thing at shutdown, so that senders waiting
	// for room in a full queue give up (and release sendMu) at once.
	closing chan struct{}

	closeCtx    context.Context // done when shutdown begins
	closeCancel context.CancelFunc
	closeOnce   sync.Once
	done        chan struct{} // closed when Run returns

	mu      sync.Mutex
	started bool
	cur     net.Conn // the live connection, for Close's forced close

	// carry holds stanzas taken from the queue but not written when a
	// connection failed; the next connection writes them first.
	// Owned by Run's goroutine.
	carry [][]byte
	// carryFails counts the connections in a row that failed with the
	// same stanza first in carry: at poisonRetries it is dropped, so that
	// one stanza the server refuses (too large for its limits, say)
	// cannot keep the link from delivering anything else.
	carryFails int
}

// poisonRetries is how many connections in a row may fail with the same
// stanza at the head of the carried ones before it is dropped.
const poisonRetries = 2

var _ ircbridge.Sender = (*Link)(nil)

// New returns a Link for cfg that delivers incoming stanzas to h.
// Nothing happens until Run is called.
func New(cfg Config, h Handler) *Link {
	cfg.setDefaults()
	l := &Link{
		cfg:     cfg,
		h:       h,
		log:     cfg.Logger.With("xmpp_server", cfg.Addr, "domain", cfg.Domain.String()),
		queue:   make(chan []byte, cfg.QueueSize),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
	}
	l.closeCtx, l.closeCancel = context.WithCancel(context.Background())
	return l
}

// Ready returns a channel closed after the first successful handshake.
func (l *Link) Ready() <-chan struct{} { return l.ready }

// Connected reports whether a connection is authenticated and running now.
func (l *Link) Connected() bool { return l.connected.Load() }

// SendMessage queues m for the server.
func (l *Link) SendMessage(ctx context.Context, m ircbridge.Message) error {
	return l.enqueue(ctx, encodeMessage(&m))
}

// SendPresence queues p for the server.
func (l *Link) SendPresence(ctx context.Context, p ircbridge.Presence) error {
	return l.enqueue(ctx, encodePresence(&p))
}

// SendIQ queues iq for the server. It fails for an iq without id or type.
func (l *Link) SendIQ(ctx context.Context, iq ircbridge.IQ) error {
	b, err := encodeIQ(&iq)
	if err != nil {
		return err
	}
	return l.enqueue(ctx, b)
}

// queueWait bounds how long a sender waits for room in a full queue while
// the link is up.
const queueWait = 30 * time.Second

// enqueue queues b. When the queue is full while the link is up, the XMPP
// server is slower than what the gateway produces: the caller (a user's
// session) waits for room, which slows that user's IRC reading rather
// than dropping stanzas. While the link is down, a full queue fails at
// once (the stanza cannot be delivered soon).
func (l *Link) enqueue(ctx context.Context, b []byte) error {
	l.sendMu.RLock()
	defer l.sendMu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	select {
	case l.queue <- b:
		return nil
	default:
	}
	if !l.Connected() {
		return ErrQueueFull
	}
	t := time.NewTimer(queueWait)
	defer t.Stop()
	select {
	case l.queue <- b:
		return nil
	case <-t.C:
		return ErrQueueFull
	case <-ctx.Done():
		return ctx.Err()
	case <-l.closing:
		return ErrClosed
	}
}

// beginClose starts the shutdown: no more stanzas are accepted, the writer
// drains the queue and ends the stream, and Run returns.
func (l *Link) beginClose() {
	l.closeOnce.Do(func() {
		close(l.closing) // wakes the senders that hold sendMu while waiting
		l.sendMu.Lock()
		l.closed = true
		l.sendMu.Unlock()
		l.closeCancel()
	})
}

func (l *Link) isClosing() bool { return l.closeCtx.Err() != nil }

// Close shuts the link down gracefully: it stops accepting stanzas, writes
// the queued ones, ends the stream with </stream:stream> and closes the
// connection, then waits for Run to return. Call it at shutdown after the
// gateway has sent its last stanzas. If ctx ends first, the connection is
// closed at once and ctx's error returned. Stanzas queued while no
// connection is up are dropped (and counted in the log).
func (l *Link) Close(ctx context.Context) error {
	l.beginClose()
	l.mu.Lock()
	started := l.started
	l.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		if l.cur != nil {
			l.cur.Close()
		}
		l.mu.Unlock()
		<-l.done
		return ctx.Err()
	}
}

// Run connects and keeps the link up until ctx is done or Close is called.
//
// If the first connection fails (refused, wrong secret, unknown domain…),
// Run returns an error saying why. After a first successful handshake, a
// lost connection is re-established with jittered exponential backoff,
// forever. Run returns nil after a graceful shutdown (ctx cancelled or
// Close); the shutdown flushes the queue and writes </stream:stream>,
// within CloseTimeout.
func (l *Link) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.started {
		l.mu.Unlock()
		return errors.New("component: Run called twice")
	}
	l.started = true
	l.mu.Unlock()
	defer close(l.done)
	if isZeroJID(l.cfg.Domain) || l.cfg.Secret == "" {
		return errors.New("component: the domain and the secret must be set")
	}
	stop := context.AfterFunc(ctx, l.beginClose)
	defer stop()

	attempt := 0
	authed := false
	for {
		if l.isClosing() {
			l.dropQueue()
			return nil
		}
		nc, br, err := l.connect()
		switch {
		case err != nil && l.isClosing():
			l.dropQueue()
			return nil
		case err != nil && !authed:
			return fmt.Errorf("component: connecting to %s as %s: %w", l.cfg.Addr, l.cfg.Domain, err)
		case err != nil:
			l.log.Error("component: reconnection failed", "err", err, "attempt", attempt+1)
		default:
			authed = true
			up := time.Now()
			err = l.serve(ctx, nc, br)
			if l.isClosing() {
				l.dropQueue()
				l.log.Info("component: link closed")
				return nil
			}
			l.log.Error("component: link lost, reconnecting", "err", err, "queued", len(l.queue))
			if time.Since(up) > l.cfg.ReconnectMax {
				attempt = 0
			}
		}
		t := time.NewTimer(l.backoff(attempt))
		attempt++
		select {
		case <-t.C:
		case <-l.closeCtx.Done():
			t.Stop()
		}
	}
}

// backoff returns the delay before attempt (0-based): exponential from
// ReconnectMin to ReconnectMax, with jitter in [d/2, d] so that several
// gateways do not reconnect in lockstep after a server restart.
func (l *Link) backoff(attempt int) time.Duration {
	d := l.cfg.ReconnectMax
	if attempt < 30 {
		if e := l.cfg.ReconnectMin << attempt; e > 0 && e < d {
			d = e
		}
	}
	return d/2 + rand.N(d/2+1)
}

// checkPoison runs after a connection ended, head being the carried
// stanza it wrote first (nil if none): a stanza that stays first in carry
// over poisonRetries connections is dropped.
func (l *Link) checkPoison(head []byte) {
	if len(l.carry) == 0 {
		l.carryFails = 0
		return
	}
	if len(head) > 0 && len(l.carry[0]) > 0 && &head[0] == &l.carry[0][0] {
		l.carryFails++
	} else {
		l.carryFails = 1
	}
	if l.carryFails >= poisonRetries {
		l.log.Error("component: dropping a stanza the XMPP server did not take on several connections",
			"bytes", len(l.carry[0]), "start", string(l.carry[0][:min(len(l.carry[0]), 80)]))
		l.carry[0] = nil
		l.carry = l.carry[1:]
		l.carryFails = 0
	}
}

// dropQueue logs and discards what can no longer be delivered.
func (l *Link) dropQueue() {
	n := len(l.carry)
	l.carry = nil
	for {
		select {
		case <-l.queue:
			n++
			continue
		default:
		}
		break
	}
	if n > 0 {
		l.log.Warn("component: dropping undelivered stanzas at shutdown", "count", n)
	}
}

// handshakeConn gives mellium's decoder an io.ByteReader over our buffered
// reader, so that it reads exactly up to the end of the handshake and the
// rest of the stream stays in br for our own decoder (reader.go).
type handshakeConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *handshakeConn) Read(p []byte) (int, error) { return c.br.Read(p) }
func (c *handshakeConn) ReadByte() (byte, error)    { return c.br.ReadByte() }

// connect dials and performs the XEP-0114 handshake.
func (l *Link) connect() (net.Conn, *bufio.Reader, error) {
	d := net.Dialer{Timeout: l.cfg.DialTimeout}
	nc, err := d.DialContext(l.closeCtx, "tcp", l.cfg.Addr)
	if err != nil {
		return nil, nil, err
	}
	hc := &handshakeConn{Conn: nc, br: bufio.NewReaderSize(nc, 16<<10)}
	// The deadline bounds the handshake, and a shutdown interrupts it by
	// closing the connection. (mellium's own context handling resets the
	// deadline, so it gets a context that never ends.)
	nc.SetDeadline(time.Now().Add(l.cfg.DialTimeout))
	interrupt := context.AfterFunc(l.closeCtx, func() { nc.Close() })
	_, err = component.NewSession(context.Background(), l.cfg.Domain, []byte(l.cfg.Secret), hc)
	if !interrupt() {
		nc.Close()
		return nil, nil, ErrClosed
	}
	if err != nil {
		nc.Close()
		var se stream.Error
		if errors.As(err, &se) {
			// Say what the administrator should check.
			var hint []string
			if len(se.Text) > 0 && se.Text[0].Value != "" {
				hint = append(hint, se.Text[0].Value)
			}
			switch se.Err {
			case "not-authorized":
				hint = append(hint, "wrong secret, or a domain the server does not serve")
			case "host-unknown":
				hint = append(hint, "the server has no component configured for this domain")
			}
			if len(hint) > 0 {
				err = fmt.Errorf("%w (%s)", err, strings.Join(hint, "; "))
			}
		}
		return nil, nil, fmt.Errorf("XEP-0114 handshake: %w", err)
	}
	nc.SetDeadline(time.Time{})
	return nc, hc.br, nil
}

// serve runs one authenticated connection until it ends: it reads stanzas
// on this goroutine and writes through one writer goroutine.
func (l *Link) serve(ctx context.Context, nc net.Conn, br *bufio.Reader) error {
	l.mu.Lock()
	l.cur = nc
	l.mu.Unlock()
	l.connected.Store(true)
	l.readyOnce.Do(func() { close(l.ready) })
	l.log.Info("component: connected and authenticated")

	w := &writer{
		l:     l,
		nc:    nc,
		bw:    bufio.NewWriterSize(nc, 64<<10),
		carry: l.carry,
		stop:  make(chan struct{}),
	}
	var head []byte // the stanza this connection writes first, if carried
	if len(l.carry) > 0 {
		head = l.carry[0]
	}
	l.carry = nil
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		w.run()
	}()

	rd := newStreamReader(br, limits{
		softDepth: l.cfg.MaxDepth,
		hardDepth: hardDepth,
		softBytes: l.cfg.MaxStanzaBytes,
		hardBytes: 16 * int64(l.cfg.MaxStanzaBytes),
	})
	rd.ignored = func(what string) { l.log.Debug("component: ignoring " + what) }
	in := &inbound{domain: l.cfg.Domain, maxBody: l.cfg.MaxBodyBytes, h: l.h, reply: func(b []byte) error { return l.enqueue(ctx, b) }, log: l.log}
	// Once shutting down, the gateway no longer takes input.
	err := readLoop(ctx, rd, in, l.isClosing)

	// Tell the writer how to end the stream, and wait for it.
	var syn *xml.SyntaxError
	w.farewell = []byte("</stream:stream>")
	switch {
	case err == io.EOF:
		err = errors.New("server closed the stream")
	case errors.Is(err, errHardLimit):
		w.farewell = streamErrorBytes("policy-violation", "stanza too large or too deeply nested")
	case errors.As(err, &syn):
		w.farewell = streamErrorBytes("not-well-formed", syn.Msg)
	}
	close(w.stop)
	<-writerDone
	nc.Close()
	l.mu.Lock()
	l.cur = nil
	l.mu.Unlock()
	l.connected.Store(false)
	l.carry = w.carry
	l.checkPoison(head)
	if w.err != nil && !errors.Is(err, errHardLimit) && syn == nil {
		// The writer failed first and closed the connection, which is
		// what the reader then saw: report the cause.
		err = w.err
	}
	var se *streamError
	if errors.As(err, &se) {
		l.log.Error("component: stream error received from the XMPP server", "condition", se.Condition, "text", se.Text)
	}
	return err
}

// readLoop hands every stanza of the stream to in (unless paused says
// otherwise) until the stream ends, and returns why it ended.
func readLoop(ctx context.Context, rd *streamReader, in *inbound, paused func() bool) error {
	for {
		el, iss, err := rd.next()
		if err != nil {
			return err
		}
		if paused() {
			continue
		}
		in.handle(ctx, el, iss)
	}
}

// streamErrorBytes renders a stream error followed by the stream end.
func streamErrorBytes(cond, text string) []byte {
	var b []byte
	b = append(b, "<stream:error><"...)
	b = append(b, cond...)
	b = append(b, " xmlns='"+nsStreams+"'/>"...)
	if text != "" {
		b = append(b, "<text xmlns='"+nsStreams+"'>"...)
		b = appendEscaped(b, text, false)
		b = append(b, "</text>"...)
	}
	return append(b, "</stream:error></stream:stream>"...)
}

// writer is the single writer of one connection. It drains Link.queue into
// a bufio.Writer and flushes only when the queue is momentarily empty, so a
// burst costs one write system call per 64 KiB instead of one per stanza.
type writer struct {
	l  *Link
	nc net.Conn
	bw *bufio.Writer
	// inflight holds the stanzas in bw not yet handed to the kernel; if the
	// connection fails they are carried over to the next one.
	inflight [][]byte
	carry    [][]byte
	deadline time.Time // last write deadline set
	fixed    bool      // the deadline is the shutdown's: touch keeps it
	stop     chan struct{}
	farewell []byte // written by finish (set before stop is closed)
	err      error
}

func (w *writer) run() {
	l := w.l
	// Stanzas left over from the previous connection go first.
	carry := w.carry
	w.carry = nil
	for i, b := range carry {
		if !w.write(b) {
			w.carry = append(w.inflight, carry[i+1:]...)
			return
		}
	}
	keep := time.NewTimer(l.cfg.KeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-w.stop:
			w.finish()
			return
		case <-l.closeCtx.Done():
			w.drain()
			return
		case b := <-l.queue:
			if !w.write(b) {
				w.carry = w.inflight
				return
			}
			continue
		default:
		}
		// The queue is momentarily empty: flush, then wait.
		if w.bw.Buffered() > 0 && !w.flush() {
			w.carry = w.inflight
			return
		}
		keep.Reset(l.cfg.KeepAlive)
		select {
		case <-w.stop:
			w.finish()
			return
		case <-l.closeCtx.Done():
			w.drain()
			return
		case b := <-l.queue:
			if !w.write(b) {
				w.carry = w.inflight
				return
			}
		case <-keep.C:
			// RFC 6120 §4.6.1 whitespace keepalive.
			if !w.write([]byte{' '}) || !w.flush() {
				w.carry = w.inflight
				return
			}
		}
	}
}

// touch keeps a write deadline ahead of us without resetting it for every
// stanza.
func (w *writer) touch() {
	if w.fixed {
		return
	}
	now := time.Now()
	if w.deadline.Sub(now) < w.l.cfg.WriteTimeout*3/4 {
		w.deadline = now.Add(w.l.cfg.WriteTimeout)
		w.nc.SetWriteDeadline(w.deadline)
	}
}

// write buffers b; false means the connection failed (w.err is set).
func (w *writer) write(b []byte) bool {
	w.touch()
	if len(b) > w.bw.Available() && w.bw.Buffered() > 0 && !w.flush() {
		w.inflight = append(w.inflight, b)
		return false
	}
	w.inflight = append(w.inflight, b)
	if _, err := w.bw.Write(b); err != nil {
		return w.fail(err)
	}
	if w.bw.Buffered() == 0 {
		// b was larger than the buffer and went straight to the kernel.
		w.clearInflight()
	}
	return true
}

func (w *writer) flush() bool {
	w.touch()
	if err := w.bw.Flush(); err != nil {
		return w.fail(err)
	}
	w.clearInflight()
	return true
}

func (w *writer) clearInflight() {
	clear(w.inflight)
	w.inflight = w.inflight[:0]
}

// fail records err and closes the connection, which ends the reader.
func (w *writer) fail(err error) bool {
	w.err = fmt.Errorf("writing to the XMPP server: %w", err)
	w.nc.Close()
	return false
}

// finish ends a connection the reader gave up on: the buffered stanzas are
// kept for the next connection, and the farewell (</stream:stream>, maybe
// after a stream error) is written directly, with a short deadline, unless
// writing already failed.
func (w *writer) finish() {
	w.carry = append([][]byte(nil), w.inflight...)
	if w.err == nil {
		w.nc.SetWriteDeadline(time.Now().Add(w.l.cfg.CloseTimeout))
		w.nc.Write(w.farewell)
	}
}

// drain is the graceful close: write everything queued, end the stream,
// and give the server CloseTimeout to close its side.
func (w *writer) drain() {
	deadline := time.Now().Add(w.l.cfg.CloseTimeout)
	w.nc.SetDeadline(deadline)
	w.fixed = true
	n := 0
	for {
		select {
		case b := <-w.l.queue:
			if !w.write(b) {
				w.l.log.Warn("component: could not flush the queue at shutdown", "err", w.err, "written", n)
				return
			}
			n++
			continue
		default:
		}
		break
	}
	if !w.write([]byte("</stream:stream>")) || !w.flush() {
		w.l.log.Warn("component: could not end the stream at shutdown", "err", w.err)
		return
	}
	w.l.log.Debug("component: queue flushed at shutdown", "stanzas", n)
}

// String describes the link for logs.
func (l *Link) String() string {
	return "component link " + l.cfg.Domain.String() + " via " + l.cfg.Addr
}
