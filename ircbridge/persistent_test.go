package ircbridge

import (
	"slices"
	"testing"
	"time"

	"biboumi/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// keptList returns the kept channels of the store as "server channel".
func keptList(t *testing.T, st store.Store) []string {
	t.Helper()
	kept, err := st.KeptChannels(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range kept {
		out = append(out, c.Owner.String()+" "+c.Server+" "+c.Channel)
	}
	return out
}

// waitKept waits until the kept channels are want.
func waitKept(t *testing.T, st store.Store, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := keptList(t, st)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kept channels %q, want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func setGlobalPersistent(t *testing.T, st store.Store, on bool) {
	t.Helper()
	g := store.DefaultGlobalOptions(jid.MustParse("alice@localhost"))
	g.Persistent = store.TristateOf(on)
	if err := st.StoreGlobalOptions(t.Context(), g); err != nil {
		t.Fatal(err)
	}
}

// TestKeptChannels checks that the channels the user's global persistent
// option keeps are joined again when the gateway starts, and forgotten
// when the user leaves them for good.
func TestKeptChannels(t *testing.T) {
	h := newHarness(t, true)
	setGlobalPersistent(t, h.st, true)
	c := h.connect()
	// Recorded once the join is complete.
	waitKept(t, h.st, "alice@localhost 127.0.0.1 #test")

	// The last client leaves: no PART, still recorded.
	h.g.HandlePresence(t.Context(), Presence{From: alicePhone, To: jid.MustParse(h.room() + "/Alice"), Type: stanza.UnavailablePresence})
	h.rec.expect(t, "presence", `type="unavailable"`, "/Alice", "codes=[110]")
	c.ExpectSilence(t, 50*time.Millisecond)

	// The gateway stops: QUIT, and the record stays.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		done <- h.g.Shutdown(ctx)
	}()
	c.Expect(t, "QUIT")
	c.Close()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	waitKept(t, h.st, "alice@localhost 127.0.0.1 #test")

	// A new gateway on the same database joins it again.
	g2 := New(Config{Domain: jid.MustParse("irc.localhost"), TLSPorts: []int{}, Ports: []int{h.irc.Port()}, Version: "test"}, h.rec, h.st)
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(300 * time.Millisecond)
		defer cancel()
		g2.Shutdown(ctx)
	})
	if n, err := g2.RejoinPersistent(t.Context()); n != 1 || err != nil {
		t.Fatalf("RejoinPersistent = %d, %v", n, err)
	}
	c = h.irc.Accept(t)
	c.Register(t, "alice")
	c.ExpectLine(t, "JOIN #test")
	c.Send(t, ":alice!a@127.0.0.1 JOIN #test")
	c.Send(t, ":irc.test 366 alice #test :End of /NAMES list.")

	// Kicked: the user is out for good, the record goes.
	c.Send(t, ":Bob!b@h KICK #test alice :out")
	waitKept(t, h.st)
}

// TestKeptChannelsOptionOff checks that a kept channel is not joined at
// start-up once the user turned the global option off, and is forgotten.
func TestKeptChannelsOptionOff(t *testing.T) {
	h := newHarness(t, true)
	setGlobalPersistent(t, h.st, false)
	if err := h.st.KeepChannel(t.Context(), store.KeptChannel{Owner: jid.MustParse("alice@localhost"), Server: "127.0.0.1", Channel: "#test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.g.RejoinPersistent(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitKept(t, h.st)
	// No connection: the session, with nothing to do, retires.
	h.waitRetired("alice@localhost")
}

// TestKeptChannelsPart checks that leaving once the option is off parts
// the channel and forgets the record.
func TestKeptChannelsPart(t *testing.T) {
	h := newHarness(t, true)
	setGlobalPersistent(t, h.st, true)
	c := h.connect()
	waitKept(t, h.st, "alice@localhost 127.0.0.1 #test")
	// The user turns the global option off with the configure command.
	cmd := h.command(alicePhone, "irc.localhost", "c1", &Command{Node: "configure"}).Payload.(*Command)
	iq := h.command(alicePhone, "irc.localhost", "c2", &Command{Node: "configure", SessionID: cmd.SessionID, Action: actionComplete,
		Form: &Form{Type: "submit", Fields: []FormField{{Var: "persistent", Values: []string{"false"}}}}})
	if iq.Type != stanza.ResultIQ {
		t.Fatalf("configure: %s", describe(iq))
	}
	h.g.HandlePresence(t.Context(), Presence{From: alicePhone, To: jid.MustParse(h.room() + "/Alice"), Type: stanza.UnavailablePresence})
	c.Expect(t, "PART")
	c.Send(t, ":Alice!a@127.0.0.1 PART #test")
	waitKept(t, h.st)
}
