package metrics

import (
	"runtime"
	"time"
)

// Label values. They are typed so that callers pass one of the constants:
// every label of the gateway's metrics has a small, fixed set of values,
// which keeps the number of time series bounded whatever users do.
type (
	// StanzaKind is the kind label of the stanza counters.
	StanzaKind string
	// IRCState is the state label of biboumi_irc_connections.
	IRCState string
	// Direction is the direction label of biboumi_relay_latency_seconds.
	Direction string
	// Link is the link label of biboumi_reconnects_total.
	Link string
	// Queue is the queue label of biboumi_queue_depth.
	Queue string
	// ErrorKind is the kind label of biboumi_errors_total.
	ErrorKind string
)

// Stanza kinds.
const (
	KindMessage  StanzaKind = "message"
	KindPresence StanzaKind = "presence"
	KindIQ       StanzaKind = "iq"
)

// IRC connection states. A connection is in exactly one of them from the
// moment it is opened until it is closed.
const (
	IRCConnecting  IRCState = "connecting"  // DNS, TCP and TLS
	IRCRegistering IRCState = "registering" // CAP, SASL, NICK/USER, until 001
	IRCConnected   IRCState = "connected"   // registered
)

// Relay directions.
const (
	XMPPToIRC Direction = "xmpp_to_irc" // stanza received → IRC line written
	IRCToXMPP Direction = "irc_to_xmpp" // IRC line read → stanza queued
)

// Links that reconnect.
const (
	LinkXMPP Link = "xmpp" // the component link to the XMPP server
	LinkIRC  Link = "irc"  // a user's connection to an IRC server
)

// Queues whose depth is exported.
const (
	QueueXMPPOut  Queue = "xmpp_out"       // stanzas waiting for the component link
	QueueSessions Queue = "session_events" // events waiting in user sessions, all users
	QueueIRCOut   Queue = "irc_out"        // IRC lines waiting to be written, all connections
	QueueArchive  Queue = "archive"        // lines waiting to be archived
)

// Error kinds.
const (
	ErrXMPPSend       ErrorKind = "xmpp_send"       // a stanza could not be queued (queue full, link closed)
	ErrXMPPLink       ErrorKind = "xmpp_link"       // the component link was lost or a reconnection failed
	ErrStanzaRejected ErrorKind = "stanza_rejected" // an incoming stanza was answered with an error
	ErrIRCConnect     ErrorKind = "irc_connect"     // an IRC connection could not be established
	ErrIRCProtocol    ErrorKind = "irc_protocol"    // an IRC connection ended with an error
	ErrStore          ErrorKind = "store"           // a database query failed
	ErrConfigReload   ErrorKind = "config_reload"   // a reload kept the old configuration
	ErrPanic          ErrorKind = "panic"           // a recovered panic
)

// Gateway is the gateway's metric set. Packages that feed it take a
// *Gateway and call its methods, all of which do nothing on a nil
// *Gateway, so tests and callers without metrics pass nil. The fields give
// direct access (for instance to keep a child of a vector on a hot path);
// they are nil in a nil *Gateway, so use the methods where it may be nil.
//
// Metric names (all prefixed biboumi_ except the process ones):
//
//	biboumi_users                               gauge      XMPP users with a session
//	biboumi_irc_connections{state}              gauge      IRC connections by state
//	biboumi_irc_channels_joined                 gauge      IRC channels joined, all users
//	biboumi_xmpp_connected                      gauge      1 while the component link is up
//	biboumi_xmpp_stanzas_received_total{kind}   counter    stanzas from the XMPP server
//	biboumi_xmpp_stanzas_sent_total{kind}       counter    stanzas queued for the XMPP server
//	biboumi_irc_lines_received_total            counter    lines read from IRC servers
//	biboumi_irc_lines_sent_total                counter    lines written to IRC servers
//	biboumi_relay_latency_seconds{direction}    histogram  time to relay one message
//	biboumi_queue_depth{queue}                  gauge      items waiting in a queue
//	biboumi_reconnects_total{link}              counter    reconnections (XMPP link, IRC)
//	biboumi_store_query_duration_seconds{op}    histogram  database call latency, by store method
//	biboumi_errors_total{kind}                  counter    errors by kind
//	biboumi_config_reloads_total{result}        counter    configuration reloads (success, failure)
//	biboumi_build_info{version,goversion}       gauge      always 1
//	process_start_time_seconds                  gauge      Unix time the process started
//	go_goroutines                               gauge      goroutines right now
type Gateway struct {
	Users              *Gauge
	IRCConnections     *GaugeVec // state
	JoinedChannels     *Gauge
	XMPPConnected      *Gauge
	StanzasReceived    *CounterVec // kind
	StanzasSent        *CounterVec // kind
	IRCLinesReceived   *Counter
	IRCLinesSent       *Counter
	RelayLatency       *HistogramVec // direction
	QueueDepth         *GaugeVec     // queue
	Reconnects         *CounterVec   // link
	StoreQueryDuration *HistogramVec // op
	Errors             *CounterVec   // kind
	ConfigReloads      *CounterVec   // result
	BuildInfo          *GaugeVec     // version, goversion
	StartTime          *Gauge
	Goroutines         *Gauge
}

// NewGateway registers the gateway's metrics on r and returns them.
// version is exported in biboumi_build_info. The series of every known
// label value exist from the start, at zero, so that rate() and alerts see
// them before the first event.
func NewGateway(r *Registry, version string) *Gateway {
	g := &Gateway{
		Users:              r.NewGauge("biboumi_users", "XMPP users that have a session in the gateway."),
		IRCConnections:     r.NewGaugeVec("biboumi_irc_connections", "IRC connections, by state.", "state"),
		JoinedChannels:     r.NewGauge("biboumi_irc_channels_joined", "IRC channels joined, counted once per user and channel."),
		XMPPConnected:      r.NewGauge("biboumi_xmpp_connected", "1 while the component link to the XMPP server is authenticated, else 0."),
		StanzasReceived:    r.NewCounterVec("biboumi_xmpp_stanzas_received_total", "Stanzas received from the XMPP server, by kind.", "kind"),
		StanzasSent:        r.NewCounterVec("biboumi_xmpp_stanzas_sent_total", "Stanzas queued for the XMPP server, by kind.", "kind"),
		IRCLinesReceived:   r.NewCounter("biboumi_irc_lines_received_total", "Lines read from IRC servers."),
		IRCLinesSent:       r.NewCounter("biboumi_irc_lines_sent_total", "Lines written to IRC servers."),
		RelayLatency:       r.NewHistogramVec("biboumi_relay_latency_seconds", "Time from receiving a message on one side to handing it to the other.", LatencyBuckets(), "direction"),
		QueueDepth:         r.NewGaugeVec("biboumi_queue_depth", "Items waiting in a queue.", "queue"),
		Reconnects:         r.NewCounterVec("biboumi_reconnects_total", "Reconnections, by link.", "link"),
		StoreQueryDuration: r.NewHistogramVec("biboumi_store_query_duration_seconds", "Duration of database calls, by store method.", ExponentialBuckets(0.0001, 4, 9), "op"),
		Errors:             r.NewCounterVec("biboumi_errors_total", "Errors, by kind.", "kind"),
		ConfigReloads:      r.NewCounterVec("biboumi_config_reloads_total", "Configuration reloads, by result.", "result"),
		BuildInfo:          r.NewGaugeVec("biboumi_build_info", "Always 1; the labels say which build runs.", "version", "goversion"),
		StartTime:          r.NewGauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds."),
		Goroutines:         r.NewGauge("go_goroutines", "Number of goroutines that currently exist."),
	}
	for _, s := range []IRCState{IRCConnecting, IRCRegistering, IRCConnected} {
		g.IRCConnections.With(string(s))
	}
	for _, k := range []StanzaKind{KindMessage, KindPresence, KindIQ} {
		g.StanzasReceived.With(string(k))
		g.StanzasSent.With(string(k))
	}
	for _, d := range []Direction{XMPPToIRC, IRCToXMPP} {
		g.RelayLatency.With(string(d))
	}
	for _, l := range []Link{LinkXMPP, LinkIRC} {
		g.Reconnects.With(string(l))
	}
	for _, k := range []ErrorKind{ErrXMPPSend, ErrXMPPLink, ErrStanzaRejected, ErrIRCConnect, ErrIRCProtocol, ErrStore, ErrConfigReload, ErrPanic} {
		g.Errors.With(string(k))
	}
	for _, q := range []Queue{QueueXMPPOut, QueueSessions, QueueIRCOut, QueueArchive} {
		g.QueueDepth.With(string(q))
	}
	g.ConfigReloads.With("success")
	g.ConfigReloads.With("failure")
	g.BuildInfo.With(version, runtime.Version()).Set(1)
	g.StartTime.Set(float64(time.Now().UnixNano()) / 1e9)
	g.Goroutines.SetFunc(func() float64 { return float64(runtime.NumGoroutine()) })
	return g
}

// AddUsers adds delta (+1 when a session starts, -1 when it ends).
func (g *Gateway) AddUsers(delta int) {
	if g != nil {
		g.Users.Add(float64(delta))
	}
}

// UserCount returns the current value of biboumi_users (0 on a nil
// *Gateway).
func (g *Gateway) UserCount() int {
	if g == nil {
		return 0
	}
	return int(g.Users.Value())
}

// IRCConnectionState moves one IRC connection from one state to another;
// from is "" for a new connection and to is "" for a closed one.
func (g *Gateway) IRCConnectionState(from, to IRCState) {
	if g == nil {
		return
	}
	if from != "" {
		g.IRCConnections.With(string(from)).Dec()
	}
	if to != "" {
		g.IRCConnections.With(string(to)).Inc()
	}
}

// AddJoinedChannels adds delta to biboumi_irc_channels_joined.
func (g *Gateway) AddJoinedChannels(delta int) {
	if g != nil {
		g.JoinedChannels.Add(float64(delta))
	}
}

// SetXMPPConnected sets biboumi_xmpp_connected.
func (g *Gateway) SetXMPPConnected(up bool) {
	if g == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	g.XMPPConnected.Set(v)
}

// StanzaReceived counts one stanza from the XMPP server.
func (g *Gateway) StanzaReceived(k StanzaKind) {
	if g != nil {
		g.StanzasReceived.With(string(k)).Inc()
	}
}

// StanzaSent counts one stanza queued for the XMPP server.
func (g *Gateway) StanzaSent(k StanzaKind) {
	if g != nil {
		g.StanzasSent.With(string(k)).Inc()
	}
}

// IRCLineReceived counts one line read from an IRC server.
func (g *Gateway) IRCLineReceived() {
	if g != nil {
		g.IRCLinesReceived.Inc()
	}
}

// IRCLineSent counts one line written to an IRC server.
func (g *Gateway) IRCLineSent() {
	if g != nil {
		g.IRCLinesSent.Inc()
	}
}

// ObserveRelay records the time one message took to cross the gateway.
func (g *Gateway) ObserveRelay(d Direction, took time.Duration) {
	if g != nil {
		g.RelayLatency.With(string(d)).ObserveDuration(took)
	}
}

// SetQueueDepth sets the depth of a queue.
func (g *Gateway) SetQueueDepth(q Queue, n int) {
	if g != nil {
		g.QueueDepth.With(string(q)).Set(float64(n))
	}
}

// AddQueueDepth adds delta to the depth of a queue, for queues spread over
// many owners (every session's event queue, for instance).
func (g *Gateway) AddQueueDepth(q Queue, delta int) {
	if g != nil {
		g.QueueDepth.With(string(q)).Add(float64(delta))
	}
}

// QueueDepthFunc makes the depth of a queue read from f at each scrape
// (for example func() int { return len(ch) }).
func (g *Gateway) QueueDepthFunc(q Queue, f func() int) {
	if g != nil {
		g.QueueDepth.With(string(q)).SetFunc(func() float64 { return float64(f()) })
	}
}

// Reconnect counts one reconnection of a link.
func (g *Gateway) Reconnect(l Link) {
	if g != nil {
		g.Reconnects.With(string(l)).Inc()
	}
}

// ObserveStoreQuery records the duration of one store call; op is the
// store method's name (a fixed set).
func (g *Gateway) ObserveStoreQuery(op string, took time.Duration) {
	if g != nil {
		g.StoreQueryDuration.With(op).ObserveDuration(took)
	}
}

// Error counts one error.
func (g *Gateway) Error(k ErrorKind) {
	if g != nil {
		g.Errors.With(string(k)).Inc()
	}
}

// ConfigReloaded counts one configuration reload.
func (g *Gateway) ConfigReloaded(ok bool) {
	if g == nil {
		return
	}
	if ok {
		g.ConfigReloads.With("success").Inc()
	} else {
		g.ConfigReloads.With("failure").Inc()
	}
}
