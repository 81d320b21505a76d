package ircbridge

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"biboumi/ircbridge/fakeirc"
	"biboumi/store"
	"biboumi/store/sqlstore"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// countSender counts stanzas and signals when want have arrived.
type countSender struct {
	n      atomic.Int64
	want   atomic.Int64
	done   chan struct{}
	selves atomic.Int64 // self-presences seen
}

func (c *countSender) add() {
	if c.n.Add(1) == c.want.Load() {
		c.done <- struct{}{}
	}
}
func (c *countSender) SendMessage(context.Context, Message) error { c.add(); return nil }
func (c *countSender) SendPresence(_ context.Context, p Presence) error {
	if p.MUCUser != nil && len(p.MUCUser.Status) > 0 && p.MUCUser.Status[0] == StatusSelf {
		c.selves.Add(1)
	}
	c.add()
	return nil
}
func (c *countSender) SendIQ(context.Context, IQ) error { c.add(); return nil }

// benchRoom joins #test with users resources of alice, through fakeirc,
// and returns the IRC side and the sender once the join is done.
func benchRoom(b *testing.B, withStore bool, users int) (*fakeirc.Client, *countSender, *Gateway) {
	srv := fakeirc.NewServer(b)
	cs := &countSender{done: make(chan struct{}, 1)}
	var st store.Store
	if withStore {
		s, err := sqlstore.Open(b.Context(), store.DriverSQLite, filepath.Join(b.TempDir(), "db.sqlite"), sqlstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		// Unthrottled: the benchmark measures the gateway, not the token
		// bucket that protects IRC servers from floods.
		o := store.DefaultServerOptions(jid.MustParse("alice@localhost"), "127.0.0.1")
		o.Ports, o.TLSPorts, o.ThrottleLimit = []int{srv.Port()}, []int{}, -1
		if err := s.StoreServerOptions(b.Context(), o); err != nil {
			b.Fatal(err)
		}
		st = s
	}
	g := New(Config{Domain: jid.MustParse("irc.localhost"), TLSPorts: []int{}, Ports: []int{srv.Port()},
		Logger: discardLogger(), Limits: Limits{StanzaBurst: 1 << 30, StanzaRate: 1 << 30}}, cs, st)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		g.Shutdown(ctx)
	})
	for i := 0; i < users; i++ {
		g.HandlePresence(b.Context(), Presence{From: jid.MustParse("alice@localhost/r" + strconv.Itoa(i)),
			To: jid.MustParse("#test%127.0.0.1@irc.localhost/Alice"), MUC: &MUCJoin{History: &HistoryRequest{MaxChars: 0, MaxStanzas: -1, Seconds: -1}}})
	}
	c := srv.Accept(b)
	c.Register(b, "Alice")
	c.Expect(b, "JOIN")
	c.Send(b, ":Alice!a@h JOIN #test")
	c.Send(b, ":irc.test 353 Alice = #test :Alice @Bob")
	c.Send(b, ":irc.test 366 Alice #test :End")
	// Wait for the self-presences, then for the subjects that follow.
	deadline := time.Now().Add(5 * time.Second)
	for cs.selves.Load() < int64(users) {
		if time.Now().After(deadline) {
			b.Fatal("the join did not complete")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	return c, cs, g
}

// BenchmarkIRCToStanza measures a channel line from IRC to the stanzas of
// the user's resources (one resource), with and without archiving.
func BenchmarkIRCToStanza(b *testing.B) {
	for _, archive := range []bool{false, true} {
		name := "archive=off"
		if archive {
			name = "archive=on"
		}
		b.Run(name, func(b *testing.B) {
			c, cs, _ := benchRoom(b, archive, 1)
			line := ":Bob!b@h PRIVMSG #test :a typical line of chat, about sixty bytes long"
			cs.n.Store(0)
			cs.want.Store(int64(b.N))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Send(b, line)
			}
			<-cs.done
		})
	}
}

// BenchmarkStanzaToIRC measures a groupchat message from XMPP to its IRC
// line and reflection.
func BenchmarkStanzaToIRC(b *testing.B) {
	c, cs, g := benchRoom(b, true, 1)
	from, to := jid.MustParse("alice@localhost/r0"), jid.MustParse("#test%127.0.0.1@irc.localhost")
	cs.n.Store(0)
	cs.want.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	var read atomic.Int64
	go func() {
		for i := 0; i < b.N; i++ {
			// Keep at most 64 lines in flight, well within the
			// connection's queue (a user beyond it gets an error).
			for int64(i)-read.Load() > 64 {
				time.Sleep(10 * time.Microsecond)
			}
			for !g.post(from, evMessage{Message{From: from, To: to, Type: stanza.GroupChatMessage, Body: "a typical line of chat"}}) {
				time.Sleep(10 * time.Microsecond) // the session's queue is full: wait for it
			}
		}
	}()
	for i := 0; i < b.N; i++ {
		c.Expect(b, "PRIVMSG")
		read.Add(1)
	}
	<-cs.done
}
