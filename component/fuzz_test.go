package component

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"biboumi/ircbridge"
)

// checker is a Handler that re-encodes everything it receives: whatever
// the server sent, what the gateway may echo back must be valid XML.
type checker struct{ t *testing.T }

func (c checker) check(b []byte) {
	if err := wellFormed(b); err != nil {
		c.t.Fatalf("re-encoding a decoded stanza: %v", err)
	}
}

func (c checker) HandleMessage(_ context.Context, m ircbridge.Message) {
	c.check(encodeMessage(&m))
}

func (c checker) HandlePresence(_ context.Context, p ircbridge.Presence) {
	c.check(encodePresence(&p))
}

func (c checker) HandleIQ(_ context.Context, iq ircbridge.IQ) {
	if iq.ID == "" || iq.Type == "" {
		c.t.Fatalf("delivered an iq without id or type: %#v", iq)
	}
	b, err := encodeIQ(&iq)
	if err != nil {
		c.t.Fatal(err)
	}
	c.check(b)
}

// FuzzDecode feeds arbitrary bytes to the read path, as the content of the
// server's stream. It must never panic, and every reply and every
// re-encoded stanza must be valid XML.
// Seeds: testdata/xml/decode/*.xml and the test tables.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "xml", "decode", "*.xml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, tc := range decodeTests {
		if tc.in[0] != '@' {
			f.Add([]byte(tc.in))
		}
	}
	for _, tc := range badTests {
		if len(tc.in) < 4096 {
			f.Add([]byte(tc.in + goodAfter))
		}
	}
	f.Add([]byte(" \n <stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"))
	f.Add([]byte("<message from='a@b' to='c@d'><body>\x01</body></message>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		onPanic := func(v any) { t.Fatalf("panic: %v", v) }
		replies, _ := runStreamPanic(data, checker{t}, Config{MaxStanzaBytes: 4096, MaxBodyBytes: 1024}, onPanic)
		for _, r := range replies {
			if err := wellFormed(r); err != nil {
				t.Fatalf("reply: %v", err)
			}
		}
	})
}
