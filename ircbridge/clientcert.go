package ircbridge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"biboumi/store"
)

// This file gives each user a TLS client certificate for SASL EXTERNAL and
// CertFP (issue 6). The gateway makes it on first use and keeps it in the
// store, so its fingerprint, registered once with a network's services,
// stays valid. It is only presented to servers where the user chose
// EXTERNAL, so networks cannot link a user's identities by it otherwise.

// clientCert returns the user's certificate, making and storing it the
// first time.
func (s *Session) clientCert() (*tls.Certificate, error) {
	st := s.g.store
	if st == nil {
		return nil, errors.New("no database to keep the client certificate in")
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	certPEM, keyPEM, err := st.ClientCert(ctx, s.owner)
	if errors.Is(err, store.ErrNotFound) {
		certPEM, keyPEM, err = newClientCert(identUser(s.owner))
		if err != nil {
			return nil, err
		}
		if err = st.StoreClientCert(ctx, s.owner, certPEM, keyPEM); errors.Is(err, store.ErrConflict) {
			certPEM, keyPEM, err = st.ClientCert(ctx, s.owner) // made meanwhile: use that one
		}
	}
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("stored client certificate: %w", err)
	}
	return &c, nil
}

// newClientCert makes a self-signed ECDSA P-256 certificate valid for 20
// years (services match its fingerprint, not its dates).
func newClientCert(cn string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(20, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// certFingerprint is the SHA-256 fingerprint services (NickServ CERT ADD)
// expect: lowercase hex of the DER certificate.
func certFingerprint(c *tls.Certificate) string {
	if c == nil || len(c.Certificate) == 0 {
		return ""
	}
	sum := sha256.Sum256(c.Certificate[0])
	return hex.EncodeToString(sum[:])
}
