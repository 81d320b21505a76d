package ircclient

import (
	"context"
	"errors"
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

// The cost of idle connections: one goroutine each, send queues that hold
// no memory while empty, and the Handler delivery that spares the owner a
// receiving goroutine.

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

// newDelivery sets up cfg to deliver the events of n connections through
// Config.Handler (handler true) or on a Config.Events channel drained by a
// goroutine of the test.
func newDelivery(cfg *Config, n int, handler bool) *delivery {
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
	if handler {
		cfg.Handler, cfg.Events = deliver, nil
		return d
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
// goroutine, whether it delivers through Handler or on Events, and none
// once it is done.
func TestIdleGoroutines(t *testing.T) {
	// Not parallel: it counts the goroutines of the whole process.
	const n = 20
	for _, handler := range []bool{false, true} {
		t.Run("handler="+strconv.FormatBool(handler), func(t *testing.T) {
			srv := fakeirc.NewServer(t)
			cfg := baseConfig(t, srv, nil)
			cfg.Logger = nil
			d := newDelivery(&cfg, n, handler)
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
		})
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

// recorder is a Handler that checks the contract: never two calls at once,
// Closed exactly once and last. It forwards every event to got.
type recorder struct {
	t      *testing.T
	got    chan Event
	inside atomic.Int32
	mu     sync.Mutex
	closed int  // Closed events
	late   bool // an event after Closed
	// onLine, if set, runs on the Handler's goroutine for each Line event
	// after it was forwarded.
	onLine func(Line)
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, got: make(chan Event, 64)}
}

func (r *recorder) handle(ev Event) {
	if r.inside.Add(1) != 1 {
		r.t.Errorf("Handler called concurrently")
	}
	defer r.inside.Add(-1)
	r.mu.Lock()
	if r.closed > 0 {
		r.late = true
	}
	if _, ok := ev.(Closed); ok {
		r.closed++
	}
	r.mu.Unlock()
	r.got <- ev
	if l, ok := ev.(Line); ok && r.onLine != nil {
		r.onLine(l)
	}
}

// check verifies, once the connection is done, that Closed came once and
// last.
func (r *recorder) check() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed != 1 || r.late {
		r.t.Errorf("Handler got %d Closed events, events after Closed: %v", r.closed, r.late)
	}
}

// TestHandlerDelivery: with Config.Handler and no Events, every event
// arrives in order on one goroutine, the Handler may call the Conn's
// methods, and Closed is delivered once, last, before Done.
func TestHandlerDelivery(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	rec := newRecorder(t)
	cfg := baseConfig(t, srv, nil)
	cfg.Handler = func(ev Event) {
		if r, ok := ev.(Registered); ok {
			if err := r.Conn.Send(ircmsg.MakeMessage(nil, "", "JOIN", "#c")); err != nil {
				t.Errorf("Send from the Handler: %v", err)
			}
		}
		rec.handle(ev)
	}
	rec.onLine = func(l Line) {
		if l.Msg.Command == "PRIVMSG" && l.Msg.Params[1] == "close" {
			l.Conn.Close()
		}
	}
	c, cl := registered(t, srv, cfg, rec.got, "nick")
	cl.ExpectLine(t, "JOIN #c")
	for i := range 20 {
		cl.Send(t, ":a!u@h PRIVMSG #c :"+strconv.Itoa(i))
	}
	for i := range 20 {
		if l := expectLine(t, rec.got, "PRIVMSG"); l.Msg.Params[1] != strconv.Itoa(i) {
			t.Fatalf("line %d is %q", i, l.Msg.Params[1])
		}
	}
	cl.Send(t, ":a!u@h PRIVMSG #c :close")
	closed := expectClosed(t, c, rec.got)
	if closed.Err != nil || closed.Text != "Connection closed." {
		t.Errorf("Closed = %q, %v", closed.Text, closed.Err)
	}
	cl.ExpectClosed(t)
	rec.check()
}

// TestHandlerInvalidConfig: a Config error is reported through the Handler
// too.
func TestHandlerInvalidConfig(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t)
	c := Dial(t.Context(), Config{Server: "127.0.0.1", Nick: "n", Handler: rec.handle})
	closed := expectClosed(t, c, rec.got)
	if !errors.Is(closed.Err, ErrConfig) {
		t.Errorf("Closed = %q, %v", closed.Text, closed.Err)
	}
	rec.check()
}

// TestHandlerBlocks: a Handler that blocks holds back its socket but never
// Close or Quit: the socket is closed at once (Close) or after the QUIT and
// QuitTimeout (Quit) while the Handler still blocks, and Closed follows as
// soon as it returns.
func TestHandlerBlocks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(c *Conn, cancel context.CancelFunc)
		quit bool // the QUIT goes out while the Handler blocks
	}{
		{name: "Close", end: func(c *Conn, cancel context.CancelFunc) { c.Close() }},
		{name: "Quit", end: func(c *Conn, cancel context.CancelFunc) { c.Quit("bye") }, quit: true},
		{name: "context", end: func(c *Conn, cancel context.CancelFunc) { cancel() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeirc.NewServer(t)
			rec := newRecorder(t)
			blocked, release := make(chan struct{}), make(chan struct{})
			rec.onLine = func(l Line) {
				if l.Msg.Command == "PRIVMSG" && l.Msg.Params[1] == "block" {
					close(blocked)
					<-release
				}
			}
			cfg := baseConfig(t, srv, nil)
			cfg.Handler = rec.handle
			cfg.QuitTimeout = 50 * time.Millisecond
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			c := dial(t, ctx, cfg)
			expectEvent[Progress](t, rec.got)
			expectEvent[Progress](t, rec.got)
			cl := srv.Accept(t)
			cl.Register(t, "nick")
			expectEvent[Registered](t, rec.got)
			cl.Send(t, ":a!u@h PRIVMSG #c :block")
			select {
			case <-blocked:
			case <-time.After(eventTimeout):
				t.Fatal("Handler not called")
			}
			returned := make(chan struct{})
			go func() {
				defer close(returned)
				tc.end(c, cancel)
			}()
			select {
			case <-returned:
			case <-time.After(eventTimeout):
				t.Fatalf("%s blocked behind the Handler", tc.name)
			}
			if tc.quit {
				cl.ExpectLine(t, "QUIT :bye") // and no answer: the quit timer ends it
			}
			cl.ExpectClosed(t) // while the Handler still blocks
			select {
			case <-c.Done():
				t.Fatal("Done before the Handler returned")
			case <-time.After(20 * time.Millisecond):
			}
			close(release)
			closed := expectClosed(t, c, rec.got)
			if tc.name == "context" {
				if !errors.Is(closed.Err, context.Canceled) {
					t.Errorf("Closed = %q, %v", closed.Text, closed.Err)
				}
			} else if closed.Err != nil || closed.Text != "Connection closed." {
				t.Errorf("Closed = %q, %v", closed.Text, closed.Err)
			}
			rec.check()
		})
	}
}

// TestKeepaliveSlowOwner: time spent in a blocking Handler is not silence
// from the server. Once the Handler returns, the keepalive goes on with a
// PING, and the connection lives.
func TestKeepaliveSlowOwner(t *testing.T) {
	t.Parallel()
	const interval = 50 * time.Millisecond
	srv := fakeirc.NewServer(t)
	rec := newRecorder(t)
	rec.onLine = func(l Line) {
		if l.Msg.Command == "PRIVMSG" && l.Msg.Params[1] == "block" {
			time.Sleep(5 * interval)
		}
	}
	cfg := baseConfig(t, srv, nil)
	cfg.Handler = rec.handle
	cfg.PingInterval = interval
	c, cl := registered(t, srv, cfg, rec.got, "nick")
	cl.ExpectLine(t, "PING biboumi")
	cl.Send(t, ":a!u@h PRIVMSG #c :block")
	expectLine(t, rec.got, "PRIVMSG")
	for range 3 {
		cl.ExpectLine(t, "PING biboumi")
		cl.Send(t, ":srv PONG srv :biboumi")
		expectLine(t, rec.got, "PONG")
	}
	select {
	case ev := <-rec.got:
		t.Fatalf("unexpected event %#v", ev)
	default:
	}
	c.Close()
	expectClosed(t, c, rec.got)
	rec.check()
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
	for _, handler := range []bool{false, true} {
		name := "events"
		if handler {
			name = "handler"
		}
		b.Run(name, func(b *testing.B) {
			srv := fakeirc.NewServer(b)
			cfg := baseConfig(b, srv, nil)
			cfg.Logger = nil
			d := newDelivery(&cfg, n, handler)
			defer d.stop()
			benchIdle(b, n, func() idleConns { return openIdle(b, srv, n, cfg, d.welcomed) })
		})
	}
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
