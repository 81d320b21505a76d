package fakeirc

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// TestClientCertAndRegisterCaps: a TLS server sees the client certificate,
// and RegisterCaps offers the given caps and accepts WEBIRC.
func TestClientCertAndRegisterCaps(t *testing.T) {
	t.Parallel()
	srv := NewTLSServer(t)
	cert := ClientCertificate(t)
	cfg := srv.ClientTLSConfig()
	cfg.Certificates = []tls.Certificate{cert}
	nc, err := tls.Dial("tcp", srv.Addr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(Timeout))
	cl := srv.Accept(t)
	if peer := cl.PeerCertificates(); len(peer) != 1 || !bytes.Equal(peer[0].Raw, cert.Certificate[0]) {
		t.Fatalf("PeerCertificates = %v", peer)
	}
	nc.Write([]byte("WEBIRC pw gw host 192.0.2.1\r\nCAP LS 302\r\nNICK n\r\nUSER u 0 * :r\r\nCAP END\r\n"))
	cl.RegisterCaps(t, "n", "sasl=PLAIN server-time")
	r := bufio.NewReader(nc)
	if l, _ := r.ReadString('\n'); strings.TrimSpace(l) != ":fake.irc CAP * LS :sasl=PLAIN server-time" {
		t.Fatalf("got %q", l)
	}

	plain := NewServer(t)
	pc, err := net.Dial("tcp", plain.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if peer := plain.Accept(t).PeerCertificates(); peer != nil {
		t.Errorf("plain connection: PeerCertificates = %v", peer)
	}
}
