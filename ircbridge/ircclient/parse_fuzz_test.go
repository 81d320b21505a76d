package ircclient

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/ergochat/irc-go/ircreader"
)

// fuzzCharsets are the fallback charsets FuzzIRCParse decodes with: the
// default, single-byte ones, multi-byte and stateful ones, and UTF-16,
// which the configuration accepts and which can decode to any BMP
// character, controls included.
var fuzzCharsets = [...]string{"latin1", "koi8-r", "iso-8859-15", "shift_jis", "gbk", "big5", "euc-kr", "iso-2022-jp", "utf-16le", "utf-16be"}

// asciiCompatible reports whether the fallback charset maps every ASCII
// byte to itself and never produces ASCII from other bytes, so that
// decoding cannot change how a line splits into parameters.
func asciiCompatible(name string) bool {
	switch name {
	case "latin1", "koi8-r", "iso-8859-15":
		return true
	}
	return false
}

// fuzzConn is a Conn with just what parse and decode need.
func fuzzConn(t testing.TB, charset string) *Conn {
	dec, err := Charset(charset)
	if err != nil {
		t.Fatal(err)
	}
	return &Conn{dec: dec, log: slog.New(slog.DiscardHandler)}
}

// FuzzIRCParse feeds arbitrary bytes to the reader's path: ircreader
// splits them into lines (bounded by maxReadBytes), and Conn.parse parses
// and decodes each one. Nothing may panic; a parsed message has an ASCII
// command and a source, parameters and tag values that are valid UTF-8; a
// line that is valid UTF-8 parses exactly as ircmsg parses it (decoding
// changes nothing); with an ASCII-compatible fallback, decoding changes
// neither the command nor the number of parameters, and introduces no
// CR, LF or NUL.
func FuzzIRCParse(f *testing.F) {
	for _, s := range []string{
		":nick!user@host PRIVMSG #chan :hello world",
		":caf\xe9!u@h PRIVMSG #chan :caf\xe9 cr\xe8me",
		":n!u@h PRIVMSG #ch\u00e4n :\xe9t\xe9",
		"@+example.org/t=\xe9t\xe9;msgid=abc :n!u@h PRIVMSG #c :x",
		"@time=2024-01-01T00:00:00.000Z;account=bob :bob!b@h PRIVMSG #c :\x02bold\x02 \x0304red\x03",
		"@a=b\\:c\\sd\\\\ :n TAGMSG #c",
		"@ :n PRIVMSG #c :x", "@= PRIVMSG", "@a=\xff", "@\xff=1 PRIVMSG #c :x",
		"PING :irc.example.org", "ERROR :Closing Link: (bad)", ":srv 001 nick :Welcome",
		":srv 005 nick CHANTYPES=#& PREFIX=(ov)@+ :are supported",
		":srv 353 nick = #c :@op +voice plain", ":srv 332 nick #c :topic \x1ditalic",
		":n!u@h KICK #c nick :reason", ":n!u@h MODE #c +ov a b", ":n!u@h NICK :new",
		":n!u@h PRIVMSG nick :\x01VERSION\x01", ":n!u@h NOTICE nick :\x01PING 123\x01",
		":", ": ", ":src", "   ", "", "\r", "\r\n", "a\x00b", "PRIVMSG #c :a\rb", "PRIV\xffMSG",
		":n!u@h PRIVMSG #c :\xf0\xd2\xc9\xd7\xc5\xd4", "\xfe\xff\x00P\x00I\x00N\x00G",
		"line one\r\nline two\nline three\r\n", strings.Repeat("x", maxReadBytes+10),
		":n PRIVMSG #c :" + strings.Repeat("\xe9", 600),
		"@" + strings.Repeat("k=v;", 2100) + " :n PRIVMSG #c :x",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Add([]byte(":n!u@h PRIVMSG #c :\x93quoted\x94"), uint8(1))
	f.Add([]byte(":n!u@h PRIVMSG #c :\x82\xa0\x82\xa2"), uint8(3))
	f.Add([]byte(":n!u@h PRIVMSG #c :\x1b$B$3$s\x1b(B"), uint8(7))
	f.Add([]byte(":n!u@h PRIVMSG #c :h\x00\n\x00\r\x00i\xff"), uint8(8))
	f.Add([]byte(":n!u@h PRIVMSG #c :\x00h\x00\x20\x00i\xd8"), uint8(9))
	f.Fuzz(func(t *testing.T, data []byte, cs uint8) {
		charset := fuzzCharsets[int(cs)%len(fuzzCharsets)]
		c := fuzzConn(t, charset)
		var lr ircreader.Reader
		lr.Initialize(bytes.NewReader(data), 512, maxReadBytes)
		for {
			raw, err := lr.ReadLine()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, ircreader.ErrReadQ) {
					t.Fatalf("ReadLine: %v", err)
				}
				if errors.Is(err, ircreader.ErrReadQ) && len(data) < maxReadBytes {
					t.Fatalf("ErrReadQ on %d bytes of input", len(data))
				}
				return
			}
			if len(raw) >= maxReadBytes {
				t.Fatalf("line of %d bytes returned (limit %d)", len(raw), maxReadBytes)
			}
			checkParse(t, c, charset, raw)
		}
	})
}

// checkParse checks Conn.parse on one raw line.
func checkParse(t *testing.T, c *Conn, charset string, raw []byte) {
	t.Helper()
	in := slices.Clone(raw)
	msg, ok := c.parse(raw)
	if !bytes.Equal(in, raw) {
		t.Fatalf("parse modified its input %q", in)
	}
	if !ok {
		return
	}
	if msg.Command == "" || !isASCIIUpper(msg.Command) {
		t.Fatalf("%q: command %q", raw, msg.Command)
	}
	if !utf8.ValidString(msg.Source) {
		t.Fatalf("%q: source %q is not UTF-8", raw, msg.Source)
	}
	for i, p := range msg.Params {
		if !utf8.ValidString(p) {
			t.Fatalf("%q: param %d %q is not UTF-8", raw, i, p)
		}
	}
	for k, v := range msg.AllTags() {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			t.Fatalf("%q: tag %q=%q is not UTF-8", raw, k, v)
		}
	}
	if utf8.Valid(raw) {
		want, err := ircmsg.ParseLine(string(raw))
		if err != nil {
			t.Fatalf("%q: parse accepted a line ircmsg refuses (%v)", raw, err)
		}
		if want.Source != msg.Source || want.Command != msg.Command || !slices.Equal(want.Params, msg.Params) {
			t.Fatalf("%q: a UTF-8 line was changed: %q %q %q, want %q %q %q", raw, msg.Source, msg.Command, msg.Params, want.Source, want.Command, want.Params)
		}
		return
	}
	for i, p := range msg.Params {
		if strings.ContainsAny(p, "\r\n\x00") {
			t.Fatalf("%q (%s): param %d %q holds CR, LF or NUL", raw, charset, i, p)
		}
	}
	if raw[0] == '@' {
		return
	}
	// Without tags, parameters are split before they are decoded: the
	// structure of the line does not depend on the charset.
	want, err := ircmsg.ParseLine(string(raw))
	if err != nil {
		t.Fatalf("%q: parse accepted a line ircmsg refuses (%v)", raw, err)
	}
	if want.Command != msg.Command || len(want.Params) != len(msg.Params) {
		t.Fatalf("%q (%s): decoding changed the line's structure: %q %q, want %q %q", raw, charset, msg.Command, msg.Params, want.Command, want.Params)
	}
	if asciiCompatible(charset) {
		for i, p := range want.Params {
			if strings.ContainsRune(p, ' ') != strings.ContainsRune(msg.Params[i], ' ') {
				t.Fatalf("%q (%s): decoding param %d changed its spaces: %q → %q", raw, charset, i, p, msg.Params[i])
			}
		}
	}
}

func isASCIIUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c >= 'a' && c <= 'z' {
			return false
		}
	}
	return true
}
