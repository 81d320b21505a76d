package ircclient

import (
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"biboumi/ircbridge/fakeirc"
	"github.com/ergochat/irc-go/ircmsg"
)

// The cost of idle connections: one goroutine each, and send queues that
// hold no memory while empty.

// waitGoroutines polls runtime.NumGoroutine until it equals want, failing
// the test when it does not within eventTimeout.
func waitGoroutines(t testing.TB, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for {
		n := runtime.NumGoroutine()
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%s: %d goroutines, want %d\n%s", what, n, want, buf)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// settledGoroutines returns runtime.NumGoroutine once it has not changed
// for a while, so that goroutines of earlier tests that were still exiting
// do not skew a count.
func settledGoroutines() int {
	n, stable := runtime.NumGoroutine(), 0
	for deadline := time.Now().Add(eventTimeout); stable < 5 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			stable++
		} else {
			n, stable = m, 0
		}
	}
	return n
}

// idleConns are connections opened by openIdle or openSockets.
type idleConns struct {
	conns   []*Conn
	clients []*fakeirc.Client
	raw     []net.Conn // openSockets' client ends
}

// openIdle opens n registered, idle connections to srv. cfg supplies the
// delivery (see newDelivery), which must signal welcomed once per
// connection, at the 422 that ends the welcome burst.
func openIdle(t testing.TB, srv *fakeirc.Server, n int, cfg Config, welcomed <-chan struct{}) idleConns {
	t.Helper()
	var ic idleConns
	for i := range n {
		cfg.Nick = "n" + strconv.Itoa(i)
		c := Dial(t.Context(), cfg)
		cl := srv.Accept(t)
		cl.Register(t, cfg.Nick)
		ic.conns = append(ic.conns, c)
		ic.clients = append(ic.clients, cl)
	}
	for range n {
		select {
		case <-welcomed:
		case <-time.After(eventTimeout):
			t.Fatalf("welcome bursts not all delivered within %v", eventTimeout)
		}
	}
	return ic
}

// close closes every connection and waits for each to be done.
func (ic idleConns) close(t testing.TB) {
	t.Helper()
	for _, c := range ic.conns {
		c.Close()
	}
	for _, c := range ic.conns {
		select {
		case <-c.Done():
		case <-time.After(eventTimeout):
			t.Fatalf("Conn not done within %v of Close", eventTimeout)
		}
	}
	for _, cl := range ic.clients {
		cl.Close()
	}
	for _, nc := range ic.raw {
		nc.Close()
	}
}

// delivery is how openIdle's connections report to the test.
type delivery struct {
	welcomed chan struct{} // one per 422, the end of the welcome burst
	closed   atomic.Int64  // Closed events
	stop     func()        // ends the receiving goroutine of Events, if any; idempotent
}

// newDelivery sets up cfg to deliver the events of n connections on a
// Config.Events channel drained by a goroutine of the test.
func newDelivery(cfg *Config, n int) *delivery {
	d := &delivery{welcomed: make(chan struct{}, n), stop: func() {}}
	deliver := func(ev Event) {
		switch ev := ev.(type) {
		case Line:
			if ev.Msg.Command == "422" {
				d.welcomed <- struct{}{}
			}
		case Closed:
			d.closed.Add(1)
		}
	}
	events := make(chan Event, 64)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for ev := range events {
			deliver(ev)
		}
	}()
	cfg.Events = events
	d.stop = sync.OnceFunc(func() { close(events); <-drained })
	return d
}

// TestIdleGoroutines: an established, idle connection costs exactly one
// goroutine, and none once it is done.
func TestIdleGoroutines(t *testing.T) {
	// Not parallel: it counts the goroutines of the whole process.
	const n = 20
	srv := fakeirc.NewServer(t)
	cfg := baseConfig(t, srv, nil)
	cfg.Logger = nil
	d := newDelivery(&cfg, n)
	defer d.stop()
	base := settledGoroutines()
	ic := openIdle(t, srv, n, cfg, d.welcomed)
	waitGoroutines(t, base+n, "idle connections")
	ic.close(t)
	waitGoroutines(t, base, "after Close and Done")
	d.stop() // every Closed event is counted
	if got := d.closed.Load(); got != n {
		t.Errorf("%d Closed events, want %d", got, n)
	}
}

// TestWriterExits: the writer goroutine runs only while lines wait, and the
// queues keep no memory once drained.
func TestWriterExits(t *testing.T) {
	// Not parallel: it counts the goroutines of the whole process.
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	cfg := baseConfig(t, srv, events)
	cfg.Logger = nil
	base := settledGoroutines()
	c, cl := registered(t, srv, cfg, events, "nick")
	waitGoroutines(t, base+1, "registered")
	idle := func() {
		t.Helper()
		waitGoroutines(t, base+1, "after the burst")
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.writing || c.queue != nil || c.ctrl != nil {
			t.Errorf("writer running %v, queue %d/%d, control queue %d/%d: want no writer and nil queues",
				c.writing, len(c.queue), cap(c.queue), len(c.ctrl), cap(c.ctrl))
		}
	}
	for burst := range 3 {
		const lines = 100
		for i := range lines {
			if err := c.Send(ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", strconv.Itoa(i))); err != nil {
				t.Fatalf("burst %d, Send %d: %v", burst, i, err)
			}
		}
		for i := range lines {
			if m := cl.Expect(t, "PRIVMSG"); m.Params[1] != strconv.Itoa(i) {
				t.Fatalf("burst %d: line %d is %q", burst, i, m.Params[1])
			}
		}
		idle()
	}
	// The connection's own lines start a writer too.
	cl.Send(t, "PING :x")
	cl.ExpectLine(t, "PONG x")
	idle()
}

// BenchmarkIdleConnMemory opens idle, registered connections to the fake
// server and reports what each one costs: the growth of HeapInuse and
// StackInuse per connection ("B/conn") and of the goroutine count
// ("goroutines/conn"); "stack-B/conn" is the part of B/conn that is
// goroutine stacks. The figure includes both ends of the loopback socket
// and the fake server's state for the client (the "sockets" sub-benchmark
// measures that part alone), so compare it between versions rather than
// reading it as the gateway's absolute cost. Run it with
//
//	go test -run '^$' -bench IdleConnMemory -benchtime 5x ./ircbridge/ircclient/
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 200
	b.Run("events", func(b *testing.B) {
		srv := fakeirc.NewServer(b)
		cfg := baseConfig(b, srv, nil)
		cfg.Logger = nil
		d := newDelivery(&cfg, n)
		defer d.stop()
		benchIdle(b, n, func() idleConns { return openIdle(b, srv, n, cfg, d.welcomed) })
	})
	b.Run("sockets", func(b *testing.B) {
		srv := fakeirc.NewServer(b)
		benchIdle(b, n, func() idleConns { return openSockets(b, srv, n) })
	})
}

// benchIdle measures open, which opens n idle connections, per connection.
func benchIdle(b *testing.B, n int, open func() idleConns) {
	var bytes, stack, goroutines float64
	iters := 0
	for b.Loop() {
		// The goroutines that exited in the previous iteration leave their
		// stacks cached for new goroutines, which would then not count.
		// Parked goroutines use that cache up first.
		release := parkGoroutines(b, 2*n)
		before := settledMemStats()
		g0 := runtime.NumGoroutine()
		ic := open()
		// Let the writers of the registration finish, where there are any.
		time.Sleep(50 * time.Millisecond)
		after := settledMemStats()
		g1 := runtime.NumGoroutine()
		grown := int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)
		bytes += float64(grown) / float64(n)
		stack += float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n)
		goroutines += float64(g1-g0) / float64(n)
		iters++
		ic.close(b)
		release()
	}
	b.ReportMetric(bytes/float64(iters), "B/conn")
	b.ReportMetric(stack/float64(iters), "stack-B/conn")
	b.ReportMetric(goroutines/float64(iters), "goroutines/conn")
}

// parkGoroutines starts k goroutines that wait until release is called.
func parkGoroutines(t testing.TB, k int) (release func()) {
	t.Helper()
	n0 := runtime.NumGoroutine()
	stop := make(chan struct{})
	for range k {
		go func() { <-stop }()
	}
	waitGoroutines(t, n0+k, "parked goroutines")
	return func() {
		close(stop)
		waitGoroutines(t, n0, "released goroutines")
	}
}

// settledMemStats collects garbage (several times, so that goroutine stacks
// shrink to what they use) and returns the memory statistics.
func settledMemStats() runtime.MemStats {
	for range 4 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}

// openSockets opens n bare loopback sockets to srv, each accepted by the
// fake server which has read one line from it: the part of openIdle's cost
// that is not the Conn's.
func openSockets(t testing.TB, srv *fakeirc.Server, n int) idleConns {
	t.Helper()
	var ic idleConns
	for range n {
		nc, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write([]byte("PING x\r\n")); err != nil {
			t.Fatal(err)
		}
		cl := srv.Accept(t)
		cl.ReadLine(t)
		ic.clients = append(ic.clients, cl)
		ic.raw = append(ic.raw, nc)
	}
	return ic
}
