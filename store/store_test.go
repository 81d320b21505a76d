package store

import (
	"testing"

	"mellium.im/xmpp/jid"
)

func TestParseDBName(t *testing.T) {
	for _, tc := range []struct {
		dbName string
		driver Driver
	}{
		{"postgresql://user:pw@db.example.org/biboumi", DriverPostgres},
		{"postgres://localhost/biboumi?sslmode=disable", DriverPostgres},
		{"/var/lib/biboumi/biboumi.sqlite", DriverSQLite},
		{"biboumi.sqlite", DriverSQLite},
		{"postgres.sqlite", DriverSQLite},
		{"host=localhost dbname=biboumi", DriverSQLite}, // Biboumi: only URIs select PostgreSQL
		{":memory:", DriverSQLite},
	} {
		d, dsn := ParseDBName(tc.dbName)
		if d != tc.driver || dsn != tc.dbName {
			t.Errorf("ParseDBName(%q) = %q, %q; want %q, the value itself", tc.dbName, d, dsn, tc.driver)
		}
	}
}

func TestTristate(t *testing.T) {
	for _, tc := range []struct {
		t         Tristate
		def, want bool
		s         string
	}{
		{Unset, true, true, "unset"},
		{Unset, false, false, "unset"},
		{True, false, true, "true"},
		{False, true, false, "false"},
	} {
		if got := tc.t.Or(tc.def); got != tc.want {
			t.Errorf("%v.Or(%v) = %v", tc.t, tc.def, got)
		}
		if tc.t.String() != tc.s {
			t.Errorf("String() = %q, want %q", tc.t.String(), tc.s)
		}
	}
	if TristateOf(true) != True || TristateOf(false) != False {
		t.Error("TristateOf")
	}
	// The stored encoding is Biboumi's.
	if True != 1 || False != -1 || Unset != 0 {
		t.Error("Tristate values changed: they are stored in databases")
	}
}

func TestPageSize(t *testing.T) {
	for _, tc := range []struct{ limit, want int }{
		{-1, DefaultLogLimit}, {0, DefaultLogLimit}, {1, 1}, {50, 50},
		{MaxLogLimit, MaxLogLimit}, {MaxLogLimit + 1, MaxLogLimit},
	} {
		if got := (LogQuery{Limit: tc.limit}).PageSize(); got != tc.want {
			t.Errorf("Limit %d: PageSize() = %d, want %d", tc.limit, got, tc.want)
		}
	}
	if (LogQuery{}).Backward() || !(LogQuery{Last: true}).Backward() || !(LogQuery{BeforeID: "x"}).Backward() {
		t.Error("Backward")
	}
}

func TestDefaultsAreBare(t *testing.T) {
	full := jid.MustParse("alice@example.org/phone")
	if o := DefaultGlobalOptions(full); o.Owner.String() != "alice@example.org" {
		t.Errorf("global owner %v", o.Owner)
	}
	if o := DefaultServerOptions(full, "s"); o.Owner.String() != "alice@example.org" {
		t.Errorf("server owner %v", o.Owner)
	}
	if o := DefaultChannelOptions(full, "s", "#c"); o.Owner.String() != "alice@example.org" {
		t.Errorf("channel owner %v", o.Owner)
	}
	// Callers may modify the returned lists.
	a := DefaultServerOptions(full, "s")
	a.Ports[0] = 1
	if DefaultServerOptions(full, "s").Ports[0] != 6667 {
		t.Error("default ports are shared")
	}
}
