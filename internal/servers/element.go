package servers

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Element is a generic decoded XML element, for assertions on stanzas.
// XMLName.Space is the element's namespace; Attrs hold the attributes
// without namespace declarations; Text is the element's own character
// data (not its children's).
type Element struct {
	XMLName  xml.Name
	Attrs    []xml.Attr
	Children []*Element
	Text     string
}

const xmlNS = "http://www.w3.org/XML/1998/namespace"

// Attr returns the value of the first attribute with that local name, or
// "".
func (e *Element) Attr(local string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// Child returns the first child with that local name, or nil.
func (e *Element) Child(local string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.XMLName.Local == local {
			return c
		}
	}
	return nil
}

// ChildNS returns the first child with that namespace and local name, or
// nil.
func (e *Element) ChildNS(space, local string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.XMLName.Local == local && c.XMLName.Space == space {
			return c
		}
	}
	return nil
}

// ChildrenNamed returns every child with that local name.
func (e *Element) ChildrenNamed(local string) []*Element {
	if e == nil {
		return nil
	}
	var out []*Element
	for _, c := range e.Children {
		if c.XMLName.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// Find follows a path of local names from e: Find("x", "item") is
// e.Child("x").Child("item"). It returns nil if a step is missing.
func (e *Element) Find(path ...string) *Element {
	for _, p := range path {
		e = e.Child(p)
	}
	return e
}

// Name returns the local name, or "" for nil.
func (e *Element) Name() string {
	if e == nil {
		return ""
	}
	return e.XMLName.Local
}

// ChildText returns the text of the first child with that local name, or
// "".
func (e *Element) ChildText(local string) string {
	if c := e.Child(local); c != nil {
		return c.Text
	}
	return ""
}

// String re-serialises the element as XML, declaring a namespace
// wherever it differs from the parent's. It is meant for failure
// messages, not for the wire.
func (e *Element) String() string {
	if e == nil {
		return "<nil>"
	}
	var b strings.Builder
	e.write(&b, "")
	return b.String()
}

func (e *Element) write(b *strings.Builder, parentNS string) {
	b.WriteString("<" + e.XMLName.Local)
	if e.XMLName.Space != parentNS {
		fmt.Fprintf(b, " xmlns='%s'", escapeAttr(e.XMLName.Space))
	}
	for i, a := range e.Attrs {
		name := a.Name.Local
		switch a.Name.Space {
		case "":
		case xmlNS, "xml":
			name = "xml:" + name
		default:
			p := fmt.Sprintf("ns%d", i)
			fmt.Fprintf(b, " xmlns:%s='%s'", p, escapeAttr(a.Name.Space))
			name = p + ":" + name
		}
		fmt.Fprintf(b, " %s='%s'", name, escapeAttr(a.Value))
	}
	if len(e.Children) == 0 && e.Text == "" {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	if e.Text != "" {
		_ = xml.EscapeText(writerFunc(func(p []byte) (int, error) { return b.Write(p) }), []byte(e.Text))
	}
	for _, c := range e.Children {
		c.write(b, e.XMLName.Space)
	}
	b.WriteString("</" + e.XMLName.Local + ">")
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func escapeAttr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(writerFunc(func(p []byte) (int, error) { return b.Write(p) }), []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&#39;")
}

// ParseElement decodes one XML element from a string (handy for golden
// comparisons in tests).
func ParseElement(s string) (*Element, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return DecodeElement(d, start)
		}
	}
}

// DecodeElement reads the rest of the element that start opened, from a
// decoder that has just returned start.
func DecodeElement(d *xml.Decoder, start xml.StartElement) (*Element, error) {
	e := &Element{XMLName: start.Name}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		e.Attrs = append(e.Attrs, a)
	}
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			c, err := DecodeElement(d, tok)
			if err != nil {
				return nil, err
			}
			e.Children = append(e.Children, c)
		case xml.CharData:
			text.Write(tok)
		case xml.EndElement:
			e.Text = text.String()
			return e, nil
		}
	}
}
