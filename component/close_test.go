package component

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
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

// stallingServer accepts one component connection, completes the
// handshake and then never reads again, like an XMPP server that hangs.
func stallingServer(t *testing.T) (addr string, conns chan net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		conns <- c
		acceptHandshake(c, xml.NewDecoder(c)) // then read nothing
	}()
	return ln.Addr().String(), conns
}

// acceptHandshake plays the server's part of the XEP-0114 handshake on c
// (stream id x1, secret testSecret); it reports whether it succeeded.
func acceptHandshake(c net.Conn, d *xml.Decoder) bool {
	next := func() bool {
		for {
			tok, err := d.Token()
			if err != nil {
				return false
			}
			if _, ok := tok.(xml.StartElement); ok {
				return true
			}
		}
	}
	if !next() { // <stream:stream>
		return false
	}
	io.WriteString(c, `<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:component:accept' from='`+testDomain+`' id='x1'>`)
	if !next() { // <handshake>
		return false
	}
	tok, _ := d.Token()
	cd, _ := tok.(xml.CharData)
	sum := sha1.Sum([]byte("x1" + testSecret))
	if strings.TrimSpace(string(cd)) != hex.EncodeToString(sum[:]) {
		return false
	}
	_, err := io.WriteString(c, "<handshake/>")
	return err == nil
}

// TestCloseWhileSenderWaits: with the queue full and the
// link up, a session's Send waits up to queueWait (30 s) for room while
// holding sendMu.RLock. Close(ctx) calls beginClose first, whose
// sendMu.Lock waits for that reader: Close does not honour ctx, and every
// other Send blocks behind the pending Lock meanwhile.
// TestCloseWhileSenderWaits checks that Close honours its context while a
// sender waits for room in a full queue: the sender gives up with
// ErrClosed instead of holding up the shutdown for queueWait.
func TestCloseWhileSenderWaits(t *testing.T) {
	addr, conns := stallingServer(t)
	cfg := testConfig(t, addr)
	cfg.QueueSize = 1
	cfg.WriteTimeout = time.Minute
	l := New(cfg, newRecorder())
	runLink(t, l)
	select {
	case <-l.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("not ready")
	}
	var server net.Conn
	select {
	case server = <-conns:
	case <-time.After(time.Second):
		t.Fatal("no server conn")
	}
	big := strings.Repeat("x", 256<<10)
	var lastReturn atomic.Int64
	lastReturn.Store(time.Now().UnixNano())
	go func() {
		for i := 0; ; i++ {
			err := l.SendMessage(context.Background(), ircbridge.Message{From: j(occup), To: j(user), Type: stanza.GroupChatMessage, ID: "m", Body: big})
			lastReturn.Store(time.Now().UnixNano())
			if err != nil {
				return
			}
		}
	}()
	// Wait until a sender has been blocked for a while (kernel buffers full,
	// writer stuck in Write, queue full).
	deadline := time.Now().Add(10 * time.Second)
	for time.Since(time.Unix(0, lastReturn.Load())) < 300*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatal("the queue never filled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	closed := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		closed <- l.Close(ctx)
	}()
	select {
	case err := <-closed:
		t.Logf("Close returned after %v: %v", time.Since(start), err)
	case <-time.After(3 * time.Second):
		// Unwedge for the cleanup: free the queue and break the socket.
		go func() {
			for {
				select {
				case <-l.queue:
				case <-time.After(time.Second):
					return
				}
			}
		}()
		server.Close()
		err := <-closed
		t.Fatalf("Close(ctx with 200ms timeout) did not return within 3s (returned after %v: %v): beginClose waits for a sender blocked in enqueue", time.Since(start), err)
	}
}
