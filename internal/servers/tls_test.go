package servers_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"biboumi/internal/servers"
)

func TestGenerateTLS(t *testing.T) {
	t.Parallel()
	for _, selfSigned := range []bool{false, true} {
		dir := t.TempDir()
		f, err := servers.GenerateTLS(dir, selfSigned)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile); err != nil {
			t.Fatalf("selfSigned=%v: key pair: %v", selfSigned, err)
		}
		for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
			if _, err := f.Cert.Verify(x509.VerifyOptions{DNSName: host, Roots: f.Pool()}); err != nil {
				t.Errorf("selfSigned=%v: %s: %v", selfSigned, host, err)
			}
		}
		if _, err := f.Cert.Verify(x509.VerifyOptions{DNSName: "localhost"}); err == nil {
			t.Errorf("selfSigned=%v: verified against the system roots", selfSigned)
		}
		if got := bytes.Equal(f.CA.Raw, f.Cert.Raw); got != selfSigned {
			t.Errorf("selfSigned=%v: CA == Cert is %v", selfSigned, got)
		}
		b, err := os.ReadFile(f.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		if blk, _ := pem.Decode(b); blk == nil || !bytes.Equal(blk.Bytes, f.CA.Raw) {
			t.Errorf("selfSigned=%v: %s does not hold the CA", selfSigned, f.CAFile)
		}
		if b, err := os.ReadFile(f.DHFile); err != nil || !bytes.Contains(b, []byte("BEGIN DH PARAMETERS")) {
			t.Errorf("DH file: %v", err)
		}
	}
}
