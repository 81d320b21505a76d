package ircbridge

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"biboumi/ircbridge/ircclient"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// gatedSender blocks every stanza while its lock is held, like an XMPP
// server that stopped reading.
type gatedSender struct {
	gate sync.Mutex
	next Sender
}

func (g *gatedSender) pass() { g.gate.Lock(); g.gate.Unlock() }
func (g *gatedSender) SendMessage(ctx context.Context, m Message) error {
	g.pass()
	return g.next.SendMessage(ctx, m)
}
func (g *gatedSender) SendPresence(ctx context.Context, p Presence) error {
	g.pass()
	return g.next.SendPresence(ctx, p)
}
func (g *gatedSender) SendIQ(ctx context.Context, iq IQ) error {
	g.pass()
	return g.next.SendIQ(ctx, iq)
}

// session returns the registered session of user (nil if none).
func (g *Gateway) sessionOf(user string) *Session {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessions[user]
}

func (s *Session) waitingIRC() int {
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	return s.mb.ircs
}

// TestMailboxBackPressure checks that a session that cannot send holds at
// most ircBacklog IRC events (its connection stops reading), and that
// everything arrives, in order, once it can send again.
func TestMailboxBackPressure(t *testing.T) {
	h := newHarness(t)
	gs := &gatedSender{next: h.rec}
	h.g.out = gs
	c := h.connect()
	s := h.g.sessionOf("alice@localhost")
	if s == nil {
		t.Fatal("no session")
	}
	gs.gate.Lock()
	const lines = 400
	go func() {
		for i := 0; i < lines; i++ {
			if err := c.Write(":Bob!b@h PRIVMSG #test :line " + strconv.Itoa(i)); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.waitingIRC() < ircBacklog {
		if time.Now().After(deadline) {
			t.Fatalf("the mailbox never filled: %d IRC events waiting", s.waitingIRC())
		}
		time.Sleep(time.Millisecond)
	}
	// The connection waits now; give it a chance to overfill.
	for i := 0; i < 50; i++ {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
		if n := s.waitingIRC(); n > ircBacklog {
			t.Fatalf("%d IRC events waiting, bound %d", n, ircBacklog)
		}
	}
	gs.gate.Unlock()
	for i := 0; i < lines; i++ {
		h.rec.expect(t, "message", `body="line `+strconv.Itoa(i)+`"`)
	}
}

// TestSessionRetires checks that a user who left every room costs nothing:
// the session leaves the registry and no goroutine is left.
func TestSessionRetires(t *testing.T) {
	before := runtime.NumGoroutine()
	h := newHarness(t)
	c := h.connect()
	h.g.HandlePresence(t.Context(), Presence{From: jid.MustParse("alice@localhost/phone"),
		To: jid.MustParse(h.room() + "/Alice"), Type: stanza.UnavailablePresence})
	c.Expect(t, "PART")
	c.Send(t, ":Alice!a@127.0.0.1 PART #test")
	c.Expect(t, "QUIT")
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for h.g.sessionOf("alice@localhost") != nil || runtime.NumGoroutine() > before+fakeircGoroutines {
		if time.Now().After(deadline) {
			t.Fatalf("session still registered (%v) or goroutines %d > %d", h.g.sessionOf("alice@localhost") != nil, runtime.NumGoroutine(), before+fakeircGoroutines)
		}
		time.Sleep(time.Millisecond)
	}
}

// fakeircGoroutines is what a fakeirc server runs (its accept loop).
const fakeircGoroutines = 1

// TestSessionCountedOnce replays the interleaving that made the Gateway's
// WaitGroup negative: worker A finds the mailbox empty while the session
// still has a connection and releases it; an item arrives, worker B
// handles it, finds nothing left and retires the session. Only B may end
// the session's count; A, which released before, must just return.
func TestSessionCountedOnce(t *testing.T) {
	h := newHarness(t)
	g := h.g
	owner := jid.MustParse("carol@localhost")
	s := newSession(g, owner)
	g.mu.Lock()
	g.sessions[s.key] = s
	g.wg.Add(1)
	g.mu.Unlock()

	// Worker A: the mailbox is empty, a connection is still open.
	s.mb.mu.Lock()
	s.mb.running = true
	s.mb.mu.Unlock()
	s.servers = map[string]*ircServer{"irc.example": {}}
	s.cfg = g.cfg.Load()
	if next := s.idleOrExit(); next != workerExit {
		t.Fatalf("with a connection open: %v, want workerExit", next)
	}
	// The connection is gone by the time worker B runs.
	s.servers = nil
	if !s.put(mailItem{kind: mailTick}) {
		t.Fatal("the session refused an item before retiring")
	}
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done: // B retired the session and ended its count, once
	case <-time.After(5 * time.Second):
		t.Fatal("the session's count never ended")
	}
	if g.sessionOf("carol@localhost") != nil {
		t.Error("the retired session is still registered")
	}
	if s.put(mailItem{kind: mailTick}) {
		t.Error("a retired session accepted an item")
	}
}

// blockedInIRCHandler counts the goroutines waiting for room in a mailbox.
func blockedInIRCHandler() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[select") && strings.Contains(g, "(*Session).ircHandler") {
			n++
		}
	}
	return n
}

// TestMailboxTwoWaitingConnections checks that two connections of one
// session waiting for room are both woken: with a single wake-up token,
// two takes in a row before the first waiter ran left the second one
// waiting forever (its socket unread, its PINGs unanswered).
func TestMailboxTwoWaitingConnections(t *testing.T) {
	h := newHarness(t)
	s := newSession(h.g, jid.MustParse("dave@localhost"))
	// The test is the worker: mark it running so put starts none.
	s.mb.mu.Lock()
	s.mb.running = true
	for i := 0; i < ircBacklog; i++ {
		s.putLocked(mailItem{kind: mailIRC, irc: ircclient.Progress{}})
	}
	s.mb.mu.Unlock()

	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); s.ircHandler(ircclient.Progress{Text: "from a connection"}) }()
	}
	deadline := time.Now().Add(5 * time.Second)
	for blockedInIRCHandler() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the handlers never blocked")
		}
		time.Sleep(time.Millisecond)
	}
	// The worker handles two items in a row (the woken handler has not run yet).
	prev := runtime.GOMAXPROCS(1)
	s.take()
	s.take()
	runtime.GOMAXPROCS(prev)
	// Then it drains everything, as a worker does.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	deadline = time.Now().Add(2 * time.Second)
	for {
		for {
			if _, ok := s.take(); !ok {
				break
			}
		}
		select {
		case <-done:
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailbox empty (%d IRC events waiting) but %d handler(s) still blocked: lost wakeup", s.waitingIRC(), blockedInIRCHandler())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLateTickKeepsTimer checks that the late tick of a stopped timer
// (it fired while the worker stopped it) does not make the session forget
// the timer armed since, which would then run beside a new one.
func TestLateTickKeepsTimer(t *testing.T) {
	h := newHarness(t)
	s := newSession(h.g, jid.MustParse("erin@localhost"))
	s.mb.mu.Lock()
	s.mb.running = true // the test is the worker: ticks stay in the mailbox
	s.mb.mu.Unlock()
	fast := *h.g.cfg.Load()
	fast.ReconnectMin = time.Millisecond
	s.cfg = &fast
	s.armTimer()
	deadline := time.Now().Add(5 * time.Second)
	var late mailItem
	for {
		if it, ok := s.take(); ok {
			late = it
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the timer never ticked")
		}
		time.Sleep(time.Millisecond)
	}
	s.stopTimer() // too late: its tick is the one taken above
	s.cfg = h.g.cfg.Load()
	s.armTimer()
	armed := s.timer
	s.onTick(late.tick)
	if s.timer != armed {
		t.Fatalf("the late tick dropped the armed timer (%p, want %p)", s.timer, armed)
	}
	s.onTick(s.timerGen) // the armed timer's own tick
	if s.timer != nil {
		t.Fatal("the armed timer's tick did not clear it")
	}
	armed.Stop()
}
