package main

import (
	"slices"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// TestRestartOnlyKeys: every restart-only key is reported when it changes,
// and keepRestartOnly undoes exactly those changes.
func TestRestartOnlyKeys(t *testing.T) {
	old := defaultConfig()
	cur := defaultConfig()
	cur.Hostname = jid.MustParse("other.example.org")
	cur.Password = "new secret"
	cur.XMPPServerIP = "192.0.2.1"
	cur.Port = 5348
	cur.DBName = "other.sqlite"
	cur.FixedIRCServer = "irc.example.net"
	cur.IdentdPort = 1113
	cur.Component.ReconnectMax = time.Hour
	cur.Metrics.Listen = "127.0.0.1:9999"
	cur.Archive.MaxHistoryLength = 7 // live: neither reported nor kept
	want := []string{"hostname", "password", "xmpp_server_ip", "port", "db_name", "fixed_irc_server", "identd_port", "component", "metrics.listen"}
	if got := restartOnlyChanges(old, cur); !slices.Equal(got, want) {
		t.Fatalf("restartOnlyChanges = %v, want %v", got, want)
	}
	keepRestartOnly(old, cur)
	if got := restartOnlyChanges(old, cur); len(got) != 0 {
		t.Fatalf("after keepRestartOnly, still changed: %v", got)
	}
	if cur.Archive.MaxHistoryLength != 7 {
		t.Fatal("keepRestartOnly undid a live key")
	}
}
