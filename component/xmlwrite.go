package component

import (
	"strconv"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"
)

// This file holds the low-level pieces of the hand-rolled XML writer.
// They append to a byte slice so that a whole stanza is rendered with one
// growing buffer and no reflection (see encode.go).
//
// Every string that comes from outside (IRC lines, nicks, reasons, ids) goes
// through appendEscaped, which is the single place that keeps the output
// well-formed XML 1.0: it escapes markup characters, drops the characters
// XML 1.0 forbids (C0 controls other than TAB, LF and CR, U+FFFE, U+FFFF)
// and replaces invalid UTF-8 with U+FFFD.
// An XMPP server that receives a forbidden character closes the whole
// component stream, so this matters for every user of the gateway, not just
// the one whose IRC line carried the bold (\x02) or colour (\x03) code.

// stampLayout is the XEP-0082 DateTime format we send (UTC, milliseconds).
const stampLayout = "2006-01-02T15:04:05.000Z"

// textSpecial and attrSpecial mark the ASCII bytes that cannot be copied
// verbatim into character data and into a single-quoted attribute value.
var textSpecial, attrSpecial = func() (t, a [utf8.RuneSelf]bool) {
	for c := 0; c < 0x20; c++ {
		if c != '\t' && c != '\n' {
			t[c] = true
		}
		a[c] = true
	}
	for _, c := range "&<>" {
		t[c], a[c] = true, true
	}
	a['\''], a['"'] = true, true
	return t, a
}()

// appendEscaped appends s to b as XML character data or as the content of a
// single-quoted attribute value (attr is true).
// The result is always valid XML 1.0, whatever bytes s holds.
func appendEscaped(b []byte, s string, attr bool) []byte {
	special := &textSpecial
	if attr {
		special = &attrSpecial
	}
	// Fast path: plain ASCII is copied in one go.
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= utf8.RuneSelf || special[c] {
			break
		}
		i++
	}
	b = append(b, s[:i]...)
	last := i
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if !special[c] {
				i++
				continue
			}
			var esc string
			switch c {
			case '&':
				esc = "&amp;"
			case '<':
				esc = "&lt;"
			case '>':
				esc = "&gt;"
			case '\'':
				esc = "&apos;"
			case '"':
				esc = "&quot;"
			case '\t':
				// Only special in attributes: attribute-value
				// normalisation would turn it into a space (XML 1.0 §3.3.3).
				esc = "&#9;"
			case '\n':
				esc = "&#10;"
			case '\r':
				// Line-end normalisation would drop a literal CR (§2.11).
				esc = "&#13;"
			default:
				// A C0 control that XML 1.0 forbids: dropped (esc is "").
			}
			b = append(b, s[last:i]...)
			b = append(b, esc...)
			i++
			last = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[last:i]...)
			b = append(b, "\uFFFD"...)
		case r == 0xFFFE || r == 0xFFFF:
			b = append(b, s[last:i]...)
		default:
			i += size
			continue
		}
		i += size
		last = i
	}
	return append(b, s[last:]...)
}

// appendAttr appends ` name='value'`, or nothing when value is empty: the
// gateway never sends an empty attribute, such as an empty to.
func appendAttr(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, '=', '\'')
	b = appendEscaped(b, value, true)
	return append(b, '\'')
}

// appendNS appends ` xmlns='ns'` for a namespace constant (no escaping
// needed: namespaces are our own constants).
func appendNS(b []byte, ns string) []byte {
	b = append(b, " xmlns='"...)
	b = append(b, ns...)
	return append(b, '\'')
}

// appendJIDAttr appends a JID attribute, or nothing for the zero JID.
func appendJIDAttr(b []byte, name string, j jid.JID) []byte {
	if isZeroJID(j) {
		return b
	}
	return appendAttr(b, name, j.String())
}

// appendIntAttr appends an integer attribute.
func appendIntAttr(b []byte, name string, v int) []byte {
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, '=', '\'')
	b = strconv.AppendInt(b, int64(v), 10)
	return append(b, '\'')
}

// appendStampAttr appends a XEP-0082 DateTime attribute in UTC.
func appendStampAttr(b []byte, name string, t time.Time) []byte {
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, '=', '\'')
	b = t.UTC().AppendFormat(b, stampLayout)
	return append(b, '\'')
}

// appendTextElem appends <name xmlns='ns'>text</name>; ns may be empty.
// An empty text gives an empty element <name/>.
func appendTextElem(b []byte, name, ns, text string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	if ns != "" {
		b = appendNS(b, ns)
	}
	if text == "" {
		return append(b, '/', '>')
	}
	b = append(b, '>')
	b = appendEscaped(b, text, false)
	b = append(b, '<', '/')
	b = append(b, name...)
	return append(b, '>')
}

// appendIntElem appends <name>v</name>.
func appendIntElem(b []byte, name string, v int) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = strconv.AppendInt(b, int64(v), 10)
	b = append(b, '<', '/')
	b = append(b, name...)
	return append(b, '>')
}

// endElem closes the element name whose start tag ended (with '>') at
// pos.
// If nothing was written since, the start tag becomes an empty-element tag,
// so an element without children is always written as <name …/>.
func endElem(b []byte, pos int, name string) []byte {
	if len(b) == pos {
		return append(b[:pos-1], '/', '>')
	}
	b = append(b, '<', '/')
	b = append(b, name...)
	return append(b, '>')
}

// isZeroJID reports whether j is the zero JID (absent).
func isZeroJID(j jid.JID) bool {
	return j.Equal(jid.JID{})
}
