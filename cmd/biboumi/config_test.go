package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"mellium.im/xmpp/jid"
)

const (
	testdataDir = "../../testdata/config"
	examplePath = "../../biboumi.example.toml"
)

// wantDefaults spells out every default, independently of defaultConfig,
// for a file that sets only hostname and password.
func wantDefaults() *Config {
	return &Config{
		Hostname:              jid.MustParse("biboumi.example.org"),
		Password:              "s3cret",
		XMPPServerIP:          "127.0.0.1",
		Port:                  5347,
		Admins:                nil,
		DBName:                "biboumi.sqlite",
		FixedIRCServer:        "",
		PersistentByDefault:   false,
		RealnameCustomization: true,
		RealnameFromJID:       false,
		WebIRCPassword:        "",
		LogFile:               "",
		LogLevel:              slog.LevelInfo,
		CAFile:                "",
		IdentdPort:            113,
		OutgoingBind:          netip.Addr{},
		IRC: IRCConfig{
			TLSPorts:       []int{6697, 6670},
			Ports:          []int{6667},
			ConnectTimeout: 5 * time.Second,
			PingInterval:   240 * time.Second,
			EncodingIn:     charmap.Windows1252, // WHATWG's "latin1"
		},
		Component: ComponentConfig{
			ReconnectMin: time.Second,
			ReconnectMax: 60 * time.Second,
			QueueSize:    10000,
		},
		Limits: LimitsConfig{
			IRCConnections: 10, Channels: 100, StanzaRate: 20, StanzaBurst: 100,
			MAMPageSize: 100, AdhocSessions: 16, QueueSize: 256, ConnectRate: 30,
		},
		Archive: ArchiveConfig{
			Retention:        0,
			MaxHistoryLength: 20,
		},
	}
}

func withDefaults(change func(c *Config)) *Config {
	c := wantDefaults()
	change(c)
	return c
}

// diffConfig lists the fields that differ, by path.
func diffConfig(got, want *Config) []string {
	var diffs []string
	var walk func(path string, g, w reflect.Value)
	walk = func(path string, g, w reflect.Value) {
		if g.Kind() == reflect.Struct && g.Type().PkgPath() == "biboumi/cmd/biboumi" {
			for i := range g.NumField() {
				walk(path+"."+g.Type().Field(i).Name, g.Field(i), w.Field(i))
			}
			return
		}
		if !reflect.DeepEqual(g.Interface(), w.Interface()) {
			diffs = append(diffs, path+": got "+fmtValue(g)+", want "+fmtValue(w))
		}
	}
	walk("Config", reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem())
	return diffs
}

func fmtValue(v reflect.Value) string {
	if js, ok := v.Interface().([]jid.JID); ok {
		var s []string
		for _, j := range js {
			s = append(s, j.String())
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	return fmt.Sprintf("%#v", v.Interface())
}

func checkConfig(t *testing.T, got, want *Config) {
	t.Helper()
	for _, d := range diffConfig(got, want) {
		t.Error(d)
	}
}

func TestParseConfigGood(t *testing.T) {
	tests := map[string]*Config{
		"minimal.toml": wantDefaults(),
		"full.toml": {
			Hostname:              jid.MustParse("irc.example.org"),
			Password:              "s3cret",
			XMPPServerIP:          "::1",
			Port:                  5348,
			Admins:                []jid.JID{jid.MustParse("alice@example.org"), jid.MustParse("bob@example.net")},
			DBName:                "/var/lib/biboumi/biboumi.sqlite",
			FixedIRCServer:        "irc.libera.chat",
			PersistentByDefault:   true,
			RealnameCustomization: false,
			RealnameFromJID:       true,
			WebIRCPassword:        "w3birc",
			LogFile:               "/var/log/biboumi/biboumi.log",
			LogLevel:              slog.LevelDebug,
			IdentdPort:            1113,
			OutgoingBind:          netip.MustParseAddr("192.0.2.10"),
			IRC: IRCConfig{
				TLSPorts:       []int{6697},
				Ports:          []int{6667, 7000},
				ConnectTimeout: 10 * time.Second,
				PingInterval:   2 * time.Minute,
				EncodingIn:     unicode.UTF8,
			},
			Component: ComponentConfig{
				ReconnectMin: 500 * time.Millisecond,
				ReconnectMax: 5 * time.Minute,
				QueueSize:    500,
			},
			Limits: LimitsConfig{
				IRCConnections: 10, Channels: 100, StanzaRate: 20, StanzaBurst: 100,
				MAMPageSize: 100, AdhocSessions: 16, QueueSize: 256, ConnectRate: 30,
			},
			Archive: ArchiveConfig{
				Retention:        365 * 24 * time.Hour,
				MaxHistoryLength: 50,
			},
		},
		"biboumi_admin_string.toml": withDefaults(func(c *Config) {
			c.Admins = []jid.JID{jid.MustParse("alice@example.org"), jid.MustParse("bob@example.net")}
			c.LogLevel = slog.LevelWarn
		}),
		"postgres.toml": withDefaults(func(c *Config) {
			c.DBName = "postgresql://biboumi:pw@localhost/biboumi?sslmode=disable"
		}),
		"dotted_keys.toml": withDefaults(func(c *Config) {
			c.IRC.Ports = []int{6668}
			c.Component.QueueSize = 42
		}),
		"metrics.toml": withDefaults(func(c *Config) {
			c.Metrics.Listen = "127.0.0.1:9347"
		}),
		"metrics_ipv6.toml": withDefaults(func(c *Config) {
			c.Metrics.Listen = "[::1]:9347"
		}),
		"metrics_off.toml": wantDefaults(),
		"policy.toml": withDefaults(func(c *Config) {
			c.Hostname = jid.MustParse("irc.example.org")
			c.Password = "secret"
			c.Policy = PolicyConfig{XMPPDomains: []string{"example.org", "*.partner.net", "*"},
				IRCAllow: []string{"*.libera.chat", "127.0.0.1"}, IRCDeny: []string{"bad.libera.chat"}}
			c.Limits = LimitsConfig{IRCConnections: 3, Channels: 50, StanzaRate: 5, StanzaBurst: 10,
				MAMPageSize: 50, AdhocSessions: 4, QueueSize: 64, ConnectRate: 2}
		}),
		"identd_off.toml": withDefaults(func(c *Config) {
			c.IdentdPort = 0
			c.IRC.TLSPorts = []int{}
			c.Archive.Retention = 12 * time.Hour
		}),
	}
	files, err := filepath.Glob(filepath.Join(testdataDir, "good", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	for name := range tests {
		if !slices.Contains(names, name) {
			t.Errorf("expectation for %s, which is not in testdata", name)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			want, ok := tests[name]
			if !ok {
				t.Fatalf("no expectation for testdata file %s: add one to the table", name)
			}
			got, err := LoadConfig(filepath.Join(testdataDir, "good", name))
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			checkConfig(t, got, want)
		})
	}
}

// readWant returns the expected error substring from a bad file's first
// line, "# want: <substring>".
func readWant(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	want, ok := strings.CutPrefix(first, "# want: ")
	if !ok || strings.TrimSpace(want) == "" {
		t.Fatalf("%s: first line must be \"# want: <error substring>\", got %q", path, first)
	}
	return want
}

func TestParseConfigBad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdataDir, "bad", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no bad configs found")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := readWant(t, path)
			cfg, err := LoadConfig(path)
			if err == nil {
				t.Fatalf("LoadConfig succeeded (%+v), want error containing %q", cfg, want)
			}
			if cfg != nil {
				t.Errorf("LoadConfig returned a config along with error %v", err)
			}
			checkErrorShape(t, err)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error\n\t%s\ndoes not contain\n\t%s", err, want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error reveals the password: %s", err)
			}
		})
	}
}

// checkErrorShape asserts the contract of every configuration error.
func checkErrorShape(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n\v\f\u0085\u2028\u2029") {
		t.Errorf("error is not a single line: %q", msg)
	}
	if !strings.HasPrefix(msg, "config: ") {
		t.Errorf("error does not start with \"config: \": %q", msg)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPasswordFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string // password, or error substring when wantErr
		wantErr bool
	}{
		{name: "newline", content: "hunter2\n", want: "hunter2"},
		{name: "crlf", content: "hunter2\r\n", want: "hunter2"},
		{name: "no newline", content: "hunter2", want: "hunter2"},
		{name: "inner spaces kept", content: " two words \n", want: " two words "},
		{name: "empty", content: "\n", want: "is empty", wantErr: true},
		{name: "two lines", content: "hunter2\nhunter3\n", want: "single line", wantErr: true},
		{name: "too large", content: strings.Repeat("x", maxPasswordFileSize+1), want: "larger than", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pwPath := writeFile(t, "password", tt.content)
			cfg, err := ParseConfig([]byte("hostname = \"biboumi.example.org\"\npassword_file = " + quote(pwPath) + "\n"))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseConfig succeeded, want error containing %q", tt.want)
				}
				checkErrorShape(t, err)
				if !strings.Contains(err.Error(), "password_file: ") || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %q does not name password_file and contain %q", err, tt.want)
				}
				if strings.Contains(err.Error(), "hunter") {
					t.Errorf("error reveals the file's content: %s", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if cfg.Password != tt.want {
				t.Errorf("Password = %q, want %q", cfg.Password, tt.want)
			}
		})
	}
}

func TestPasswordFileNotExist(t *testing.T) {
	_, err := ParseConfig([]byte("hostname = \"biboumi.example.org\"\npassword_file = \"/nonexistent/pw\"\n"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
}

// quote returns s as a TOML literal string (no escapes needed for paths).
func quote(s string) string { return "'" + s + "'" }

func TestCAFile(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now(),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	goodPath := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	badPath := writeFile(t, "notca.pem", "not a certificate\n")
	base := "hostname = \"biboumi.example.org\"\npassword = \"s3cret\"\nca_file = "

	cfg, err := ParseConfig([]byte(base + quote(goodPath)))
	if err != nil {
		t.Fatalf("ParseConfig with a good CA file: %v", err)
	}
	checkConfig(t, cfg, withDefaults(func(c *Config) { c.CAFile = goodPath }))

	for _, path := range []string{badPath, t.TempDir()} {
		_, err = ParseConfig([]byte(base + quote(path)))
		if err == nil {
			t.Fatalf("ParseConfig accepted ca_file %s", path)
		}
		checkErrorShape(t, err)
		if !strings.Contains(err.Error(), "config: ca_file: ") {
			t.Errorf("error %q does not name ca_file", err)
		}
	}
}

func TestDBDriver(t *testing.T) {
	tests := []struct {
		dbName, want string
	}{
		{"biboumi.sqlite", "sqlite"},
		{"/var/lib/biboumi/biboumi.sqlite", "sqlite"},
		{":memory:", "sqlite"},
		{"postgresql://localhost/biboumi", "postgres"},
		{"postgres://u:p@db.example.org:5432/biboumi?sslmode=verify-full", "postgres"},
		{"PostgreSQL://localhost/biboumi", "postgres"},
		{"postgresql:/no/slashes", "sqlite"},
	}
	for _, tt := range tests {
		cfg, err := ParseConfig([]byte("hostname = \"biboumi.example.org\"\npassword = \"s3cret\"\ndb_name = " + quote(tt.dbName)))
		if err != nil {
			t.Fatalf("db_name %q: %v", tt.dbName, err)
		}
		if got := cfg.DBDriver(); got != tt.want || cfg.DBName != tt.dbName {
			t.Errorf("db_name %q: DBDriver() = %q, DBName = %q; want %q", tt.dbName, got, cfg.DBName, tt.want)
		}
	}
}

func TestIsAdmin(t *testing.T) {
	cfg, err := ParseConfig([]byte(`hostname = "biboumi.example.org"
password = "s3cret"
admin = ["Alice@Example.org", "example.net"]
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		jid  string
		want bool
	}{
		{"alice@example.org", true},
		{"alice@example.org/phone", true},
		{"ALICE@EXAMPLE.ORG/Laptop", true},
		{"bob@example.org", false},
		{"example.org", false},
		{"example.net", true},
		{"alice@example.net", false},
	}
	for _, tt := range tests {
		if got := cfg.IsAdmin(jid.MustParse(tt.jid)); got != tt.want {
			t.Errorf("IsAdmin(%s) = %v, want %v", tt.jid, got, tt.want)
		}
	}
	if (&Config{}).IsAdmin(jid.MustParse("alice@example.org")) {
		t.Error("IsAdmin is true with no admins")
	}
}

func TestComponentAddr(t *testing.T) {
	for ip, want := range map[string]string{"127.0.0.1": "127.0.0.1:5347", "::1": "[::1]:5347", "xmpp.example.org": "xmpp.example.org:5347"} {
		c := &Config{XMPPServerIP: ip, Port: 5347}
		if got := c.ComponentAddr(); got != want {
			t.Errorf("ComponentAddr() with %q = %q, want %q", ip, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "5s", want: 5 * time.Second},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "365d", want: 365 * 24 * time.Hour},
		{in: "0d", want: 0},
		{in: "1.5d", wantErr: true},
		{in: "d", wantErr: true},
		{in: "-1d", wantErr: true},
		{in: "1d12h", wantErr: true},
		{in: "106751d", want: 106751 * 24 * time.Hour},
		{in: "106752d", wantErr: true},
		{in: "", wantErr: true},
		{in: "5", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil {
		t.Fatal("LoadConfig of a missing file succeeded")
	}
	checkErrorShape(t, err)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
}

func TestErrorIsOneLine(t *testing.T) {
	// A quoted key may contain a newline; the error must still be one line.
	_, err := ParseConfig([]byte("hostname = \"biboumi.example.org\"\npassword = \"s3cret\"\n\"bad\\nkey\u2028\" = 1\n"))
	if err == nil {
		t.Fatal("unknown key accepted")
	}
	checkErrorShape(t, err)
	if got := oneLine("a\nb\r\u2028c"); got != `a\nb\r\u2028c` {
		t.Errorf("oneLine = %q", got)
	}
}

func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	example := string(data)
	cfg, err := ParseConfig(data)
	if err != nil {
		t.Fatalf("example does not parse: %v", err)
	}

	// Lines "#key = value" show defaults: uncommenting them all must change
	// nothing.
	uncommented := regexp.MustCompile(`(?m)^#([a-z_]+ = )`).ReplaceAllString(example, "$1")
	if uncommented == example {
		t.Fatal("example shows no default as \"#key = value\"")
	}
	cfg2, err := ParseConfig([]byte(uncommented))
	if err != nil {
		t.Fatalf("example with defaults uncommented does not parse: %v", err)
	}
	for _, d := range diffConfig(cfg2, cfg) {
		t.Errorf("a default shown in the example is wrong: %s", d)
	}

	// Every key is documented, in its table.
	raw := new(rawConfig)
	sections := map[string]string{"": example}
	for _, tbl := range raw.tables() {
		header := "\n[" + tbl.name + "]\n"
		i := strings.Index(example, header)
		if i < 0 {
			t.Errorf("example has no [%s] table", tbl.name)
			continue
		}
		sections[tbl.name] = example[i:]
		sections[""] = sections[""][:min(len(sections[""]), i)]
		rest := example[i+len(header):]
		if j := strings.Index(rest, "\n["); j >= 0 {
			sections[tbl.name] = rest[:j]
		}
	}
	check := func(table string, keys []string) {
		for _, k := range keys {
			if !regexp.MustCompile(`(?m)^# ?` + k + ` = |^` + k + ` = `).MatchString(sections[table]) {
				t.Errorf("example does not document key %q in table %q", k, table)
			}
		}
	}
	var rootLeaves []string
	for _, k := range tomlKeys(reflect.TypeFor[rawConfig]()) {
		if !slices.ContainsFunc(raw.tables(), func(t rawTable) bool { return t.name == k }) {
			rootLeaves = append(rootLeaves, k)
		}
	}
	check("", rootLeaves)
	for _, tbl := range raw.tables() {
		check(tbl.name, tomlKeys(reflect.TypeOf(tbl.dst).Elem()))
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, pattern := range []string{"good/*.toml", "bad/*.toml"} {
		files, err := filepath.Glob(filepath.Join(testdataDir, pattern))
		if err != nil {
			f.Fatal(err)
		}
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	if data, err := os.ReadFile(examplePath); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if cfg != nil {
				t.Errorf("config returned along with error %v", err)
			}
			checkErrorShape(t, err)
			return
		}
		if cfg == nil {
			t.Fatal("nil config and nil error")
		}
		switch {
		case cfg.Hostname.Domainpart() == "" || cfg.Hostname.Localpart() != "" || cfg.Hostname.Resourcepart() != "":
			t.Errorf("bad hostname %q accepted", cfg.Hostname)
		case cfg.Password == "":
			t.Error("empty password accepted")
		case cfg.Port < 1 || cfg.Port > 65535 || cfg.IdentdPort < 0 || cfg.IdentdPort > 65535:
			t.Errorf("port %d / identd_port %d accepted", cfg.Port, cfg.IdentdPort)
		case len(cfg.IRC.Ports)+len(cfg.IRC.TLSPorts) == 0:
			t.Error("no IRC port accepted")
		case cfg.IRC.EncodingIn == nil:
			t.Error("nil EncodingIn")
		case cfg.IRC.ConnectTimeout <= 0 || cfg.IRC.PingInterval <= 0:
			t.Error("non-positive IRC duration accepted")
		case cfg.Component.ReconnectMin <= 0 || cfg.Component.ReconnectMax < cfg.Component.ReconnectMin:
			t.Error("bad reconnect delays accepted")
		case cfg.Component.QueueSize < 1 || cfg.Archive.MaxHistoryLength < 0 || cfg.Archive.Retention < 0:
			t.Error("bad component or archive value accepted")
		}
		for _, a := range cfg.Admins {
			if a.Resourcepart() != "" {
				t.Errorf("admin with resource %q accepted", a)
			}
		}
	})
}
