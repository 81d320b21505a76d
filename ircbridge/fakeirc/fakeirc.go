// Package fakeirc is a scripted, in-process IRC server for unit tests, in the
// style of net/http/httptest: NewServer listens on a loopback port, Accept
// returns the next client connection, and the test drives the conversation
// line by line with Expect and Send.
//
// Every read has a deadline (Timeout), so a hung client fails the test fast
// instead of hanging it. Methods taking a testing.TB call t.Fatal on failure
// and therefore must run on the test's goroutine; from other goroutines use
// Next and Write, which return errors instead.
package fakeirc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// Timeout bounds every wait: Accept, and each read of a Client.
const Timeout = 10 * time.Second

// ServerName is the source of the lines Register sends.
const ServerName = "fake.irc"

// Server is a listening fake IRC server. It is closed, with every connection
// it accepted, by the test's Cleanup. Its methods are safe for concurrent use.
type Server struct {
	ln      net.Listener
	tlsCfg  *tls.Config       // nil for a plain-text server
	cert    *x509.Certificate // the self-signed certificate of a TLS server
	conns   chan net.Conn
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	clients []net.Conn
}

// NewServer starts a plain-text server on 127.0.0.1 and a free port.
func NewServer(t testing.TB) *Server {
	t.Helper()
	return newServer(t, nil, nil)
}

// NewTLSServer starts a TLS server on 127.0.0.1 with a fresh self-signed
// certificate valid for 127.0.0.1 and localhost. Clients verifying against
// the system roots reject it; ClientTLSConfig trusts it. The server completes
// the handshake as soon as it accepts a connection; connections whose
// handshake fails are closed and never returned by Accept. It asks clients
// for a certificate without requiring or verifying one (CertFP, SASL
// EXTERNAL): Client.PeerCertificates returns what the client presented.
func NewTLSServer(t testing.TB) *Server {
	t.Helper()
	cert, leaf := selfSigned(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}
	return newServer(t, cfg, leaf)
}

// ClientCertificate returns a fresh self-signed client certificate, for
// CertFP and SASL EXTERNAL tests.
func ClientCertificate(t testing.TB) tls.Certificate {
	t.Helper()
	cert, _ := selfSigned(t)
	return cert
}

func newServer(t testing.TB, tlsCfg *tls.Config, leaf *x509.Certificate) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakeirc: listen: %v", err)
	}
	s := &Server{
		ln:     ln,
		tlsCfg: tlsCfg,
		cert:   leaf,
		conns:  make(chan net.Conn, 16),
		stop:   make(chan struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.Close)
	return s
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		if s.tlsCfg != nil {
			nc = tls.Server(nc, s.tlsCfg)
		}
		if !s.track(nc) {
			return
		}
		if tc, ok := nc.(*tls.Conn); ok {
			// Handshake at once, as a real server does: a client that
			// rejects the certificate learns it without the test's help.
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				tc.SetDeadline(time.Now().Add(Timeout))
				if err := tc.Handshake(); err != nil {
					tc.Close()
					return
				}
				tc.SetDeadline(time.Time{})
				s.deliver(tc)
			}()
			continue
		}
		s.deliver(nc)
	}
}

// track records nc for Close, or closes it if the server is closed.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stop:
		nc.Close()
		return false
	default:
	}
	s.clients = append(s.clients, nc)
	return true
}

func (s *Server) deliver(nc net.Conn) {
	select {
	case s.conns <- nc:
	case <-s.stop:
	}
}

// Close stops listening and closes every accepted connection. It is called
// by the test's Cleanup; calling it earlier makes later dials fail.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.stop:
		s.mu.Unlock()
		return
	default:
	}
	close(s.stop)
	for _, nc := range s.clients {
		nc.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host returns "127.0.0.1".
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port returns the listening port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Certificate returns the self-signed certificate of a TLS server, or nil.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// ClientTLSConfig returns a client configuration that trusts the server's
// certificate, or nil for a plain-text server.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.cert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.cert)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// Accept waits, at most Timeout, for the next client connection.
func (s *Server) Accept(t testing.TB) *Client {
	t.Helper()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	select {
	case nc := <-s.conns:
		return newClient(nc)
	case <-timer.C:
		t.Fatalf("fakeirc: no connection to %s within %v", s.Addr(), Timeout)
		return nil
	}
}

// ClosedPort returns a loopback port on which nothing listens, so that
// connecting to it is refused: it binds a free port and closes it.
func ClosedPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakeirc: listen: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// selfSigned makes an ECDSA P-256 CA certificate for 127.0.0.1 and localhost.
func selfSigned(t testing.TB) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("fakeirc: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{Organization: []string{"fakeirc"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("fakeirc: certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("fakeirc: certificate: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}
