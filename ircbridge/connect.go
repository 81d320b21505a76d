package ircbridge

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"biboumi/internal/metrics"
	"biboumi/ircbridge/ircclient"
	"biboumi/store"

	"golang.org/x/time/rate"
)

// This file opens a user's IRC connection with the user's per-server
// settings (reference §5.11 server form; §6.1).

// effectiveServerOptions returns the user's options for server, with the
// gateway's default ports when the user never saved any.
func (s *Session) effectiveServerOptions(server string) store.ServerOptions {
	o := store.DefaultServerOptions(s.owner, server)
	o.Ports, o.TLSPorts = s.cfg.Ports, s.cfg.TLSPorts
	st := s.g.store
	if st == nil {
		return o
	}
	ctx, cancel := s.storeCtx()
	got, err := st.ServerOptions(ctx, s.owner, server)
	cancel()
	if err != nil {
		s.log.Error("reading server options", "server", server, "err", err)
		return o
	}
	if !got.Stored {
		return o
	}
	return got
}

// serverOptions is effectiveServerOptions, for the forms.
func (s *Session) serverOptions(server string) store.ServerOptions {
	return s.effectiveServerOptions(server)
}

// connect starts the IRC connection of this user to server. nick is the
// nick of the join; the server's "nick" setting wins over it.
func (s *Session) connect(server, nick string) *ircServer {
	srv := newIRCServer(s.g.occ, server, nick)
	s.dial(srv, true)
	s.servers[server] = srv
	s.publishServers()
	return srv
}

// redial is a reconnection attempt with the same nick, rooms and state.
func (s *Session) redial(srv *ircServer) {
	srv.waiting = false
	s.dial(srv, false)
	s.publishServers()
}

// dial opens srv's connection with the user's current settings.
func (s *Session) dial(srv *ircServer, first bool) {
	o := s.effectiveServerOptions(srv.name)
	if o.Nick != "" && first {
		srv.nick = o.Nick
	}
	nick := srv.nick
	srv.afterConnect = o.AfterConnectCommands
	addr := o.Address
	if addr == "" {
		addr = srv.name
	}
	srv.endpoint = fmt.Sprint(strings.ToLower(addr), o.Ports, o.TLSPorts)
	user, real := s.realIdentity(nick)
	if s.cfg.RealnameCustomization {
		if o.Username != "" {
			user = strings.ReplaceAll(o.Username, " ", "_")
		}
		if o.Realname != "" {
			real = o.Realname
		}
	}
	enc := s.cfg.Encoding
	if o.EncodingIn != "" {
		enc = o.EncodingIn
	}
	srv.limiter = newThrottle(o.ThrottleLimit)
	cfg := ircclient.Config{
		Server:        srv.name,
		Address:       o.Address,
		TLSPorts:      o.TLSPorts,
		Ports:         o.Ports,
		TLSConfig:     tlsConfigFor(s.cfg.TLS, o),
		DialTimeout:   s.cfg.DialTimeout,
		LocalAddr:     s.cfg.OutgoingBind,
		Nick:          nick,
		Username:      user,
		Realname:      real,
		Password:      o.Pass,
		Hostname:      s.owner.Domainpart(),
		Fallback:      enc,
		PingInterval:  s.cfg.PingInterval,
		Logger:        s.log.With("server", srv.name),
		Handler:       s.ircHandler,
		ISupportCache: &s.g.isupport,
	}
	if srv.limiter != nil {
		cfg.Limiter = srv.limiter
	}
	switch {
	case o.SASLMechanism == "EXTERNAL":
		cert, err := s.clientCert()
		if err != nil {
			s.log.Error("client certificate for SASL EXTERNAL", "server", srv.name, "err", err)
			s.gatewayMessage(srv, "", "No client certificate for SASL EXTERNAL: "+err.Error())
			break
		}
		cfg.ClientCert = cert
		cfg.SASL = &ircclient.SASLConfig{Mechanism: "EXTERNAL"}
	case o.SASLPassword != "":
		user := o.Nick
		if user == "" {
			user = nick
		}
		cfg.SASL = &ircclient.SASLConfig{Username: user, Password: o.SASLPassword}
	}
	if s.cfg.WebIRCPassword != "" {
		cfg.WebIRC = s.webIRC()
	}
	if reg := s.cfg.Ident; reg != nil {
		user := identUser(s.owner)
		cfg.Ident = func(l, r netip.AddrPort) func() { return reg.Register(l, r, user) }
	}
	if s.cfg.FixedServer != "" {
		cfg.Address = "" // users cannot escape the fixed server
	}
	if err := s.g.dialPacer(srv.name).Wait(s.ctx); err != nil {
		s.log.Debug("connection pacing interrupted", "server", srv.name, "err", err)
	}
	srv.conn = ircclient.Dial(s.ctx, cfg)
	s.cfg.Metrics.IRCConnectionState("", metrics.IRCConnecting)
	s.applyCharsets(srv)
}

// newThrottle returns the token bucket of Biboumi's throttle_limit: limit
// tokens, one more each second; nil (unthrottled) for a negative limit.
func newThrottle(limit int) *rate.Limiter {
	if limit < 0 {
		return nil
	}
	burst := limit
	if burst == 0 {
		burst = 1 // 0 means every line waits its second
	}
	return rate.NewLimiter(rate.Every(time.Second), burst)
}

// applyThrottle changes the throttle of an open connection.
func (srv *ircServer) applyThrottle(limit int) {
	if srv.limiter == nil || limit < 0 {
		return // unthrottled connections stay so until they reconnect
	}
	if limit == 0 {
		limit = 1
	}
	srv.limiter.SetBurst(limit)
}

// tlsConfigFor builds the TLS configuration of a connection from the
// gateway's (ca_file) and the user's verify_cert and fingerprint.
func tlsConfigFor(base *tls.Config, o store.ServerOptions) *tls.Config {
	if o.VerifyCert && o.Fingerprint == "" {
		return base
	}
	var c *tls.Config
	if base != nil {
		c = base.Clone()
	} else {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c.InsecureSkipVerify = true // we verify below, or not at all (verify_cert=false)
	if o.Fingerprint == "" {
		return c
	}
	want := strings.ToLower(strings.ReplaceAll(o.Fingerprint, ":", ""))
	roots := c.RootCAs
	verify := o.VerifyCert
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no certificate")
		}
		leaf := cs.PeerCertificates[0]
		var got string
		if len(want) == 2*sha1.Size {
			sum := sha1.Sum(leaf.Raw)
			got = hex.EncodeToString(sum[:])
		} else {
			sum := sha256.Sum256(leaf.Raw)
			got = hex.EncodeToString(sum[:])
		}
		if got == want {
			// A pinned certificate is trusted whoever signed it and
			// whatever names it carries: the pin is stronger than both
			// (Biboumi also checks the name; self-signed certificates of
			// IRC servers rarely carry the right one).
			return nil
		}
		if !verify {
			return nil
		}
		inter := x509.NewCertPool()
		for _, ic := range cs.PeerCertificates[1:] {
			inter.AddCert(ic)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: cs.ServerName, Roots: roots, Intermediates: inter}); err != nil {
			return fmt.Errorf("certificate fingerprint mismatch and %w", err)
		}
		return nil
	}
	return c
}

// webIRC returns the WEBIRC parameters of this user: their own XMPP
// domain and its first address, resolved for each user (Biboumi resolves
// the first user's domain once and uses it for everyone).
func (s *Session) webIRC() *ircclient.WebIRCConfig {
	domain := s.owner.Domainpart()
	w := &ircclient.WebIRCConfig{Password: s.cfg.WebIRCPassword, Gateway: "biboumi", Hostname: domain}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", domain)
	if err != nil || len(addrs) == 0 {
		s.log.Warn("WEBIRC: cannot resolve the user's domain; using the gateway's address", "domain", domain, "err", err)
		w.IP = "127.0.0.1"
		return w
	}
	w.IP = addrs[0].Unmap().String()
	return w
}

// applyCharsets tells the connection the rooms' own input charsets.
func (s *Session) applyCharsets(srv *ircServer) {
	for _, r := range srv.rooms {
		s.applyCharset(srv, r)
	}
}

// applyCharset makes non-UTF-8 lines of r decode with its encoding_in
// (Biboumi stores it but applies only the server's).
func (s *Session) applyCharset(srv *ircServer, r *room) {
	if err := srv.conn.SetCharset(r.name, r.opts.EncodingIn); err != nil {
		s.log.Warn("channel encoding", "room", r.jid.String(), "err", err)
	}
}
