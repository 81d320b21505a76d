package ircclient

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"biboumi/ircbridge/fakeirc"
	"github.com/ergochat/irc-go/ircmsg"
	"golang.org/x/time/rate"
)

// TestThrottleOrderAndRate sends 200 lines through a token bucket of burst
// 10 and 100 lines/s: all arrive, in order, and line i (from 0) never
// arrives before (i+1-burst)/rate after the first Send.
func TestThrottleOrderAndRate(t *testing.T) {
	t.Parallel()
	const (
		lines = 200
		burst = 10
		perS  = 100
		slack = 30 * time.Millisecond // timer granularity of the bucket
	)
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	cfg := baseConfig(t, srv, events)
	cfg.Logger = nil // 200 trace lines are noise
	lim := rate.NewLimiter(perS, burst)
	cfg.Limiter = lim
	c, cl := registered(t, srv, cfg, events, "nick")
	start := time.Now()
	for i := range lines {
		if err := c.Send(ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", strconv.Itoa(i))); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	for i := range lines {
		m := cl.Expect(t, "PRIVMSG")
		elapsed := time.Since(start)
		if m.Params[1] != strconv.Itoa(i) {
			t.Fatalf("line %d is %q: out of order", i, m.Params[1])
		}
		earliest := time.Duration(i+1-burst) * time.Second / perS
		if elapsed < earliest-slack {
			t.Fatalf("line %d arrived after %v, before the bucket allows (%v)", i, elapsed, earliest)
		}
	}
	total := time.Since(start)
	minTotal := time.Duration(lines-burst) * time.Second / perS // 1.9 s
	t.Logf("%d lines in %v (bucket minimum %v)", lines, total, minTotal)
	if total > minTotal+3*time.Second {
		t.Errorf("%d lines took %v, far beyond the bucket's %v", lines, total, minTotal)
	}
}

// signalLimiter reports each Wait on waits before waiting on the bucket.
type signalLimiter struct {
	*rate.Limiter
	waits chan struct{}
}

func (l signalLimiter) Wait(ctx context.Context) error {
	l.waits <- struct{}{}
	return l.Limiter.Wait(ctx)
}

// TestThrottleQueueFull: with a slow bucket the bounded queue fills and
// Send says ErrQueueFull instead of blocking.
func TestThrottleQueueFull(t *testing.T) {
	t.Parallel()
	srv := fakeirc.NewServer(t)
	events := make(chan Event, 64)
	cfg := baseConfig(t, srv, events)
	lim := signalLimiter{rate.NewLimiter(rate.Every(time.Hour), 1), make(chan struct{}, 4)}
	cfg.Limiter = lim
	cfg.QueueSize = 4
	c, cl := registered(t, srv, cfg, events, "nick")
	send := func(i int) error { return c.Send(ircmsg.MakeMessage(nil, "", "PRIVMSG", "#c", strconv.Itoa(i))) }
	for i := range 2 {
		if err := send(i); err != nil {
			t.Fatal(err)
		}
	}
	<-lim.waits // line 0 takes the only token
	<-lim.waits // line 1 waits an hour for the next one
	cl.ExpectLine(t, "PRIVMSG #c 0")
	for i := range cfg.QueueSize {
		if err := send(2 + i); err != nil {
			t.Fatalf("Send %d: %v", 2+i, err)
		}
	}
	if err := send(99); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Send to a full queue: %v", err)
	}
	// Raw lines bypass the bucket, but not the bound of the queue.
	if err := c.SendRaw("PRIVMSG #c :raw"); !errors.Is(err, ErrQueueFull) {
		t.Errorf("SendRaw to a full queue: %v", err)
	}
	cl.ExpectSilence(t, 20*time.Millisecond)
}
