package servers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles is a server certificate for 127.0.0.1, ::1 and localhost,
// written as PEM files for a server's configuration.
type TLSFiles struct {
	// CA is the certificate that verifies the server: the throwaway test
	// CA that issued Cert, or Cert itself when it is self-signed.
	CA *x509.Certificate
	// Cert is the server's certificate.
	Cert *x509.Certificate
	// CAFile, CertFile and KeyFile are the PEM files (CAFile holds CA).
	CAFile, CertFile, KeyFile string
	// DHFile holds the RFC 7919 ffdhe2048 group: ngircd (GnuTLS) spends
	// seconds generating DH parameters at start-up without one.
	DHFile string
}

// ffdhe2048 is the RFC 7919 finite-field group (public constants), as
// "openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048"
// prints it.
const ffdhe2048 = `-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
`

// Pool returns a certificate pool holding only CA.
func (f *TLSFiles) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(f.CA)
	return pool
}

// ClientConfig returns a client TLS configuration that trusts only CA.
func (f *TLSFiles) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: f.Pool(), MinVersion: tls.VersionTLS12}
}

// GenerateTLS makes a server certificate valid for a day for 127.0.0.1,
// ::1 and localhost, issued by a fresh test CA or self-signed, and writes
// tls-ca.pem, tls-cert.pem, tls-key.pem and tls-dh.pem into dir (world-readable, as
// servers may read them after dropping privileges).
func GenerateTLS(dir string, selfSigned bool) (*TLSFiles, error) {
	now := time.Now()
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
		return n
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"biboumi tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	var (
		caCert  *x509.Certificate
		parent         = leafTmpl
		signer  any    = key
		caDER   []byte = nil
		leafDER []byte
	)
	if !selfSigned {
		caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		caTmpl := &x509.Certificate{
			SerialNumber:          serial(),
			Subject:               pkix.Name{CommonName: "biboumi test CA"},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		caDER, err = x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
		if err != nil {
			return nil, fmt.Errorf("test CA: %w", err)
		}
		if caCert, err = x509.ParseCertificate(caDER); err != nil {
			return nil, err
		}
		parent, signer = caCert, caKey
	}
	leafDER, err = x509.CreateCertificate(rand.Reader, leafTmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, err
	}
	if selfSigned {
		caCert, caDER = leaf, leafDER
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	f := &TLSFiles{
		CA:       caCert,
		Cert:     leaf,
		CAFile:   filepath.Join(dir, "tls-ca.pem"),
		CertFile: filepath.Join(dir, "tls-cert.pem"),
		KeyFile:  filepath.Join(dir, "tls-key.pem"),
		DHFile:   filepath.Join(dir, "tls-dh.pem"),
	}
	if err := os.WriteFile(f.DHFile, []byte(ffdhe2048), 0o644); err != nil {
		return nil, err
	}
	for _, w := range []struct {
		path, typ string
		der       []byte
	}{
		{f.CAFile, "CERTIFICATE", caDER},
		{f.CertFile, "CERTIFICATE", leafDER},
		{f.KeyFile, "PRIVATE KEY", keyDER},
	} {
		if err := os.WriteFile(w.path, pem.EncodeToMemory(&pem.Block{Type: w.typ, Bytes: w.der}), 0o644); err != nil {
			return nil, err
		}
	}
	return f, nil
}
