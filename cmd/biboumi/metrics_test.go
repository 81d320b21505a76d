package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"biboumi/internal/metrics"
	"biboumi/internal/metrics/metricstest"
	"biboumi/internal/testenv"
)

// scrapeMetrics fetches and parses http://addr/metrics.
func scrapeMetrics(t *testing.T, addr string) (metricstest.Families, error) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != metrics.ContentType {
		t.Errorf("Content-Type %q", ct)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	fams, err := metricstest.Parse(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, body)
	}
	return fams, nil
}

// TestMetricsEndpoint runs the daemon with [metrics] listen against a real
// prosody: the endpoint serves what the daemon counts (stanzas through
// the component, store calls, the link state) and what the rest of the
// gateway feeds (here incremented by the test), in a well-formed
// exposition; it stops with the daemon.
func TestMetricsEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("uses a real XMPP server")
	}
	xs := testenv.StartProsody(t, testenv.XMPPOptions{})
	xs.AddUser(t, "alice", "pw")
	alice := testenv.DialXMPP(t, xs, "alice", "pw", "phone")
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfgPath := writeConfig(t, dir, fmt.Sprintf(`hostname = %q
password = %q
port = %d
db_name = %q
identd_port = 0
[metrics]
listen = %q
`, xs.ComponentHost, xs.Secret, xs.ComponentPort, filepath.Join(dir, "b.sqlite"), listen))
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := newLogging(cfg, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	reg := metrics.NewRegistry()
	m := metrics.NewGateway(reg, version)
	notify := listenNotify(t)
	reload := make(chan os.Signal, 1)
	d := &daemon{path: cfgPath, cfg: cfg, logs: logs, reload: reload, metrics: m, registry: reg,
		notify: &notifier{addr: &net.UnixAddr{Name: notify.path, Net: "unixgram"}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()

	// Wait for the link, as seen on the endpoint.
	deadline := time.Now().Add(15 * time.Second)
	for {
		fams, err := scrapeMetrics(t, listen)
		if err == nil {
			if v, _ := fams.Value("biboumi_xmpp_connected"); v == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the link never showed as connected (last error %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	notify.expect(t, "READY=1", has("READY", "1"))

	// Two iqs to the gateway: two received, two answered.
	for i := range 2 {
		id := fmt.Sprintf("disco%d", i)
		alice.Sendf(t, `<iq type='get' id='%s' to='%s'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, id, xs.ComponentHost)
		if e := alice.Expect(t, testenv.IsStanza("iq", "id", id), "disco#info result"); e.Attr("type") != "result" {
			t.Fatalf("disco#info: %s", e)
		}
	}
	// What other packages feed.
	m.AddUsers(3)
	m.IRCConnectionState("", metrics.IRCConnecting)
	m.IRCConnectionState(metrics.IRCConnecting, metrics.IRCConnected)
	m.ObserveRelay(metrics.IRCToXMPP, 2*time.Millisecond)
	m.Error(metrics.ErrIRCConnect)

	fams, err := scrapeMetrics(t, listen)
	if err != nil {
		t.Fatal(err)
	}
	atLeast := func(min float64, name string, labels ...string) {
		t.Helper()
		v, ok := fams.Value(name, labels...)
		if !ok || v < min {
			t.Errorf("%s%v = %v (found %v), want >= %v", name, labels, v, ok, min)
		}
	}
	atLeast(2, "biboumi_xmpp_stanzas_received_total", "kind=iq")
	atLeast(2, "biboumi_xmpp_stanzas_sent_total", "kind=iq")
	atLeast(1, "biboumi_store_query_duration_seconds_count", "op=Roster")             // the start-up presence probes
	atLeast(1, "biboumi_store_query_duration_seconds_count", "op=PersistentChannels") // the start-up rejoins
	atLeast(3, "biboumi_users")
	atLeast(1, "biboumi_irc_connections", "state=connected")
	atLeast(1, "biboumi_relay_latency_seconds_count", "direction=irc_to_xmpp")
	atLeast(1, "biboumi_errors_total", "kind=irc_connect")
	atLeast(1, "biboumi_build_info", "version="+version)
	if v, _ := fams.Value("biboumi_irc_connections", "state=connecting"); v != 0 {
		t.Errorf("connecting = %v, want 0", v)
	}

	// A reload is counted; the READY=1 after it gives the user count.
	reload <- syscall.SIGHUP
	notify.expect(t, "RELOADING=1", has("RELOADING", "1"))
	m2 := notify.expect(t, "READY=1 after the reload", has("READY", "1"))
	if st := fields(m2)["STATUS"]; st != "Connected; 3 users" {
		t.Errorf("STATUS=%q, want \"Connected; 3 users\"", st)
	}
	if fams, err = scrapeMetrics(t, listen); err != nil {
		t.Fatal(err)
	}
	if v, _ := fams.Value("biboumi_config_reloads_total", "result=success"); v != 1 {
		t.Errorf("reloads = %v, want 1", v)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	// Stopped with the daemon.
	if c, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
		c.Close()
		t.Error("the metrics endpoint still listens after the daemon stopped")
	}
}

// TestMetricsListenBusy checks that a metrics address that cannot be
// bound stops the start-up with an error naming the key.
func TestMetricsListenBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, fmt.Sprintf("hostname = \"irc.localhost\"\npassword = \"s\"\ndb_name = %q\n[metrics]\nlisten = %q\n",
		filepath.Join(dir, "b.sqlite"), ln.Addr().String()))
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := newLogging(cfg, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{path: cfgPath, cfg: cfg, logs: logs}
	err = d.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Errorf("run = %v, want an error about metrics.listen", err)
	}
	if got := failureStatus(err); !strings.HasPrefix(got, "Failed to start: metrics.listen") {
		t.Errorf("status %q", got)
	}
}
