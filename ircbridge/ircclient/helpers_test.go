package ircclient

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"biboumi/ircbridge/fakeirc"
)

// eventTimeout bounds every wait for an event; a hang fails fast.
const eventTimeout = 10 * time.Second

// testLogger logs through t, at trace level so that failures show the
// conversation.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: levelTrace}))
}

// baseConfig is a Config for srv's plain port; events is buffered so that
// Closed can always be delivered.
func baseConfig(t testing.TB, srv *fakeirc.Server, events chan Event) Config {
	return Config{
		Server:   srv.Host(),
		Ports:    []int{srv.Port()},
		Nick:     "nick",
		Username: "user",
		Realname: "Real Name",
		Hostname: "example.org",
		Logger:   testLogger(t),
		Events:   events,
	}
}

// dial starts a Conn and makes sure its goroutines are gone when the test
// ends (t.Context is cancelled before the Cleanup runs).
func dial(t testing.TB, ctx context.Context, cfg Config) *Conn {
	t.Helper()
	c := Dial(ctx, cfg)
	t.Cleanup(func() {
		c.Close()
		select {
		case <-c.Done():
		case <-time.After(eventTimeout):
			t.Errorf("Conn goroutines still running %v after the test", eventTimeout)
		}
	})
	return c
}

func nextEvent(t testing.TB, events <-chan Event) Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(eventTimeout):
		t.Fatalf("no event within %v", eventTimeout)
		return nil
	}
}

// expectEvent returns the next event, which must be a T.
func expectEvent[T Event](t testing.TB, events <-chan Event) T {
	t.Helper()
	ev := nextEvent(t, events)
	v, ok := ev.(T)
	if !ok {
		var zero T
		t.Fatalf("got event %#v, want a %T", ev, zero)
	}
	return v
}

func expectProgress(t testing.TB, events <-chan Event, want string) {
	t.Helper()
	if got := expectEvent[Progress](t, events).Text; got != want {
		t.Fatalf("Progress %q, want %q", got, want)
	}
}

func expectLine(t testing.TB, events <-chan Event, command string) Line {
	t.Helper()
	l := expectEvent[Line](t, events)
	if l.Msg.Command != command {
		line, _ := l.Msg.Line()
		t.Fatalf("got Line %q, want command %s", line, command)
	}
	return l
}

// expectClosed skips Line events until Closed, then checks that Closed is
// the last event and that Done is closed.
func expectClosed(t testing.TB, c *Conn, events <-chan Event) Closed {
	t.Helper()
	for {
		switch ev := nextEvent(t, events).(type) {
		case Line:
			continue
		case Closed:
			if ev.Conn != c {
				t.Fatalf("Closed.Conn = %p, want %p", ev.Conn, c)
			}
			select {
			case <-c.Done():
			case <-time.After(eventTimeout):
				t.Fatalf("Done not closed after Closed")
			}
			select {
			case extra := <-events:
				t.Fatalf("event after Closed: %#v", extra)
			default:
			}
			return ev
		default:
			t.Fatalf("got %#v while waiting for Closed", ev)
		}
	}
}

// registered dials srv with cfg (whose Events is events), plays the registration with nick and
// consumes the events up to the end of the welcome burst.
func registered(t testing.TB, srv *fakeirc.Server, cfg Config, events <-chan Event, nick string) (*Conn, *fakeirc.Client) {
	t.Helper()
	c := dial(t, t.Context(), cfg)
	expectEvent[Progress](t, events) // Connecting
	expectProgress(t, events, "Connected to IRC server.")
	cl := srv.Accept(t)
	cl.Register(t, nick)
	if got := expectEvent[Registered](t, events).Nick; got != nick {
		t.Fatalf("Registered.Nick = %q, want %q", got, nick)
	}
	for _, cmd := range []string{"001", "002", "003", "004", "005", "422"} {
		expectLine(t, events, cmd)
	}
	return c, cl
}
