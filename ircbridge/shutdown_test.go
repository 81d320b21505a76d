package ircbridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// TestLeaveWhileReconnecting checks that leaving the last room of a
// connection that waits to reconnect ends that connection's state at
// once: there is no Closed event left to wait for, and the session must
// retire.
func TestLeaveWhileReconnecting(t *testing.T) {
	h := lostConnection(t, 10*time.Second)
	// The user leaves the room before the retry.
	h.g.HandlePresence(t.Context(), Presence{From: alicePhone, To: jid.MustParse(h.room() + "/Alice"), Type: stanza.UnavailablePresence})
	h.rec.expect(t, "presence", `type="unavailable"`, "/Alice")
	h.waitRetired("alice@localhost")
}

// TestShutdownWhileReconnecting checks that a shutdown gives up a
// connection waiting to reconnect at once (no redial, no wait for the
// grace period) and tells the user they are out of its rooms.
func TestShutdownWhileReconnecting(t *testing.T) {
	h := lostConnection(t, time.Second) // the retry falls within the 2 s the old code waited
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := h.g.Shutdown(ctx)
	took := time.Since(start)
	redialed, left := false, false
	for {
		select {
		case v := <-h.rec.ch:
			d := describe(v)
			if strings.Contains(d, "Connecting to 127.0.0.1") {
				redialed = true
			}
			if strings.Contains(d, `type="unavailable"`) && strings.Contains(d, "/Alice") && strings.Contains(d, "codes=[110 332]") {
				left = true
			}
			continue
		default:
		}
		break
	}
	if redialed {
		t.Errorf("the session redialed the IRC server during Shutdown")
	}
	if !left {
		t.Errorf("no unavailable self-presence (110, 332) for the room of the given-up connection")
	}
	if err != nil {
		t.Fatalf("graceful Shutdown with a connection waiting to reconnect: %v after %v (nothing was left to wait for)", err, took)
	}
}

// TestShutdownWithOpenAdhoc checks that an unfinished ad-hoc command does
// not hold a graceful shutdown until its deadline.
func TestShutdownWithOpenAdhoc(t *testing.T) {
	h := newHarness(t)
	iq := h.command(alicePhone, "irc.localhost", "c1", &Command{Node: "hello"})
	if c, _ := iq.Payload.(*Command); c == nil || c.Status != statusExecuting {
		t.Fatalf("hello did not open a command session: %s", describe(iq))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	if err := h.g.Shutdown(ctx); err != nil {
		t.Fatalf("graceful Shutdown with nothing but an open ad-hoc command: %v after %v", err, time.Since(start))
	}
}

// TestDisconnectWhileReconnecting checks that disconnecting from a server
// that waits to reconnect takes the user out of its rooms and lets the
// session retire.
func TestDisconnectWhileReconnecting(t *testing.T) {
	h := lostConnection(t, 10*time.Second)
	iq := h.command(alicePhone, "irc.localhost", "s1", &Command{Node: "disconnect-from-irc-server"})
	cmd := iq.Payload.(*Command)
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: jid.MustParse("irc.localhost"), ID: "s2", Type: stanza.SetIQ, Payload: &Command{
		Node: "disconnect-from-irc-server", SessionID: cmd.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "irc-servers", Values: []string{"127.0.0.1"}}}}}})
	h.rec.expect(t, "presence", `type="unavailable"`, "/Alice", "codes=[110 332]")
	if iq := h.rec.expect(t, "iq", `id="s2"`).(IQ); iq.Type != stanza.ResultIQ {
		t.Fatalf("disconnect: %s", describe(iq))
	}
	h.waitRetired("alice@localhost")
}

// lostConnection returns a harness where Alice joined #test and the IRC
// server then went away: a reconnection is scheduled reconnectMin later.
func lostConnection(t *testing.T, reconnectMin time.Duration) *harness {
	t.Helper()
	h := newHarness(t)
	h.g.SetConfig(Config{Domain: jid.MustParse("irc.localhost"), TLSPorts: []int{}, Ports: []int{h.irc.Port()},
		ReconnectMin: reconnectMin, ReconnectSpread: -1})
	h.connect().Close()
	h.rec.expect(t, "groupchat", "from="+h.room(), "Connection to the IRC server lost")
	return h
}

// waitRetired waits until user's session left the registry.
func (h *harness) waitRetired(user string) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.g.sessionOf(user) != nil {
		if time.Now().After(deadline) {
			h.t.Fatalf("the session of %s never retires", user)
		}
		time.Sleep(time.Millisecond)
	}
}
