package testenv

import (
	"os"
	"testing"

	"biboumi/internal/servers"
)

// XMPPServer is a running prosody or ejabberd with a client (c2s) listener
// and a XEP-0114 component listener on loopback. Its fields (Kind,
// Domain, C2SAddr, ComponentAddr, ComponentHost, ComponentPort, C2SPort,
// Secret, Dir) and its methods without a testing.TB (JID, Running,
// StartupTime, Logs, Dial) are those of the servers.XMPPServer it wraps.
type XMPPServer struct {
	*servers.XMPPServer
}

// XMPPOptions configures an XMPP server. Zero values take the defaults.
type XMPPOptions = servers.XMPPOptions

// xmppPorts makes the server pick its ports with serverPort, unless the
// caller chose otherwise.
func xmppPorts(o XMPPOptions) XMPPOptions {
	if o.PickPort == nil {
		o.PickPort = serverPort
	}
	return o
}

// StartProsody starts a prosody 0.12 on free loopback ports, stopped by
// t.Cleanup. It takes a few hundred milliseconds.
func StartProsody(t testing.TB, o XMPPOptions) *XMPPServer {
	t.Helper()
	Require(t, "prosody", "prosodyctl")
	s, err := servers.StartProsody(t.TempDir(), xmppPorts(o))
	if err != nil {
		fatalOrSkip(t, err)
	}
	t.Cleanup(func() { _ = s.Kill() })
	return &XMPPServer{s}
}

// StartEjabberd starts an ejabberd 23.01 on free loopback ports, stopped
// by t.Cleanup. It needs root (ejabberd runs as the ejabberd user) and
// takes a few seconds: a test package with several ejabberd tests should
// use SharedEjabberd.
func StartEjabberd(t testing.TB, o XMPPOptions) *XMPPServer {
	t.Helper()
	Require(t, "ejabberdctl", "erl")
	if err := servers.CheckEjabberd(); err != nil {
		skipOrFatal(t, "testenv: %v", err)
	}
	dir, err := servers.EjabberdDir()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := servers.StartEjabberd(dir, xmppPorts(o))
	if err != nil {
		fatalOrSkip(t, err)
	}
	t.Cleanup(func() { _ = s.Kill() })
	return &XMPPServer{s}
}

// AddUser creates an account user@Domain: with prosodyctl for prosody;
// for ejabberd by in-band registration (mod_register is on in the test
// config), falling back to ejabberdctl. Each ejabberdctl call boots an
// Erlang VM: 0.5 s on an idle machine, several seconds under load, while
// in-band registration takes milliseconds.
func (s *XMPPServer) AddUser(t testing.TB, user, password string) {
	t.Helper()
	if err := s.XMPPServer.AddUser(user, password); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// AddUserCtl creates an account with prosodyctl / ejabberdctl register.
func (s *XMPPServer) AddUserCtl(t testing.TB, user, password string) {
	t.Helper()
	if err := s.XMPPServer.AddUserCtl(user, password); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Ctl runs prosodyctl / ejabberdctl with this server's config arguments
// and returns its combined output.
func (s *XMPPServer) Ctl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.XMPPServer.Ctl(args...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return out
}

// NewUser creates a fresh account named prefix plus a unique suffix and
// returns its localpart and password. Meant for shared servers, where
// names must not collide between tests.
func (s *XMPPServer) NewUser(t testing.TB, prefix string) (user, password string) {
	t.Helper()
	user, password, err := s.XMPPServer.NewUser(prefix)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return user, password
}

// Stop shuts the server down gracefully (SIGTERM: sessions get a
// system-shutdown stream error) and waits for it to exit.
func (s *XMPPServer) Stop(t testing.TB) {
	t.Helper()
	if err := s.XMPPServer.Stop(); err != nil {
		t.Logf("testenv: %v", err)
	}
}

// Kill SIGKILLs the server (a crash: connections just drop).
func (s *XMPPServer) Kill(t testing.TB) {
	t.Helper()
	if err := s.XMPPServer.Kill(); err != nil {
		t.Logf("testenv: %v", err)
	}
}

// Start starts a stopped or killed server again on the same ports, with
// the same accounts.
func (s *XMPPServer) Start(t testing.TB) {
	t.Helper()
	if err := s.XMPPServer.Start(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Restart stops the server if it runs and starts it again on the same
// ports, with the same accounts.
func (s *XMPPServer) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	if err := s.XMPPServer.Restart(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}
