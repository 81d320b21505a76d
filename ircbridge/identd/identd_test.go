package identd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

// start runs a Server on 127.0.0.1 until the test ends.
func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.Grace == 0 {
		cfg.Grace = -1 // NO-USER at once; TestGrace tests the wait
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
	})
	return s
}

// dialFrom connects to s from the loopback address from (any 127.x works
// on Linux).
func dialFrom(t *testing.T, s *Server, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	nc, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// query sends line (without CR LF) from the address from and returns the
// answer line, or "" when the server closed without answering.
func query(t *testing.T, s *Server, from, line string) string {
	t.Helper()
	nc := dialFrom(t, s, from)
	if _, err := io.WriteString(nc, line+"\r\n"); err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, nc)
}

func readAnswer(t *testing.T, nc net.Conn) string {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	answer, err := bufio.NewReader(nc).ReadString('\n')
	switch {
	case err == nil:
		if !strings.HasSuffix(answer, "\r\n") {
			t.Errorf("answer %q does not end in CR LF", answer)
		}
		return strings.TrimSuffix(answer, "\r\n")
	case (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) && answer == "":
		// Closed without an answer (reset when our query was unread).
		return ""
	default:
		t.Fatalf("reading the answer: %q, %v", answer, err)
		return ""
	}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestQueries(t *testing.T) {
	t.Parallel()
	s := start(t, Config{})
	// The gateway's connection 127.0.0.1:43567 → IRC server 127.0.0.1:6667.
	unregister := s.Register(ap("127.0.0.1:43567"), ap("127.0.0.1:6667"), "0123abcd")
	s.Register(ap("127.0.0.1:43568"), ap("[::ffff:127.0.0.2]:6697"), "user\r\n2")
	tests := []struct {
		name, from, query, want string
	}{
		{"ours", "127.0.0.1", "43567 , 6667", "43567 , 6667 : USERID : OTHER : 0123abcd"},
		{"no spaces", "127.0.0.1", "43567,6667", "43567 , 6667 : USERID : OTHER : 0123abcd"},
		{"tabs and spaces", "127.0.0.1", " 43567\t,  6667 ", "43567 , 6667 : USERID : OTHER : 0123abcd"},
		{"ports swapped", "127.0.0.1", "6667 , 43567", "6667 , 43567 : ERROR : NO-USER"},
		{"other remote port", "127.0.0.1", "43567 , 6668", "43567 , 6668 : ERROR : NO-USER"},
		{"not ours", "127.0.0.1", "40000 , 6667", "40000 , 6667 : ERROR : NO-USER"},
		{"querier is not the remote end", "127.0.0.2", "43567 , 6667", "43567 , 6667 : ERROR : NO-USER"},
		{"IPv4-mapped registration, sanitized user", "127.0.0.2", "43568 , 6697", "43568 , 6697 : USERID : OTHER : user2"},
		{"port 0", "127.0.0.1", "0 , 6667", "0 , 6667 : ERROR : INVALID-PORT"},
		{"port out of range", "127.0.0.1", "70000 , 6667", "70000 , 6667 : ERROR : INVALID-PORT"},
		{"garbage", "127.0.0.1", "hello", ""},
		{"negative", "127.0.0.1", "-1 , 6667", ""},
		{"three numbers", "127.0.0.1", "1 , 2 , 3", ""},
		{"empty", "127.0.0.1", "", ""},
	}
	for _, tc := range tests {
		if got := query(t, s, tc.from, tc.query); got != tc.want {
			t.Errorf("%s: %q from %s → %q, want %q", tc.name, tc.query, tc.from, got, tc.want)
		}
	}
	unregister()
	unregister() // idempotent
	if got := query(t, s, "127.0.0.1", "43567 , 6667"); got != "43567 , 6667 : ERROR : NO-USER" {
		t.Errorf("after unregister: %q", got)
	}
}

// TestSamePortsTwoServers: two connections with the same port pair to two
// servers are told apart by the querier's address.
func TestSamePortsTwoServers(t *testing.T) {
	t.Parallel()
	s := start(t, Config{})
	s.Register(ap("127.0.0.1:40001"), ap("127.0.0.3:6667"), "alice")
	s.Register(ap("127.0.0.1:40001"), ap("127.0.0.4:6667"), "bob")
	if got := query(t, s, "127.0.0.3", "40001 , 6667"); got != "40001 , 6667 : USERID : OTHER : alice" {
		t.Errorf("from .3: %q", got)
	}
	if got := query(t, s, "127.0.0.4", "40001 , 6667"); got != "40001 , 6667 : USERID : OTHER : bob" {
		t.Errorf("from .4: %q", got)
	}
}

// TestGrace: a query that comes before the registration (the IRC server
// was faster than the dialer) waits for it, up to Grace.
func TestGrace(t *testing.T) {
	t.Parallel()
	s := start(t, Config{Grace: 2 * time.Second})
	go func() {
		time.Sleep(100 * time.Millisecond)
		s.Register(ap("127.0.0.1:1000"), ap("127.0.0.1:9999"), "other") // another pair
		time.Sleep(100 * time.Millisecond)
		s.Register(ap("127.0.0.1:43567"), ap("127.0.0.1:6667"), "late")
	}()
	begin := time.Now()
	if got := query(t, s, "127.0.0.1", "43567 , 6667"); got != "43567 , 6667 : USERID : OTHER : late" {
		t.Errorf("got %q", got)
	}
	if d := time.Since(begin); d < 150*time.Millisecond || d > time.Second {
		t.Errorf("answered after %v", d)
	}
	s2 := start(t, Config{Grace: 100 * time.Millisecond})
	begin = time.Now()
	if got := query(t, s2, "127.0.0.1", "43567 , 6667"); got != "43567 , 6667 : ERROR : NO-USER" {
		t.Errorf("got %q", got)
	}
	if d := time.Since(begin); d < 90*time.Millisecond || d > time.Second {
		t.Errorf("NO-USER after %v, want the 100ms grace", d)
	}
}

func TestQueryWithoutLineEnding(t *testing.T) {
	t.Parallel()
	s := start(t, Config{})
	s.Register(ap("127.0.0.1:43567"), ap("127.0.0.1:6667"), "u")
	nc := dialFrom(t, s, "127.0.0.1")
	io.WriteString(nc, "43567 , 6667")
	nc.(*net.TCPConn).CloseWrite()
	if got := readAnswer(t, nc); got != "43567 , 6667 : USERID : OTHER : u" {
		t.Errorf("got %q", got)
	}
}

func TestLongLine(t *testing.T) {
	t.Parallel()
	s := start(t, Config{})
	nc := dialFrom(t, s, "127.0.0.1")
	go io.WriteString(nc, strings.Repeat("1", 5000)+" , 6667\r\n")
	if got := readAnswer(t, nc); got != "" {
		t.Errorf("got %q for an over-long line", got)
	}
}

func TestReadTimeout(t *testing.T) {
	t.Parallel()
	s := start(t, Config{Timeout: 100 * time.Millisecond})
	nc := dialFrom(t, s, "127.0.0.1")
	begin := time.Now()
	io.WriteString(nc, "43567 ,") // and never the rest
	if got := readAnswer(t, nc); got != "" {
		t.Errorf("got %q", got)
	}
	if d := time.Since(begin); d < 80*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed after %v, want about 100ms", d)
	}
}

// TestMaxConns: connections beyond the cap are closed at once, and a freed
// slot serves again.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	s := start(t, Config{MaxConns: 2, Timeout: 5 * time.Second})
	s.Register(ap("127.0.0.1:43567"), ap("127.0.0.1:6667"), "u")
	idle1 := dialFrom(t, s, "127.0.0.1")
	idle2 := dialFrom(t, s, "127.0.0.1")
	_ = idle2
	// Wait until both idle connections hold their slot.
	deadline := time.Now().Add(3 * time.Second)
	for len(s.sem) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("slots taken: %d", len(s.sem))
		}
		time.Sleep(5 * time.Millisecond)
	}
	begin := time.Now()
	if got := query(t, s, "127.0.0.1", "43567 , 6667"); got != "" {
		t.Errorf("over the cap: got %q", got)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("over the cap: closed after %v", d)
	}
	idle1.Close()
	for len(s.sem) > 1 {
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := query(t, s, "127.0.0.1", "43567 , 6667"); got != "43567 , 6667 : USERID : OTHER : u" {
		t.Errorf("after a slot was freed: %q", got)
	}
}

// TestServeStops: cancelling Serve's context closes the listener and the
// open connections.
func TestServeStops(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	nc := dialFrom(t, s, "127.0.0.1")
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return")
	}
	if got := readAnswer(t, nc); got != "" {
		t.Errorf("got %q", got)
	}
	if _, err := net.DialTimeout("tcp", s.Addr().String(), time.Second); err == nil {
		t.Error("still listening")
	}
}

func TestNewBadAddr(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Addr: "127.0.0.1:99999"}); err == nil {
		t.Fatal("New accepted port 99999")
	}
}
