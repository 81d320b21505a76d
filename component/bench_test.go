package component

import (
	"bufio"
	"context"
	"log/slog"
	"testing"

	"mellium.im/xmpp/stanza"

	"biboumi/ircbridge"
)

// BenchmarkEncodeGroupchat measures the hot outgoing path: one groupchat
// message with a stanza-id, rendered to bytes (what Link.SendMessage does
// before queueing).
func BenchmarkEncodeGroupchat(b *testing.B) {
	m := ircbridge.Message{
		From: j(occup), To: j(user), ID: "3f1c2b5e-8a4d-4b6e-9c1a-2d3e4f5a6b7c", Type: stanza.GroupChatMessage,
		Body:     "so I rebased the branch onto main and now the tests pass, can someone review?",
		StanzaID: &ircbridge.StanzaID{ID: "6b1b5b8e-1f0e-4f43-9b9e-0c1f0f7e4a11", By: j(room)},
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n += len(encodeMessage(&m))
	}
	b.SetBytes(int64(n / b.N))
}

// repeat is an endless reader over the same bytes.
type repeat struct {
	b   []byte
	off int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}

type nopHandler struct{ n int }

func (h *nopHandler) HandleMessage(context.Context, ircbridge.Message)   { h.n++ }
func (h *nopHandler) HandlePresence(context.Context, ircbridge.Presence) { h.n++ }
func (h *nopHandler) HandleIQ(context.Context, ircbridge.IQ)             { h.n++ }

// BenchmarkDecodeMessage measures the incoming path for a typical client
// groupchat message: token walk, JID parsing, decoding and dispatch.
func BenchmarkDecodeMessage(b *testing.B) {
	raw := []byte(`<message from='user@localhost/phone' to='#chan%irc.example.org@irc.localhost' type='groupchat' id='b6e1c1d2-7f0e-4d8e-9a31-5c7b2f0e9d11' xml:lang='en'><body>so I rebased the branch onto main and now the tests pass, can someone review?</body><active xmlns='http://jabber.org/protocol/chatstates'/><origin-id xmlns='urn:xmpp:sid:0' id='b6e1c1d2-7f0e-4d8e-9a31-5c7b2f0e9d11'/></message>`)
	cfg := Config{Domain: testDomainJID}
	cfg.setDefaults()
	rd := newStreamReader(bufio.NewReader(&repeat{b: raw}), limits{
		softDepth: cfg.MaxDepth, hardDepth: hardDepth,
		softBytes: cfg.MaxStanzaBytes, hardBytes: 16 * int64(cfg.MaxStanzaBytes),
	})
	h := &nopHandler{}
	in := &inbound{domain: cfg.Domain, maxBody: cfg.MaxBodyBytes, h: h,
		reply: func([]byte) error { b.Fatal("bounced"); return nil },
		log:   slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		el, iss, err := rd.next()
		if err != nil {
			b.Fatal(err)
		}
		in.handle(ctx, el, iss)
	}
	if h.n == 0 {
		b.Fatal("nothing decoded")
	}
}
