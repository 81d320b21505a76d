package testenv

import (
	"testing"

	"biboumi/internal/servers"
)

// IRCServer is a running inspircd or ngircd with one plain-text client
// listener on loopback, and a TLS one when IRCOptions.TLS is set. Its
// fields (Kind, Name, Host, Port, Addr, WebIRCPassword, Dir, TLSPort,
// TLSAddr, TLS) and its methods without a testing.TB (Running,
// StartupTime, Logs) are those of the servers.IRCServer it wraps.
type IRCServer struct {
	*servers.IRCServer
}

// IRCOptions configures an IRC server: ports, a TLS listener (TLS,
// TLSSelfSigned) and the WEBIRC password.
type IRCOptions = servers.IRCOptions

func ircPorts(o IRCOptions) IRCOptions {
	if o.PickPort == nil {
		o.PickPort = serverPort
	}
	return o
}

// StartInspircd starts an inspircd 3 on a free loopback port, stopped by
// t.Cleanup: no hostname lookups, no ident, no flood limits, the IRCv3
// modules of test-servers.md loaded.
func StartInspircd(t testing.TB, o IRCOptions) *IRCServer {
	t.Helper()
	Require(t, "inspircd")
	return startIRC(t, servers.StartInspircd, t.TempDir(), o)
}

// StartNgircd starts an ngircd 26 on a free loopback port, stopped by
// t.Cleanup: DNS, ident and PAM off, no connection/join/penalty limits.
func StartNgircd(t testing.TB, o IRCOptions) *IRCServer {
	t.Helper()
	Require(t, "ngircd")
	return startIRC(t, servers.StartNgircd, t.TempDir(), o)
}

func startIRC(t testing.TB, start func(string, IRCOptions) (*servers.IRCServer, error), dir string, o IRCOptions) *IRCServer {
	t.Helper()
	s, err := start(dir, ircPorts(o))
	if err != nil {
		fatalOrSkip(t, err)
	}
	t.Cleanup(func() { _ = s.Kill() })
	return &IRCServer{s}
}

// Stop shuts the server down gracefully (SIGTERM) and waits for it to
// exit.
func (s *IRCServer) Stop(t testing.TB) {
	t.Helper()
	if err := s.IRCServer.Stop(); err != nil {
		t.Logf("testenv: %v", err)
	}
}

// Kill SIGKILLs the server (a crash: connections just drop).
func (s *IRCServer) Kill(t testing.TB) {
	t.Helper()
	if err := s.IRCServer.Kill(); err != nil {
		t.Logf("testenv: %v", err)
	}
}

// Start starts a stopped or killed server again on the same port.
func (s *IRCServer) Start(t testing.TB) {
	t.Helper()
	if err := s.IRCServer.Start(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Restart stops the server if it runs and starts it again on the same
// port (all IRC state is lost).
func (s *IRCServer) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	if err := s.IRCServer.Restart(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}
