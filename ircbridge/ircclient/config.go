package ircclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
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
	// Password is sent with PASS before anything else when non-empty.
	Password string
	// Hostname is the second USER parameter: the user's XMPP domain, like
	// Biboumi. Servers ignore it; empty means "0".
	Hostname string
	// WantCaps are requested with CAP REQ when the server offers them in its
	// CAP LS 302 reply. nil means multi-prefix alone, what Biboumi requests
	// (NAMES then lists every prefix of a member, which the role mapping
	// needs); an empty non-nil slice requests nothing.
	WantCaps []string
	// Fallback names the charset used to decode input that is not valid
	// UTF-8 (WHATWG/IANA names: "latin1", "iso-8859-15", "koi8-r",
	// "shift_jis"…). Default "latin1", which WHATWG maps to windows-1252, a
	// superset of the printable ISO-8859-1 characters.
	Fallback string

	// PingInterval is the keepalive period once registered (default 240s):
	// a PING is sent every interval, and when nothing at all was received in
	// the interval after a PING the connection closes with ErrPingTimeout.
	PingInterval time.Duration
	// RegistrationTimeout bounds the time from connection to 001 (default
	// 60s); it then closes with ErrRegistrationTimeout.
	RegistrationTimeout time.Duration
	// QuitTimeout is how long Quit waits for the server to close the
	// connection before closing it itself (default 2s).
	QuitTimeout time.Duration
	// WriteTimeout is the write deadline of each line (default 30s).
	WriteTimeout time.Duration
	// QueueSize bounds the number of lines Send may queue (default 256).
	QueueSize int
	// Limiter, when non-nil, throttles lines queued with Send and SendRaw.
	Limiter Limiter

	// Logger receives debug and warning logs (every line read and written
	// at slog.LevelDebug-4, with PASS and AUTHENTICATE redacted); nil
	// discards them. The caller adds its attributes (user, server).
	Logger *slog.Logger
	// Events receives every Event of the connection, in order. It is owned
	// by the caller and must not be nil; see the package documentation for
	// the draining contract.
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
		cfg.WantCaps = []string{"multi-prefix"}
	}
	// The Conn's goroutines read these: they must not share the caller's
	// backing arrays.
	cfg.WantCaps = slices.Clone(cfg.WantCaps)
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
		return cfg, nil, err
	}
	switch {
	case cfg.Address == "":
		return cfg, nil, fmt.Errorf("ircclient: no server address")
	case cfg.Nick == "" || strings.ContainsAny(cfg.Nick, " \r\n\x00") || cfg.Nick[0] == ':':
		return cfg, nil, fmt.Errorf("ircclient: invalid nick %q", cfg.Nick)
	case strings.ContainsAny(cfg.Username, " \r\n\x00") || cfg.Username[0] == ':':
		return cfg, nil, fmt.Errorf("ircclient: invalid username %q", cfg.Username)
	case strings.ContainsAny(cfg.Hostname, " \r\n\x00") || cfg.Hostname[0] == ':':
		return cfg, nil, fmt.Errorf("ircclient: invalid hostname %q", cfg.Hostname)
	case strings.ContainsAny(cfg.Realname+cfg.Password, "\r\n\x00"):
		return cfg, nil, fmt.Errorf("ircclient: realname or password contains CR, LF or NUL")
	case len(cfg.TLSPorts)+len(cfg.Ports) == 0:
		return cfg, nil, fmt.Errorf("ircclient: no port to connect to")
	}
	if cfg.LocalAddr != "" && net.ParseIP(cfg.LocalAddr) == nil {
		return cfg, nil, fmt.Errorf("ircclient: invalid local address %q", cfg.LocalAddr)
	}
	return cfg, enc, nil
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
