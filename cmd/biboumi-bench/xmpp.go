package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"biboumi/internal/servers"
)

// A cheap XMPP c2s client for load: one reader goroutine per connection
// that splits the stream into top-level elements by scanning bytes (no
// XML decoder, no allocation per stanza), and a mutex for writes. The
// run's handler looks at each stanza's bytes with the helpers at the end
// of this file. servers.XMPPClient decodes every stanza into a tree and
// keeps a 4096-slot channel per client: fine for tests, but at 500
// clients × thousands of stanzas the load generator would compete with
// the gateway for the same two cores.

const (
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsMUC     = "http://jabber.org/protocol/muc"
	nsDisco   = "http://jabber.org/protocol/disco#info"
	nsCmd     = "http://jabber.org/protocol/commands"
	nsData    = "jabber:x:data"
)

// Element kinds returned by splitter.next.
const (
	kindHeader    = iota // <stream:stream …> opened
	kindElement          // a complete top-level element
	kindStreamEnd        // </stream:stream>
)

// splitter cuts an XMPP stream into its top-level elements. It knows
// just enough XML for what servers send: start, end and empty tags
// (quoted attribute values may hold '>'), character data, comments,
// CDATA and processing instructions.
type splitter struct {
	r         io.Reader
	buf       []byte
	end       int // end of the data in buf
	scan      int // next byte to look at
	depth     int // 0 outside the stream, 1 inside it, 2+ inside a stanza
	elemStart int // start of the current top-level element, or -1
	max       int // largest buffer allowed
}

func newSplitter(r io.Reader) *splitter {
	return &splitter{r: r, buf: make([]byte, 8192), elemStart: -1, max: 4 << 20}
}

// restart is for a stream restart (after SASL): the next element is a
// new stream header.
func (s *splitter) restart() { s.depth, s.elemStart = 0, -1 }

// next returns the next stream header, top-level element or stream end.
// The bytes are valid until the following call.
func (s *splitter) next() (int, []byte, error) {
	for {
		for s.scan < s.end {
			i := bytes.IndexByte(s.buf[s.scan:s.end], '<')
			if i < 0 {
				s.scan = s.end
				break
			}
			k := s.scan + i
			if k+1 >= s.end {
				s.scan = k
				break
			}
			rest := s.buf[k:s.end]
			switch rest[1] {
			case '?':
				j := bytes.Index(rest, []byte("?>"))
				if j < 0 {
					s.scan = k
					goto read
				}
				s.scan = k + j + 2
			case '!':
				term := []byte(">")
				switch {
				case bytes.HasPrefix(rest, []byte("<!--")):
					term = []byte("-->")
				case bytes.HasPrefix(rest, []byte("<![CDATA[")):
					term = []byte("]]>")
				case len(rest) < 9:
					s.scan = k
					goto read
				}
				j := bytes.Index(rest, term)
				if j < 0 {
					s.scan = k
					goto read
				}
				s.scan = k + j + len(term)
			case '/':
				j := bytes.IndexByte(rest, '>')
				if j < 0 {
					s.scan = k
					goto read
				}
				s.scan = k + j + 1
				s.depth--
				switch {
				case s.depth == 1 && s.elemStart >= 0:
					b := s.buf[s.elemStart:s.scan]
					s.elemStart = -1
					return kindElement, b, nil
				case s.depth <= 0:
					s.depth = 0
					return kindStreamEnd, nil, nil
				}
			default:
				j := tagEnd(rest)
				if j < 0 {
					s.scan = k
					goto read
				}
				s.scan = k + j + 1
				empty := rest[j-1] == '/'
				switch {
				case s.depth == 0:
					s.depth = 1
					return kindHeader, rest[:j+1], nil
				case s.depth == 1 && empty:
					return kindElement, rest[:j+1], nil
				case s.depth == 1:
					s.elemStart = k
					s.depth++
				case !empty:
					s.depth++
				}
			}
		}
	read:
		if err := s.fill(); err != nil {
			return 0, nil, err
		}
	}
}

// fill reads more data, first dropping what is consumed and growing the
// buffer if it is full.
func (s *splitter) fill() error {
	keep := s.scan
	if s.elemStart >= 0 && s.elemStart < keep {
		keep = s.elemStart
	}
	if keep > 0 && (keep >= len(s.buf)/2 || s.end == len(s.buf)) {
		copy(s.buf, s.buf[keep:s.end])
		s.end -= keep
		s.scan -= keep
		if s.elemStart >= 0 {
			s.elemStart -= keep
		}
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= s.max {
			return fmt.Errorf("a stanza of more than %d bytes", s.max)
		}
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[s.end:])
	s.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// tagEnd returns the index of the '>' that ends the tag b starts with,
// or -1.
func tagEnd(b []byte) int {
	var quote byte
	for i := 1; i < len(b); i++ {
		c := b[i]
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			quote = c
		case '>':
			return i
		}
	}
	return -1
}

// xclient is one c2s connection of the load generator.
type xclient struct {
	idx  int    // index of the user in the run, -1 for the probe
	user string // localpart
	nick string // nick in the rooms
	jid  string // full JID bound by the server

	conn net.Conn
	sp   *splitter
	wmu  sync.Mutex

	// handle gets every stanza (but the answers to iq) from the reader
	// goroutine; the bytes are only valid during the call.
	handle func(c *xclient, st []byte)

	pmu     sync.Mutex
	pending map[string]chan []byte

	dead chan struct{} // closed when the reader stops
	err  error         // why, read after dead
}

const ioTimeout = 15 * time.Second

// dialXMPP logs in user@domain with SASL PLAIN over plain TCP, binds
// resource, sends initial presence and waits for it to come back. The
// reader goroutine is not started: call start.
func dialXMPP(addr, domain, user, password, resource string) (*xclient, error) {
	conn, err := net.DialTimeout("tcp", addr, servers.DialTimeout)
	if err != nil {
		return nil, err
	}
	c := &xclient{idx: -1, user: user, conn: conn, sp: newSplitter(conn), pending: map[string]chan []byte{}, dead: make(chan struct{})}
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	if err := c.login(domain, user, password, resource); err != nil {
		conn.Close()
		return nil, fmt.Errorf("login %s@%s: %w", user, domain, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

func (c *xclient) openStream(domain string) ([]byte, error) {
	if err := c.write(fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", domain)); err != nil {
		return nil, err
	}
	kind, _, err := c.sp.next()
	if err != nil {
		return nil, err
	}
	if kind != kindHeader {
		return nil, errors.New("no stream header from the server")
	}
	kind, f, err := c.sp.next()
	if err != nil {
		return nil, err
	}
	if kind != kindElement || !bytes.Contains(f[:tagEnd(f)+1], []byte("features")) {
		return nil, fmt.Errorf("expected stream features, got %.300s", f)
	}
	return bytes.Clone(f), nil
}

// nextElement returns the next top-level element; the stream's end is an
// error.
func (c *xclient) nextElement() ([]byte, error) {
	kind, b, err := c.sp.next()
	if err != nil {
		return nil, err
	}
	if kind != kindElement {
		return nil, errors.New("the server closed the stream")
	}
	if bytes.HasPrefix(b, []byte("<stream:error")) {
		return nil, fmt.Errorf("stream error: %.300s", b)
	}
	return b, nil
}

func (c *xclient) login(domain, user, password, resource string) error {
	f, err := c.openStream(domain)
	if err != nil {
		return err
	}
	if !bytes.Contains(f, []byte(">PLAIN<")) {
		return fmt.Errorf("no SASL PLAIN offered: %.300s", f)
	}
	cred := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	if err := c.write("<auth xmlns='" + nsSASL + "' mechanism='PLAIN'>" + cred + "</auth>"); err != nil {
		return err
	}
	b, err := c.nextElement()
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(b, []byte("<success")) {
		return fmt.Errorf("SASL: %.300s", b)
	}
	c.sp.restart()
	if f, err = c.openStream(domain); err != nil {
		return err
	}
	if err := c.write("<iq type='set' id='bind1'><bind xmlns='" + nsBind + "'><resource>" + escape(resource) + "</resource></bind></iq>"); err != nil {
		return err
	}
	for {
		b, err := c.nextElement()
		if err != nil {
			return err
		}
		if bytes.HasPrefix(b, []byte("<iq")) && attr(b, "id") == "bind1" {
			if attr(b, "type") != "result" {
				return fmt.Errorf("bind: %.300s", b)
			}
			c.jid = unescape(string(between(b, "<jid>", "</jid>")))
			break
		}
	}
	if i := bytes.Index(f, []byte(nsSession)); i >= 0 && !bytes.Contains(f[i:], []byte("<optional/>")) {
		if err := c.write("<iq type='set' id='sess1'><session xmlns='" + nsSession + "'/></iq>"); err != nil {
			return err
		}
		for {
			b, err := c.nextElement()
			if err != nil {
				return err
			}
			if bytes.HasPrefix(b, []byte("<iq")) && attr(b, "id") == "sess1" {
				if attr(b, "type") != "result" {
					return fmt.Errorf("session: %.300s", b)
				}
				break
			}
		}
	}
	if err := c.write("<presence/>"); err != nil {
		return err
	}
	for {
		b, err := c.nextElement()
		if err != nil {
			return fmt.Errorf("waiting for the initial presence to come back: %w", err)
		}
		if bytes.HasPrefix(b, []byte("<presence")) && attr(b, "from") == c.jid && attr(b, "type") == "" {
			return nil
		}
	}
}

// registerXMPP creates user@domain by in-band registration (XEP-0077).
// An account that exists already is fine (conflict).
func registerXMPP(addr, domain, user, password string) error {
	conn, err := net.DialTimeout("tcp", addr, servers.DialTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	c := &xclient{conn: conn, sp: newSplitter(conn)}
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	f, err := c.openStream(domain)
	if err != nil {
		return err
	}
	if !bytes.Contains(f, []byte("http://jabber.org/features/iq-register")) {
		return fmt.Errorf("in-band registration not offered: %.300s", f)
	}
	if err := c.write("<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>" + escape(user) + "</username><password>" + escape(password) + "</password></query></iq>"); err != nil {
		return err
	}
	for {
		b, err := c.nextElement()
		if err != nil {
			return err
		}
		if bytes.HasPrefix(b, []byte("<iq")) && attr(b, "id") == "reg1" {
			_ = c.write("</stream:stream>")
			if attr(b, "type") == "result" || bytes.Contains(b, []byte("<conflict")) {
				return nil
			}
			return fmt.Errorf("registration of %s: %.300s", user, b)
		}
	}
}

// start runs the reader goroutine.
func (c *xclient) start() { go c.readLoop() }

func (c *xclient) readLoop() {
	defer close(c.dead)
	for {
		kind, b, err := c.sp.next()
		if err != nil {
			c.err = err
			return
		}
		if kind != kindElement {
			c.err = errors.New("the server closed the stream")
			_ = c.write("</stream:stream>")
			return
		}
		if bytes.HasPrefix(b, []byte("<iq")) {
			t := attr(b, "type")
			if t == "result" || t == "error" {
				id := attr(b, "id")
				c.pmu.Lock()
				ch := c.pending[id]
				delete(c.pending, id)
				c.pmu.Unlock()
				if ch != nil {
					ch <- bytes.Clone(b)
					continue
				}
			}
		}
		if c.handle != nil {
			c.handle(c, b)
		}
	}
}

func (c *xclient) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := io.WriteString(c.conn, s)
	return err
}

// iq sends an iq stanza whose id is id and returns the answer.
func (c *xclient) iq(id, stanza string, timeout time.Duration) ([]byte, error) {
	ch := make(chan []byte, 1)
	c.pmu.Lock()
	c.pending[id] = ch
	c.pmu.Unlock()
	if err := c.write(stanza); err != nil {
		return nil, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case b := <-ch:
		return b, nil
	case <-c.dead:
		return nil, fmt.Errorf("%s: connection ended waiting for iq %s: %v", c.jid, id, c.err)
	case <-t.C:
		c.pmu.Lock()
		delete(c.pending, id)
		c.pmu.Unlock()
		return nil, fmt.Errorf("%s: no answer to iq %s within %v", c.jid, id, timeout)
	}
}

// close ends the stream and the connection without waiting.
func (c *xclient) close() {
	_ = c.write("</stream:stream>")
	_ = c.conn.Close()
}

// --- looking at stanza bytes ---

// attr returns the unescaped value of an attribute of the first tag of
// st, found by name (" name=").
func attr(st []byte, name string) string {
	end := tagEnd(st)
	if end < 0 {
		return ""
	}
	tag := st[:end]
	pat := make([]byte, 0, len(name)+2)
	pat = append(append(append(pat, ' '), name...), '=')
	i := bytes.Index(tag, pat)
	if i < 0 {
		return ""
	}
	v := tag[i+len(pat):]
	if len(v) == 0 {
		return ""
	}
	q := v[0]
	v = v[1:]
	j := bytes.IndexByte(v, q)
	if j < 0 {
		return ""
	}
	return unescape(string(v[:j]))
}

// between returns the bytes between the first open and the following
// close, or nil.
func between(st []byte, open, close string) []byte {
	i := bytes.Index(st, []byte(open))
	if i < 0 {
		return nil
	}
	rest := st[i+len(open):]
	j := bytes.Index(rest, []byte(close))
	if j < 0 {
		return nil
	}
	return rest[:j]
}

// body returns the text of the first <body> of a message (not
// unescaped), or nil.
func body(st []byte) []byte {
	for {
		i := bytes.Index(st, []byte("<body"))
		if i < 0 {
			return nil
		}
		st = st[i+5:]
		j := bytes.IndexByte(st, '>')
		if j < 0 {
			return nil
		}
		if j > 0 && st[0] != ' ' {
			continue // <bodyx…>
		}
		if j > 0 && st[j-1] == '/' {
			return nil // <body/>
		}
		rest := st[j+1:]
		k := bytes.Index(rest, []byte("</body>"))
		if k < 0 {
			return nil
		}
		return rest[:k]
	}
}

// hasStatus reports whether a MUC presence carries <status code='code'/>.
func hasStatus(st []byte, code string) bool {
	return bytes.Contains(st, []byte("code='"+code+"'")) || bytes.Contains(st, []byte(`code="`+code+`"`))
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;")
var xmlUnescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&apos;", "'", "&quot;", `"`, "&#39;", "'", "&#34;", `"`)

func escape(s string) string { return xmlEscaper.Replace(s) }

func unescape(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	return xmlUnescaper.Replace(s)
}
