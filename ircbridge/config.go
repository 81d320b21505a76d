package ircbridge

import (
	"crypto/tls"

	"biboumi/internal/metrics"
	"log/slog"
	"net/netip"
	"time"

	"mellium.im/xmpp/jid"
)

// Config is what the gateway needs from the configuration file. The TOML
// format itself lives in cmd/biboumi; this struct is filled from it.
// A Config must not be modified once given to the Gateway: SetConfig swaps
// whole values.
type Config struct {
	// Domain is the component's JID domain (hostname).
	Domain jid.JID
	// FixedServer is the IRC server of fixed_irc_server mode, or "".
	FixedServer string
	// Admins are the bare JIDs allowed to run admin commands.
	Admins []jid.JID
	// RealnameCustomization lets users set username/realname per server.
	RealnameCustomization bool
	// RealnameFromJID makes the default IRC username the user's localpart
	// and the default realname the user's bare JID (otherwise: the nick).
	RealnameFromJID bool
	// PersistentByDefault is the default of each user's global
	// "persistent" option.
	PersistentByDefault bool
	// TLSPorts and Ports are the default ports of every IRC server, tried
	// in that order (reference §6.1).
	TLSPorts, Ports []int
	// DialTimeout bounds each connection attempt.
	DialTimeout time.Duration
	// PingInterval is the IRC keepalive period.
	PingInterval time.Duration
	// Encoding is the charset used to decode IRC input that is not UTF-8.
	Encoding string
	// OutgoingBind is the local IP address of IRC connections, or "".
	OutgoingBind string
	// TLS is the base TLS configuration of IRC connections (roots from
	// ca_file); nil means the system roots.
	TLS *tls.Config
	// Version is reported in XEP-0092 answers.
	Version string
	// ReconnectMin is the delay before the first attempt to reconnect a
	// lost IRC connection (doubled at each failure, up to 5 minutes), and
	// ReconnectSpread the random extra delay of that first attempt, so
	// that an outage does not make every user reconnect at once.
	ReconnectMin, ReconnectSpread time.Duration
	// WebIRCPassword, when set, sends WEBIRC with each user's own XMPP
	// domain and its address, so IRC sees where users come from.
	WebIRCPassword string
	// Ident, when set, is told about each IRC connection so that the
	// gateway's identd can answer for it.
	Ident IdentRegistry
	// Metrics receives the gateway's figures; nil records nothing.
	Metrics *metrics.Gateway
	// Retention is how long archived lines are kept (0: forever); it is the
	// default of the admin purge-archive command.
	Retention time.Duration
	// Policy says who may use the gateway and which IRC servers it reaches.
	Policy Policy
	// Limits bound each user.
	Limits Limits
	// QueueSize bounds the events waiting for each user's session.
	QueueSize int
	// Logger receives the gateway's logs; nil means slog.Default().
	Logger *slog.Logger
}

// SoftwareName is the name reported in XEP-0092 answers and the gateway's
// disco identity.
const SoftwareName = "biboumi"

func (c *Config) withDefaults() *Config {
	n := *c
	if n.TLSPorts == nil {
		n.TLSPorts = []int{6697, 6670}
	}
	if n.Ports == nil {
		n.Ports = []int{6667}
	}
	if n.DialTimeout <= 0 {
		n.DialTimeout = 5 * time.Second
	}
	if n.PingInterval <= 0 {
		n.PingInterval = 240 * time.Second
	}
	if n.Encoding == "" {
		n.Encoding = "latin1"
	}
	if n.Version == "" {
		n.Version = "dev"
	}
	if n.ReconnectMin <= 0 {
		n.ReconnectMin = 2 * time.Second
	}
	if n.ReconnectSpread < 0 {
		n.ReconnectSpread = 0
	} else if n.ReconnectSpread == 0 {
		n.ReconnectSpread = 5 * time.Second
	}
	n.Limits = n.Limits.withDefaults()
	if n.QueueSize <= 0 {
		n.QueueSize = 256
	}
	if n.Logger == nil {
		n.Logger = slog.Default()
	}
	return &n
}

// IsAdmin reports whether the bare JID of j is listed in Admins.
func (c *Config) IsAdmin(j jid.JID) bool {
	b := j.Bare()
	for _, a := range c.Admins {
		if a.Equal(b) {
			return true
		}
	}
	return false
}

// IdentRegistry is the identd's table of connections (identd.Server).
type IdentRegistry interface {
	Register(local, remote netip.AddrPort, user string) (unregister func())
}
