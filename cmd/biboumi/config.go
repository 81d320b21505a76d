package main

// This file is the only place that knows the TOML configuration format
// (docs: biboumi.example.toml at the repository root). It turns a file into
// a validated *Config; the wiring code hands each package its own options
// struct built from it.
//
// Loading runs in stages so that every failure is one line naming one key:
//
//  1. TOML syntax (toml.ParseError: line number and last key).
//  2. Unknown keys, in document order, checked by exact name. BurntSushi/toml
//     matches struct fields case-insensitively, so "Port" would otherwise be
//     accepted silently as "port".
//  3. TOML types. Every leaf is a small type implementing toml.Unmarshaler,
//     so a type error comes back as a toml.ParseError carrying the full key
//     ("irc.ports") and its line. Tables are decoded through toml.Primitive
//     so that "irc = 5" is reported by us, not as an untyped toml error.
//  4. Values and cross-key rules, in a fixed order, without line numbers
//     (each key appears once in a file, so its name is enough).

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"mellium.im/xmpp/jid"

	"biboumi/internal/suggest"
)

// Config is the validated configuration of the gateway. It is produced by
// LoadConfig or ParseConfig and is not modified afterwards (a reload builds
// a new one), so any number of goroutines may read it. Keys keep Biboumi's
// names where Biboumi has them.
type Config struct {
	// Hostname is the domain served by the component (key hostname), a JID
	// with only a domainpart. Required.
	Hostname jid.JID
	// Password is the XEP-0114 component secret (key password, or the first
	// line of the file named by password_file). Never empty; never log it.
	Password string
	// XMPPServerIP is the host of the XMPP server's component listener (key
	// xmpp_server_ip, default "127.0.0.1"). Despite the name, inherited from
	// Biboumi, a host name is accepted.
	XMPPServerIP string
	// Port is the TCP port of the XMPP server's component listener (key
	// port, default 5347).
	Port int
	// Admins are the bare JIDs allowed to run admin-only ad-hoc commands
	// (key admin). Nil when there are none. Use IsAdmin to test a JID.
	Admins []jid.JID
	// DBName is the SQLite file path, or a PostgreSQL URI when it starts
	// with postgresql:// or postgres:// (key db_name, default
	// "biboumi.sqlite"). DBDriver tells which. May contain a password.
	DBName string
	// FixedIRCServer, when not empty, puts the gateway in single-server mode
	// (key fixed_irc_server): JIDs carry no %server part.
	FixedIRCServer string
	// PersistentByDefault is the default of each user's global "persistent"
	// option (key persistent_by_default, default false).
	PersistentByDefault bool
	// RealnameCustomization lets users set their IRC username and realname
	// (key realname_customization, default true). When false the fields are
	// hidden from the configuration form and stored values are ignored.
	RealnameCustomization bool
	// RealnameFromJID makes the default IRC username the JID's localpart and
	// the default realname the bare JID, instead of the nick (key
	// realname_from_jid, default false).
	RealnameFromJID bool
	// WebIRCPassword, when not empty, is sent in a WEBIRC command at the
	// start of every IRC connection (key webirc_password). Never log it.
	WebIRCPassword string
	// LogFile is the file logs are appended to; empty means standard output
	// (key log_file).
	LogFile string
	// LogLevel is the minimum level logged (key log_level, default info).
	LogLevel slog.Level
	// CAFile is a PEM bundle of CA certificates used to verify IRC servers
	// instead of the system pool; empty means the system pool (key ca_file).
	// Checked at load to exist and to hold at least one certificate.
	CAFile string
	// IdentdPort is the TCP port of the built-in identd; 0 disables it (key
	// identd_port, default 113).
	IdentdPort int
	// OutgoingBind is the local address IRC connections are made from; the
	// zero Addr means the system's choice (key outgoing_bind).
	OutgoingBind netip.Addr
	// IRC holds the [irc] table: defaults for every IRC server.
	IRC IRCConfig
	// Component holds the [component] table: the link to the XMPP server.
	Component ComponentConfig
	// Archive holds the [archive] table: message archives.
	Archive ArchiveConfig
	// Policy holds the [policy] table: who may use the gateway, and where to.
	Policy PolicyConfig
	// Limits holds the [limits] table: what one user may make the gateway do.
	Limits LimitsConfig
	// Metrics holds the [metrics] table: the Prometheus endpoint.
	Metrics MetricsConfig
}

// IRCConfig is the [irc] table. Per-server options set by users through
// ad-hoc commands override these defaults.
type IRCConfig struct {
	// TLSPorts are the ports tried with TLS, in order, before Ports (key
	// irc.tls_ports, default [6697, 6670]). May be empty, but not together
	// with Ports.
	TLSPorts []int
	// Ports are the ports tried without TLS (key irc.ports, default [6667]).
	Ports []int
	// ConnectTimeout bounds one TCP (and TLS) connection attempt (key
	// irc.connect_timeout, default 5s).
	ConnectTimeout time.Duration
	// PingInterval is how often an idle IRC connection is checked with PING
	// (key irc.ping_interval, default 240s, as Biboumi).
	PingInterval time.Duration
	// EncodingIn decodes IRC lines that are not valid UTF-8 (key
	// irc.encoding_in, a WHATWG label, default "latin1", which WHATWG maps
	// to windows-1252). htmlindex.Name gives its canonical name.
	EncodingIn encoding.Encoding
}

// ComponentConfig is the [component] table. It is comparable with ==, which
// reload relies on to spot a change; keep it free of slices and maps.
type ComponentConfig struct {
	// ReconnectMin is the first delay before redialling the XMPP server
	// after the link drops (key component.reconnect_min, default 1s).
	ReconnectMin time.Duration
	// ReconnectMax caps the exponential backoff between redials (key
	// component.reconnect_max, default 60s). Never below ReconnectMin.
	ReconnectMax time.Duration
	// QueueSize bounds the stanzas waiting for the XMPP link while it is
	// down (key component.queue_size, default 10000, 1–1000000).
	QueueSize int
}

// PolicyConfig is the [policy] table.
type PolicyConfig struct {
	// XMPPDomains are the domains whose users may use the gateway; "*" lets
	// everyone in (key policy.xmpp_domains). Empty: the parent domain of
	// hostname and its subdomains (irc.example.org serves example.org).
	XMPPDomains []string
	// IRCAllow, when not empty, lists the only IRC servers that may be
	// reached; IRCDeny lists servers that may not (keys policy.irc_allow,
	// policy.irc_deny). Entries are host names or "*.domain".
	IRCAllow, IRCDeny []string
}

// LimitsConfig is the [limits] table.
type LimitsConfig struct {
	IRCConnections int // limits.irc_connections, default 10
	Channels       int // limits.channels, default 100
	StanzaRate     int // limits.stanza_rate per second, default 20
	StanzaBurst    int // limits.stanza_burst, default 100
	MAMPageSize    int // limits.mam_page_size, default 100
	AdhocSessions  int // limits.adhoc_sessions, default 16
	QueueSize      int // limits.session_queue: events waiting per user, default 256
	// ConnectRate is the number of new connections per second the whole
	// gateway opens to one IRC server (limits.connect_rate, default 30).
	ConnectRate int
}

// ArchiveConfig is the [archive] table.
type ArchiveConfig struct {
	// Retention is how long archived messages are kept; 0 means forever
	// (key archive.retention, default "").
	Retention time.Duration
	// MaxHistoryLength is the default number of archived lines replayed on
	// joining a channel; 0 replays none (key archive.max_history_length,
	// default 20). Biboumi's per-user option of the same name.
	MaxHistoryLength int
}

// MetricsConfig is the [metrics] table. It is comparable with ==.
type MetricsConfig struct {
	// Listen is the host:port the Prometheus endpoint (/metrics) listens
	// on; empty, the default, means no endpoint (key metrics.listen). The
	// host is an IP literal, a name, or empty for every interface.
	Listen string
}

// Limits that are not configurable. They keep a mistyped value or a
// fuzzed input from exhausting memory.
const (
	maxQueueSize        = 1_000_000
	maxPasswordFileSize = 4 << 10
	maxCAFileSize       = 16 << 20
)

// defaultConfig returns the configuration used for every key the file does
// not set. It returns fresh slices each time, so callers may modify it.
func defaultConfig() *Config {
	return &Config{
		XMPPServerIP:          "127.0.0.1",
		Port:                  5347,
		DBName:                "biboumi.sqlite",
		RealnameCustomization: true,
		LogLevel:              slog.LevelInfo,
		IdentdPort:            113,
		IRC: IRCConfig{
			TLSPorts:       []int{6697, 6670},
			Ports:          []int{6667},
			ConnectTimeout: 5 * time.Second,
			PingInterval:   240 * time.Second,
			// EncodingIn is filled by validation from the default label.
		},
		Component: ComponentConfig{
			ReconnectMin: time.Second,
			ReconnectMax: 60 * time.Second,
			QueueSize:    10000,
		},
		Archive: ArchiveConfig{MaxHistoryLength: 20},
		Limits: LimitsConfig{
			IRCConnections: 10, Channels: 100, StanzaRate: 20, StanzaBurst: 100,
			MAMPageSize: 100, AdhocSessions: 16, QueueSize: 256, ConnectRate: 30,
		},
	}
}

// DBDriver reports which store backend DBName selects: "postgres" when it is
// a postgresql:// or postgres:// URI (scheme case-insensitive), as in
// Biboumi, else "sqlite".
func (c *Config) DBDriver() string {
	if isPostgresURI(c.DBName) {
		return "postgres"
	}
	return "sqlite"
}

// IsAdmin reports whether the bare form of j is one of the admins. Resources
// are ignored, so any of an admin's clients qualifies.
func (c *Config) IsAdmin(j jid.JID) bool {
	bare := j.Bare()
	for _, a := range c.Admins {
		if a.Equal(bare) {
			return true
		}
	}
	return false
}

// ComponentAddr returns the host:port to dial for the XEP-0114 link,
// bracketing IPv6 literals.
func (c *Config) ComponentAddr() string {
	return net.JoinHostPort(c.XMPPServerIP, strconv.Itoa(c.Port))
}

// LoadConfig reads and validates the TOML configuration file at path.
// Relative paths inside it (password_file, ca_file, log_file, db_name) are
// relative to the working directory, as in Biboumi, not to the file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, newError(fmt.Errorf("config: %w", err))
	}
	return ParseConfig(data)
}

// ParseConfig validates a TOML configuration held in memory. It still reads
// password_file and ca_file if the configuration names them. The error, if
// any, is a single line starting with "config: " and naming the key at
// fault; it wraps the underlying error (for example fs.ErrNotExist).
func ParseConfig(data []byte) (*Config, error) {
	cfg, err := parseConfig(data)
	if err != nil {
		return nil, newError(err)
	}
	return cfg, nil
}

// rawConfig mirrors the file. Its toml tags are the list of known keys.
type rawConfig struct {
	Hostname              tomlString   `toml:"hostname"`
	Password              tomlString   `toml:"password"`
	PasswordFile          tomlString   `toml:"password_file"`
	XMPPServerIP          tomlString   `toml:"xmpp_server_ip"`
	Port                  tomlInt      `toml:"port"`
	Admin                 tomlAdmin    `toml:"admin"`
	DBName                tomlString   `toml:"db_name"`
	FixedIRCServer        tomlString   `toml:"fixed_irc_server"`
	PersistentByDefault   tomlBool     `toml:"persistent_by_default"`
	RealnameCustomization tomlBool     `toml:"realname_customization"`
	RealnameFromJID       tomlBool     `toml:"realname_from_jid"`
	WebIRCPassword        tomlString   `toml:"webirc_password"`
	LogFile               tomlString   `toml:"log_file"`
	LogLevel              tomlLogLevel `toml:"log_level"`
	CAFile                tomlString   `toml:"ca_file"`
	IdentdPort            tomlInt      `toml:"identd_port"`
	OutgoingBind          tomlString   `toml:"outgoing_bind"`

	IRC       toml.Primitive `toml:"irc"`
	Component toml.Primitive `toml:"component"`
	Archive   toml.Primitive `toml:"archive"`
	Metrics   toml.Primitive `toml:"metrics"`
	Policy    toml.Primitive `toml:"policy"`
	Limits    toml.Primitive `toml:"limits"`

	irc       rawIRC
	component rawComponent
	archive   rawArchive
	metrics   rawMetrics
	policy    rawPolicy
	limits    rawLimits
}

type rawPolicy struct {
	XMPPDomains tomlStrings `toml:"xmpp_domains"`
	IRCAllow    tomlStrings `toml:"irc_allow"`
	IRCDeny     tomlStrings `toml:"irc_deny"`
}

type rawLimits struct {
	IRCConnections tomlInt `toml:"irc_connections"`
	Channels       tomlInt `toml:"channels"`
	StanzaRate     tomlInt `toml:"stanza_rate"`
	StanzaBurst    tomlInt `toml:"stanza_burst"`
	MAMPageSize    tomlInt `toml:"mam_page_size"`
	AdhocSessions  tomlInt `toml:"adhoc_sessions"`
	SessionQueue   tomlInt `toml:"session_queue"`
	ConnectRate    tomlInt `toml:"connect_rate"`
}

type rawIRC struct {
	TLSPorts       tomlInts   `toml:"tls_ports"`
	Ports          tomlInts   `toml:"ports"`
	ConnectTimeout tomlString `toml:"connect_timeout"`
	PingInterval   tomlString `toml:"ping_interval"`
	EncodingIn     tomlString `toml:"encoding_in"`
}

type rawComponent struct {
	ReconnectMin tomlString `toml:"reconnect_min"`
	ReconnectMax tomlString `toml:"reconnect_max"`
	QueueSize    tomlInt    `toml:"queue_size"`
}

type rawArchive struct {
	Retention        tomlString `toml:"retention"`
	MaxHistoryLength tomlInt    `toml:"max_history_length"`
}

type rawMetrics struct {
	Listen tomlString `toml:"listen"`
}

// rawTable ties a table name to the Primitive holding it and the struct it
// decodes into.
type rawTable struct {
	name string
	prim *toml.Primitive
	dst  any
}

func (r *rawConfig) tables() []rawTable {
	return []rawTable{
		{"irc", &r.IRC, &r.irc},
		{"component", &r.Component, &r.component},
		{"archive", &r.Archive, &r.archive},
		{"metrics", &r.Metrics, &r.metrics},
		{"policy", &r.Policy, &r.policy},
		{"limits", &r.Limits, &r.limits},
	}
}

func parseConfig(data []byte) (*Config, error) {
	var raw rawConfig
	md, err := toml.Decode(string(data), &raw)
	if err != nil && len(md.Keys()) == 0 {
		return nil, syntaxError(err)
	}
	if kerr := checkKeys(md, &raw); kerr != nil {
		return nil, kerr
	}
	if err != nil {
		return nil, typeError(err)
	}
	for _, t := range raw.tables() {
		if !md.IsDefined(t.name) {
			continue
		}
		// A table created implicitly by dotted keys (irc.ports = …) has no
		// type of its own.
		if typ := md.Type(t.name); typ != "Hash" && typ != "" {
			if typ == "ArrayHash" {
				typ = "array of tables"
			}
			return nil, fmt.Errorf("config: %s: must be a table ([%s]), got %s", t.name, t.name, strings.ToLower(typ))
		}
		if err := md.PrimitiveDecode(*t.prim, t.dst); err != nil {
			return nil, typeError(err)
		}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("config: unknown key %q", und[0].String())
	}
	return raw.validate()
}

// syntaxError rewords an error from the TOML parser.
func syntaxError(err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("config: %s", strings.TrimPrefix(err.Error(), "toml: "))
	}
	if pe.LastKey == "" {
		return fmt.Errorf("config: line %d: %s", pe.Position.Line, pe.Message)
	}
	return fmt.Errorf("config: line %d (last key %q): %s", pe.Position.Line, pe.LastKey, pe.Message)
}

// typeError rewords an error returned while decoding values; toml wraps our
// Unmarshalers' errors in a ParseError naming the full key and its line.
func typeError(err error) error {
	var pe toml.ParseError
	switch {
	case !errors.As(err, &pe):
		return fmt.Errorf("config: %s", strings.TrimPrefix(err.Error(), "toml: "))
	case pe.Position.Line > 0:
		return fmt.Errorf("config: %s: line %d: %s", pe.LastKey, pe.Position.Line, pe.Message)
	default:
		return fmt.Errorf("config: %s: %s", pe.LastKey, pe.Message)
	}
}

// checkKeys rejects, in document order, the first key that is not in the
// schema. Keys below a known leaf (hostname.x) are left to the type check.
func checkKeys(md toml.MetaData, raw *rawConfig) error {
	root := tomlKeys(reflect.TypeFor[rawConfig]())
	var tables []tableKeys
	for _, t := range raw.tables() {
		tables = append(tables, tableKeys{t.name, tomlKeys(reflect.TypeOf(t.dst).Elem())})
	}
	for _, k := range md.Keys() {
		if !slices.Contains(root, k[0]) {
			return unknownKey(k[:1], root, tables)
		}
		i := slices.IndexFunc(tables, func(t tableKeys) bool { return t.name == k[0] })
		if i < 0 || len(k) < 2 {
			continue // a leaf; anything below it is a type error
		}
		if !slices.Contains(tables[i].keys, k[1]) {
			return unknownKey(k[:2], tables[i].keys, nil)
		}
	}
	return nil
}

// tableKeys lists the keys of one table.
type tableKeys struct {
	name string
	keys []string
}

// unknownKey builds the error for key k, with a hint when the key looks like
// a known one or sits in the wrong table.
func unknownKey(k toml.Key, known []string, tables []tableKeys) error {
	name := k[len(k)-1]
	hint := ""
	if best := suggest.Closest(name, known); strings.EqualFold(best, name) {
		hint = fmt.Sprintf(" (did you mean %q? keys are case-sensitive)", best)
	} else if best != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", best)
	}
	for _, t := range tables {
		if slices.Contains(t.keys, name) {
			hint = fmt.Sprintf(" (it belongs in the [%s] table)", t.name)
		}
	}
	if len(k) == 1 && name == "policy_directory" {
		hint = " (Biboumi's Botan TLS policy files are not supported; use ca_file)"
	}
	return fmt.Errorf("config: unknown key %q%s", k.String(), hint)
}

// tomlKeys lists the toml tags of t's exported fields.
func tomlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if tag := f.Tag.Get("toml"); f.IsExported() && tag != "" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// validate checks values and rules across keys, in file order, and builds
// the Config.
func (r *rawConfig) validate() (*Config, error) {
	c := defaultConfig()
	var err error

	switch {
	case !r.Hostname.set:
		return nil, errors.New("config: hostname: required")
	case r.Hostname.val == "":
		return nil, errors.New("config: hostname: must not be empty")
	}
	if c.Hostname, err = jid.Parse(r.Hostname.val); err != nil {
		return nil, fmt.Errorf("config: hostname: %q: invalid domain: %w", r.Hostname.val, err)
	}
	if c.Hostname.Localpart() != "" || c.Hostname.Resourcepart() != "" {
		return nil, fmt.Errorf("config: hostname: %q: must be a bare domain, without '@' or '/'", r.Hostname.val)
	}

	switch {
	case r.Password.set && r.PasswordFile.set:
		return nil, errors.New("config: password: password and password_file are both set; keep one")
	case r.Password.set:
		if r.Password.val == "" {
			return nil, errors.New("config: password: must not be empty")
		}
		c.Password = r.Password.val
	case r.PasswordFile.set:
		if c.Password, err = readPasswordFile(r.PasswordFile.val); err != nil {
			return nil, fmt.Errorf("config: password_file: %w", err)
		}
	default:
		return nil, errors.New("config: password: required (or password_file)")
	}

	if r.XMPPServerIP.set {
		if err := checkHost(r.XMPPServerIP.val); err != nil {
			return nil, fmt.Errorf("config: xmpp_server_ip: %q: %w", r.XMPPServerIP.val, err)
		}
		c.XMPPServerIP = r.XMPPServerIP.val
	}
	if r.Port.set {
		if c.Port, err = portValue(r.Port.val, 1); err != nil {
			return nil, fmt.Errorf("config: port: %w", err)
		}
	}
	if c.Admins, err = r.Admin.jids(); err != nil {
		return nil, err
	}
	if r.DBName.set {
		if err := checkDBName(r.DBName.val); err != nil {
			return nil, fmt.Errorf("config: db_name: %w", err)
		}
		c.DBName = r.DBName.val
	}
	if r.FixedIRCServer.val != "" {
		if err := checkHost(r.FixedIRCServer.val); err != nil {
			return nil, fmt.Errorf("config: fixed_irc_server: %q: %w", r.FixedIRCServer.val, err)
		}
		c.FixedIRCServer = r.FixedIRCServer.val
	}
	r.PersistentByDefault.apply(&c.PersistentByDefault)
	r.RealnameCustomization.apply(&c.RealnameCustomization)
	r.RealnameFromJID.apply(&c.RealnameFromJID)
	if pw := r.WebIRCPassword.val; pw != "" {
		// WEBIRC takes the password as one middle parameter (IRCv3 WEBIRC).
		if strings.HasPrefix(pw, ":") || strings.ContainsFunc(pw, unicode.IsSpace) || strings.ContainsFunc(pw, unicode.IsControl) {
			return nil, errors.New("config: webirc_password: must not start with ':' or contain spaces or control characters")
		}
		c.WebIRCPassword = pw
	}
	r.LogFile.apply(&c.LogFile)
	if r.LogLevel.set {
		if c.LogLevel, err = r.LogLevel.level(); err != nil {
			return nil, fmt.Errorf("config: log_level: %w", err)
		}
	}
	if r.CAFile.val != "" {
		if err := checkCAFile(r.CAFile.val); err != nil {
			return nil, fmt.Errorf("config: ca_file: %w", err)
		}
		c.CAFile = r.CAFile.val
	}
	if r.IdentdPort.set {
		if c.IdentdPort, err = portValue(r.IdentdPort.val, 0); err != nil {
			return nil, fmt.Errorf("config: identd_port: %w", err)
		}
	}
	if r.OutgoingBind.val != "" {
		if c.OutgoingBind, err = netip.ParseAddr(r.OutgoingBind.val); err != nil {
			return nil, fmt.Errorf("config: outgoing_bind: %q: must be an IP address literal", r.OutgoingBind.val)
		}
	}

	if err := r.irc.validate(&c.IRC); err != nil {
		return nil, err
	}
	if err := r.component.validate(&c.Component); err != nil {
		return nil, err
	}
	if err := r.archive.validate(&c.Archive); err != nil {
		return nil, err
	}
	if err := r.metrics.validate(&c.Metrics); err != nil {
		return nil, err
	}
	if err := r.policy.validate(&c.Policy); err != nil {
		return nil, err
	}
	if err := r.limits.validate(&c.Limits); err != nil {
		return nil, err
	}
	return c, nil
}

func (r *rawPolicy) validate(c *PolicyConfig) error {
	for _, f := range []struct {
		key  string
		v    tomlStrings
		dst  *[]string
		star bool
	}{
		{"policy.xmpp_domains", r.XMPPDomains, &c.XMPPDomains, true},
		{"policy.irc_allow", r.IRCAllow, &c.IRCAllow, false},
		{"policy.irc_deny", r.IRCDeny, &c.IRCDeny, false},
	} {
		for i, v := range f.v.val {
			host := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(v)), "*.")
			if v == "*" && f.star {
				continue
			}
			if host == "" || checkHost(host) != nil {
				return fmt.Errorf("config: %s[%d]: %q is not a host name, \"*.domain\"%s", f.key, i, v, map[bool]string{true: " or \"*\"", false: ""}[f.star])
			}
		}
		if len(f.v.val) > 0 {
			*f.dst = f.v.val
		}
	}
	return nil
}

func (r *rawLimits) validate(c *LimitsConfig) error {
	for _, f := range []struct {
		key string
		v   tomlInt
		dst *int
		max int64
	}{
		{"limits.irc_connections", r.IRCConnections, &c.IRCConnections, 1000},
		{"limits.channels", r.Channels, &c.Channels, 100000},
		{"limits.stanza_rate", r.StanzaRate, &c.StanzaRate, 1000000},
		{"limits.stanza_burst", r.StanzaBurst, &c.StanzaBurst, 1000000},
		{"limits.mam_page_size", r.MAMPageSize, &c.MAMPageSize, 1000},
		{"limits.adhoc_sessions", r.AdhocSessions, &c.AdhocSessions, 1000},
		{"limits.session_queue", r.SessionQueue, &c.QueueSize, 1000000},
		{"limits.connect_rate", r.ConnectRate, &c.ConnectRate, 100000},
	} {
		if !f.v.set {
			continue
		}
		if f.v.val < 1 || f.v.val > f.max {
			return fmt.Errorf("config: %s: must be 1–%d, got %d", f.key, f.max, f.v.val)
		}
		*f.dst = int(f.v.val)
	}
	return nil
}

func (r *rawIRC) validate(c *IRCConfig) error {
	var err error
	if r.TLSPorts.set {
		if c.TLSPorts, err = portList("irc.tls_ports", r.TLSPorts.val); err != nil {
			return err
		}
	}
	if r.Ports.set {
		if c.Ports, err = portList("irc.ports", r.Ports.val); err != nil {
			return err
		}
	}
	if len(c.Ports) == 0 && len(c.TLSPorts) == 0 {
		return errors.New("config: irc.ports: irc.ports and irc.tls_ports are both empty; no port to connect to")
	}
	for i, p := range c.Ports {
		if slices.Contains(c.TLSPorts, p) {
			return fmt.Errorf("config: irc.ports[%d]: port %d is also in irc.tls_ports", i, p)
		}
	}
	if err := duration("irc.connect_timeout", r.ConnectTimeout, &c.ConnectTimeout); err != nil {
		return err
	}
	if err := duration("irc.ping_interval", r.PingInterval, &c.PingInterval); err != nil {
		return err
	}
	label := "latin1"
	r.EncodingIn.apply(&label)
	if c.EncodingIn, err = htmlindex.Get(label); err != nil {
		return fmt.Errorf("config: irc.encoding_in: %q: unknown encoding (see the WHATWG Encoding Standard labels)", label)
	}
	if name, _ := htmlindex.Name(c.EncodingIn); name == "replacement" {
		return fmt.Errorf("config: irc.encoding_in: %q: decodes everything to U+FFFD", label)
	}
	return nil
}

func (r *rawComponent) validate(c *ComponentConfig) error {
	if err := duration("component.reconnect_min", r.ReconnectMin, &c.ReconnectMin); err != nil {
		return err
	}
	if err := duration("component.reconnect_max", r.ReconnectMax, &c.ReconnectMax); err != nil {
		return err
	}
	if c.ReconnectMax < c.ReconnectMin {
		return fmt.Errorf("config: component.reconnect_max: %s is below component.reconnect_min %s", c.ReconnectMax, c.ReconnectMin)
	}
	if r.QueueSize.set {
		if r.QueueSize.val < 1 || r.QueueSize.val > maxQueueSize {
			return fmt.Errorf("config: component.queue_size: must be 1–%d, got %d", maxQueueSize, r.QueueSize.val)
		}
		c.QueueSize = int(r.QueueSize.val)
	}
	return nil
}

func (r *rawArchive) validate(c *ArchiveConfig) error {
	if r.Retention.val != "" {
		if err := duration("archive.retention", r.Retention, &c.Retention); err != nil {
			return err
		}
	}
	if r.MaxHistoryLength.set {
		// Bounded by int32 so the value fits an int and a SQL LIMIT anywhere.
		if r.MaxHistoryLength.val < 0 || r.MaxHistoryLength.val > 1<<31-1 {
			return fmt.Errorf("config: archive.max_history_length: must be 0–%d, got %d", 1<<31-1, r.MaxHistoryLength.val)
		}
		c.MaxHistoryLength = int(r.MaxHistoryLength.val)
	}
	return nil
}

func (r *rawMetrics) validate(c *MetricsConfig) error {
	if r.Listen.val == "" {
		return nil
	}
	if err := checkListen(r.Listen.val); err != nil {
		return fmt.Errorf("config: metrics.listen: %q: %w", r.Listen.val, err)
	}
	c.Listen = r.Listen.val
	return nil
}

// checkListen accepts host:port for a TCP listener: the host is an IP
// literal (IPv6 in brackets), a host name, or empty for every interface;
// the port is 1–65535 (0, "pick one", would leave it unknown to scrapers).
func checkListen(s string) error {
	const hint = `must be host:port, for example "127.0.0.1:9347" or "[::1]:9347"`
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New(hint)
	}
	n, err := strconv.Atoi(port)
	if err != nil || strings.Trim(port, "0123456789") != "" {
		return fmt.Errorf("port %q: %s", port, hint)
	}
	if _, err := portValue(int64(n), 1); err != nil {
		return fmt.Errorf("port: %w", err)
	}
	if host == "" {
		return nil
	}
	if strings.HasPrefix(s, "[") {
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return fmt.Errorf("%q in brackets is not an IPv6 address", host)
		}
		return nil
	}
	return checkHost(host)
}

// portValue checks a TCP port number; lo is 0 where 0 means "off".
func portValue(n int64, lo int64) (int, error) {
	if n < lo || n > 65535 {
		return 0, fmt.Errorf("must be %d–65535, got %d", lo, n)
	}
	return int(n), nil
}

// portList checks a list of ports, rejecting duplicates.
func portList(key string, list []int64) ([]int, error) {
	ports := make([]int, 0, len(list))
	for i, n := range list {
		p, err := portValue(n, 1)
		if err != nil {
			return nil, fmt.Errorf("config: %s[%d]: %w", key, i, err)
		}
		if slices.Contains(ports, p) {
			return nil, fmt.Errorf("config: %s[%d]: duplicate port %d", key, i, p)
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// parseDuration accepts Go duration syntax ("90s", "1h30m") and whole days
// ("365d"), which Go lacks but retention periods need.
func parseDuration(s string) (time.Duration, error) {
	const day = 24 * time.Hour
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days > int64(1<<63-1)/int64(day) {
			return 0, errors.New("out of range")
		}
		return time.Duration(days) * day, nil
	}
	return time.ParseDuration(s)
}

// checkHost accepts an IP literal or something that can be a host name: it
// refuses what would make the name ambiguous in a JID or an IRC command.
func checkHost(s string) error {
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	switch {
	case s == "":
		return errors.New("must not be empty")
	case strings.ContainsFunc(s, unicode.IsSpace) || strings.ContainsFunc(s, unicode.IsControl):
		return errors.New("must not contain spaces or control characters")
	case strings.ContainsAny(s, "@/%"):
		return errors.New(`must be a host name or IP address (no '@', '/' or '%')`)
	case strings.ContainsAny(s, ":[]"):
		return errors.New("must be a host name or IP address, without a port or brackets")
	}
	return nil
}

func isPostgresURI(s string) bool {
	lower := strings.ToLower(s)
	return strings.HasPrefix(lower, "postgresql://") || strings.HasPrefix(lower, "postgres://")
}

// checkDBName validates db_name. Its value is never echoed: a PostgreSQL URI
// may hold a password.
func checkDBName(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if isPostgresURI(s) {
		if _, err := url.Parse(s); err != nil {
			return errors.New("not a valid PostgreSQL URI")
		}
	}
	return nil
}

// readRegularFile reads a regular file of at most limit bytes. Refusing
// devices and FIFOs keeps a path like /dev/zero from hanging the load.
func readRegularFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%q is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%q is larger than %d bytes", path, limit)
	}
	return data, nil
}

// readPasswordFile returns the password stored in path, without its
// trailing newline. The password itself never appears in an error.
func readPasswordFile(path string) (string, error) {
	data, err := readRegularFile(path, maxPasswordFileSize)
	if err != nil {
		return "", err
	}
	pw := strings.TrimRight(string(data), "\r\n")
	switch {
	case pw == "":
		return "", fmt.Errorf("%q is empty", path)
	case strings.ContainsAny(pw, "\r\n"):
		return "", fmt.Errorf("%q must hold the password on a single line", path)
	}
	return pw, nil
}

// checkCAFile makes sure the CA bundle is readable and holds certificates,
// so a wrong path fails at start rather than at the first TLS connection.
func checkCAFile(path string) error {
	data, err := readRegularFile(path, maxCAFileSize)
	if err != nil {
		return err
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return fmt.Errorf("no PEM certificate found in %q", path)
	}
	return nil
}

// Leaf value types. Each records whether the key was set and rejects TOML
// values of the wrong type; toml turns the error into a ParseError naming
// the key and its line.

// tomlType names the TOML type of a decoded value for error messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case []map[string]any:
		return "array of tables"
	default:
		return "datetime"
	}
}

func wrongType(want string, v any) error {
	return fmt.Errorf("expected %s, got %s", want, tomlType(v))
}

// tomlValue is a scalar key of one TOML type.
type tomlValue[T string | int64 | bool] struct {
	val T
	set bool
}

type (
	tomlString = tomlValue[string]
	tomlInt    = tomlValue[int64]
	tomlBool   = tomlValue[bool]
)

func (t *tomlValue[T]) UnmarshalTOML(v any) error {
	x, ok := v.(T)
	if !ok {
		return wrongType(tomlType(t.val), v)
	}
	t.val, t.set = x, true
	return nil
}

// apply copies the value to dst if the key was set.
func (t *tomlValue[T]) apply(dst *T) {
	if t.set {
		*dst = t.val
	}
}

// duration stores the parsed duration in dst if the key was set; durations
// must be positive.
func duration(key string, s tomlString, dst *time.Duration) error {
	if !s.set {
		return nil
	}
	d, err := parseDuration(s.val)
	if err != nil {
		return fmt.Errorf(`config: %s: invalid duration %q (want e.g. "90s", "5m", "1h30m" or "7d")`, key, s.val)
	}
	if d <= 0 {
		return fmt.Errorf("config: %s: must be positive, got %q", key, s.val)
	}
	*dst = d
	return nil
}

type tomlInts struct {
	val []int64
	set bool
}

func (n *tomlInts) UnmarshalTOML(v any) error {
	arr, ok := v.([]any)
	if !ok {
		return wrongType("array of integers", v)
	}
	n.val = make([]int64, len(arr))
	for i, e := range arr {
		if n.val[i], ok = e.(int64); !ok {
			return fmt.Errorf("expected array of integers, got %s at index %d", tomlType(e), i)
		}
	}
	n.set = true
	return nil
}

// tomlStrings is an array of strings.
type tomlStrings struct {
	val []string
	set bool
}

func (t *tomlStrings) UnmarshalTOML(v any) error {
	arr, ok := v.([]any)
	if !ok {
		return wrongType("array of strings", v)
	}
	t.val = make([]string, len(arr))
	for i, e := range arr {
		if t.val[i], ok = e.(string); !ok {
			return fmt.Errorf("expected array of strings, got %s at index %d", tomlType(e), i)
		}
	}
	t.set = true
	return nil
}

// tomlAdmin is an array of JIDs, or Biboumi's single string of JIDs
// separated by ':' (where empty entries are skipped).
type tomlAdmin struct {
	val        []string
	fromString bool
}

func (a *tomlAdmin) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		a.val, a.fromString = strings.Split(x, ":"), true
	case []any:
		a.val = make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("expected array of strings, got %s at index %d", tomlType(e), i)
			}
			a.val[i] = s
		}
	default:
		return wrongType(`array of JIDs (or a ":"-separated string)`, v)
	}
	return nil
}

// jids parses the admins; indexes in errors count entries as written.
func (a *tomlAdmin) jids() ([]jid.JID, error) {
	var admins []jid.JID
	for i, s := range a.val {
		if a.fromString {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
		}
		j, err := jid.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("config: admin[%d]: %q: invalid JID: %w", i, s, err)
		}
		if j.Resourcepart() != "" {
			return nil, fmt.Errorf("config: admin[%d]: %q: must be a bare JID, without a resource", i, s)
		}
		admins = append(admins, j)
	}
	return admins, nil
}

// tomlLogLevel is a level name, or Biboumi's number 0–3.
type tomlLogLevel struct {
	name  string
	num   int64
	isNum bool
	set   bool
}

func (l *tomlLogLevel) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		l.name = x
	case int64:
		l.num, l.isNum = x, true
	default:
		return wrongType(`level name ("debug", "info", "warn", "error") or 0–3`, v)
	}
	l.set = true
	return nil
}

func (l *tomlLogLevel) level() (slog.Level, error) {
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	if l.isNum {
		if l.num < 0 || l.num > 3 {
			return 0, fmt.Errorf("must be 0–3 (0 debug, 1 info, 2 warn, 3 error), got %d", l.num)
		}
		return levels[l.num], nil
	}
	names := []string{"debug", "info", "warn", "error"}
	name := strings.ToLower(l.name)
	if name == "warning" { // Biboumi's word
		name = "warn"
	}
	if i := slices.Index(names, name); i >= 0 {
		return levels[i], nil
	}
	return 0, fmt.Errorf("%q: must be one of debug, info, warn, error (or Biboumi's 0–3)", l.name)
}

// configError is the error returned by LoadConfig and ParseConfig: its
// message is guaranteed to be one line, whatever the input held, and it
// still unwraps to the cause.
type configError struct {
	msg string
	err error
}

func newError(err error) error {
	return &configError{msg: oneLine(err.Error()), err: err}
}

func (e *configError) Error() string { return e.msg }

func (e *configError) Unwrap() error { return e.err }

// oneLine escapes every character that could start a new line.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\v", `\v`, "\f", `\f`,
		"\u0085", `\u0085`, "\u2028", `\u2028`, "\u2029", `\u2029`).Replace(s)
}
