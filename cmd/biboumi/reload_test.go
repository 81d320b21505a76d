package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"biboumi/ircbridge"

	"mellium.im/xmpp/jid"
)

// TestReload changes what can change live (log level, admins, realname
// settings) and a restart-only key (hostname): the first take effect, the
// second is reported and not applied.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.toml")
	write := func(body string) {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("hostname = \"irc.localhost\"\npassword = \"s\"\nidentd_port = 0\nlog_level = \"info\"\nadmin = [\"a@localhost\"]\n")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	logs, err := newLogging(cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	gcfg, err := gatewayConfig(cfg, logs.Logger())
	if err != nil {
		t.Fatal(err)
	}
	gw := ircbridge.New(*gcfg, nopSender{}, nil)
	defer gw.Shutdown(context.Background())
	d := daemon{path: path, cfg: cfg, logs: logs}

	write("hostname = \"other.localhost\"\npassword = \"s\"\nidentd_port = 0\nlog_level = \"debug\"\nadmin = [\"b@localhost\"]\nrealname_from_jid = true\n")
	if !d.doReload(gw) {
		t.Fatalf("reload refused:\n%s", out.String())
	}
	c := gw.Config()
	if !c.IsAdmin(jid.MustParse("b@localhost")) || c.IsAdmin(jid.MustParse("a@localhost")) {
		t.Errorf("admins not reloaded: %v", c.Admins)
	}
	if !c.RealnameFromJID {
		t.Error("realname_from_jid not reloaded")
	}
	if !logs.Logger().Enabled(context.Background(), slog.LevelDebug) {
		t.Error("log level not reloaded")
	}
	if c.Domain.String() != "irc.localhost" || d.cfg.Hostname.String() != "irc.localhost" {
		t.Errorf("hostname half-applied: gateway %s, daemon %s", c.Domain, d.cfg.Hostname)
	}
	if !strings.Contains(out.String(), "only takes effect after a restart") || !strings.Contains(out.String(), "key=hostname") {
		t.Errorf("restart-only key not reported:\n%s", out.String())
	}

	// A bad file keeps everything as it was.
	write("hostname = \"irc.localhost\"\npassword = \"s\"\nport = 99999\n")
	if d.doReload(gw) {
		t.Error("a bad configuration was accepted")
	}
	if !gw.Config().IsAdmin(jid.MustParse("b@localhost")) {
		t.Error("a refused reload changed the configuration")
	}
}

type nopSender struct{}

func (nopSender) SendMessage(context.Context, ircbridge.Message) error   { return nil }
func (nopSender) SendPresence(context.Context, ircbridge.Presence) error { return nil }
func (nopSender) SendIQ(context.Context, ircbridge.IQ) error             { return nil }
