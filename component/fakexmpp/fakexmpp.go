// Package fakexmpp is a test helper: the server side of XEP-0114, enough to
// test a component without a real XMPP server.
//
// A Server listens on 127.0.0.1, accepts component connections, checks the
// handshake, and then lets the test send raw XML to the component (Send)
// and read what the component sent (Expect), one top-level element at a
// time. Every wait has a 10 s deadline and fails the test when it passes.
//
// Concurrency: the Server's methods are safe for concurrent use, but the
// ones taking a testing.TB call t.Fatal and so must run on the test's
// goroutine.
package fakexmpp

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timeout is how long Expect and the other waits wait.
const Timeout = 10 * time.Second

// Element is a generic XML element received from the component.
type Element struct {
	Name     xml.Name
	Attrs    []xml.Attr
	Children []*Element
	// Text is the element's own character data, concatenated.
	Text string
	// Raw is the exact bytes of the element as received; set on top-level
	// elements only.
	Raw string
}

// Attr returns the value of the unqualified attribute local ("" if absent).
func (e *Element) Attr(local string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// HasAttr reports whether the unqualified attribute local is present.
func (e *Element) HasAttr(local string) bool {
	for _, a := range e.Attrs {
		if a.Name.Local == local && a.Name.Space == "" {
			return true
		}
	}
	return false
}

// Child returns the first child with the given local name, or nil.
func (e *Element) Child(local string) *Element {
	for _, c := range e.Children {
		if c.Name.Local == local {
			return c
		}
	}
	return nil
}

// ChildNS returns the first child named {space}local, or nil.
func (e *Element) ChildNS(space, local string) *Element {
	for _, c := range e.Children {
		if c.Name.Local == local && c.Name.Space == space {
			return c
		}
	}
	return nil
}

func (e *Element) String() string {
	if e.Raw != "" {
		return e.Raw
	}
	return "<" + e.Name.Local + "…>"
}

// Option changes a Server's behaviour.
type Option func(*Server)

// RejectSecret makes the server answer every handshake with a
// not-authorized stream error, as for a wrong secret.
func RejectSecret() Option { return func(s *Server) { s.rejectSecret = true } }

// RefuseDomain makes the server answer every stream header with a
// host-unknown stream error, as for a domain it does not serve.
func RefuseDomain() Option { return func(s *Server) { s.refuseDomain = true } }

// IgnoreStreamEnd makes the server record the component's
// </stream:stream> but neither answer it nor close the connection, like a
// server that hangs.
func IgnoreStreamEnd() Option { return func(s *Server) { s.ignoreEnd = true } }

// StreamID sets the stream id the server sends (default: a counter).
// An empty id reproduces a server that sends none.
func StreamID(id string) Option { return func(s *Server) { s.streamID = &id } }

// Server is a fake XMPP server accepting one component at a time.
type Server struct {
	domain, secret string
	rejectSecret   bool
	refuseDomain   bool
	ignoreEnd      bool
	streamID       *string

	ln net.Listener
	wg sync.WaitGroup

	mu         sync.Mutex
	conns      int // accepted TCP connections
	authed     int // successful handshakes
	keepalives int // whitespace between stanzas
	cur        net.Conn
	changed    chan struct{} // closed and replaced when state changes
	all        []net.Conn
	stopped    bool

	stanzas chan *Element
	ends    chan int // connection numbers whose stream the component closed
}

// NewServer starts a server for a component with the given domain and
// secret on 127.0.0.1:0. It is stopped by t.Cleanup.
func NewServer(t testing.TB, domain, secret string, opts ...Option) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakexmpp: listen: %v", err)
	}
	s := &Server{
		domain:  domain,
		secret:  secret,
		ln:      ln,
		changed: make(chan struct{}),
		stanzas: make(chan *Element, 100000),
		ends:    make(chan int, 100),
	}
	for _, o := range opts {
		o(s)
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Stop)
	return s
}

// Addr is the address to give the component.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Connections is the number of TCP connections accepted so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Authenticated is the number of successful handshakes so far.
func (s *Server) Authenticated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authed
}

// KeepAlives is the number of whitespace keepalives received so far.
func (s *Server) KeepAlives() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keepalives
}

// Stop closes the listener and every connection, and waits for the
// server's goroutines.
func (s *Server) Stop() {
	s.mu.Lock()
	s.stopped = true
	for _, c := range s.all {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// CloseConn closes the current component connection abruptly, without a
// stream end, to simulate a link drop.
func (s *Server) CloseConn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
		s.notifyLocked()
	}
}

// WaitAuthenticated waits until n handshakes have succeeded in total.
func (s *Server) WaitAuthenticated(t testing.TB, n int) {
	t.Helper()
	s.waitFor(t, fmt.Sprintf("%d authenticated connection(s)", n), func() bool { return s.authed >= n })
}

// WaitConnections waits until n TCP connections have been accepted.
func (s *Server) WaitConnections(t testing.TB, n int) {
	t.Helper()
	s.waitFor(t, fmt.Sprintf("%d connection(s)", n), func() bool { return s.conns >= n })
}

func (s *Server) waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("fakexmpp: timed out waiting for %s", what)
		}
	}
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Send writes raw XML to the current component connection, waiting for
// one to be authenticated if needed.
func (s *Server) Send(t testing.TB, raw string) {
	t.Helper()
	var c net.Conn
	s.waitFor(t, "an authenticated connection", func() bool { c = s.cur; return c != nil })
	c.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("fakexmpp: send: %v", err)
	}
}

// Expect returns the next top-level element the component sent.
func (s *Server) Expect(t testing.TB) *Element {
	t.Helper()
	select {
	case e := <-s.stanzas:
		return e
	case <-time.After(Timeout):
		t.Fatalf("fakexmpp: timed out waiting for a stanza from the component")
		return nil
	}
}

// ExpectNone fails if the component sends a stanza within d.
func (s *Server) ExpectNone(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case e := <-s.stanzas:
		t.Fatalf("fakexmpp: unexpected stanza from the component: %s", e.Raw)
	case <-time.After(d):
	}
}

// ExpectStreamEnd waits until the component closes its stream with
// </stream:stream>.
func (s *Server) ExpectStreamEnd(t testing.TB) {
	t.Helper()
	select {
	case <-s.ends:
	case <-time.After(Timeout):
		t.Fatalf("fakexmpp: timed out waiting for </stream:stream> from the component")
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns++
		n := s.conns
		s.all = append(s.all, c)
		s.notifyLocked()
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.serve(c, n)
		}()
	}
}

// recorder keeps every byte read, so that Raw can be cut out by offset.
type recorder struct {
	r   io.Reader
	buf bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf.Write(p[:n])
	return n, err
}

func (s *Server) serve(c net.Conn, n int) {
	rec := &recorder{r: c}
	d := xml.NewDecoder(rec)
	start, err := nextStart(d)
	if err != nil || start.Name.Local != "stream" {
		return
	}
	var to string
	for _, a := range start.Attr {
		if a.Name.Local == "to" && a.Name.Space == "" {
			to = a.Value
		}
	}
	id := "fakeid" + strconv.Itoa(n)
	if s.streamID != nil {
		id = *s.streamID
	}
	hdr := `<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:component:accept' from='` + s.domain + `'`
	if id != "" {
		hdr += ` id='` + id + `'`
	}
	hdr += `>`
	if s.refuseDomain || to != s.domain {
		io.WriteString(c, hdr+streamError("host-unknown"))
		lingerClose(c)
		return
	}
	if _, err := io.WriteString(c, hdr); err != nil {
		return
	}
	hs, err := nextStart(d)
	if err != nil || hs.Name.Local != "handshake" {
		return
	}
	el, err := readElement(d, hs)
	if err != nil {
		return
	}
	sum := sha1.Sum([]byte(id + s.secret))
	if s.rejectSecret || strings.TrimSpace(el.Text) != hex.EncodeToString(sum[:]) {
		io.WriteString(c, streamError("not-authorized"))
		lingerClose(c)
		return
	}
	if _, err := io.WriteString(c, "<handshake/>"); err != nil {
		return
	}
	s.mu.Lock()
	s.authed++
	s.cur = c
	s.notifyLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.cur == c {
			s.cur = nil
			s.notifyLocked()
		}
		s.mu.Unlock()
	}()
	for {
		before := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			el, err := readElement(d, t)
			if err != nil {
				return
			}
			el.Raw = string(rec.buf.Bytes()[before:d.InputOffset()])
			s.stanzas <- el
		case xml.EndElement:
			// </stream:stream>: answer in kind, like a real server.
			s.ends <- n
			if s.ignoreEnd {
				io.Copy(io.Discard, c)
				return
			}
			io.WriteString(c, "</stream:stream>")
			return
		case xml.CharData:
			if len(bytes.TrimSpace(t)) == 0 {
				s.mu.Lock()
				s.keepalives++
				s.notifyLocked()
				s.mu.Unlock()
			}
		}
	}
}

func streamError(cond string) string {
	return `<stream:error><` + cond + ` xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`
}

// lingerClose lets the component read what we wrote before the close: it
// waits (briefly) for the component to close its side.
func lingerClose(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, c)
}

func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if t, ok := tok.(xml.StartElement); ok {
			return t, nil
		}
	}
}

// readElement reads the element opened by start into an Element.
func readElement(d *xml.Decoder, start xml.StartElement) (*Element, error) {
	el := &Element{Name: start.Name, Attrs: start.Attr}
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			c, err := readElement(d, t)
			if err != nil {
				return nil, err
			}
			el.Children = append(el.Children, c)
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			el.Text = text.String()
			return el, nil
		}
	}
}

// Parse parses one XML element (for instance a stanza rendered by the
// component) into an Element, with Raw set. It fails on anything that is
// not exactly one well-formed element, optionally surrounded by whitespace.
func Parse(raw string) (*Element, error) {
	d := xml.NewDecoder(strings.NewReader(raw))
	start, err := nextStart(d)
	if err != nil {
		return nil, err
	}
	el, err := readElement(d, start)
	if err != nil {
		return nil, err
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) != 0 {
			return nil, fmt.Errorf("fakexmpp: trailing data after the element: %T", tok)
		}
	}
	el.Raw = raw
	return el, nil
}
