package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"biboumi/internal/testenv"
)

func TestTestConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(good, []byte("hostname = \"irc.localhost\"\npassword = \"s\"\n"), 0o600)
	os.WriteFile(bad, []byte("hostname = \"irc.localhost\"\npassword = \"s\"\nport = 70000\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--test-config", good}, 0, "configuration OK"},
		{[]string{"--test-config", bad}, 2, "port"},
		{[]string{"--test-config", filepath.Join(dir, "missing.toml")}, 2, "missing.toml"},
		{[]string{"--no-such-flag"}, 2, "no-such-flag"},
		{[]string{"a", "b"}, 2, "Usage"},
		{[]string{"--version"}, 0, "biboumi"},
	} {
		var stdout, stderr bytes.Buffer
		code := realMain(tc.args, &stdout, &stderr)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr.String())
		}
		if out := stdout.String() + stderr.String(); !strings.Contains(out, tc.out) {
			t.Errorf("%v: output %q lacks %q", tc.args, out, tc.out)
		}
		if tc.code == 2 && strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 && tc.out == "port" {
			t.Errorf("%v: error is not one line: %q", tc.args, stderr.String())
		}
	}
}

// TestStartupFailures checks that a gateway that can never authenticate
// exits 1 quickly and says why.
func TestStartupFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("uses a real XMPP server")
	}
	xs := testenv.StartProsody(t, testenv.XMPPOptions{})
	closed := testenv.FreePort(t)
	for _, tc := range []struct {
		name, host, secret string
		port               int
		want               string
	}{
		{"wrong secret", xs.ComponentHost, "wrong", xs.ComponentPort, "not-authorized"},
		{"unknown host", "unknown.localhost", xs.Secret, xs.ComponentPort, ""},
		{"refused", xs.ComponentHost, xs.Secret, closed, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "c.toml")
			os.WriteFile(cfg, []byte("hostname = \""+tc.host+"\"\npassword = \""+tc.secret+"\"\nport = "+itoa(tc.port)+
				"\nidentd_port = 0\ndb_name = \""+filepath.Join(dir, "db.sqlite")+"\"\n"), 0o600)
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := realMain([]string{cfg}, &stdout, &stderr)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr.String())
			}
			if time.Since(start) > 15*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if !strings.Contains(strings.ToLower(stderr.String()), tc.want) {
				t.Errorf("log lacks %q:\n%s", tc.want, stderr.String())
			}
			if strings.Contains(stderr.String(), tc.secret) && tc.secret != "" && tc.secret != "wrong" {
				t.Errorf("the secret was logged")
			}
		})
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + formatInt(n)) }

func formatInt(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
