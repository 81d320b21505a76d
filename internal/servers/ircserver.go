package servers

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// IRCServer is a running inspircd or ngircd with one plain-text client
// listener on loopback, and optionally a TLS one.
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
	// TLSPort and TLSAddr are the TLS client listener (IRCOptions.TLS),
	// zero otherwise; TLS holds its certificate files.
	TLSPort int
	TLSAddr string
	TLS     *TLSFiles

	p *Process
}

// DefaultWebIRCPassword is the WEBIRC password when IRCOptions has none.
const DefaultWebIRCPassword = "webirc-secret"

// IRCOptions configures an IRC server.
type IRCOptions struct {
	// PickPort chooses the ports; default FreePort.
	PickPort func() (int, error)
	// TLS adds a TLS client listener (inspircd: ssl_gnutls; ngircd: its
	// [SSL] section) with a certificate for 127.0.0.1 and localhost
	// generated into the server's directory, issued by a throwaway test
	// CA (IRCServer.TLS.CA).
	TLS bool
	// TLSSelfSigned makes that certificate self-signed instead (for
	// fingerprint pinning tests).
	TLSSelfSigned bool
	// WebIRCPassword is the WEBIRC password accepted from 127.0.0.1;
	// default DefaultWebIRCPassword.
	WebIRCPassword string
	// Ident makes inspircd query the client's identd (RFC 1413, port 113
	// of the client's address) at each connection (its ident module, 2 s
	// timeout). ngircd ignores it: it only queries identd from its DNS
	// resolver, which stays off so that no lookup leaves the machine.
	Ident bool
}

type ircTemplateData struct {
	Dir            string
	Name           string
	Port           int
	WebIRCPassword string
	// TLSPort is 0 without TLS; then TLSCertFile and TLSKeyFile are empty.
	TLSPort     int
	TLSCertFile string
	TLSKeyFile  string
	TLSDHFile   string
	Ident       bool
}

const ircServerName = "irc.test"

// StartInspircd starts an inspircd 3 on a free loopback port, with its
// configuration and logs in dir (which must exist): no hostname lookups,
// no ident, no flood limits, the IRCv3 modules of test-servers.md loaded.
// Stop or Kill it when done.
func StartInspircd(dir string, o IRCOptions) (*IRCServer, error) {
	return startIRCServer(dir, "inspircd", o)
}

// StartNgircd starts an ngircd 26 on a free loopback port, with its
// configuration in dir (which must exist): DNS, ident and PAM off, no
// connection/join/penalty limits. Stop or Kill it when done.
func StartNgircd(dir string, o IRCOptions) (*IRCServer, error) {
	return startIRCServer(dir, "ngircd", o)
}

func startIRCServer(dir, kind string, o IRCOptions) (*IRCServer, error) {
	bin, err := LookPath(kind)
	if err != nil {
		return nil, err
	}
	next := pickPort(o.PickPort)
	webircPassword := o.WebIRCPassword
	if webircPassword == "" {
		webircPassword = DefaultWebIRCPassword
	}
	var tlsFiles *TLSFiles
	if o.TLS || o.TLSSelfSigned {
		if tlsFiles, err = GenerateTLS(dir, o.TLSSelfSigned); err != nil {
			return nil, fmt.Errorf("%s: TLS certificate: %w", kind, err)
		}
	}
	var lastErr error
	for range startAttempts {
		port, err := next()
		if err != nil {
			return nil, err
		}
		s := &IRCServer{Kind: kind, Name: ircServerName, Host: "127.0.0.1", Port: port, Addr: hostPort(port), WebIRCPassword: webircPassword, Dir: dir}
		data := ircTemplateData{Dir: dir, Name: s.Name, Port: port, WebIRCPassword: s.WebIRCPassword, Ident: o.Ident}
		cfg := ProcessConfig{Name: kind, Dir: dir, Ready: []string{s.Addr}, Timeout: 20 * time.Second}
		if tlsFiles != nil {
			if s.TLSPort, err = next(); err != nil {
				return nil, err
			}
			s.TLSAddr, s.TLS = hostPort(s.TLSPort), tlsFiles
			data.TLSPort, data.TLSCertFile, data.TLSKeyFile, data.TLSDHFile = s.TLSPort, tlsFiles.CertFile, tlsFiles.KeyFile, tlsFiles.DHFile
			cfg.Ready = append(cfg.Ready, s.TLSAddr)
		}
		switch kind {
		case "inspircd":
			conf := filepath.Join(dir, "inspircd.conf")
			if err := render("inspircd.conf.tmpl", conf, data); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, "motd.txt"), []byte("biboumi test server\n"), 0o644); err != nil {
				return nil, err
			}
			cfg.Argv = []string{bin, "--nofork", "--nopid", "--config", conf}
			if os.Geteuid() == 0 {
				cfg.Argv = append(cfg.Argv, "--runasroot")
			}
			cfg.Logs = []string{filepath.Join(dir, "inspircd.log")}
			cfg.FailOn = []string{"Failed to bind", "failed to bind", "There were errors in your configuration"}
		case "ngircd":
			conf := filepath.Join(dir, "ngircd.conf")
			if err := render("ngircd.conf.tmpl", conf, data); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, "help.txt"), nil, 0o644); err != nil {
				return nil, err
			}
			cfg.Argv = []string{bin, "--nodaemon", "--config", conf}
			cfg.FailOn = []string{"Can't bind socket", "No listening socket available"}
		default:
			return nil, fmt.Errorf("unknown IRC server kind %q", kind)
		}
		s.p = newProcess(cfg)
		lastErr = s.p.Start()
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
func (s *IRCServer) Stop() error { return s.p.Stop() }

// Kill SIGKILLs the server (a crash: connections just drop).
func (s *IRCServer) Kill() error { return s.p.Kill() }

// Start starts a stopped or killed server again on the same port.
func (s *IRCServer) Start() error {
	if err := s.p.Start(); err != nil {
		return fmt.Errorf("start %s again: %w", s.Kind, err)
	}
	return nil
}

// Restart stops the server if it runs and starts it again on the same
// port (all IRC state is lost). An error of the stop (the server had to
// be killed) is not returned.
func (s *IRCServer) Restart() error {
	_ = s.p.Stop()
	if err := s.p.Start(); err != nil {
		return fmt.Errorf("restart %s: %w", s.Kind, err)
	}
	return nil
}

// Running reports whether the server process is alive.
func (s *IRCServer) Running() bool { return s.p.Running() }

// StartupTime is how long the last (re)start took until the server was
// ready.
func (s *IRCServer) StartupTime() time.Duration { return s.p.StartupTime() }

// Logs returns the tail of the server's logs, for failure messages.
func (s *IRCServer) Logs() string { return s.p.Logs() }
