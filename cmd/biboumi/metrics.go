package main

// Operations glue for the daemon: the metrics it can see from here (the
// stanzas crossing the handler and the sender, the store's latencies, the
// reloads, the link state), the /metrics HTTP server, and the sd_notify
// texts. The gateway and the component feed the rest of metrics.Gateway
// themselves.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"biboumi/component"
	"biboumi/internal/metrics"
	"biboumi/ircbridge"
	"biboumi/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"
)

// statusInterval is how often the STATUS= text is refreshed (it is sent
// only when it changes).
const statusInterval = 5 * time.Second

// initOps fills what a daemon built without them (in tests) lacks.
func (d *daemon) initOps() {
	if d.metrics == nil {
		d.registry = metrics.NewRegistry()
		d.metrics = metrics.NewGateway(d.registry, version)
	}
	if d.notify != nil && d.watchdog == 0 {
		d.watchdog = watchdogInterval(os.Getenv, os.Getpid())
	}
}

// sdNotify sends assignments to the service manager, logging a failure.
func (d *daemon) sdNotify(assignments ...string) {
	if err := d.notify.send(assignments...); err != nil {
		d.logs.Logger().Warn("telling systemd", "err", err)
	}
}

// connectedStatus is the STATUS= text while the link is up (or coming
// back).
func (d *daemon) connectedStatus(link *component.Link) string {
	if !link.Connected() {
		return "Reconnecting to the XMPP server " + d.cfg.ComponentAddr()
	}
	n := d.metrics.UserCount()
	if n == 1 {
		return "Connected; 1 user"
	}
	return "Connected; " + strconv.Itoa(n) + " users"
}

// refreshStatus sends the status if it changed since the last one.
func (d *daemon) refreshStatus(link *component.Link) {
	if s := d.connectedStatus(link); s != d.lastStatus {
		d.lastStatus = s
		d.sdNotify(status(s))
	}
}

// notifyReady tells systemd the gateway is up (at start and after a
// reload).
func (d *daemon) notifyReady(link *component.Link) {
	d.lastStatus = d.connectedStatus(link)
	d.sdNotify("READY=1", status(d.lastStatus))
}

// reloadNotified runs a reload between RELOADING=1 and READY=1.
func (d *daemon) reloadNotified(gw *ircbridge.Gateway, link *component.Link) {
	d.sdNotify(reloading()...)
	ok := d.doReload(gw)
	d.metrics.ConfigReloaded(ok)
	if !ok {
		d.metrics.Error(metrics.ErrConfigReload)
	}
	d.notifyReady(link)
}

// linkFailure marks an error as the component link's first connection
// failing, for failureStatus.
type linkFailure struct{ err error }

func (e *linkFailure) Error() string { return e.err.Error() }
func (e *linkFailure) Unwrap() error { return e.err }

// failureStatus is the STATUS= text for the error run returns, in
// Biboumi's words where it has some.
func failureStatus(err error) string {
	var lf *linkFailure
	if !errors.As(err, &lf) {
		return "Failed to start: " + err.Error()
	}
	var se stream.Error
	var op *net.OpError
	switch {
	case errors.As(err, &se):
		return "Failed to authenticate to the XMPP server: " + err.Error()
	case errors.As(err, &op) && op.Op == "dial":
		return "Failed to connect to the XMPP server: " + err.Error()
	default:
		return "Failed to authenticate to the XMPP server: " + err.Error()
	}
}

// notifyFailure tells systemd why the gateway is exiting with an error.
func (d *daemon) notifyFailure(err error) {
	d.sdNotify(status(failureStatus(err)), "STOPPING=1")
}

// serveMetrics starts the /metrics endpoint if [metrics] listen is set.
// The returned function stops it and waits for its goroutine.
func (d *daemon) serveMetrics() (stop func(), err error) {
	addr := d.cfg.Metrics.Listen
	if addr == "" || d.registry == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.registry.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "biboumi", version, "- metrics at /metrics")
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(d.logs.Logger().With("part", "metrics").Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.logs.Logger().Error("metrics endpoint stopped", "err", err)
		}
	}()
	d.logs.Logger().Info("metrics endpoint listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}, nil
}

// countingHandler counts the stanzas the XMPP server sends us.
type countingHandler struct {
	h component.Handler
	m *metrics.Gateway
}

func (c countingHandler) HandleMessage(ctx context.Context, m ircbridge.Message) {
	c.m.StanzaReceived(metrics.KindMessage)
	c.h.HandleMessage(ctx, m)
}

func (c countingHandler) HandlePresence(ctx context.Context, p ircbridge.Presence) {
	c.m.StanzaReceived(metrics.KindPresence)
	c.h.HandlePresence(ctx, p)
}

func (c countingHandler) HandleIQ(ctx context.Context, iq ircbridge.IQ) {
	c.m.StanzaReceived(metrics.KindIQ)
	c.h.HandleIQ(ctx, iq)
}

// countingSender counts the stanzas the gateway queues for the XMPP
// server, and the ones it could not queue.
type countingSender struct {
	s ircbridge.Sender
	m *metrics.Gateway
}

func (c countingSender) count(k metrics.StanzaKind, err error) error {
	if err != nil {
		c.m.Error(metrics.ErrXMPPSend)
	} else {
		c.m.StanzaSent(k)
	}
	return err
}

func (c countingSender) SendMessage(ctx context.Context, m ircbridge.Message) error {
	return c.count(metrics.KindMessage, c.s.SendMessage(ctx, m))
}

func (c countingSender) SendPresence(ctx context.Context, p ircbridge.Presence) error {
	return c.count(metrics.KindPresence, c.s.SendPresence(ctx, p))
}

func (c countingSender) SendIQ(ctx context.Context, iq ircbridge.IQ) error {
	return c.count(metrics.KindIQ, c.s.SendIQ(ctx, iq))
}

// timedStore records the latency of every store call, by method, and
// counts the failures (a record that does not exist is not one). Methods
// added to store.Store later pass through untimed until listed here.
type timedStore struct {
	store.Store
	m *metrics.Gateway
}

func (s timedStore) done(op string, start time.Time, err error) {
	s.m.ObserveStoreQuery(op, time.Since(start))
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, context.Canceled) {
		s.m.Error(metrics.ErrStore)
	}
}

// timed runs one store call that returns a value, and records it.
func timed[T any](s timedStore, op string, call func() (T, error)) (T, error) {
	start := time.Now()
	v, err := call()
	s.done(op, start, err)
	return v, err
}

// timed0 runs one store call that returns only an error, and records it.
func timed0(s timedStore, op string, call func() error) error {
	start := time.Now()
	err := call()
	s.done(op, start, err)
	return err
}

func (s timedStore) GlobalOptions(ctx context.Context, owner jid.JID) (store.GlobalOptions, error) {
	return timed(s, "GlobalOptions", func() (store.GlobalOptions, error) { return s.Store.GlobalOptions(ctx, owner) })
}

func (s timedStore) StoreGlobalOptions(ctx context.Context, o store.GlobalOptions) error {
	return timed0(s, "StoreGlobalOptions", func() error { return s.Store.StoreGlobalOptions(ctx, o) })
}

func (s timedStore) ServerOptions(ctx context.Context, owner jid.JID, server string) (store.ServerOptions, error) {
	return timed(s, "ServerOptions", func() (store.ServerOptions, error) { return s.Store.ServerOptions(ctx, owner, server) })
}

func (s timedStore) StoreServerOptions(ctx context.Context, o store.ServerOptions) error {
	return timed0(s, "StoreServerOptions", func() error { return s.Store.StoreServerOptions(ctx, o) })
}

func (s timedStore) ChannelOptions(ctx context.Context, owner jid.JID, server, channel string) (store.ChannelOptions, error) {
	return timed(s, "ChannelOptions", func() (store.ChannelOptions, error) { return s.Store.ChannelOptions(ctx, owner, server, channel) })
}

func (s timedStore) StoreChannelOptions(ctx context.Context, o store.ChannelOptions) error {
	return timed0(s, "StoreChannelOptions", func() error { return s.Store.StoreChannelOptions(ctx, o) })
}

func (s timedStore) PersistentChannels(ctx context.Context) ([]store.ChannelOptions, error) {
	return timed(s, "PersistentChannels", func() ([]store.ChannelOptions, error) { return s.Store.PersistentChannels(ctx) })
}

func (s timedStore) KeepChannel(ctx context.Context, c store.KeptChannel) error {
	return timed0(s, "KeepChannel", func() error { return s.Store.KeepChannel(ctx, c) })
}

func (s timedStore) ForgetChannel(ctx context.Context, c store.KeptChannel) error {
	return timed0(s, "ForgetChannel", func() error { return s.Store.ForgetChannel(ctx, c) })
}

func (s timedStore) KeptChannels(ctx context.Context) ([]store.KeptChannel, error) {
	return timed(s, "KeptChannels", func() ([]store.KeptChannel, error) { return s.Store.KeptChannels(ctx) })
}

func (s timedStore) AppendLog(ctx context.Context, l *store.LogLine) error {
	return timed0(s, "AppendLog", func() error { return s.Store.AppendLog(ctx, l) })
}

func (s timedStore) AppendLogs(ctx context.Context, lines []*store.LogLine) error {
	return timed0(s, "AppendLogs", func() error { return s.Store.AppendLogs(ctx, lines) })
}

func (s timedStore) ListLogs(ctx context.Context, q store.LogQuery) (store.LogPage, error) {
	return timed(s, "ListLogs", func() (store.LogPage, error) { return s.Store.ListLogs(ctx, q) })
}

func (s timedStore) PurgeLogs(ctx context.Context, before time.Time) (int64, error) {
	return timed(s, "PurgeLogs", func() (int64, error) { return s.Store.PurgeLogs(ctx, before) })
}

func (s timedStore) Roster(ctx context.Context, q store.RosterQuery) ([]store.RosterItem, error) {
	return timed(s, "Roster", func() ([]store.RosterItem, error) { return s.Store.Roster(ctx, q) })
}

func (s timedStore) AddRosterItem(ctx context.Context, local, remote jid.JID) error {
	return timed0(s, "AddRosterItem", func() error { return s.Store.AddRosterItem(ctx, local, remote) })
}

func (s timedStore) DeleteRosterItem(ctx context.Context, local, remote jid.JID) error {
	return timed0(s, "DeleteRosterItem", func() error { return s.Store.DeleteRosterItem(ctx, local, remote) })
}
