package ircbridge

import (
	"fmt"

	"mellium.im/xmpp/stanza"
)

// newError builds a stanza error with an optional human-readable text.
func newError(typ stanza.ErrorType, cond stanza.Condition, text string) stanza.Error {
	e := stanza.Error{Type: typ, Condition: cond}
	if text != "" {
		e.Text = map[string]string{"": text}
	}
	return e
}

// ErrorText returns the language-neutral text of e, or "".
func ErrorText(e stanza.Error) string {
	return e.Text[""]
}

func errMalformed(format string, args ...any) error {
	return newError(stanza.Modify, stanza.JIDMalformed, fmt.Sprintf(format, args...))
}
