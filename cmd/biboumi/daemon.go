package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"biboumi/component"
	"biboumi/internal/metrics"
	"biboumi/ircbridge"
	"biboumi/ircbridge/identd"
	"biboumi/store"
	"biboumi/store/sqlstore"

	"golang.org/x/text/encoding/htmlindex"
)

// shutdownGrace bounds the time IRC servers get to answer our QUITs at
// shutdown before their connections are closed.
const shutdownGrace = 3 * time.Second

// daemon is one run of the gateway: the component link and the gateway,
// wired together, plus the reload loop.
type daemon struct {
	path   string
	cfg    *Config
	logs   *logging
	reload <-chan os.Signal

	// Operations (sdnotify.go, metrics.go); all optional, filled by
	// initOps when nil or zero.
	notify     *notifier         // sd_notify; nil outside systemd
	watchdog   time.Duration     // WATCHDOG=1 period; 0 for none
	metrics    *metrics.Gateway  // never nil once run has started
	registry   *metrics.Registry // what /metrics serves
	lastStatus string            // the last STATUS= sent
}

// handler forwards the link's stanzas to the gateway. It exists because the
// link and the gateway each need the other at construction.
type handler struct{ g *ircbridge.Gateway }

func (h handler) HandleMessage(ctx context.Context, m ircbridge.Message) { h.g.HandleMessage(ctx, m) }
func (h handler) HandlePresence(ctx context.Context, p ircbridge.Presence) {
	h.g.HandlePresence(ctx, p)
}
func (h handler) HandleIQ(ctx context.Context, iq ircbridge.IQ) { h.g.HandleIQ(ctx, iq) }

func (d *daemon) run(ctx context.Context) (err error) {
	log := d.logs.Logger()
	d.initOps()
	defer func() {
		if err != nil {
			d.notifyFailure(err)
		}
	}()
	stopMetrics, err := d.serveMetrics()
	if err != nil {
		return err
	}
	defer stopMetrics()
	gcfg, err := gatewayConfig(d.cfg, log)
	if err != nil {
		return err
	}
	gcfg.Metrics = d.metrics
	st, err := sqlstore.OpenDBName(ctx, d.cfg.DBName, sqlstore.Options{Logger: log.With("part", "store")})
	if err != nil {
		return fmt.Errorf("db_name: %w", err)
	}
	defer st.Close()
	// Background work owned by this run: identd and the archive retention.
	bgCtx, stopBg := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	defer func() { stopBg(); bg.Wait() }()
	if d.cfg.IdentdPort > 0 {
		id, err := identd.New(identd.Config{Addr: fmt.Sprintf(":%d", d.cfg.IdentdPort), Logger: log.With("part", "identd")})
		if err != nil {
			// As Biboumi: the gateway works without identd.
			log.Warn("identd not started", "identd_port", d.cfg.IdentdPort, "err", err)
		} else {
			gcfg.Ident = id
			bg.Add(1)
			go func() { defer bg.Done(); id.Serve(bgCtx) }()
		}
	}
	h := &handler{}
	link := component.New(linkConfig(d.cfg, log), countingHandler{h, d.metrics})
	gw := ircbridge.New(*gcfg, countingSender{link, d.metrics}, timedStore{st, d.metrics})
	h.g = gw
	bg.Add(1)
	go func() { defer bg.Done(); gw.RunRetention(bgCtx, time.Hour) }()
	d.metrics.XMPPConnected.SetFunc(func() float64 {
		if link.Connected() {
			return 1
		}
		return 0
	})

	// The subscriptions to probe are those stored before the link is up.
	roster, err := gw.RosterSnapshot(ctx)
	if err != nil {
		log.Error("reading the roster for start-up probes", "err", err)
	}

	// The link outlives ctx: at shutdown the gateway still sends its last
	// presences through it.
	linkCtx, stopLink := context.WithCancel(context.Background())
	defer stopLink()
	linkErr := make(chan error, 1)
	go func() { linkErr <- link.Run(linkCtx) }()

	log.Info("starting", "hostname", d.cfg.Hostname.String(), "xmpp_server", d.cfg.ComponentAddr())
	d.sdNotify(status("Connecting to the XMPP server " + d.cfg.ComponentAddr()))
	ready := link.Ready()
	// Both tickers start with the first connection; the watchdog is fed
	// from this loop so that a wedged loop stops feeding it.
	var watchdog, refresh <-chan time.Time
	for {
		select {
		case <-ready:
			ready = nil
			d.afterConnect(ctx, gw, roster)
			d.notifyReady(link)
			if d.watchdog > 0 {
				t := time.NewTicker(d.watchdog)
				defer t.Stop()
				watchdog = t.C
				d.sdNotify("WATCHDOG=1")
			}
			t := time.NewTicker(statusInterval)
			defer t.Stop()
			refresh = t.C
		case <-watchdog:
			d.sdNotify("WATCHDOG=1")
		case <-refresh:
			d.refreshStatus(link)
		case <-gw.ReloadRequests():
			d.reloadNotified(gw, link)
		case err := <-linkErr:
			// Run only returns early when the first connection failed.
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			gw.Shutdown(sctx)
			cancel()
			if err == nil {
				err = errors.New("component link ended")
			}
			return &linkFailure{err}
		case <-d.reload:
			d.reloadNotified(gw, link)
		case <-ctx.Done():
			log.Info("Signal received, exiting...")
			d.sdNotify("STOPPING=1", status("Shutting down: closing the IRC connections"))
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			if err := gw.Shutdown(sctx); err != nil {
				log.Warn("IRC servers did not all close in time", "err", err)
			}
			cancel()
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			link.Close(cctx)
			cancel()
			stopLink()
			<-linkErr
			return nil
		}
	}
}

// afterConnect runs once the component is first connected: presence
// probes to the stored subscribers, and the persistent channels joined
// again.
func (d *daemon) afterConnect(ctx context.Context, gw *ircbridge.Gateway, roster []store.RosterItem) {
	log := d.logs.Logger()
	if n := gw.ProbeRoster(ctx, roster); n > 0 {
		log.Info("presence probes sent", "contacts", n)
	}
	if n, err := gw.RejoinPersistent(ctx); err != nil {
		log.Error("reading persistent channels", "err", err)
	} else if n > 0 {
		log.Info("rejoining persistent channels", "channels", n)
	}
}

// doReload re-reads the configuration and applies what can change live.
// It reports whether the new configuration was taken.
func (d *daemon) doReload(gw *ircbridge.Gateway) bool {
	log := d.logs.Logger()
	cfg, err := LoadConfig(d.path)
	if err != nil {
		log.Error("reload failed, keeping the current configuration", "err", err)
		return false
	}
	if err := d.logs.Apply(cfg); err != nil {
		log.Error("reload: log file", "err", err)
	}
	for _, k := range restartOnlyChanges(d.cfg, cfg) {
		log.Warn("reload: this key only takes effect after a restart", "key", k)
	}
	keepRestartOnly(d.cfg, cfg) // never half-applied: the running values stay
	gcfg, err := gatewayConfig(cfg, log)
	if err != nil {
		log.Error("reload failed, keeping the current configuration", "err", err)
		return false
	}
	gcfg.Ident = gw.Config().Ident // identd lives as long as the run
	gcfg.Metrics = d.metrics
	gw.SetConfig(*gcfg)
	d.cfg = cfg
	log.Info("configuration reloaded")
	return true
}

// keepRestartOnly copies into cur the values of old that only a restart
// can change, so that a reload applies everything else and none of those.
func keepRestartOnly(old, cur *Config) {
	for _, k := range restartOnlyKeys() {
		k.keep(old, cur)
	}
}

// restartOnlyChanges lists the keys whose change a reload cannot apply.
func restartOnlyChanges(old, cur *Config) []string {
	var keys []string
	for _, k := range restartOnlyKeys() {
		if k.changed(old, cur) {
			keys = append(keys, k.key)
		}
	}
	return keys
}

// restartKey is a configuration key that only takes effect at start-up:
// how to tell it changed, and how to keep the running value.
type restartKey struct {
	key     string
	changed func(old, cur *Config) bool
	keep    func(old, cur *Config)
}

// restartOnlyKeys is the one list of the keys a reload cannot apply.
func restartOnlyKeys() []restartKey {
	return []restartKey{
		{"hostname", func(o, c *Config) bool { return !o.Hostname.Equal(c.Hostname) }, func(o, c *Config) { c.Hostname = o.Hostname }},
		{"password", func(o, c *Config) bool { return o.Password != c.Password }, func(o, c *Config) { c.Password = o.Password }},
		{"xmpp_server_ip", func(o, c *Config) bool { return o.XMPPServerIP != c.XMPPServerIP }, func(o, c *Config) { c.XMPPServerIP = o.XMPPServerIP }},
		{"port", func(o, c *Config) bool { return o.Port != c.Port }, func(o, c *Config) { c.Port = o.Port }},
		{"db_name", func(o, c *Config) bool { return o.DBName != c.DBName }, func(o, c *Config) { c.DBName = o.DBName }},
		{"fixed_irc_server", func(o, c *Config) bool { return o.FixedIRCServer != c.FixedIRCServer }, func(o, c *Config) { c.FixedIRCServer = o.FixedIRCServer }},
		{"identd_port", func(o, c *Config) bool { return o.IdentdPort != c.IdentdPort }, func(o, c *Config) { c.IdentdPort = o.IdentdPort }},
		{"component", func(o, c *Config) bool { return o.Component != c.Component }, func(o, c *Config) { c.Component = o.Component }},
		{"metrics.listen", func(o, c *Config) bool { return o.Metrics != c.Metrics }, func(o, c *Config) { c.Metrics = o.Metrics }},
	}
}

func linkConfig(c *Config, log *slog.Logger) component.Config {
	return component.Config{
		Addr:         c.ComponentAddr(),
		Domain:       c.Hostname,
		Secret:       c.Password,
		ReconnectMin: c.Component.ReconnectMin,
		ReconnectMax: c.Component.ReconnectMax,
		QueueSize:    c.Component.QueueSize,
		Logger:       log.With("part", "component"),
	}
}

func gatewayConfig(c *Config, log *slog.Logger) (*ircbridge.Config, error) {
	var tlsCfg *tls.Config
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s holds no PEM certificate", c.CAFile)
		}
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	enc := "latin1"
	if c.IRC.EncodingIn != nil {
		if name, err := htmlindex.Name(c.IRC.EncodingIn); err == nil {
			enc = name
		}
	}
	bind := ""
	if c.OutgoingBind.IsValid() {
		bind = c.OutgoingBind.String()
	}
	return &ircbridge.Config{
		Domain:                c.Hostname,
		FixedServer:           c.FixedIRCServer,
		Admins:                c.Admins,
		RealnameCustomization: c.RealnameCustomization,
		RealnameFromJID:       c.RealnameFromJID,
		PersistentByDefault:   c.PersistentByDefault,
		TLSPorts:              c.IRC.TLSPorts,
		Ports:                 c.IRC.Ports,
		DialTimeout:           c.IRC.ConnectTimeout,
		PingInterval:          c.IRC.PingInterval,
		Encoding:              enc,
		OutgoingBind:          bind,
		TLS:                   tlsCfg,
		Version:               version,
		WebIRCPassword:        c.WebIRCPassword,
		Retention:             c.Archive.Retention,
		QueueSize:             c.Limits.QueueSize,
		Policy: ircbridge.Policy{
			XMPPDomains: c.Policy.XMPPDomains,
			IRCAllow:    c.Policy.IRCAllow,
			IRCDeny:     c.Policy.IRCDeny,
		},
		Limits: ircbridge.Limits{
			IRCConnections: c.Limits.IRCConnections,
			Channels:       c.Limits.Channels,
			StanzaRate:     float64(c.Limits.StanzaRate),
			StanzaBurst:    c.Limits.StanzaBurst,
			MAMPageSize:    c.Limits.MAMPageSize,
			AdhocSessions:  c.Limits.AdhocSessions,
			ConnectRate:    float64(c.Limits.ConnectRate),
		},
		Logger: log.With("part", "gateway"),
	}, nil
}
