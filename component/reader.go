package component

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The read side of the link does not use mellium's Session.TokenReader
// after the handshake. mellium's stream reader treats any element in the
// http://etherx.jabber.org/streams namespace, at any depth, as a
// stream-level event: a stanza from any XMPP user carrying a child such as
// <error xmlns='http://etherx.jabber.org/streams'/> would end the link for
// everyone (XMPP servers forward such children untouched).
//
// Instead, the connection is wrapped in a byteSource (an io.ByteReader), so
// that mellium's xml.Decoder reads exactly up to the end of <handshake/>
// and never buffers beyond it. After the handshake we start our own
// xml.Decoder on the same byteSource, primed with a synthetic stream
// header that declares the stream's namespaces, and walk its tokens
// ourselves (streamReader).

// streamHeader primes our decoder so that stanzas resolve to
// jabber:component:accept and </stream:stream> matches an open element.
// XEP-0114 servers declare exactly these two namespaces on the stream.
const streamHeader = `<stream:stream xmlns='` + nsAccept + `' xmlns:stream='` + nsStream + `'>`

// Errors that end a link because of what the server sent.
var (
	// errHardLimit: one stanza exceeded the hard byte or depth limit. The
	// decoder would buffer it whole, so the only protection is to drop the
	// connection (the soft limits below it bounce the stanza instead).
	errHardLimit = errors.New("component: stanza exceeds the hard size limit")
	// errConnClosed: the connection ended without </stream:stream>.
	errConnClosed = errors.New("connection closed by the server without ending the stream")
)

// tokenErr classifies a decoder error. encoding/xml reports the end of the
// input inside an open element (our stream) as a syntax error; that is a
// lost connection, not bad XML.
func tokenErr(err error) error {
	var syn *xml.SyntaxError
	if err == io.EOF || errors.As(err, &syn) && syn.Msg == "unexpected EOF" {
		return errConnClosed
	}
	return err
}

// streamError is a <stream:error/> received from the server (RFC 6120 §4.9).
type streamError struct {
	Condition string
	Text      string
}

func (e *streamError) Error() string {
	if e.Text != "" {
		return "stream error: " + e.Condition + ": " + e.Text
	}
	return "stream error: " + e.Condition
}

// byteSource is the connection's read side as an io.ByteReader.
// It serves prefix first, counts the bytes read since the last mark, and
// fails once a single stanza exceeds limit (when limit > 0).
// It is used by one goroutine at a time (the handshake, then the reader).
type byteSource struct {
	prefix string
	br     *bufio.Reader
	n      int64
	limit  int64
}

func (s *byteSource) ReadByte() (byte, error) {
	if s.prefix != "" {
		c := s.prefix[0]
		s.prefix = s.prefix[1:]
		return c, nil
	}
	c, err := s.br.ReadByte()
	if err != nil {
		return 0, err
	}
	s.n++
	if s.limit > 0 && s.n > s.limit {
		return 0, errHardLimit
	}
	return c, nil
}

// Read is required by the io.Reader signature of xml.NewDecoder; the
// decoder itself only calls ReadByte.
func (s *byteSource) Read(p []byte) (int, error) {
	for i := range p {
		c, err := s.ReadByte()
		if err != nil {
			if i > 0 {
				return i, nil
			}
			return 0, err
		}
		p[i] = c
	}
	return len(p), nil
}

// mark starts counting a new stanza.
func (s *byteSource) mark() { s.n = 0 }

// element is one decoded XML element. Elements live for the duration of one
// stanza; decode.go turns them into ircbridge values.
type element struct {
	name     xml.Name
	attr     []xml.Attr
	children []*element
	text     string
	buf      []byte // text being accumulated from several CharData tokens
}

// get returns the value of the unqualified attribute local.
func (e *element) get(local string) (string, bool) {
	for _, a := range e.attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value, true
		}
	}
	return "", false
}

// lang returns the element's own xml:lang.
func (e *element) lang() string {
	for _, a := range e.attr {
		if a.Name.Local == "lang" && a.Name.Space == nsXML {
			return a.Value
		}
	}
	return ""
}

// child returns the first child named {space}local, or nil.
func (e *element) child(space, local string) *element {
	for _, c := range e.children {
		if c.name.Local == local && c.name.Space == space {
			return c
		}
	}
	return nil
}

// issue records a soft limit hit while reading a stanza. The stanza is
// still read to its end (the stream stays in sync) and then bounced.
type issue uint8

const (
	issueTooDeep issue = 1 << iota
	issueTooLarge
)

// limits bound what one stanza may hold.
type limits struct {
	softDepth int   // deeper elements are discarded and the stanza bounced
	hardDepth int   // deeper ends the link
	softBytes int   // retained text and attributes beyond this: bounced
	hardBytes int64 // raw bytes of one stanza beyond this: link ends
}

// streamReader walks the server's stream and yields top-level elements.
// It is owned by the link's read goroutine.
type streamReader struct {
	d   *xml.Decoder
	src *byteSource
	lim limits
	// ignored reports top-level things we skip (stream features, text).
	ignored func(what string)
}

func newStreamReader(br *bufio.Reader, lim limits) *streamReader {
	src := &byteSource{prefix: streamHeader, br: br, limit: lim.hardBytes}
	d := xml.NewDecoder(src)
	r := &streamReader{d: d, src: src, lim: lim, ignored: func(string) {}}
	return r
}

// next returns the next top-level element. It returns io.EOF when the
// server closed its stream (</stream:stream>), a *streamError for a stream
// error, and any other error when the stream is unusable (not well-formed,
// connection lost, hard limit).
func (r *streamReader) next() (*element, issue, error) {
	for {
		tok, err := r.d.Token()
		if err != nil {
			return nil, 0, tokenErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space == nsStream && t.Name.Local == "stream" {
				// Our synthetic header: the real one was read by mellium.
				r.src.mark()
				continue
			}
			el, iss, err := r.readElement(t)
			r.src.mark()
			if err != nil {
				return nil, 0, err
			}
			if t.Name.Space == nsStream {
				if t.Name.Local == "error" {
					return nil, 0, parseStreamError(el)
				}
				r.ignored("stream-level element <stream:" + t.Name.Local + "/>")
				continue
			}
			return el, iss, nil
		case xml.EndElement:
			// The decoder checks nesting, so at this level this can only be
			// </stream:stream>.
			return nil, 0, io.EOF
		case xml.CharData:
			if strings.TrimLeft(string(t), " \t\r\n") != "" {
				r.ignored("text between stanzas")
			}
			r.src.mark() // whitespace keepalives reset the stanza byte count
		default:
			// Comments, processing instructions and directives are not
			// allowed in XMPP (RFC 6120 §11.1); skip them.
			r.ignored(fmt.Sprintf("%T", tok))
		}
	}
}

// readElement reads the element opened by start up to its end tag.
func (r *streamReader) readElement(start xml.StartElement) (*element, issue, error) {
	root := &element{name: start.Name, attr: start.Attr}
	retained := cost(start)
	stack := make([]*element, 1, 8)
	stack[0] = root
	depth := 1
	discard := 0 // > 0: inside a discarded subtree that began at this depth
	var iss issue
	for depth > 0 {
		tok, err := r.d.Token()
		if err != nil {
			return nil, 0, tokenErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > r.lim.hardDepth {
				return nil, 0, errHardLimit
			}
			if discard > 0 {
				continue
			}
			retained += cost(t)
			switch {
			case depth > r.lim.softDepth:
				iss |= issueTooDeep
				discard = depth
				continue
			case retained > r.lim.softBytes:
				iss |= issueTooLarge
				discard = depth
				continue
			}
			el := &element{name: t.Name, attr: t.Attr}
			parent := stack[len(stack)-1]
			parent.children = append(parent.children, el)
			stack = append(stack, el)
		case xml.EndElement:
			if discard > 0 {
				if depth == discard {
					discard = 0
				}
				depth--
				continue
			}
			top := stack[len(stack)-1]
			if top.buf != nil {
				top.text = string(top.buf)
				top.buf = nil
			}
			stack = stack[:len(stack)-1]
			depth--
		case xml.CharData:
			if discard > 0 {
				continue
			}
			retained += len(t)
			if retained > r.lim.softBytes {
				iss |= issueTooLarge
				continue
			}
			top := stack[len(stack)-1]
			switch {
			case top.buf != nil:
				top.buf = append(top.buf, t...)
			case top.text == "":
				top.text = string(t)
			default:
				// Several text tokens (CDATA sections, comments): append in
				// a buffer, not by string concatenation, which would be
				// quadratic.
				top.buf = append([]byte(top.text), t...)
				top.text = ""
			}
		}
	}
	return root, iss, nil
}

// cost approximates the memory one start element retains.
func cost(t xml.StartElement) int {
	n := 32 + len(t.Name.Local) + len(t.Name.Space)
	for _, a := range t.Attr {
		n += 16 + len(a.Name.Local) + len(a.Name.Space) + len(a.Value)
	}
	return n
}

// parseStreamError converts a <stream:error/> element.
func parseStreamError(el *element) *streamError {
	e := &streamError{Condition: "undefined-condition"}
	for _, c := range el.children {
		if c.name.Space != nsStreams {
			continue
		}
		if c.name.Local == "text" {
			e.Text = c.text
		} else {
			e.Condition = c.name.Local
		}
	}
	return e
}
