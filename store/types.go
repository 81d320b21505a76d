package store

import (
	"time"

	"mellium.im/xmpp/jid"
)

// Biboumi's defaults, applied when no row is stored (biboumi-reference §7).
const (
	// DefaultMaxHistoryLength is the number of archived lines replayed when
	// joining a channel.
	DefaultMaxHistoryLength = 20
	// DefaultThrottleLimit is the IRC send rate limit of a server.
	DefaultThrottleLimit = 10
)

// DefaultPorts returns the plain-text IRC ports tried by default.
func DefaultPorts() []int { return []int{6667} }

// DefaultTLSPorts returns the TLS IRC ports tried by default, in order.
func DefaultTLSPorts() []int { return []int{6697, 6670} }

// Tristate is a boolean that may be unset, so that a default from elsewhere
// applies. Its values are stored as Biboumi stores them: 0, 1 and -1.
type Tristate int8

// The Tristate values.
const (
	Unset Tristate = 0
	True  Tristate = 1
	False Tristate = -1
)

// TristateOf returns True or False.
func TristateOf(b bool) Tristate {
	if b {
		return True
	}
	return False
}

// Or returns t as a bool, or def when t is Unset.
func (t Tristate) Or(def bool) bool {
	switch t {
	case True:
		return true
	case False:
		return false
	}
	return def
}

// String returns "unset", "true" or "false": the option values of Biboumi's
// channel configuration form.
func (t Tristate) String() string {
	switch t {
	case True:
		return "true"
	case False:
		return "false"
	}
	return "unset"
}

// GlobalOptions are a user's settings for the whole gateway (Biboumi's
// globaloptions_ and its ad-hoc "configure" form on the gateway JID).
type GlobalOptions struct {
	Owner jid.JID // the user's bare JID
	// MaxHistoryLength is how many archived lines are replayed on join.
	MaxHistoryLength int
	// RecordHistory says whether channel messages are archived.
	RecordHistory bool
	// Persistent makes every channel persistent. Unset means the
	// configuration's persistent_by_default, which the store does not know.
	Persistent Tristate
}

// DefaultGlobalOptions returns the options of a user who never saved any.
func DefaultGlobalOptions(owner jid.JID) GlobalOptions {
	return GlobalOptions{
		Owner:            owner.Bare(),
		MaxHistoryLength: DefaultMaxHistoryLength,
		RecordHistory:    true,
		Persistent:       Unset,
	}
}

// ServerOptions are a user's settings for one IRC server (Biboumi's
// ircserveroptions_ plus after_connection_commands_).
type ServerOptions struct {
	Owner  jid.JID // the user's bare JID
	Server string  // the IRC server name, as in the JIDs (casefolded)

	// Address is the host name or IP to connect to; empty means Server.
	Address     string
	Ports       []int // plain-text ports to try, in order
	TLSPorts    []int // TLS ports to try first, in order
	VerifyCert  bool  // abort TLS when the certificate is invalid
	Fingerprint string
	Pass        string // sent with PASS
	// SASLPassword authenticates the nick with SASL PLAIN. Never log it.
	SASLPassword string
	// SASLMechanism is "" or "PLAIN" (with SASLPassword), or "EXTERNAL"
	// (the user's client certificate, see Store.ClientCert).
	SASLMechanism string
	Nick          string // overrides the nick of the join presence
	Username      string
	Realname      string
	EncodingIn    string // charset for decoding IRC text that is not UTF-8
	EncodingOut   string
	// MaxHistoryLength is stored but, as in Biboumi 9, only the global
	// option drives join history.
	MaxHistoryLength int
	ThrottleLimit    int
	// AfterConnectCommands are raw IRC lines sent after 001, in order.
	AfterConnectCommands []string
	// Stored is true when the options were read from a saved row, false
	// when they are the defaults (so the gateway can use its own default
	// ports instead). It is not written.
	Stored bool
}

// DefaultServerOptions returns the options of a server the user never
// configured.
func DefaultServerOptions(owner jid.JID, server string) ServerOptions {
	return ServerOptions{
		Owner:            owner.Bare(),
		Server:           server,
		Ports:            DefaultPorts(),
		TLSPorts:         DefaultTLSPorts(),
		VerifyCert:       true,
		MaxHistoryLength: DefaultMaxHistoryLength,
		ThrottleLimit:    DefaultThrottleLimit,
	}
}

// ChannelOptions are a user's settings for one IRC channel (Biboumi's
// ircchanneloptions_).
type ChannelOptions struct {
	Owner   jid.JID // the user's bare JID
	Server  string  // the IRC server name (casefolded)
	Channel string  // the channel name with its prefix (casefolded)

	EncodingIn  string // empty: the server's value
	EncodingOut string // empty: the server's value
	// MaxHistoryLength is stored but, as in Biboumi 9, only the global
	// option drives join history.
	MaxHistoryLength int
	// Persistent keeps the user in the IRC channel when the last XMPP
	// resource leaves.
	Persistent bool
	// RecordHistory overrides the global option; Unset means the global one.
	RecordHistory Tristate
}

// KeptChannel is a channel that a user stays in with no XMPP client
// joined, because of their global "persistent" option (see
// Store.KeepChannel).
type KeptChannel struct {
	Owner   jid.JID // the user's bare JID
	Server  string  // the IRC server name (casefolded)
	Channel string  // the channel name with its prefix (casefolded)
}

// ClientCert is a user's IRC client certificate (SASL EXTERNAL, CertFP),
// PEM-encoded.
type ClientCert struct {
	Owner           jid.JID // the user's bare JID
	CertPEM, KeyPEM []byte
}

// DefaultChannelOptions returns the options of a channel the user never
// configured.
func DefaultChannelOptions(owner jid.JID, server, channel string) ChannelOptions {
	return ChannelOptions{
		Owner:            owner.Bare(),
		Server:           server,
		Channel:          channel,
		MaxHistoryLength: DefaultMaxHistoryLength,
	}
}

// LogLine is one archived channel line in one user's archive. Each user who
// is in a channel has a separate copy of its archive, as in Biboumi.
type LogLine struct {
	// Seq is the archive order, assigned by the store; it only grows.
	// It is internal: clients see ID.
	Seq int64
	// ID is the line's stable identifier: the MAM result id and the
	// XEP-0359 stanza-id. The store generates a random UUID when it is empty
	// and keeps a given one (imported Biboumi archives keep their UUIDs).
	ID      string
	Owner   jid.JID // the bare JID of the user this copy belongs to
	Server  string  // the IRC server name (casefolded)
	Channel string  // the channel name with its prefix (casefolded)
	Time    time.Time
	Nick    string // the sender's IRC nick; empty for room messages
	Body    string // plain text, IRC formatting removed
}

// Limits of one ListLogs page.
const (
	// DefaultLogLimit is the page size when LogQuery.Limit is zero or less.
	// It is also the cap of a MAM page (XEP-0313 in Biboumi: max=100).
	DefaultLogLimit = 100
	// MaxLogLimit caps LogQuery.Limit, so one query cannot load an
	// unbounded archive into memory. Callers that want more page through.
	MaxLogLimit = 1000
)

// LogQuery selects a page of one owner's archive of one channel.
//
// Without AfterID, BeforeID and Last, the page holds the oldest lines that
// match. AfterID pages forward (lines after that one). BeforeID pages
// backward and Last asks for the newest lines (RSM <before/>): both return
// the newest matching lines before the bound, still oldest first.
type LogQuery struct {
	Owner   jid.JID // required; its bare JID is used
	Server  string
	Channel string
	// Start and End bound the line times, both inclusive; zero means open.
	Start, End time.Time
	// AfterID and BeforeID are line IDs (exclusive bounds in archive
	// order). Each must exist in this owner's archive of this channel.
	AfterID, BeforeID string
	// IDs, when not empty, keeps only the lines with these IDs (XEP-0313's
	// ids filter); IDs not in the selection are ignored. At most
	// MaxLogLimit IDs.
	IDs []string
	// Limit is the page size: zero or less means DefaultLogLimit, and it is
	// capped at MaxLogLimit.
	Limit int
	// Last selects the newest lines rather than the oldest.
	Last bool
}

// Backward reports whether the page is taken from the newest end of the
// selection (BeforeID or Last).
func (q LogQuery) Backward() bool { return q.Last || q.BeforeID != "" }

// PageSize returns the effective page size of q.
func (q LogQuery) PageSize() int {
	switch {
	case q.Limit <= 0:
		return DefaultLogLimit
	case q.Limit > MaxLogLimit:
		return MaxLogLimit
	}
	return q.Limit
}

// LogPage is the result of ListLogs.
type LogPage struct {
	// Lines are in archive order, oldest first, at most the query's page
	// size. Their Owner is the query's bare owner.
	Lines []LogLine
	// Complete reports that no matching line exists beyond this page in the
	// paging direction (after the last line going forward, before the first
	// going backward): MAM's <fin complete='true'/>.
	Complete bool
}

// RosterItem is a presence subscription of a user to a gateway JID.
type RosterItem struct {
	Local  jid.JID // the gateway JID or an IRC server JID (bare)
	Remote jid.JID // the subscribed user's bare JID
}

// RosterQuery selects roster items. A zero JID matches every item, so the
// zero RosterQuery lists the whole roster (as needed to send probes at
// start-up).
type RosterQuery struct {
	Local  jid.JID
	Remote jid.JID
}
