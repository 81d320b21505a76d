package ircclient

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ergochat/irc-go/ircmsg"

	"biboumi/ircbridge/fakeirc"
)

// hostileLine is one hostile input from an IRC server.
type hostileLine struct {
	name string
	line string // written followed by CR LF
	// Exactly one outcome:
	skip    bool                                    // no event for it; the connection stays up
	deliver func(t *testing.T, events <-chan Event) // reads and checks its Line event(s)
	closed  string                                  // the connection ends with this Closed.Text
}

// lineWith returns a deliver check: one PRIVMSG Line with these source
// and parameters.
func lineWith(source string, params ...string) func(t *testing.T, events <-chan Event) {
	return func(t *testing.T, events <-chan Event) {
		t.Helper()
		m := expectLine(t, events, "PRIVMSG").Msg
		if m.Source != source || !slices.Equal(m.Params, params) {
			t.Errorf("got %q %.200q, want %q %.200q", m.Source, m.Params, source, params)
		}
	}
}

// longLine returns a PRIVMSG of exactly n bytes, CR LF included.
func longLine(n int) string {
	p := ":a PRIVMSG #c :"
	return p + strings.Repeat("x", n-2-len(p))
}

var hostileLines = []hostileLine{
	// Length. The reader takes lines of up to maxReadBytes (8191 bytes
	// of tags + 512), CR LF included; a longer one cannot be skipped
	// (ircreader cannot resynchronise) and ends the connection.
	{name: "line of 512 bytes", line: longLine(512), deliver: lineWith("a", "#c", longLine(512)[len(":a PRIVMSG #c :"):])},
	{name: "line over 512 bytes without tags", line: longLine(2000), deliver: lineWith("a", "#c", longLine(2000)[len(":a PRIVMSG #c :"):])},
	{name: "line of exactly maxReadBytes", line: longLine(maxReadBytes), deliver: lineWith("a", "#c", longLine(maxReadBytes)[len(":a PRIVMSG #c :"):])},
	{name: "line one byte over maxReadBytes", line: longLine(maxReadBytes + 1), closed: "Line too long"},
	{name: "line far over maxReadBytes", line: longLine(10 * maxReadBytes), closed: "Line too long"},
	{
		name: "8 KiB of tags",
		line: "@" + strings.Repeat("k=v;", 2000) + "last=1 :a PRIVMSG #c :tagged",
		deliver: func(t *testing.T, events <-chan Event) {
			m := expectLine(t, events, "PRIVMSG").Msg
			if _, v := m.GetTag("last"); v != "1" || m.Params[1] != "tagged" {
				t.Errorf("got %q, tag last=%q", m.Params, v)
			}
		},
	},
	{
		name: "many parameters",
		line: ":a MODE #c +" + strings.Repeat("o", 1000) + strings.Repeat(" n", 1000),
		deliver: func(t *testing.T, events <-chan Event) {
			if m := expectLine(t, events, "MODE").Msg; len(m.Params) != 1002 {
				t.Errorf("%d params, want 1002", len(m.Params))
			}
		},
	},
	// Bytes that ircmsg refuses: the line is skipped.
	{name: "NUL in the middle", line: ":a PRIVMSG #c :nul\x00byte", skip: true},
	{name: "NUL in the source", line: ":a\x00b PRIVMSG #c :x", skip: true},
	{name: "lone CR in the middle", line: ":a PRIVMSG #c :one\rtwo", skip: true},
	{name: "CR before the command", line: "\r:a PRIVMSG #c :x", skip: true},
	// Line ends.
	{name: "extra CR at the end", line: ":a PRIVMSG #c :x\r", deliver: lineWith("a", "#c", "x")},
	{
		name: "LF alone ends a line",
		line: ":a PRIVMSG #c :one\n:b PRIVMSG #c :two",
		deliver: func(t *testing.T, events <-chan Event) {
			lineWith("a", "#c", "one")(t, events)
			lineWith("b", "#c", "two")(t, events)
		},
	},
	// Encodings: whatever is not UTF-8 is decoded from the fallback
	// (latin1, that is windows-1252), parameter by parameter.
	{name: "latin1 text", line: ":a PRIVMSG #c :caf\xe9", deliver: lineWith("a", "#c", "café")},
	{name: "UTF-8 and latin1 in one parameter", line: ":a PRIVMSG #c :é\xe9", deliver: lineWith("a", "#c", "Ã©é")},
	{name: "latin1 source", line: ":\xe9!u@h PRIVMSG #c :x", deliver: lineWith("é!u@h", "#c", "x")},
	{name: "truncated UTF-8 sequence", line: ":a PRIVMSG #c :\xe2\x82", deliver: lineWith("a", "#c", "â‚")},
	{name: "UTF-8 encoded surrogate", line: ":a PRIVMSG #c :\xed\xa0\x80", deliver: lineWith("a", "#c", "í\u00a0€")},
	{name: "non-ASCII command", line: ":a PRIV\xc9MSG #c :x", skip: true},
	{name: "UTF-8 command", line: ":a PRIVMSGÉ #c :x", skip: true},
	// Malformed prefixes.
	{name: "colon alone", line: ":", skip: true},
	{name: "source without a command", line: ":nick!user@host", skip: true},
	{name: "source and a space", line: ":nick!user@host ", skip: true},
	{name: "empty source", line: ": PRIVMSG #c :x", deliver: lineWith("", "#c", "x")},
	{name: "colons as source", line: "::: PRIVMSG #c :x", deliver: lineWith("::", "#c", "x")},
	{name: "odd nick!user@host", line: ":a!b!c@d@e PRIVMSG #c :x", deliver: lineWith("a!b!c@d@e", "#c", "x")},
	{name: "leading spaces", line: "   :a   PRIVMSG   #c   :x", deliver: lineWith("a", "#c", "x")},
	// Malformed tags.
	{name: "at sign alone", line: "@", skip: true},
	{name: "tags without a command", line: "@a=b", skip: true},
	{name: "tags and a space", line: "@a=b ", skip: true},
	{name: "empty tag names", line: "@;;=;= :a PRIVMSG #c :x", deliver: lineWith("a", "#c", "x")},
	{
		name: "tag escapes",
		line: `@a=\:\s\\\r\n\q\ :a PRIVMSG #c :x`,
		deliver: func(t *testing.T, events <-chan Event) {
			m := expectLine(t, events, "PRIVMSG").Msg
			if _, v := m.GetTag("a"); v != "; \\\r\nq" {
				t.Errorf("tag a = %q", v)
			}
		},
	},
	{
		name: "latin1 tag value",
		line: "@a=\xe9 :a PRIVMSG #c :x",
		deliver: func(t *testing.T, events <-chan Event) {
			m := expectLine(t, events, "PRIVMSG").Msg
			if _, v := m.GetTag("a"); v != "é" {
				t.Errorf("tag a = %q", v)
			}
		},
	},
	{
		name: "latin1 tag name",
		line: "@\xe9=1;b=2 :a PRIVMSG #c :x",
		deliver: func(t *testing.T, events <-chan Event) {
			m := expectLine(t, events, "PRIVMSG").Msg
			if _, v := m.GetTag("b"); v != "2" || len(m.AllTags()) != 1 {
				t.Errorf("tags %q", m.AllTags())
			}
		},
	},
	// Empty and blank lines.
	{name: "empty line", line: "", skip: true},
	{name: "blank line", line: "    ", skip: true},
	// ERROR ends the connection, with its text.
	{name: "ERROR without text", line: "ERROR", closed: ""},
	{name: "ERROR with latin1 text", line: "ERROR :Closing link: caf\xe9", closed: "Closing link: café"},
}

// TestHostileLines sends each hostile line, then a good one, on a
// registered connection and checks the documented outcome: skipped (and
// the good line still arrives), delivered decoded to valid UTF-8, or the
// connection closed with the documented text.
func TestHostileLines(t *testing.T) {
	t.Parallel()
	for _, tc := range hostileLines {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeirc.NewServer(t)
			events := make(chan Event, 64)
			c, cl := registered(t, srv, baseConfig(t, srv, events), events, "nick")
			cl.Send(t, tc.line)
			// After a line that ends the connection, this write may fail.
			ends := !tc.skip && tc.deliver == nil
			if err := cl.Write(":good!g@h PRIVMSG #c :good"); err != nil && !ends {
				t.Fatal(err)
			}
			switch {
			case tc.skip:
			case tc.deliver != nil:
				tc.deliver(t, events)
			default:
				closed := expectClosed(t, c, events)
				if closed.Text != tc.closed || closed.Err == nil {
					t.Fatalf("Closed = %q, %v; want %q", closed.Text, closed.Err, tc.closed)
				}
				var se *ServerError
				if strings.HasPrefix(tc.line, "ERROR") != errors.As(closed.Err, &se) {
					t.Errorf("Closed.Err = %#v", closed.Err)
				}
				return
			}
			l := expectLine(t, events, "PRIVMSG")
			if l.Msg.Source != "good!g@h" || l.Msg.Params[1] != "good" {
				t.Fatalf("got %q %q, want the good line", l.Msg.Source, l.Msg.Params)
			}
			checkUTF8(t, l.Msg)
		})
	}
}

func checkUTF8(t *testing.T, m ircmsg.Message) {
	t.Helper()
	for _, s := range append([]string{m.Source}, m.Params...) {
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8: %q", s)
		}
	}
}

// TestUnrequestedCapAck checks that capabilities the server ACKs without
// our asking are not recorded: a hostile server could otherwise grow the
// list (and the cost of each ACK) without bound.
func TestUnrequestedCapAck(t *testing.T) {
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 1000)
	cfg := baseConfig(t, srv, events)
	c, cl := registered(t, srv, cfg, events, "nick")
	before := c.AckedCaps()
	for i := range 20 {
		var b strings.Builder
		for j := range 100 {
			fmt.Fprintf(&b, "c%d_%d ", i, j)
		}
		cl.Send(t, ":srv CAP nick ACK :"+strings.TrimSpace(b.String()))
	}
	cl.Send(t, ":srv PING :sync")
	cl.Expect(t, "PONG")
	if got := c.AckedCaps(); !slices.Equal(got, before) {
		t.Fatalf("%d capabilities recorded, %d before the unrequested ACKs", len(got), len(before))
	}
}
