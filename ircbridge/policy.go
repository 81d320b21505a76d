package ircbridge

import (
	"strings"

	"mellium.im/xmpp/jid"
)

// Policy says who may use the gateway and where to. An open gateway is an
// IRC abuse proxy, so by default only the users of the XMPP server the
// gateway is a component of may use it.
type Policy struct {
	// XMPPDomains are the domains whose users may use the gateway; "*"
	// allows everyone. Empty means the parent domain of the gateway's own
	// (users of example.org for irc.example.org), and that domain's
	// subdomains.
	XMPPDomains []string
	// IRCAllow, when not empty, lists the IRC servers that may be reached;
	// IRCDeny lists servers that may not. Entries are host names, or
	// "*.example.org" for a domain and its subdomains.
	IRCAllow, IRCDeny []string
}

// userAllowed reports whether the user j may use the gateway.
func (c *Config) userAllowed(j jid.JID) bool {
	domain := j.Domainpart()
	if domain == "" {
		return false
	}
	if len(c.Policy.XMPPDomains) == 0 {
		own := c.Domain.Domainpart()
		parent := own
		if i := strings.IndexByte(own, '.'); i >= 0 {
			parent = own[i+1:]
		}
		return domain == parent || strings.HasSuffix(domain, "."+parent) || domain == own
	}
	for _, d := range c.Policy.XMPPDomains {
		if d == "*" || hostMatches(d, domain) {
			return true
		}
	}
	return false
}

// ircAllowed reports whether an IRC server may be reached.
func (c *Config) ircAllowed(server string) bool {
	server = strings.ToLower(server)
	for _, d := range c.Policy.IRCDeny {
		if hostMatches(d, server) {
			return false
		}
	}
	if len(c.Policy.IRCAllow) == 0 {
		return true
	}
	for _, a := range c.Policy.IRCAllow {
		if hostMatches(a, server) {
			return true
		}
	}
	return false
}

// hostMatches matches a host against "host" or "*.domain".
func hostMatches(pattern, host string) bool {
	pattern = strings.ToLower(pattern)
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		return host == rest || strings.HasSuffix(host, "."+rest)
	}
	return host == pattern
}

// Limits bound what one user can make the gateway do. Zero values take the
// defaults of withDefaults.
type Limits struct {
	IRCConnections int     // IRC servers connected at once (default 10)
	Channels       int     // rooms joined at once, over all servers (default 100)
	StanzaRate     float64 // stanzas per second sustained (default 20)
	StanzaBurst    int     // stanzas at once (default 100)
	MAMPageSize    int     // largest MAM page (default 100)
	AdhocSessions  int     // open ad-hoc command sessions (default 16)
	// ConnectRate is the number of new connections per second to one IRC
	// server, for all users together (default 30; at most 10 at once).
	ConnectRate float64
}

func (l Limits) withDefaults() Limits {
	if l.IRCConnections <= 0 {
		l.IRCConnections = 10
	}
	if l.Channels <= 0 {
		l.Channels = 100
	}
	if l.StanzaRate <= 0 {
		l.StanzaRate = 20
	}
	if l.StanzaBurst <= 0 {
		l.StanzaBurst = 100
	}
	if l.MAMPageSize <= 0 {
		l.MAMPageSize = 100
	}
	if l.AdhocSessions <= 0 {
		l.AdhocSessions = 16
	}
	if l.ConnectRate <= 0 {
		l.ConnectRate = 30
	}
	return l
}
