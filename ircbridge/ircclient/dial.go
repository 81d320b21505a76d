package ircclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// unmap turns an IPv4-mapped IPv6 address into plain IPv4.
func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// dial tries every TLS port, then every plain port, reporting each attempt
// as Progress events, and returns the first connection established. A DNS
// failure ends the attempts at once, as every port would fail the same way.
// On failure the error is the last attempt's.
func (c *Conn) dial() (net.Conn, bool, error) {
	host := c.cfg.Address
	d := &net.Dialer{Timeout: c.cfg.DialTimeout, Resolver: c.cfg.Resolver}
	if c.cfg.LocalAddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(c.cfg.LocalAddr)}
	}
	type attempt struct {
		port int
		tls  bool
	}
	var attempts []attempt
	for _, p := range c.cfg.TLSPorts {
		attempts = append(attempts, attempt{p, true})
	}
	for _, p := range c.cfg.Ports {
		attempts = append(attempts, attempt{p, false})
	}
	var lastErr error
	for _, a := range attempts {
		if err := c.ctx.Err(); err != nil {
			return nil, false, err
		}
		how := "(not encrypted)"
		if a.tls {
			how = "(encrypted)"
		}
		// Biboumi's text, even for IPv6 literals (no brackets).
		c.emit(Progress{Conn: c, Text: "Connecting to " + host + ":" + strconv.Itoa(a.port) + " " + how})
		nc, err := c.dialOne(d, host, a.port, a.tls)
		if err == nil {
			return nc, a.tls, nil
		}
		if ctxErr := c.ctx.Err(); ctxErr != nil {
			return nil, false, ctxErr
		}
		c.log.Debug("IRC connection attempt failed", "port", a.port, "tls", a.tls, "err", err)
		lastErr = err
		c.emit(Progress{Conn: c, Text: "Connection failed: " + StrError(err)})
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			break
		}
	}
	return nil, false, fmt.Errorf("ircclient: cannot connect to %s: %w", host, lastErr)
}

// dialOne connects to one port and, for a TLS port, completes the
// handshake, each step bounded by DialTimeout.
func (c *Conn) dialOne(d *net.Dialer, host string, port int, useTLS bool) (net.Conn, error) {
	nc, err := d.DialContext(c.ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	if c.cfg.Ident != nil {
		// As early as we can: the server queries our identd as soon as
		// it accepts the connection, on loopback sometimes before
		// DialContext has returned (identd waits a grace period).
		local, lok := nc.LocalAddr().(*net.TCPAddr)
		remote, rok := nc.RemoteAddr().(*net.TCPAddr)
		if lok && rok {
			c.identRelease = c.cfg.Ident(unmap(local.AddrPort()), unmap(remote.AddrPort()))
		}
	}
	if !useTLS {
		return nc, nil
	}
	var cfg *tls.Config
	if c.cfg.TLSConfig != nil {
		cfg = c.cfg.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if c.cfg.ClientCert != nil {
		cfg.Certificates = []tls.Certificate{*c.cfg.ClientCert}
		cfg.GetClientCertificate = nil
	}
	tc := tls.Client(nc, cfg)
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		if c.identRelease != nil {
			c.identRelease()
			c.identRelease = nil
		}
		return nil, &TLSError{Err: err}
	}
	return tc, nil
}
