package ircclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
)

// Defaults applied by Dial to zero fields of Config.
const (
	DefaultDialTimeout         = 5 * time.Second
	DefaultPingInterval        = 240 * time.Second
	DefaultRegistrationTimeout = 60 * time.Second
	DefaultQuitTimeout         = 2 * time.Second
	DefaultWriteTimeout        = 30 * time.Second
	DefaultQueueSize           = 256
	DefaultFallback            = "latin1"
)

// Limiter throttles the lines queued with Send. It is the hook for send
// throttling: *golang.org/x/time/rate.Limiter satisfies it. Wait blocks until
// one more line may be written, or returns an error when ctx is done; the
// writer calls it for each line from Send, just before writing it. Lines from
// SendRaw, QUIT and the connection's own lines (registration, PONG, PING,
// CAP) do not take a token, but as the writer is single, they may wait for the
// token of the line being throttled: keep each Wait short (a token bucket's
// refill interval).
type Limiter interface {
	Wait(ctx context.Context) error
}

// Config describes one IRC connection. The zero values of optional fields
// select the defaults documented on each field. Dial copies the Config; the
// caller may reuse it.
type Config struct {
	// Server is the IRC server name as the user addressed it (for example
	// "127.0.0.1" or "irc.libera.chat"). It is also the dial host unless
	// Address is set, and the TLS server name unless TLSConfig sets one.
	Server string
	// Address optionally overrides the host to dial (Biboumi's per-server
	// "address" option).
	Address string
	// TLSPorts are tried first, in order. The caller passes Biboumi's
	// defaults (6697, 6670) itself: nil means no TLS port.
	TLSPorts []int
	// Ports are the plain-text ports, tried after TLSPorts (Biboumi: 6667).
	Ports []int
	// TLSConfig is the base TLS configuration. It is cloned for each attempt
	// and its ServerName is set to the dial host when empty. nil means the
	// system roots and ServerName = dial host, with certificate verification.
	TLSConfig *tls.Config
	// DialTimeout bounds the TCP connect and, separately, the TLS handshake
	// of each attempt (default 5s, as Biboumi).
	DialTimeout time.Duration
	// LocalAddr is the IP address to bind outgoing connections to
	// (Biboumi's outgoing_bind). Empty means any.
	LocalAddr string
	// Resolver resolves Server/Address; nil means net.DefaultResolver.
	Resolver *net.Resolver

	// Nick is the nick to register with; it must be non-empty and must not
	// contain spaces.
	Nick string
	// Username is the first USER parameter (default: Nick).
	Username string
	// Realname is the last USER parameter (default: Nick).
	Realname string
	// Password is sent with PASS when non-empty, first (after WEBIRC).
	Password string
	// Hostname is the second USER parameter: the user's XMPP domain, like
	// Biboumi. Servers ignore it; empty means "0".
	Hostname string
	// WantCaps are requested with CAP REQ when the server offers them in its
	// CAP LS 302 reply, and later when it offers them with CAP NEW. nil means
	// DefaultCaps(); an empty non-nil slice requests nothing. "sasl" is never
	// requested through WantCaps: set SASL instead.
	//
	// Several of the defaults change what the owner receives: echo-message
	// echoes our own PRIVMSG/NOTICE back, extended-join adds the account and
	// realname to JOIN, userhost-in-names gives nick!user@host in 353,
	// away-notify/account-notify/chghost/setname/invite-notify bring AWAY,
	// ACCOUNT, CHGHOST, SETNAME and INVITE lines, and batch/labeled-response
	// bring BATCH and ACK lines. Use []string{"multi-prefix"} for Biboumi's
	// behaviour.
	WantCaps []string
	// SASL, when non-nil, authenticates with SASL (IRCv3 sasl 3.1) before
	// registration completes: CAP END is only sent after 903, so that the
	// account (and its cloak) applies before any JOIN. Failure of any kind
	// (902, 904-908, CAP NAK sasl, sasl not offered, a server without CAP)
	// closes the connection with a *SASLError.
	SASL *SASLConfig
	// ClientCert is presented to the server on TLS connections (CertFP), and
	// used for SASL EXTERNAL. It replaces TLSConfig.Certificates.
	ClientCert *tls.Certificate
	// WebIRC, when non-nil, sends "WEBIRC <password> <gateway> <hostname>
	// <ip>" before anything else, so that the server shows the user's host
	// and IP instead of the gateway's. The password is never logged.
	WebIRC *WebIRCConfig
	// Ident, when non-nil, is called with the local and remote address of
	// each TCP connection right after it is established (before the TLS
	// handshake), and the function it returns (which may be nil) is called
	// when that socket is closed. The owner registers the pair with its
	// identd: identd.Server.Register fits. It runs on the Conn's goroutine
	// and must not block. The server may query identd before Ident runs:
	// identd.Config.Grace covers that.
	Ident func(local, remote netip.AddrPort) (release func())
	// Fallback names the charset used to decode input that is not valid
	// UTF-8 (WHATWG/IANA names: "latin1", "iso-8859-15", "koi8-r",
	// "shift_jis"…). Default "latin1", which WHATWG maps to windows-1252, a
	// superset of the printable ISO-8859-1 characters.
	Fallback string

	// PingInterval is the keepalive period once registered (default 240s):
	// a PING is sent every interval, and when nothing at all was received in
	// the interval after a PING the connection closes with ErrPingTimeout.
	// Both are read deadlines: time the Conn spends waiting for its owner
	// (a blocking Handler or Events send) delays the next PING rather than
	// counting as silence.
	PingInterval time.Duration
	// RegistrationTimeout bounds the time from connection to 001 (default
	// 60s); it then closes with ErrRegistrationTimeout.
	RegistrationTimeout time.Duration
	// QuitTimeout is how long Quit waits for the server to close the
	// connection before closing it itself (default 2s).
	QuitTimeout time.Duration
	// WriteTimeout is the write deadline of each line (default 30s).
	WriteTimeout time.Duration
	// QueueSize bounds the number of lines Send and SendRaw may queue
	// (default 256). The queue only holds memory for the lines waiting in
	// it.
	QueueSize int
	// Limiter, when non-nil, throttles lines queued with Send and SendRaw.
	Limiter Limiter
	// ISupportCache, when non-nil, is shared by connections that may get
	// the same 005 lines: they then share their ISupport snapshots.
	ISupportCache *ISupportCache

	// Logger receives debug and warning logs (every line read and written
	// at slog.LevelDebug-4, with PASS and AUTHENTICATE redacted); nil
	// discards them. The caller adds its attributes (user, server).
	Logger *slog.Logger
	// Handler, when non-nil, receives every Event of the connection, in
	// order (Progress, Registered, Line, and finally exactly one Closed),
	// and Events is not used. It is called synchronously on the
	// connection's goroutine, the one reading the socket; Done is closed
	// once it has returned from Closed. Handler may block: that holds back
	// this one socket, as a blocking send on Events does. It may call any
	// method of the Conn (none of them waits for the connection's
	// goroutine), but must not wait for Done nor for anything that waits
	// for the connection's goroutine. After Close (or a cancelled context,
	// or a failure) the connection ends as soon as Handler returns; the
	// lines not delivered yet are dropped, but Closed is still delivered.
	Handler func(Event)
	// Events receives every Event of the connection, in order, when
	// Handler is nil. It is owned by the caller and must not be nil then;
	// see the package documentation for the draining contract.
	Events chan<- Event
}

// withDefaults returns a copy of cfg with the defaults filled in, the decoder
// for the fallback charset, or an error for an unusable configuration.
func (cfg Config) withDefaults() (Config, encoding.Encoding, error) {
	if cfg.Address == "" {
		cfg.Address = cfg.Server
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.RegistrationTimeout <= 0 {
		cfg.RegistrationTimeout = DefaultRegistrationTimeout
	}
	if cfg.QuitTimeout <= 0 {
		cfg.QuitTimeout = DefaultQuitTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.WantCaps == nil {
		cfg.WantCaps = defaultCaps // shared, never modified
	} else {
		// The Conn's goroutines read these: they must not share the
		// caller's backing arrays.
		cfg.WantCaps = slices.DeleteFunc(slices.Clone(cfg.WantCaps), func(s string) bool {
			return s == "" || s == "sasl" || strings.ContainsAny(s, " \r\n\x00")
		})
	}
	if cfg.SASL != nil {
		sasl := *cfg.SASL
		sasl.Mechanism = strings.ToUpper(sasl.Mechanism)
		if sasl.Mechanism == "" {
			sasl.Mechanism = SASLPlain
		}
		if sasl.Mechanism == SASLPlain && sasl.Username == "" {
			sasl.Username = cfg.Nick
		}
		cfg.SASL = &sasl
	}
	if cfg.WebIRC != nil {
		w := *cfg.WebIRC
		cfg.WebIRC = &w
	}
	cfg.TLSPorts = slices.Clone(cfg.TLSPorts)
	cfg.Ports = slices.Clone(cfg.Ports)
	if cfg.Fallback == "" {
		cfg.Fallback = DefaultFallback
	}
	if cfg.Username == "" {
		cfg.Username = cfg.Nick
	}
	if cfg.Realname == "" {
		cfg.Realname = cfg.Nick
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	enc, err := Charset(cfg.Fallback)
	if err != nil {
		return cfg, nil, fmt.Errorf("%w: unknown charset %q", ErrConfig, cfg.Fallback)
	}
	switch {
	case cfg.Address == "":
		return cfg, nil, fmt.Errorf("%w: no server address", ErrConfig)
	case cfg.Nick == "" || strings.ContainsAny(cfg.Nick, " \r\n\x00") || cfg.Nick[0] == ':':
		return cfg, nil, fmt.Errorf("%w: invalid nick %q", ErrConfig, cfg.Nick)
	case strings.ContainsAny(cfg.Username, " \r\n\x00") || cfg.Username[0] == ':':
		return cfg, nil, fmt.Errorf("%w: invalid username %q", ErrConfig, cfg.Username)
	case strings.ContainsAny(cfg.Hostname, " \r\n\x00") || cfg.Hostname[0] == ':':
		return cfg, nil, fmt.Errorf("%w: invalid hostname %q", ErrConfig, cfg.Hostname)
	case strings.ContainsAny(cfg.Realname+cfg.Password, "\r\n\x00"):
		return cfg, nil, fmt.Errorf("%w: realname or password contains CR, LF or NUL", ErrConfig)
	case len(cfg.TLSPorts)+len(cfg.Ports) == 0:
		return cfg, nil, fmt.Errorf("%w: no port to connect to", ErrConfig)
	}
	if cfg.LocalAddr != "" && net.ParseIP(cfg.LocalAddr) == nil {
		return cfg, nil, fmt.Errorf("%w: invalid local address %q", ErrConfig, cfg.LocalAddr)
	}
	if err := cfg.SASL.check(cfg); err != nil {
		return cfg, nil, err
	}
	if err := cfg.WebIRC.check(); err != nil {
		return cfg, nil, err
	}
	return cfg, enc, nil
}

// defaultCaps is DefaultCaps(), shared by the Conns whose Config.WantCaps
// is nil.
var defaultCaps = DefaultCaps()

// DefaultCaps returns the capabilities requested when Config.WantCaps is
// nil: every IRCv3 capability useful to a gateway, each requested only when
// the server offers it.
func DefaultCaps() []string {
	return []string{
		"multi-prefix", "server-time", "message-tags", "echo-message",
		"labeled-response", "batch", "away-notify", "account-notify",
		"extended-join", "chghost", "setname", "cap-notify",
		"userhost-in-names", "invite-notify", "account-tag",
	}
}

// SASL mechanisms.
const (
	SASLPlain    = "PLAIN"
	SASLExternal = "EXTERNAL"
)

// SASLConfig configures SASL authentication.
type SASLConfig struct {
	// Mechanism is "PLAIN" (the default when empty) or "EXTERNAL" (the
	// TLS client certificate, Config.ClientCert, is the credential).
	Mechanism string
	// Username and Password are the PLAIN credentials (authcid and
	// password; the authzid is left empty). An empty Username means
	// Config.Nick. Unused by EXTERNAL.
	Username, Password string
}

func (s *SASLConfig) check(cfg Config) error {
	if s == nil {
		return nil
	}
	switch s.Mechanism {
	case SASLPlain:
		if s.Password == "" {
			return fmt.Errorf("%w: SASL PLAIN without a password", ErrConfig)
		}
		if strings.ContainsRune(s.Username+s.Password, 0) {
			return fmt.Errorf("%w: SASL username or password contains NUL", ErrConfig)
		}
	case SASLExternal:
		if cfg.ClientCert == nil && (cfg.TLSConfig == nil || len(cfg.TLSConfig.Certificates) == 0 && cfg.TLSConfig.GetClientCertificate == nil) {
			return fmt.Errorf("%w: SASL EXTERNAL without a client certificate", ErrConfig)
		}
	default:
		return fmt.Errorf("%w: unsupported SASL mechanism %q (PLAIN or EXTERNAL)", ErrConfig, s.Mechanism)
	}
	return nil
}

// WebIRCConfig is what a WEBIRC line carries: the password the IRC server
// configured for this gateway, the gateway's name, and the user's hostname
// and IP address as the server should show them.
type WebIRCConfig struct {
	Password, Gateway, Hostname, IP string
}

func (w *WebIRCConfig) check() error {
	if w == nil {
		return nil
	}
	for _, f := range []struct{ name, v string }{
		{"password", w.Password}, {"gateway", w.Gateway}, {"hostname", w.Hostname}, {"IP", w.IP},
	} {
		if f.v == "" || strings.ContainsAny(f.v, " \r\n\x00") {
			return fmt.Errorf("%w: WEBIRC %s is empty or contains a space, CR, LF or NUL", ErrConfig, f.name)
		}
	}
	if strings.HasPrefix(w.Password, ":") || strings.HasPrefix(w.Gateway, ":") {
		return fmt.Errorf("%w: WEBIRC password or gateway starts with ':'", ErrConfig)
	}
	if _, err := netip.ParseAddr(w.IP); err != nil {
		return fmt.Errorf("%w: WEBIRC IP %q: %v", ErrConfig, w.IP, err)
	}
	return nil
}

// webircParam makes an IPv6 address (or a hostname that is one) usable as a
// middle IRC parameter: "::1" becomes "0::1", as the WEBIRC spec says.
func webircParam(s string) string {
	if strings.HasPrefix(s, ":") {
		return "0" + s
	}
	return s
}

// Charset returns the encoding registered under name in the WHATWG/IANA
// index (golang.org/x/text/encoding/htmlindex). Callers can use it to
// validate a charset option before dialing.
func Charset(name string) (encoding.Encoding, error) {
	enc, err := htmlindex.Get(name)
	if err != nil {
		return nil, fmt.Errorf("ircclient: unknown charset %q: %w", name, err)
	}
	return enc, nil
}
