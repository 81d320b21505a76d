package ircbridge

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"biboumi/ircbridge/fakeirc"

	"mellium.im/xmpp/jid"
)

// occupantCounter counts the stanzas of a join: self-presences and the
// presences of other occupants.
type occupantCounter struct {
	selves, others atomic.Int64
}

func (c *occupantCounter) SendMessage(context.Context, Message) error { return nil }
func (c *occupantCounter) SendIQ(context.Context, IQ) error           { return nil }
func (c *occupantCounter) SendPresence(_ context.Context, p Presence) error {
	switch {
	case p.MUCUser == nil || p.Type != "":
	case len(p.MUCUser.Status) > 0 && p.MUCUser.Status[0] == StatusSelf:
		c.selves.Add(1)
	default:
		c.others.Add(1)
	}
	return nil
}

// BenchmarkMemoryPerUser reports what one bridged user costs the gateway
// once joined: n users (n bare JIDs, so n IRC connections) join m channels
// of fakeirc, each seeing the n occupants of each, like cmd/biboumi-bench's
// sizes. Reported per user, after a collection: live heap (the gateway's
// and fakeirc's side of the socket, about 1 KiB), goroutine stacks, and
// goroutines. Run: go test -run '^$' -bench MemoryPerUser ./ircbridge/
// (with BIBOUMI_HEAP_PROFILE=FILE -memprofilerate 512 for a heap profile at
// that point).
func BenchmarkMemoryPerUser(b *testing.B) {
	for _, size := range []struct{ n, m int }{{100, 5}, {300, 1}} {
		b.Run(fmt.Sprintf("users=%d/channels=%d", size.n, size.m), func(b *testing.B) {
			var heap, stack, gor float64
			for i := 0; i < b.N; i++ {
				heap, stack, gor = memoryPerUser(b, size.n, size.m)
			}
			b.ReportMetric(heap, "heap-B/user")
			b.ReportMetric(stack, "stack-B/user")
			b.ReportMetric(gor, "goroutines/user")
		})
	}
}

func memoryPerUser(b testing.TB, n, m int) (heap, stack, goroutines float64) {
	bench, _ := b.(*testing.B)
	if bench != nil {
		bench.StopTimer()
	}
	srv := fakeirc.NewServer(b)
	cs := &occupantCounter{}
	g := New(Config{Domain: jid.MustParse("irc.localhost"), TLSPorts: []int{}, Ports: []int{srv.Port()},
		Logger: discardLogger(), Limits: Limits{StanzaBurst: 1 << 30, StanzaRate: 1 << 30, ConnectRate: 1e6}}, cs, nil)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		g.Shutdown(ctx)
		srv.Close()
	}()
	before := memSnapshot()
	if bench != nil {
		bench.StartTimer()
	}
	var clients []*fakeirc.Client
	var nicks []string
	for i := 0; i < n; i++ {
		nick := "U" + strconv.Itoa(i)
		for k := 0; k < m; k++ {
			g.HandlePresence(b.Context(), Presence{From: jid.MustParse(fmt.Sprintf("u%d@localhost/r", i)),
				To:  jid.MustParse(fmt.Sprintf("#test%d%%127.0.0.1@irc.localhost/%s", k, nick)),
				MUC: &MUCJoin{History: &HistoryRequest{MaxStanzas: 0, MaxChars: -1, Seconds: -1}}})
		}
		c := srv.Accept(b)
		c.Register(b, nick)
		nicks = append(nicks, nick)
		for k := 0; k < m; k++ {
			channel := c.Expect(b, "JOIN").Params[0]
			join := ":" + nick + "!u" + strconv.Itoa(i) + "@h JOIN " + channel
			for _, o := range clients {
				o.Send(b, join)
			}
			c.Send(b, join)
			for k := 0; k < len(nicks); k += 40 {
				c.Send(b, ":irc.test 353 "+nick+" = "+channel+" :"+strings.Join(nicks[k:min(k+40, len(nicks))], " "))
			}
			c.Send(b, ":irc.test 366 "+nick+" "+channel+" :End of /NAMES list.")
		}
		clients = append(clients, c)
	}
	want := int64(n * (n - 1) * m)
	deadline := time.Now().Add(30 * time.Second)
	for cs.selves.Load() < int64(n*m) || cs.others.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("joins incomplete: %d/%d self-presences, %d/%d occupant presences", cs.selves.Load(), n*m, cs.others.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if bench != nil {
		bench.StopTimer()
	}
	after := memSnapshot()
	if path := os.Getenv("BIBOUMI_HEAP_PROFILE"); path != "" {
		// The heap of the joined gateway, for go tool pprof.
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	runtime.KeepAlive(clients)
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	return per(after.heap, before.heap), per(after.stack, before.stack), per(uint64(after.goroutines), uint64(before.goroutines))
}

type memStats struct {
	heap, stack uint64
	goroutines  int
}

func memSnapshot() memStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memStats{heap: m.HeapAlloc, stack: m.StackInuse, goroutines: runtime.NumGoroutine()}
}

// TestMemoryFlatInRoomSize checks that a user's memory does not grow with
// the number of people in its channels: occupant lists are shared between
// the users who see the same channel (occupants.go). Without the sharing,
// each of 200 users holds 200 occupants (about 30 KiB more per user than
// with 50). It also checks that an idle user costs one goroutine.
func TestMemoryFlatInRoomSize(t *testing.T) {
	if testing.Short() {
		t.Skip("joins 250 users")
	}
	small, _, _ := memoryPerUser(t, 50, 1)
	large, _, goroutines := memoryPerUser(t, 200, 1)
	// An idle user is its IRC connection's reader, nothing more: the
	// session's worker runs only while it has work (mailbox.go).
	if goroutines > 1.01 {
		t.Errorf("%.2f goroutines per idle user, want 1", goroutines)
	}
	t.Logf("heap per user: %.0f B with 50 users in the channel, %.0f B with 200", small, large)
	if large > small+4096 {
		t.Errorf("heap per user grows with the channel: %.0f B at 50 users, %.0f B at 200", small, large)
	}
}
