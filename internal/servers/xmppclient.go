package servers

import (
	"bufio"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"
)

// XML namespaces of the c2s handshake.
const (
	nsStreams = "http://etherx.jabber.org/streams"
	nsClient  = "jabber:client"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
)

// XMPPClient is a c2s connection (no TLS, SASL PLAIN, resource bind,
// initial presence sent): a person on XMPP. A goroutine decodes the
// top-level stanzas; Expect consumes them. Stanzas wait in a buffer of
// 4096: a long-lived client must keep calling Expect.
type XMPPClient struct {
	jid  jid.JID
	conn net.Conn
	r    *bufio.Reader
	dec  *xml.Decoder

	wmu      sync.Mutex
	stanzas  chan *Element
	done     chan struct{} // closed by Close
	dead     chan struct{} // closed when the reader stops
	err      error         // why the reader stopped; read after dead
	closeOne sync.Once

	mu     sync.Mutex
	recent []string
}

const recentStanzas = 20

// DialXMPP logs user@domain in on the c2s port at addr with SASL PLAIN
// over plain TCP, binds resource (empty: the server picks one), sends
// initial presence and waits for the server to reflect it (so the
// resource is available when DialXMPP returns). On failure the
// connection is closed and the error shows the last stanzas.
func DialXMPP(addr, domain, user, password, resource string) (*XMPPClient, error) {
	c, err := dialXMPP(addr, domain, user, password, resource)
	if err != nil {
		msg := fmt.Errorf("DialXMPP %s@%s/%s on %s: %w", user, domain, resource, addr, err)
		if c != nil {
			msg = fmt.Errorf("%w%s", msg, c.recentText())
			_ = c.Close()
		}
		return nil, msg
	}
	return c, nil
}

func dialXMPP(addr, domain, user, password, resource string) (*XMPPClient, error) {
	conn, err := net.DialTimeout("tcp", addr, DialTimeout)
	if err != nil {
		return nil, err
	}
	c := &XMPPClient{
		conn:    conn,
		r:       bufio.NewReader(conn),
		stanzas: make(chan *Element, 4096),
		done:    make(chan struct{}),
		dead:    make(chan struct{}),
	}
	_ = conn.SetDeadline(time.Now().Add(DefaultTimeout))
	pending, err := c.handshake(domain, user, password, resource)
	if err != nil {
		close(c.dead)
		return c, err
	}
	_ = conn.SetDeadline(time.Time{})
	for _, e := range pending {
		c.stanzas <- e
	}
	go c.readLoop()
	return c, nil
}

// handshake runs stream, SASL PLAIN, restart, bind, session (if
// required) and initial presence. It returns stanzas received meanwhile
// that the tests may want to see.
func (c *XMPPClient) handshake(domain, user, password, resource string) ([]*Element, error) {
	features, err := c.openStream(domain)
	if err != nil {
		return nil, err
	}
	mechs := features.ChildNS(nsSASL, "mechanisms")
	hasPlain := false
	for _, m := range mechs.ChildrenNamed("mechanism") {
		if strings.TrimSpace(m.Text) == "PLAIN" {
			hasPlain = true
		}
	}
	if !hasPlain {
		return nil, fmt.Errorf("server does not offer SASL PLAIN without TLS: features %s", features)
	}
	cred := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	if err := c.writeString(fmt.Sprintf("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>", nsSASL, cred)); err != nil {
		return nil, err
	}
	res, err := c.next()
	if err != nil {
		return nil, fmt.Errorf("SASL: %w", err)
	}
	if res.XMLName.Local != "success" {
		return nil, fmt.Errorf("SASL PLAIN failed: %s", res)
	}

	// Stream restart: a fresh decoder on the same buffered reader (the
	// server sends nothing until it gets our new header).
	features, err = c.openStream(domain)
	if err != nil {
		return nil, err
	}
	if features.ChildNS(nsBind, "bind") == nil {
		return nil, fmt.Errorf("no resource binding offered: %s", features)
	}
	var bindRes string
	if resource != "" {
		bindRes = "<resource>" + xmlEscape(resource) + "</resource>"
	}
	if err := c.writeString(fmt.Sprintf("<iq type='set' id='bind_1'><bind xmlns='%s'>%s</bind></iq>", nsBind, bindRes)); err != nil {
		return nil, err
	}
	var pending []*Element
	iq, err := c.nextIQ("bind_1", &pending)
	if err != nil {
		return pending, fmt.Errorf("bind: %w", err)
	}
	bound := iq.Find("bind", "jid")
	if iq.Attr("type") != "result" || bound == nil {
		return pending, fmt.Errorf("bind failed: %s", iq)
	}
	c.jid, err = jid.Parse(strings.TrimSpace(bound.Text))
	if err != nil {
		return pending, fmt.Errorf("bind returned %q: %w", bound.Text, err)
	}
	if s := features.ChildNS(nsSession, "session"); s != nil && s.Child("optional") == nil {
		if err := c.writeString(fmt.Sprintf("<iq type='set' id='sess_1'><session xmlns='%s'/></iq>", nsSession)); err != nil {
			return pending, err
		}
		iq, err := c.nextIQ("sess_1", &pending)
		if err != nil {
			return pending, fmt.Errorf("session: %w", err)
		}
		if iq.Attr("type") != "result" {
			return pending, fmt.Errorf("session failed: %s", iq)
		}
	}

	// Initial presence; wait for the server to send it back to us, so
	// the resource is available to the server before we return.
	if err := c.writeString("<presence/>"); err != nil {
		return pending, err
	}
	me := c.jid.String()
	for {
		e, err := c.next()
		if err != nil {
			return pending, fmt.Errorf("waiting for own presence: %w", err)
		}
		if e.XMLName.Local == "presence" && e.Attr("from") == me && e.Attr("type") == "" {
			return pending, nil
		}
		pending = append(pending, e)
	}
}

// openStream sends a stream header and returns the server's features.
func (c *XMPPClient) openStream(domain string) (*Element, error) {
	c.dec = xml.NewDecoder(c.r)
	header := fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s' version='1.0' xml:lang='en' xmlns='%s' xmlns:stream='%s'>",
		xmlEscape(domain), nsClient, nsStreams)
	if err := c.writeString(header); err != nil {
		return nil, err
	}
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("reading stream header: %w", err)
		}
		if start, ok := tok.(xml.StartElement); ok {
			if start.Name.Space != nsStreams || start.Name.Local != "stream" {
				return nil, fmt.Errorf("expected <stream:stream>, got <%s xmlns='%s'>", start.Name.Local, start.Name.Space)
			}
			c.record("<- <stream:stream id='" + attrOf(start, "id") + "' from='" + attrOf(start, "from") + "'>")
			break
		}
	}
	f, err := c.next()
	if err != nil {
		return nil, fmt.Errorf("reading stream features: %w", err)
	}
	if f.XMLName.Space != nsStreams || f.XMLName.Local != "features" {
		return nil, fmt.Errorf("expected stream features, got %s", f)
	}
	return f, nil
}

func attrOf(start xml.StartElement, local string) string {
	for _, a := range start.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// next decodes the next top-level element. A stream error or the end of
// the stream is an error.
func (c *XMPPClient) next() (*Element, error) {
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e, err := DecodeElement(c.dec, tok)
			if err != nil {
				return nil, err
			}
			c.record("<- " + e.String())
			if e.XMLName.Space == nsStreams && e.XMLName.Local == "error" {
				return e, fmt.Errorf("stream error: %s", e)
			}
			return e, nil
		case xml.EndElement:
			return nil, errors.New("server closed the stream")
		}
	}
}

// nextIQ returns the iq with that id, appending other stanzas to pending.
func (c *XMPPClient) nextIQ(id string, pending *[]*Element) (*Element, error) {
	for {
		e, err := c.next()
		if err != nil {
			return nil, err
		}
		if e.XMLName.Local == "iq" && e.Attr("id") == id {
			return e, nil
		}
		*pending = append(*pending, e)
	}
}

func (c *XMPPClient) readLoop() {
	defer close(c.dead)
	for {
		e, err := c.next()
		if e != nil {
			select {
			case c.stanzas <- e:
			case <-c.done:
				c.err = errors.New("client closed")
				return
			}
		}
		if err != nil {
			select {
			case <-c.done:
				c.err = errors.New("client closed")
			default:
				c.err = err
				// Like a real client: answer the server's stream
				// close (or stream error) by closing ours, so a
				// server shutting down does not wait for us.
				_ = c.writeString("</stream:stream>")
				_ = c.conn.Close()
			}
			return
		}
	}
}

func (c *XMPPClient) record(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	const max = 2000
	if len(s) > max {
		s = s[:max] + "…"
	}
	c.recent = append(c.recent, s)
	if len(c.recent) > recentStanzas {
		c.recent = c.recent[len(c.recent)-recentStanzas:]
	}
}

func (c *XMPPClient) writeString(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.record("-> " + s)
	_ = c.conn.SetWriteDeadline(time.Now().Add(DialTimeout))
	_, err := c.conn.Write([]byte(s))
	return err
}

// JID returns the full JID the server bound.
func (c *XMPPClient) JID() jid.JID { return c.jid }

// SendRaw writes raw XML (normally one stanza) to the stream. Stanzas
// without a namespace are in jabber:client.
func (c *XMPPClient) SendRaw(xml string) error {
	if err := c.writeString(xml); err != nil {
		return fmt.Errorf("XMPP %s: send: %w", c.jid, err)
	}
	return nil
}

// Sendf formats and sends raw XML. Escape the arguments (see Escape).
func (c *XMPPClient) Sendf(format string, args ...any) error {
	return c.SendRaw(fmt.Sprintf(format, args...))
}

// SendMessage sends a <message> with a body; typ may be "" (normal),
// "chat" or "groupchat".
func (c *XMPPClient) SendMessage(to, typ, body string) error {
	return c.SendRaw(MessageXML(to, typ, "", body))
}

// MessageXML returns a <message> stanza with a body; typ and id may be
// "".
func MessageXML(to, typ, id, body string) string {
	var attrs string
	if typ != "" {
		attrs += " type='" + xmlEscape(typ) + "'"
	}
	if id != "" {
		attrs += " id='" + xmlEscape(id) + "'"
	}
	return fmt.Sprintf("<message to='%s'%s><body>%s</body></message>", xmlEscape(to), attrs, xmlEscape(body))
}

// Escape escapes s for use in XML text or a quoted attribute.
func Escape(s string) string { return xmlEscape(s) }

func xmlEscape(s string) string { return escapeAttr(s) }

// Expect returns the next top-level stanza that match accepts, skipping
// (and dropping) the others. After timeout (0: DefaultTimeout) it fails
// with an error wrapping ErrTimeout, and if the stream ends with one
// wrapping ErrClosed; the error shows the recent stanzas.
func (c *XMPPClient) Expect(match func(*Element) bool, timeout time.Duration) (*Element, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case e := <-c.stanzas:
			if match(e) {
				return e, nil
			}
		case <-c.dead:
			select {
			case e := <-c.stanzas:
				if match(e) {
					return e, nil
				}
				continue
			default:
			}
			return nil, fmt.Errorf("XMPP %s: %w: %v%s", c.jid, ErrClosed, c.err, c.recentText())
		case <-timer.C:
			return nil, fmt.Errorf("XMPP %s: %w after %v%s", c.jid, ErrTimeout, timeout, c.recentText())
		}
	}
}

// ExpectClosed waits until the stream or connection ends, skipping any
// stanzas; after timeout (0: DefaultTimeout) it fails with an error
// wrapping ErrTimeout.
func (c *XMPPClient) ExpectClosed(timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-c.stanzas:
		case <-c.dead:
			return nil
		case <-timer.C:
			return fmt.Errorf("XMPP %s: expecting the stream to end: still open, %w after %v%s", c.jid, ErrTimeout, timeout, c.recentText())
		}
	}
}

// IsStanza returns a matcher for a top-level element with that local name
// (message, presence, iq; "" for any) whose attributes have the given
// values, given as name, value pairs: IsStanza("message", "type", "chat").
func IsStanza(name string, attrs ...string) func(*Element) bool {
	if len(attrs)%2 != 0 {
		panic("servers.IsStanza: attrs must be name, value pairs")
	}
	return func(e *Element) bool {
		if name != "" && e.XMLName.Local != name {
			return false
		}
		for i := 0; i < len(attrs); i += 2 {
			if e.Attr(attrs[i]) != attrs[i+1] {
				return false
			}
		}
		return true
	}
}

// Recent returns the last stanzas sent (->) and received (<-).
func (c *XMPPClient) Recent() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.recent...)
}

func (c *XMPPClient) recentText() string {
	r := c.Recent()
	if len(r) == 0 {
		return "\n(nothing seen)"
	}
	return "\nrecent stanzas:\n  " + strings.Join(r, "\n  ")
}

// Close ends the stream and the connection. It may be called more than
// once, and concurrently with Expect, which then fails with ErrClosed.
func (c *XMPPClient) Close() error {
	c.closeOne.Do(func() {
		_ = c.writeString("</stream:stream>")
		// Give the server a moment to close its side (it answers at once).
		select {
		case <-c.dead:
		case <-time.After(2 * time.Second):
		}
		close(c.done)
		_ = c.conn.Close()
		<-c.dead
	})
	return nil
}

// registerIBR creates an account with XEP-0077 in-band registration
// before authentication. conflict is true if the server says the
// account exists.
func registerIBR(addr, domain, user, password string) (conflict bool, err error) {
	conn, err := net.DialTimeout("tcp", addr, DialTimeout)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	c := &XMPPClient{conn: conn, r: bufio.NewReader(conn)}
	_ = conn.SetDeadline(time.Now().Add(DefaultTimeout))
	features, err := c.openStream(domain)
	if err != nil {
		return false, err
	}
	if features.ChildNS("http://jabber.org/features/iq-register", "register") == nil {
		return false, fmt.Errorf("in-band registration not offered: %s", features)
	}
	if err := c.writeString(fmt.Sprintf("<iq type='set' id='reg_1'><query xmlns='jabber:iq:register'><username>%s</username><password>%s</password></query></iq>",
		xmlEscape(user), xmlEscape(password))); err != nil {
		return false, err
	}
	var pending []*Element
	iq, err := c.nextIQ("reg_1", &pending)
	if err != nil {
		return false, err
	}
	_ = c.writeString("</stream:stream>")
	if iq.Attr("type") != "result" {
		return iq.Find("error", "conflict") != nil, fmt.Errorf("in-band registration failed: %s", iq)
	}
	return false, nil
}
