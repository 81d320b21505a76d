package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"biboumi/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for the demo's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemo runs the whole demo with -duration 0 against real prosody and
// inspircd, and checks that the transcript shows the conversation both
// ways and that nothing is left behind.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prosody, inspircd and the gateway")
	}
	testenv.Require(t, "prosody", "prosodyctl", "inspircd")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errOut syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	err := run(ctx, []string{"-duration", "0"}, &out, &errOut)
	t.Logf("demo took %v; its output:\n%s%s", time.Since(start), out.String(), errOut.String())
	if err != nil {
		t.Fatalf("demo failed: %v", err)
	}
	transcript := out.String()
	for _, want := range []string{
		// XMPP → IRC, in the room and privately.
		`(?m)^\[xmpp alice → #demo\] hello ircbob, this is alice on XMPP$`,
		`(?m)^\[irc ircbob ←\] :alice!\S+ PRIVMSG #demo :hello ircbob, this is alice on XMPP$`,
		`(?m)^\[xmpp alice → ircbob\] psst, a private message from XMPP$`,
		`(?m)^\[irc ircbob ←\] :alice!\S+ PRIVMSG ircbob :psst, a private message from XMPP$`,
		// IRC → XMPP, in the room and privately.
		`(?m)^\[irc ircbob → #demo\] PRIVMSG #demo :hi alice, ircbob here on IRC$`,
		`(?m)^\[xmpp alice ←\] ircbob in #demo: hi alice, ircbob here on IRC\n\s+<message [^\n]*from='#demo%127\.0\.0\.1@irc\.localhost/ircbob'[^\n]*<body>hi alice, ircbob here on IRC</body>`,
		`(?m)^\[irc ircbob → alice\] PRIVMSG alice :got it, a private answer from IRC$`,
		`(?m)^\[xmpp alice ←\] private message from ircbob%127\.0\.0\.1@irc\.localhost\S*: got it, a private answer from IRC$`,
		// The nick change, seen from XMPP.
		`(?m)^\[xmpp alice ←\] ircbob is now known as bob_irc \(status 303\)$`,
		// The instructions.
		`(?m)^  server     127\.0\.0\.1, port \d+ \(c2s\)`,
		`(?m)^  account    alice@localhost\s+password [a-z0-9]{10}`,
		`(?m)^  account    bob@localhost\s+password [a-z0-9]{10}`,
		`(?m)^  join       #demo%127\.0\.0\.1@irc\.localhost`,
		`(?m)^  irc 127\.0\.0\.1:\d+ `,
		`(?m)^\[stop\] gateway stopped with SIGTERM \(exit status 0\)`,
	} {
		if !regexp.MustCompile(want).MatchString(transcript) {
			t.Errorf("transcript lacks %s", want)
		}
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "biboumi-demo-") {
			t.Errorf("%s left behind in TMPDIR", e.Name())
		}
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "-1s"},
		{"-duration", "soon"},
		{"-gateway", "/nonexistent/biboumi"},
		{"-users", "dave@example.org"},
		{"extra"},
	} {
		var out, errOut syncBuffer
		err := run(context.Background(), args, &out, &errOut)
		if !errors.Is(err, errUsage) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
		if out.String() != "" {
			t.Errorf("run(%q) printed %q", args, out.String())
		}
	}
	o, err := parseFlags(nil, &syncBuffer{})
	if err != nil || !o.forever || strings.Join(o.users, ",") != "bob,carol" {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	o, err = parseFlags([]string{"-duration", "0", "-users", ""}, &syncBuffer{})
	if err != nil || o.forever || o.duration != 0 || len(o.users) != 0 {
		t.Errorf("-duration 0 -users '': %+v, %v", o, err)
	}
}
