package testenv

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// IRCServer is a running inspircd or ngircd with one plain-text client
// listener on loopback.
type IRCServer struct {
	Kind string // "inspircd" or "ngircd"
	Name string // server name, "irc.test"
	Host string // "127.0.0.1"
	Port int
	Addr string // "127.0.0.1:port"
	// WebIRCPassword is accepted from 127.0.0.1 (WEBIRC, inspircd cgiirc
	// module / ngircd WebircPassword).
	WebIRCPassword string
	Dir            string // config and logs

	d *daemon
}

// IRCOptions configures an IRC server. Nothing yet; room for TLS.
type IRCOptions struct{}

type ircTemplateData struct {
	Dir            string
	Name           string
	Port           int
	WebIRCPassword string
}

const ircServerName = "irc.test"

// StartInspircd starts an inspircd 3 on a free loopback port, stopped by
// t.Cleanup: no hostname lookups, no ident, no flood limits, the IRCv3
// modules of test-servers.md loaded.
func StartInspircd(t testing.TB, o IRCOptions) *IRCServer {
	t.Helper()
	bin := mustLookPath(t, "inspircd")
	s, err := newIRCServer(t.TempDir(), "inspircd", bin, o)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { _ = s.d.kill() })
	return s
}

// StartNgircd starts an ngircd 26 on a free loopback port, stopped by
// t.Cleanup: DNS, ident and PAM off, no connection/join/penalty limits.
func StartNgircd(t testing.TB, o IRCOptions) *IRCServer {
	t.Helper()
	bin := mustLookPath(t, "ngircd")
	s, err := newIRCServer(t.TempDir(), "ngircd", bin, o)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { _ = s.d.kill() })
	return s
}

func newIRCServer(dir, kind, bin string, _ IRCOptions) (*IRCServer, error) {
	var lastErr error
	for range startAttempts {
		port, err := serverPort()
		if err != nil {
			return nil, err
		}
		s := &IRCServer{Kind: kind, Name: ircServerName, Host: "127.0.0.1", Port: port, Addr: hostPort(port), WebIRCPassword: "webirc-secret", Dir: dir}
		data := ircTemplateData{Dir: dir, Name: s.Name, Port: port, WebIRCPassword: s.WebIRCPassword}
		s.d = &daemon{name: kind, dir: dir, ready: []string{s.Addr}, timeout: 20 * time.Second}
		switch kind {
		case "inspircd":
			cfg := filepath.Join(dir, "inspircd.conf")
			if err := render("inspircd.conf.tmpl", cfg, data); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, "motd.txt"), []byte("biboumi test server\n"), 0o644); err != nil {
				return nil, err
			}
			s.d.argv = []string{bin, "--nofork", "--nopid", "--config", cfg}
			if os.Geteuid() == 0 {
				s.d.argv = append(s.d.argv, "--runasroot")
			}
			s.d.logs = []string{filepath.Join(dir, "inspircd.log")}
			s.d.failOn = []string{"Failed to bind", "failed to bind", "There were errors in your configuration"}
		case "ngircd":
			cfg := filepath.Join(dir, "ngircd.conf")
			if err := render("ngircd.conf.tmpl", cfg, data); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, "help.txt"), nil, 0o644); err != nil {
				return nil, err
			}
			s.d.argv = []string{bin, "--nodaemon", "--config", cfg}
			s.d.failOn = []string{"Can't bind socket", "No listening socket available"}
		}
		lastErr = s.d.start()
		if lastErr == nil {
			return s, nil
		}
		if !addrInUse(lastErr) {
			break
		}
	}
	return nil, lastErr
}

// Stop shuts the server down gracefully (SIGTERM) and waits for it to
// exit.
func (s *IRCServer) Stop(t testing.TB) {
	t.Helper()
	if err := s.d.stop(); err != nil {
		t.Logf("%v", err)
	}
}

// Kill SIGKILLs the server (a crash: connections just drop).
func (s *IRCServer) Kill(t testing.TB) {
	t.Helper()
	if err := s.d.kill(); err != nil {
		t.Logf("%v", err)
	}
}

// Start starts a stopped or killed server again on the same port.
func (s *IRCServer) Start(t testing.TB) {
	t.Helper()
	if err := s.d.start(); err != nil {
		t.Fatalf("testenv: start %s again: %v", s.Kind, err)
	}
}

// Restart stops the server if it runs and starts it again on the same
// port (all IRC state is lost).
func (s *IRCServer) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	if err := s.d.start(); err != nil {
		t.Fatalf("testenv: restart %s: %v", s.Kind, err)
	}
}

// Running reports whether the server process is alive.
func (s *IRCServer) Running() bool { return s.d.running() }

// StartupTime is how long the last (re)start took until the server was
// ready.
func (s *IRCServer) StartupTime() time.Duration {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.d.startupTime
}

// Logs returns the tail of the server's logs, for failure messages.
func (s *IRCServer) Logs() string { return s.d.logTail() }
