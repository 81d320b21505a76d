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
	n    atomic.Int64
	want atomic.Int64
	done chan struct{}
}

func (c *countSender) add() {
	if c.n.Add(1) == c.want.Load() {
		c.done <- struct{}{}
	}
}
func (c *countSender) SendMessage(context.Context, Message) error { c.add(); return nil }
func (c *countSender) SendPresence(context.Context, Presence) error {
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
	// Wait for the self-presences and subjects (and gateway messages).
	deadline := time.Now().Add(5 * time.Second)
	for cs.n.Load() < int64(3*users) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
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
	c, cs, g := benchRoom(b, false, 1)
	from, to := jid.MustParse("alice@localhost/r0"), jid.MustParse("#test%127.0.0.1@irc.localhost")
	cs.n.Store(0)
	cs.want.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i++ {
			for !g.post(from, evMessage{Message{From: from, To: to, Type: stanza.GroupChatMessage, Body: "a typical line of chat"}}) {
				time.Sleep(10 * time.Microsecond) // the session's queue is full: wait for it
			}
		}
	}()
	for i := 0; i < b.N; i++ {
		c.Expect(b, "PRIVMSG")
	}
	<-cs.done
}
