package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"biboumi/internal/servers"
)

// Shared servers: started lazily by the first test that asks for one,
// then reused by every test of the package (of the test binary), and
// stopped by RunMain when the tests are done. Use them for servers that
// are slow to start (ejabberd takes seconds) when tests can share one:
// give each test its own accounts (XMPPServer.NewUser), channels and
// nicks. Never Stop or Restart a shared server.
//
//	func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }
//
//	func TestX(t *testing.T) {
//		srv := testenv.SharedEjabberd(t)
//		…
//	}

var shared struct {
	mu      sync.Mutex
	active  bool
	servers map[string]*sharedEntry
	cleanup []func()
}

type sharedEntry struct {
	once sync.Once
	xmpp *XMPPServer
	irc  *IRCServer
	err  error
}

// RunMain runs the tests and then stops the shared servers. Call it from
// TestMain in every package that uses Shared*:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }
func RunMain(m *testing.M) int {
	shared.mu.Lock()
	shared.active = true
	shared.mu.Unlock()
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops every shared server. RunMain calls it.
func StopShared() {
	shared.mu.Lock()
	fns := shared.cleanup
	shared.cleanup = nil
	shared.servers = nil
	shared.mu.Unlock()
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	wg.Wait()
}

func sharedEntryFor(t testing.TB, key string) *sharedEntry {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.active {
		t.Fatalf("testenv: Shared* servers need TestMain to call testenv.RunMain(m), which stops them")
	}
	if shared.servers == nil {
		shared.servers = map[string]*sharedEntry{}
	}
	e := shared.servers[key]
	if e == nil {
		e = &sharedEntry{}
		shared.servers[key] = e
	}
	return e
}

func addSharedCleanup(f func()) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.cleanup = append(shared.cleanup, f)
}

func sharedXMPP(t testing.TB, kind string, o XMPPOptions, start func() (*servers.XMPPServer, error)) *XMPPServer {
	t.Helper()
	o = o.WithDefaults()
	e := sharedEntryFor(t, fmt.Sprintf("%s|%s|%s", kind, o.ComponentHost, o.Secret))
	e.once.Do(func() {
		s, err := start()
		if err != nil {
			e.err = err
			return
		}
		e.xmpp = &XMPPServer{s}
	})
	if e.err != nil {
		t.Fatalf("testenv: shared %s: %v", kind, e.err)
	}
	return e.xmpp
}

// SharedProsody returns the package's shared prosody, starting it on
// first use.
func SharedProsody(t testing.TB, o XMPPOptions) *XMPPServer {
	t.Helper()
	Require(t, "prosody", "prosodyctl")
	return sharedXMPP(t, "prosody", o, func() (*servers.XMPPServer, error) {
		dir, err := os.MkdirTemp("", "testenv-prosody-")
		if err != nil {
			return nil, err
		}
		s, err := servers.StartProsody(dir, xmppPorts(o))
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		addSharedCleanup(func() { _ = s.Kill(); os.RemoveAll(dir) })
		return s, nil
	})
}

// SharedEjabberd returns the package's shared ejabberd, starting it on
// first use.
func SharedEjabberd(t testing.TB, o XMPPOptions) *XMPPServer {
	t.Helper()
	Require(t, "ejabberdctl", "erl")
	if err := servers.CheckEjabberd(); err != nil {
		skipOrFatal(t, "testenv: %v", err)
	}
	return sharedXMPP(t, "ejabberd", o, func() (*servers.XMPPServer, error) {
		dir, err := servers.EjabberdDir()
		if err != nil {
			return nil, err
		}
		s, err := servers.StartEjabberd(dir, xmppPorts(o))
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		addSharedCleanup(func() { _ = s.Kill(); os.RemoveAll(dir) })
		return s, nil
	})
}

func sharedIRC(t testing.TB, kind string, o IRCOptions, start func(string, IRCOptions) (*servers.IRCServer, error)) *IRCServer {
	t.Helper()
	Require(t, kind)
	e := sharedEntryFor(t, fmt.Sprintf("%s|%+v", kind, o))
	e.once.Do(func() {
		dir, err := os.MkdirTemp("", "testenv-"+kind+"-")
		if err != nil {
			e.err = err
			return
		}
		s, err := start(dir, ircPorts(o))
		if err != nil {
			os.RemoveAll(dir)
			e.err = err
			return
		}
		addSharedCleanup(func() { _ = s.Kill(); os.RemoveAll(dir) })
		e.irc = &IRCServer{s}
	})
	if e.err != nil {
		t.Fatalf("testenv: shared %s: %v", kind, e.err)
	}
	return e.irc
}

// SharedInspircd returns the package's shared inspircd, starting it on
// first use.
func SharedInspircd(t testing.TB, o IRCOptions) *IRCServer {
	t.Helper()
	return sharedIRC(t, "inspircd", o, servers.StartInspircd)
}

// SharedNgircd returns the package's shared ngircd, starting it on first
// use.
func SharedNgircd(t testing.TB, o IRCOptions) *IRCServer {
	t.Helper()
	return sharedIRC(t, "ngircd", o, servers.StartNgircd)
}
