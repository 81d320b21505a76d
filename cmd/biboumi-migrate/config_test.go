package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

var updateConfigGolden = flag.Bool("update", false, "rewrite the golden files of the config tests (testdata/biboumicfg/*.toml, *.warnings)")

// cfgTestdata holds the fixtures: NAME.cfg (a biboumi.cfg), NAME.env
// (optional: NAME=VALUE lines set in the environment, then converted with
// --env), and the golden NAME.toml and NAME.warnings.
const cfgTestdata = "../../testdata/biboumicfg"

// cfgFixtures returns the fixtures' names.
func cfgFixtures(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(cfgTestdata, "*.cfg"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in %s: %v", cfgTestdata, err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".cfg"))
	}
	return names
}

// cfgPolicyFS presents testdata/biboumicfg/policy as /etc/biboumi, where
// Debian's Biboumi reads its Botan policy files, so that the output does
// not depend on the host's /etc.
func cfgPolicyFS(t *testing.T) fs.FS {
	t.Helper()
	dir := filepath.Join(cfgTestdata, "policy")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := fstest.MapFS{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m["etc/biboumi/"+e.Name()] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	return m
}

// cfgClearEnv unsets every BIBOUMI_* variable for the rest of the test
// (the test harness's own, BIBOUMI_TEST_POSTGRES, would otherwise count).
func cfgClearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "BIBOUMI_") {
			t.Setenv(name, "") // restored after the test
			os.Unsetenv(name)
		}
	}
}

// cfgSetEnv sets the variables of NAME.env with t.Setenv, after clearing
// the others, and reports whether the fixture has such a file.
func cfgSetEnv(t *testing.T, name string) bool {
	t.Helper()
	cfgClearEnv(t)
	data, err := os.ReadFile(filepath.Join(cfgTestdata, name+".env"))
	if errors.Is(err, fs.ErrNotExist) {
		return false
	} else if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s.env: %q is not NAME=VALUE", name, line)
		}
		t.Setenv(k, v)
	}
	return true
}

// cfgConvertFixture converts NAME.cfg as if it were /etc/biboumi/NAME.cfg,
// with --env when the fixture has a NAME.env.
func cfgConvertFixture(t *testing.T, name string) cfgResult {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cfgTestdata, name+".cfg"))
	if err != nil {
		t.Fatal(err)
	}
	opts := cfgOptions{Name: name + ".cfg", FS: cfgPolicyFS(t), ConfigDir: "/etc/biboumi"}
	if cfgSetEnv(t, name) {
		opts.Env = os.Environ()
	}
	return convertBiboumiCfg(data, opts)
}

// cfgGolden compares got with the golden file, or rewrites it with -update.
func cfgGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	path := filepath.Join(cfgTestdata, file)
	if *updateConfigGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Config -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -run Config -update rewrites it)\n--- got:\n%s\n--- want:\n%s", file, got, want)
	}
}

func cfgWarningsText(ws []string) []byte {
	var b bytes.Buffer
	for _, w := range ws {
		b.WriteString(w)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// cfgDecode parses a converted configuration into a generic map.
func cfgDecode(t testing.TB, out []byte) map[string]any {
	t.Helper()
	m := map[string]any{}
	if _, err := toml.Decode(string(out), &m); err != nil {
		t.Fatalf("the output is not valid TOML: %v\n%s", err, out)
	}
	return m
}

func TestConfigGolden(t *testing.T) {
	for _, name := range cfgFixtures(t) {
		t.Run(name, func(t *testing.T) {
			res := cfgConvertFixture(t, name)
			cfgGolden(t, name+".toml", res.TOML)
			cfgGolden(t, name+".warnings", cfgWarningsText(res.Warnings))
			for _, w := range res.Warnings {
				if strings.ContainsAny(w, "\r\n") || !utf8.ValidString(w) {
					t.Errorf("warning is not one line of UTF-8: %q", w)
				}
			}
		})
	}
}

// TestConfigValues checks the converted values and their TOML types, as
// a TOML parser sees them, for each fixture.
func TestConfigValues(t *testing.T) {
	want := map[string]map[string]any{
		"full": {
			"hostname":               "irc.example.org",
			"password":               "c0mp \"secret\" \\with\\ backslashes, ünïcödé and a tab\there",
			"xmpp_server_ip":         "::1",
			"port":                   int64(5347),
			"admin":                  []any{"alice@example.org", "bob@example.net"},
			"fixed_irc_server":       "irc.example.net",
			"persistent_by_default":  true,
			"realname_customization": false,
			"realname_from_jid":      true,
			"webirc_password":        "w3b1rc-s3cr3t",
			"log_file":               "/var/log/biboumi/biboumi.log",
			"log_level":              "warn",
			"ca_file":                "/etc/ssl/certs/ca-certificates.crt",
			"db_name":                "postgresql://biboumi:p%40ss@db.example.org:5432/biboumi?sslmode=require",
			"identd_port":            int64(1113),
			"outgoing_bind":          "192.0.2.10",
		},
		"debian": {
			"hostname":               "biboumi.example.org",
			"password":               "s3cr3t",
			"xmpp_server_ip":         "127.0.0.1",
			"port":                   int64(5347),
			"admin":                  []any{},
			"realname_customization": true,
			"realname_from_jid":      false,
			"log_file":               "",
			"ca_file":                "",
			"outgoing_bind":          "",
			"log_level":              "info",
			"db_name":                "biboumi.sqlite",
		},
		"debian-default": {
			"hostname":               "",
			"password":               "",
			"xmpp_server_ip":         "127.0.0.1",
			"port":                   int64(5347),
			"admin":                  []any{},
			"realname_customization": true,
			"realname_from_jid":      false,
			"log_file":               "",
			"ca_file":                "",
			"outgoing_bind":          "",
			"log_level":              "info",
			"db_name":                "biboumi.sqlite",
		},
		"bad": {
			// Last hostname line, trimmed; port=abc, log_level=verbose,
			// identd_port=ident, xmpp_server_ip= and outgoing_bind=eth0
			// are left out (defaults); only two admins are usable.
			"hostname":               "irc.example.net",
			"password":               "secret",
			"admin":                  []any{"alice@example.org", "Dave@Example.org"},
			"persistent_by_default":  false,
			"realname_customization": false,
			"realname_from_jid":      false,
			"db_name":                "biboumi.sqlite",
			"log_file":               "",
			"ca_file":                "",
		},
		"env": {
			"hostname":  "irc.example.org",
			"password":  `from "env" \ secret`,
			"port":      int64(5348),
			"log_level": "error",
			"admin":     []any{"alice@example.org", "bob@example.org"},
			"db_name":   "postgresql://biboumi@localhost/biboumi",
		},
	}
	for _, name := range cfgFixtures(t) {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expected values for fixture %s", name)
			}
			got := cfgDecode(t, cfgConvertFixture(t, name).TOML)
			if !reflect.DeepEqual(got, w) {
				t.Errorf("values:\n got %#v\nwant %#v", got, w)
			}
		})
	}
}

// TestConfigLoadsInGateway runs the real loader, "biboumi --test-config",
// on each fixture's output.
func TestConfigLoadsInGateway(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "biboumi")
	if out, err := exec.Command(goBin, "build", "-o", bin, "biboumi/cmd/biboumi").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// ca_file must name a readable PEM bundle; the fixtures name the
	// system's, which this host may not have.
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, testCAPEM(t), 0o644); err != nil {
		t.Fatal(err)
	}
	// The fixtures whose output the gateway must refuse, and why.
	refused := map[string]string{"debian-default": "config: hostname: must not be empty"}

	for _, name := range cfgFixtures(t) {
		t.Run(name, func(t *testing.T) {
			out := string(cfgConvertFixture(t, name).TOML)
			if f, _ := cfgDecode(t, []byte(out))["ca_file"].(string); f != "" {
				out = strings.Replace(out, "\nca_file = "+tomlQuote(f)+"\n", "\nca_file = "+tomlQuote(ca)+"\n", 1)
			}
			path := filepath.Join(dir, name+".toml")
			if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "--test-config", path)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if msg, ok := refused[name]; ok {
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), msg) {
					t.Errorf("biboumi --test-config: %v, want exit 2 with %q\n%s%s", err, msg, stdout.String(), stderr.String())
				}
				return
			}
			if err != nil || !strings.Contains(stdout.String(), "configuration OK") {
				t.Errorf("biboumi --test-config: %v\n%s%s\n--- configuration:\n%s", err, stdout.String(), stderr.String(), out)
			}
		})
	}
}

// testCAPEM returns a self-signed CA certificate in PEM.
func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "biboumi-migrate test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestConfigCLI(t *testing.T) {
	cfgClearEnv(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "biboumi.cfg")
	if err := os.WriteFile(good, []byte("hostname=irc.example.org\npassword=secret\nport=5347\nbogus=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Botan policy files next to the file, Biboumi's default
	// policy_directory; a FIFO among them must not block the command.
	for name, content := range map[string]string{"policy.txt": "use_ecc_point_compression = true\n", "irc.x.policy.txt": "# no\nverify_certificate = 0 # self-signed\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.policy.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "unreadable.cfg")
	if err := os.WriteFile(unreadable, []byte("hostname=x\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string // expected substrings
	}{
		{[]string{"--help"}, exitOK, "config ", ""},
		{[]string{"help", "config"}, exitOK, "Usage: biboumi-migrate config [--env] BIBOUMI_CFG", ""},
		{[]string{"config", "--help"}, exitOK, "-env", ""},
		{[]string{"config"}, exitUsage, "", "the Biboumi configuration file is required"},
		{[]string{"config", good, "extra"}, exitUsage, "", `unexpected argument "extra"`},
		{[]string{"config", good, "--env"}, exitUsage, "", `unexpected argument "--env" (options go before the file)`},
		{[]string{"config", "--bogus", good}, exitUsage, "", "flag provided but not defined"},
		{[]string{"config", filepath.Join(dir, "missing.cfg")}, exitFailure, "", "no such file"},
		{[]string{"config", dir}, exitFailure, "", "is a directory"},
		{[]string{"config", good}, exitOK, "hostname = \"irc.example.org\"\npassword = \"secret\"\nport = 5347\n", good + `:4: "bogus": not a Biboumi option`},
		{[]string{"config", good}, exitOK, "", "\n" + dir + "/: Botan TLS policy files ignored: fifo.policy.txt, irc.x.policy.txt, policy.txt (not supported: "},
		{[]string{"config", good}, exitOK, "", "\n" + dir + "/irc.x.policy.txt:2: verify_certificate: Biboumi did not verify the certificate of irc.x; this gateway does: "},
	} {
		code, stdout, stderr := cli(t, t.Context(), tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("biboumi-migrate %q: exit %d, want %d with %q on stdout and %q on stderr\nstdout:\n%s\nstderr:\n%s",
				tc.args, code, tc.code, tc.stdout, tc.stderr, stdout, stderr)
		}
		if code != exitOK && stdout != "" {
			t.Errorf("biboumi-migrate %q: failed but wrote on stdout:\n%s", tc.args, stdout)
		}
	}
	if os.Geteuid() != 0 { // root reads anything
		code, _, stderr := cli(t, t.Context(), "config", unreadable)
		if code != exitFailure || !strings.Contains(stderr, "permission denied") {
			t.Errorf("unreadable file: exit %d\n%s", code, stderr)
		}
	}

	// The environment: converted with --env, only mentioned without.
	t.Setenv("BIBOUMI_PORT", "5349")
	t.Setenv("BIBOUMI_PASSWORD", "from the environment")
	code, stdout, stderr := cli(t, t.Context(), "config", good)
	if code != exitOK || !strings.Contains(stdout, "port = 5347\n") ||
		!strings.Contains(stderr, "$BIBOUMI_PASSWORD: password: set in the environment, which Biboumi reads over the file; not converted (use --env to convert it)\n") ||
		!strings.Contains(stderr, "$BIBOUMI_PORT: port: set in the environment") {
		t.Errorf("without --env: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = cli(t, t.Context(), "config", "--env", good)
	if code != exitOK || !strings.Contains(stdout, "port = 5349\n") || !strings.Contains(stdout, `password = "from the environment"`) ||
		!strings.Contains(stderr, good+":3: port: overridden by $BIBOUMI_PORT (as in Biboumi)\n") ||
		strings.Contains(stderr, "from the environment") { // never a password in a warning
		t.Errorf("with --env: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// TestConfigReading checks how lines are read, against Biboumi's reader,
// and where comments and notes land.
func TestConfigReading(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		env      []string
		out      []string // lines expected in the output, in this order
		notOut   []string // substrings not expected in the output
		warnings []string // expected warnings, exactly
	}{
		{
			name: "comments stay above their key",
			in:   "# top\n\n# about the host\nhostname=h\n# about the port\n\nport=1\n# trailing\n",
			out:  []string{"# top", "", "# about the host", "hostname = \"h\"", "# about the port", "", "port = 1", "# trailing"},
			warnings: []string{
				"t.cfg: password: not set: Biboumi does not start without it; fill it in",
				`t.cfg: db_name: empty or not set: Biboumi used $XDG_DATA_HOME/biboumi/biboumi.sqlite (or ~/.config/biboumi/biboumi.sqlite); written as this gateway's default, "biboumi.sqlite" in the working directory: point it at the database that "biboumi-migrate copy --to" fills`,
			},
		},
		{
			name: "BOM, CRLF, no final newline",
			in:   "\ufeffhostname=h\r\npassword=p\r\ndb_name=d\r\nport=2",
			out:  []string{`hostname = "h"`, `password = "p"`, `db_name = "d"`, "port = 2"},
			warnings: []string{
				"t.cfg:1: the file starts with a UTF-8 byte order mark: removed (Biboumi read it as part of the first line)",
				"t.cfg:1: the line ends with a carriage return (DOS line endings): removed from every line (Biboumi kept it as part of the value)",
				`t.cfg:3: db_name: kept as is, but it names Biboumi's database: point it at the database that "biboumi-migrate copy --to" fills`,
			},
		},
		{
			name: "value after the first =, option before it",
			in:   "hostname=h\npassword=a=b==\ndb_name=x\nwebirc_password==lead\n",
			out:  []string{`password = "a=b=="`, `webirc_password = "=lead"`},
		},
		{
			name: "duplicates: the last wins",
			in:   "hostname=h\npassword=p\ndb_name=d\n# first\nport=1\n# second\nport=2\n",
			out:  []string{"# first", "# biboumi-migrate: set again on line 7, and the last one wins (as in", "#   Biboumi): this line is not converted", "# port=1", "# second", "port = 2"},
			notOut: []string{
				"port = 1",
			},
			warnings: []string{
				`t.cfg:3: db_name: kept as is, but it names Biboumi's database: point it at the database that "biboumi-migrate copy --to" fills`,
				"t.cfg:5: port: set again on line 7, and the last one wins (as in Biboumi): this line is not converted",
			},
		},
		{
			name: "indented comment, junk, spaces around =",
			in:   "hostname=h\npassword=p\ndb_name=d\n  # note\n\t#port=9\njunk line\nport = 3\n",
			out:  []string{"# note", "#port=9", "# junk line", "# port = 3"},
			notOut: []string{
				"\nport =",
			},
			warnings: []string{
				`t.cfg:3: db_name: kept as is, but it names Biboumi's database: point it at the database that "biboumi-migrate copy --to" fills`,
				`t.cfg:6: no "=" on this line: Biboumi ignores it; kept as a comment`,
				`t.cfg:7: "port ": spaces around the option name: Biboumi reads an option named "port ", which it does not know, and ignores the line; not converted (write port=value)`,
			},
		},
		{
			name: "control characters and invalid UTF-8",
			in:   "hostname=h\npassword=p\x01\x7f\"\\\xff\n#\x00comment\xfe\ndb_name=d\nlog_file=\t/tmp/x\n",
			out:  []string{`password = "p\u0001\u007F\"\\` + "\uFFFD" + `"`, `#\x00comment` + "\uFFFD", `log_file = "\t/tmp/x"`},
			warnings: []string{
				"t.cfg:2: password: the value is not valid UTF-8, which TOML requires: the invalid bytes were replaced with U+FFFD",
				`t.cfg:4: db_name: kept as is, but it names Biboumi's database: point it at the database that "biboumi-migrate copy --to" fills`,
			},
		},
		{
			name: "environment: overrides and additions, names lowercased",
			in:   "hostname=h\npassword=p\n",
			env: []string{"PATH=/bin", "BIBOUMI_PASSWORD=q", "BIBOUMI_DB_NAME=postgres://x", "biboumi_port=9", "BIBOUMI_Identd_Port=0",
				"BIBOUMI_=x", "BIBOUMI_FOO=bar"},
			out: []string{`hostname = "h"`, "# biboumi-migrate: overridden by $BIBOUMI_PASSWORD (as in Biboumi)", `password = "q"`,
				"", `db_name = "postgres://x"`, "identd_port = 0"},
			notOut: []string{"port = 9", "foo"},
			warnings: []string{
				"t.cfg:2: password: overridden by $BIBOUMI_PASSWORD (as in Biboumi)",
				`$BIBOUMI_: "": not a Biboumi option; ignored`,
				"$BIBOUMI_DB_NAME: db_name: not in the file: converted from the environment (as in Biboumi)",
				`$BIBOUMI_DB_NAME: db_name: kept as is, but it names Biboumi's database: point it at the database that "biboumi-migrate copy --to" fills`,
				`$BIBOUMI_FOO: "foo": not a Biboumi option; ignored`,
				"$BIBOUMI_Identd_Port: identd_port: not in the file: converted from the environment (as in Biboumi)",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := convertBiboumiCfg([]byte(tc.in), cfgOptions{Name: "t.cfg", Env: tc.env})
			out := string(res.TOML)
			cfgDecode(t, res.TOML)
			lines := strings.Split(out, "\n")
			at := 0
			for _, w := range tc.out {
				i := slices.Index(lines[at:], w)
				if i < 0 {
					t.Errorf("line %q missing (or out of order) in:\n%s", w, out)
					break
				}
				at += i + 1
			}
			for _, s := range tc.notOut {
				if strings.Contains(out, s) {
					t.Errorf("%q in the output:\n%s", s, out)
				}
			}
			if tc.warnings != nil && !slices.Equal(res.Warnings, tc.warnings) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(res.Warnings, "\n"), strings.Join(tc.warnings, "\n"))
			}
		})
	}
}

// TestConfigOptionValues checks each option's conversion of Biboumi values.
func TestConfigOptionValues(t *testing.T) {
	for _, tc := range []struct {
		opt, in string
		toml    string // "" for a key left out
		warning string // substring of the only warning; "" for none
	}{
		{"hostname", "irc.example.org", `"irc.example.org"`, ""},
		{"hostname", " irc.example.org\t", `"irc.example.org"`, `leading or trailing spaces in " irc.example.org\t" removed`},
		{"hostname", "", `""`, "Biboumi does not start without it"},
		{"hostname", "user@irc.example.org", `"user@irc.example.org"`, "is not a bare domain name"},
		{"password", " s p ", `" s p "`, ""},
		{"password", "", `""`, "Biboumi does not start without it"},
		{"xmpp_server_ip", "192.0.2.1", `"192.0.2.1"`, ""},
		{"xmpp_server_ip", "", "", `using the default "127.0.0.1"`},
		{"port", "5347", "5347", ""},
		{"port", "05348", "5348", ""},
		{"port", "", "", "empty: using the default 5347"},
		{"port", "0", "", `"0" is not a port number (1–65535): using the default 5347`},
		{"port", "65536", "", "not a port number"},
		{"port", "-1", "", "not a port number"},
		{"port", "xmpp-component", "", "not a port number"},
		{"port", "5347abc", "", "not a port number"},
		{"identd_port", "0", "0", ""},
		{"identd_port", "113", "113", ""},
		{"identd_port", "", "", ""},
		{"identd_port", "ident", "", `"ident" is not a port number (0–65535): using the default 113`},
		{"admin", "", "[]", ""},
		{"admin", "a@x:b@y", `["a@x", "b@y"]`, ""},
		{"admin", ":b@y::a@x:", `["b@y", "a@x"]`, ""},
		{"admin", "a@x/res", "[]", "has a resource"},
		{"admin", "a@x: b@y", `["a@x"]`, `entry " b@y" has spaces`},
		{"admin", "a b@x", "[]", "is not a valid JID"},
		{"admin", `q"o@x`, "[]", "is not a valid JID"},
		{"admin", "A@X", `["A@X"]`, `is compared as "a@x" here`},
		{"fixed_irc_server", "", `""`, ""},
		{"fixed_irc_server", "irc.libera.chat", `"irc.libera.chat"`, ""},
		{"persistent_by_default", "true", "true", ""},
		{"persistent_by_default", "false", "false", ""},
		{"persistent_by_default", "", "false", ""},
		{"persistent_by_default", "TRUE", "false", `"TRUE" is not "true"`},
		{"persistent_by_default", "1", "false", `"1" is not "true"`},
		{"persistent_by_default", "true ", "false", `"true " is not "true"`},
		{"realname_customization", "", "false", "not as its default true"},
		{"realname_customization", "true", "true", ""},
		{"realname_from_jid", "yes", "false", "Biboumi reads it as false"},
		{"webirc_password", "s3cret", `"s3cret"`, ""},
		{"webirc_password", "a b", `"a b"`, "this gateway refuses it"},
		{"webirc_password", ":x", `":x"`, "this gateway refuses it"},
		{"log_file", "", `""`, ""},
		{"log_file", `C:\logs\b.log`, `"C:\\logs\\b.log"`, ""},
		{"ca_file", "/etc/ssl/ca.pem", `"/etc/ssl/ca.pem"`, ""},
		{"log_level", "0", `"debug"`, ""},
		{"log_level", "1", `"info"`, ""},
		{"log_level", "2", `"warn"`, ""},
		{"log_level", " 3", `"error"`, "spaces"},
		{"log_level", "4", "", `"4" is not a level`},
		{"log_level", "info", "", `"info" is not a level`},
		{"log_level", "", "", "Biboumi logged at its default level 0 (debug)"},
		{"db_name", "/var/lib/biboumi/biboumi.sqlite", `"/var/lib/biboumi/biboumi.sqlite"`, "names Biboumi's database"},
		{"db_name", "postgresql://u:p@h/db", `"postgresql://u:p@h/db"`, "names Biboumi's database"},
		{"db_name", "", `"biboumi.sqlite"`, "Biboumi used $XDG_DATA_HOME/biboumi/biboumi.sqlite"},
		{"outgoing_bind", "", `""`, ""},
		{"outgoing_bind", "2001:db8::1", `"2001:db8::1"`, ""},
		{"outgoing_bind", "eth0", "", `"eth0" is not an IP address`},
		{"policy_directory", "/etc/biboumi", "", "not supported (Botan TLS policy files): IRC servers' certificates are verified against ca_file"},
	} {
		got, warns := convertBiboumiValue(tc.opt, tc.in)
		ok := got == tc.toml
		switch {
		case tc.warning == "":
			ok = ok && len(warns) == 0
		default:
			ok = ok && len(warns) == 1 && strings.Contains(warns[0], tc.warning)
		}
		if !ok {
			t.Errorf("%s=%s: %s %q, want %s %q", tc.opt, tc.in, got, warns, tc.toml, tc.warning)
		}
		if cfgSecret(tc.opt) && tc.in != "" {
			for _, w := range warns {
				if strings.Contains(w, tc.in) {
					t.Errorf("%s: the warning shows the value: %s", tc.opt, w)
				}
			}
		}
	}
}

// TestConfigEscape round-trips strings through tomlQuote and a TOML
// parser, and checks that tomlComment keeps anything a valid comment.
func TestConfigEscape(t *testing.T) {
	var all strings.Builder
	for r := rune(0); r < 0x300; r++ {
		all.WriteRune(r)
	}
	for _, s := range []string{"", `"`, `\`, `\u0041`, `'''`, `"""`, "a\tb\nc\rd\fe\bf\x00g\x1fh\x7fi", "ünï €𝄞", "\u2028\u2029\ufeff", all.String()} {
		var m map[string]string
		doc := "k = " + tomlQuote(s) + "\n# " + tomlComment(s) + "\n"
		if _, err := toml.Decode(doc, &m); err != nil {
			t.Errorf("%q: %v\n%s", s, err, doc)
		} else if m["k"] != s {
			t.Errorf("%q: round trip gave %q", s, m["k"])
		}
	}
	if got := tomlQuote("a\xffb"); got != "\"a\uFFFDb\"" {
		t.Errorf("invalid UTF-8: %s", got)
	}
}

// FuzzConvertConfig feeds any file and any BIBOUMI_* variable to the
// converter: it must not panic, its output must parse as TOML with only
// known keys of the right types, and its warnings must be single lines.
func FuzzConvertConfig(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(cfgTestdata, "*.cfg"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "PASSWORD", "x")
	}
	f.Add([]byte("\ufeffhostname=a\r\n#\x00\xff\nadmin=a@b:c@d/e\nport=99999\n"), "Admin", "x@y::z")
	f.Add([]byte("port=1\nport=2\n=\n==\n#=\n \t#x=1\nlog_level=3"), "", "\n\"\\")
	f.Add([]byte("hostname=\"\\\n"), "LOG_LEVEL", "\x7f")
	f.Fuzz(func(t *testing.T, data []byte, envName, envValue string) {
		env := []string{"BIBOUMI_" + envName + "=" + envValue}
		res := convertBiboumiCfg(data, cfgOptions{Name: "fuzz.cfg", Env: env})
		m := map[string]any{}
		if _, err := toml.Decode(string(res.TOML), &m); err != nil {
			t.Fatalf("the output is not valid TOML: %v\n%s", err, res.TOML)
		}
		for k, v := range m {
			var ok bool
			switch k {
			case "port", "identd_port":
				_, ok = v.(int64)
			case "persistent_by_default", "realname_customization", "realname_from_jid":
				_, ok = v.(bool)
			case "admin":
				var list []any
				if list, ok = v.([]any); ok {
					for _, e := range list {
						if _, isString := e.(string); !isString {
							ok = false
						}
					}
				}
			case "policy_directory":
			default:
				_, ok = v.(string)
				ok = ok && slices.Contains(biboumiCfgOptions, k)
			}
			if !ok {
				t.Fatalf("key %q = %#v (%T)\n%s", k, v, v, res.TOML)
			}
		}
		for _, k := range []string{"hostname", "password", "db_name"} {
			if _, ok := m[k].(string); !ok {
				t.Fatalf("%s missing\n%s", k, res.TOML)
			}
		}
		for _, w := range res.Warnings {
			if strings.ContainsAny(w, "\r\n") || !utf8.ValidString(w) {
				t.Fatalf("warning is not one line of UTF-8: %q", w)
			}
		}
	})
}
