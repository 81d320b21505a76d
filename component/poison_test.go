package component

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/xmpp/stanza"

	"biboumi/ircbridge"
)

// limitServer is a component server that ends the stream with a
// policy-violation error when a stanza exceeds limit bytes, as XMPP
// servers with a stanza size limit do.
type limitServer struct {
	ln     net.Listener
	limit  int
	authed atomic.Int32
	marker atomic.Bool
}

func (s *limitServer) serve(c net.Conn) {
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(32 << 10)
	if !acceptHandshake(c, xml.NewDecoder(c)) {
		return
	}
	s.authed.Add(1)
	var cur []byte // bytes since the last '>' at top level (approximation)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		cur = append(cur, buf[:n]...)
		if bytes.Contains(cur, []byte("MARKER")) {
			s.marker.Store(true)
		}
		if i := bytes.LastIndex(cur, []byte("</message>")); i >= 0 {
			cur = cur[i+len("</message>"):]
		}
		if len(cur) > s.limit {
			io.WriteString(c, "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")
			c.(*net.TCPConn).SetLinger(0)
			return
		}
	}
}

// An outgoing stanza the server refuses as too large (the 376 MOTD
// message, a disco#items page with a huge <max/>) is written again first
// on every new connection if the write of it failed: the link flaps
// forever and nothing else is ever delivered, for every user.
// TestOversizedStanzaDoesNotBlockLink checks that a stanza the XMPP
// server refuses on every connection (larger than its stanza limit: it
// ends the stream while the stanza is being written) is dropped after
// poisonRetries connections, and what was queued after it is delivered.
func TestOversizedStanzaDoesNotBlockLink(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &limitServer{ln: ln, limit: 256 << 10}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	defer ln.Close()
	cfg := testConfig(t, ln.Addr().String())
	cfg.Logger = nil
	l := New(cfg, newRecorder())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-l.Ready()
	big := ircbridge.Message{From: testDomainJID, To: testDomainJID, Type: stanza.ChatMessage, Body: strings.Repeat("m", 16<<20)}
	l.SendMessage(ctx, big)
	l.SendMessage(ctx, ircbridge.Message{From: testDomainJID, To: testDomainJID, Type: stanza.ChatMessage, Body: "MARKER"})
	deadline := time.Now().Add(10 * time.Second)
	for !s.marker.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("after %d connections the stanza queued after the oversized one was never delivered", s.authed.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.authed.Load(); n > poisonRetries+1 {
		t.Errorf("%d connections before the oversized stanza was dropped, want at most %d", n, poisonRetries+1)
	}
}
