package metrics_test

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"biboumi/internal/metrics"
	"biboumi/internal/metrics/metricstest"
)

func scrape(t *testing.T, r *metrics.Registry) (metricstest.Families, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	fams, err := metricstest.Parse(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, buf.String())
	}
	return fams, buf.String()
}

func want(t *testing.T, fams metricstest.Families, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := fams.Value(name, labels...)
	if !ok {
		t.Errorf("%s%v: no single sample", name, labels)
		return
	}
	if got != v {
		t.Errorf("%s%v = %v, want %v", name, labels, got, v)
	}
}

func TestExposition(t *testing.T) {
	r := metrics.NewRegistry()
	c := r.NewCounter("t_events_total", "Events.\nSecond line with a \\ backslash.")
	cv := r.NewCounterVec("t_by_kind_total", "By kind.", "kind", "side")
	g := r.NewGauge("t_level", "A level.")
	gv := r.NewGaugeVec("t_depth", "Depth.", "queue")
	h := r.NewHistogram("t_latency_seconds", "Latency.", []float64{0.1, 1, 10})
	hv := r.NewHistogramVec("t_query_seconds", "Queries.", []float64{0.5, 2}, "op")

	c.Inc()
	c.Add(41)
	cv.With("message", "in").Add(3)
	cv.With(`we"ird\`+"\n", "out").Inc()
	g.Set(2.5)
	g.Add(-1)
	g.Inc()
	gv.With("a").Set(7)
	gv.With("f").SetFunc(func() float64 { return 99 })
	for _, v := range []float64{0.05, 0.1, 0.5, 3, 100, math.NaN()} {
		h.Observe(v)
	}
	hv.With("get").ObserveDuration(time.Second)

	fams, text := scrape(t, r)
	want(t, fams, 42, "t_events_total")
	want(t, fams, 3, "t_by_kind_total", "kind=message", "side=in")
	want(t, fams, 1, "t_by_kind_total", "kind=we\"ird\\\n", "side=out")
	want(t, fams, 2.5, "t_level")
	want(t, fams, 7, "t_depth", "queue=a")
	want(t, fams, 99, "t_depth", "queue=f")
	// le is inclusive: 0.05 and 0.1 are <= 0.1.
	want(t, fams, 2, "t_latency_seconds_bucket", "le=0.1")
	want(t, fams, 3, "t_latency_seconds_bucket", "le=1")
	want(t, fams, 4, "t_latency_seconds_bucket", "le=10")
	want(t, fams, 5, "t_latency_seconds_bucket", "le=+Inf")
	want(t, fams, 5, "t_latency_seconds_count")
	want(t, fams, 103.65, "t_latency_seconds_sum")
	want(t, fams, 0, "t_query_seconds_bucket", "op=get", "le=0.5")
	want(t, fams, 1, "t_query_seconds_bucket", "op=get", "le=2")
	want(t, fams, 1, "t_query_seconds_count", "op=get")

	if f := fams["t_events_total"]; f == nil || f.Type != "counter" || f.Help != "Events.\nSecond line with a \\ backslash." {
		t.Errorf("t_events_total family: %+v", f)
	}
	for name, typ := range map[string]string{"t_by_kind_total": "counter", "t_level": "gauge", "t_depth": "gauge", "t_latency_seconds": "histogram", "t_query_seconds": "histogram"} {
		if f := fams[name]; f == nil || f.Type != typ {
			t.Errorf("family %s: %+v, want type %s", name, f, typ)
		}
	}
	// Families are sorted by name, and children by label values.
	if i, j := strings.Index(text, "# HELP t_by_kind_total"), strings.Index(text, "# HELP t_depth"); i < 0 || j < i {
		t.Errorf("families not sorted:\n%s", text)
	}
	if i, j := strings.Index(text, `t_depth{queue="a"}`), strings.Index(text, `t_depth{queue="f"}`); i < 0 || j < i {
		t.Errorf("children not sorted:\n%s", text)
	}
	// The scrape is stable.
	if _, again := scrape(t, r); again != text {
		t.Errorf("two scrapes differ:\n%s\n---\n%s", text, again)
	}
}

func TestInvalidUTF8LabelValue(t *testing.T) {
	r := metrics.NewRegistry()
	r.NewCounterVec("t_total", "x", "v").With("caf\xe9").Inc()
	fams, _ := scrape(t, r)
	want(t, fams, 1, "t_total", "v=caf\uFFFD")
}

func TestConcurrentUpdates(t *testing.T) {
	r := metrics.NewRegistry()
	c := r.NewCounter("c_total", "c")
	cv := r.NewCounterVec("cv_total", "cv", "k")
	g := r.NewGauge("g", "g")
	h := r.NewHistogramVec("h_seconds", "h", []float64{1, 2}, "k")
	const workers, n = 8, 2000
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() { // scrape while updating
		for {
			select {
			case <-done:
				return
			default:
				r.WriteText(io.Discard)
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := []string{"a", "b"}[w%2]
			for range n {
				c.Inc()
				cv.With(k).Inc()
				g.Add(1)
				g.Add(-0.5)
				h.With(k).Observe(1.5)
			}
		}()
	}
	wg.Wait()
	close(done)
	fams, _ := scrape(t, r)
	want(t, fams, workers*n, "c_total")
	want(t, fams, workers*n/2, "cv_total", "k=a")
	want(t, fams, workers*n/2, "cv_total", "k=b")
	want(t, fams, workers*n/2, "g")
	want(t, fams, workers*n/2, "h_seconds_count", "k=a")
	want(t, fams, 0, "h_seconds_bucket", "k=b", "le=1")
	want(t, fams, workers*n/2*1.5, "h_seconds_sum", "k=b")
}

func TestNilSafe(t *testing.T) {
	var c *metrics.Counter
	c.Inc()
	c.Add(2)
	var g *metrics.Gauge
	g.Set(1)
	g.Inc()
	g.SetFunc(func() float64 { return 1 })
	var h *metrics.Histogram
	h.Observe(1)
	var cv *metrics.CounterVec
	cv.With("x").Inc()
	var gv *metrics.GaugeVec
	gv.With("x").Set(1)
	var hv *metrics.HistogramVec
	hv.With("x").Observe(1)
	if c.Value() != 0 || g.Value() != 0 || h.Snapshot().Count != 0 {
		t.Error("nil metrics do not read as zero")
	}

	var gw *metrics.Gateway
	gw.AddUsers(1)
	gw.IRCConnectionState("", metrics.IRCConnecting)
	gw.AddJoinedChannels(1)
	gw.SetXMPPConnected(true)
	gw.StanzaReceived(metrics.KindMessage)
	gw.StanzaSent(metrics.KindIQ)
	gw.IRCLineReceived()
	gw.IRCLineSent()
	gw.ObserveRelay(metrics.XMPPToIRC, time.Millisecond)
	gw.SetQueueDepth(metrics.QueueXMPPOut, 3)
	gw.AddQueueDepth(metrics.QueueSessions, 1)
	gw.QueueDepthFunc(metrics.QueueIRCOut, func() int { return 1 })
	gw.Reconnect(metrics.LinkXMPP)
	gw.ObserveStoreQuery("ListLogs", time.Millisecond)
	gw.Error(metrics.ErrStore)
	gw.ConfigReloaded(true)
	if gw.UserCount() != 0 {
		t.Error("nil Gateway has users")
	}
}

func TestRegistrationPanics(t *testing.T) {
	for name, f := range map[string]func(r *metrics.Registry){
		"bad name":        func(r *metrics.Registry) { r.NewCounter("1abc", "") },
		"duplicate":       func(r *metrics.Registry) { r.NewCounter("a", ""); r.NewGauge("a", "") },
		"bad label":       func(r *metrics.Registry) { r.NewCounterVec("a", "", "b-c") },
		"reserved label":  func(r *metrics.Registry) { r.NewCounterVec("a", "", "__x") },
		"duplicate label": func(r *metrics.Registry) { r.NewCounterVec("a", "", "x", "x") },
		"le":              func(r *metrics.Registry) { r.NewHistogramVec("a", "", []float64{1}, "le") },
		"no buckets":      func(r *metrics.Registry) { r.NewHistogram("a", "", nil) },
		"unsorted":        func(r *metrics.Registry) { r.NewHistogram("a", "", []float64{2, 1}) },
		"inf bucket":      func(r *metrics.Registry) { r.NewHistogram("a", "", []float64{1, math.Inf(1)}) },
		"label count":     func(r *metrics.Registry) { r.NewCounterVec("a", "", "x", "y").With("1") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f(metrics.NewRegistry())
		})
	}
}

func TestBuckets(t *testing.T) {
	b := metrics.ExponentialBuckets(0.001, 10, 4)
	for i, w := range []float64{0.001, 0.01, 0.1, 1} {
		if math.Abs(b[i]-w) > 1e-12 {
			t.Errorf("ExponentialBuckets[%d] = %v, want %v", i, b[i], w)
		}
	}
}

func TestHandler(t *testing.T) {
	r := metrics.NewRegistry()
	r.NewCounter("hits_total", "Hits.").Add(5)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != metrics.ContentType {
		t.Fatalf("GET: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	fams, err := metricstest.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	want(t, fams, 5, "hits_total")

	resp, err = http.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
		t.Errorf("POST: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}
}

func TestGatewaySet(t *testing.T) {
	r := metrics.NewRegistry()
	g := metrics.NewGateway(r, "1.2.3")

	// Every known series exists at zero before any event.
	fams, _ := scrape(t, r)
	want(t, fams, 0, "biboumi_xmpp_stanzas_received_total", "kind=presence")
	want(t, fams, 0, "biboumi_irc_connections", "state=registering")
	want(t, fams, 0, "biboumi_errors_total", "kind=store")
	want(t, fams, 0, "biboumi_relay_latency_seconds_count", "direction=irc_to_xmpp")
	want(t, fams, 1, "biboumi_build_info", "version=1.2.3")
	if v, ok := fams.Value("process_start_time_seconds"); !ok || math.Abs(v-float64(time.Now().Unix())) > 60 {
		t.Errorf("process_start_time_seconds = %v", v)
	}
	if v, ok := fams.Value("go_goroutines"); !ok || v < 1 {
		t.Errorf("go_goroutines = %v", v)
	}

	g.AddUsers(2)
	g.AddUsers(-1)
	g.IRCConnectionState("", metrics.IRCConnecting)
	g.IRCConnectionState("", metrics.IRCConnecting)
	g.IRCConnectionState(metrics.IRCConnecting, metrics.IRCRegistering)
	g.IRCConnectionState(metrics.IRCRegistering, metrics.IRCConnected)
	g.AddJoinedChannels(3)
	g.SetXMPPConnected(true)
	g.StanzaReceived(metrics.KindMessage)
	g.StanzaSent(metrics.KindPresence)
	g.StanzaSent(metrics.KindPresence)
	g.IRCLineReceived()
	g.IRCLineSent()
	g.ObserveRelay(metrics.XMPPToIRC, 3*time.Millisecond)
	g.SetQueueDepth(metrics.QueueXMPPOut, 4)
	g.AddQueueDepth(metrics.QueueSessions, 2)
	g.QueueDepthFunc(metrics.QueueIRCOut, func() int { return 6 })
	g.Reconnect(metrics.LinkIRC)
	g.ObserveStoreQuery("ListLogs", 20*time.Millisecond)
	g.Error(metrics.ErrXMPPSend)
	g.ConfigReloaded(true)
	g.ConfigReloaded(false)

	fams, _ = scrape(t, r)
	want(t, fams, 1, "biboumi_users")
	if g.UserCount() != 1 {
		t.Errorf("UserCount = %d", g.UserCount())
	}
	want(t, fams, 1, "biboumi_irc_connections", "state=connecting")
	want(t, fams, 0, "biboumi_irc_connections", "state=registering")
	want(t, fams, 1, "biboumi_irc_connections", "state=connected")
	want(t, fams, 3, "biboumi_irc_channels_joined")
	want(t, fams, 1, "biboumi_xmpp_connected")
	want(t, fams, 1, "biboumi_xmpp_stanzas_received_total", "kind=message")
	want(t, fams, 2, "biboumi_xmpp_stanzas_sent_total", "kind=presence")
	want(t, fams, 1, "biboumi_irc_lines_received_total")
	want(t, fams, 1, "biboumi_irc_lines_sent_total")
	want(t, fams, 1, "biboumi_relay_latency_seconds_bucket", "direction=xmpp_to_irc", "le=0.005")
	want(t, fams, 0, "biboumi_relay_latency_seconds_bucket", "direction=xmpp_to_irc", "le=0.0025")
	want(t, fams, 4, "biboumi_queue_depth", "queue=xmpp_out")
	want(t, fams, 2, "biboumi_queue_depth", "queue=session_events")
	want(t, fams, 6, "biboumi_queue_depth", "queue=irc_out")
	want(t, fams, 1, "biboumi_reconnects_total", "link=irc")
	want(t, fams, 1, "biboumi_store_query_duration_seconds_count", "op=ListLogs")
	want(t, fams, 1, "biboumi_errors_total", "kind=xmpp_send")
	want(t, fams, 1, "biboumi_config_reloads_total", "result=success")
	want(t, fams, 1, "biboumi_config_reloads_total", "result=failure")
}

func TestParserRejects(t *testing.T) {
	for name, text := range map[string]string{
		"no TYPE":          "x 1\n",
		"second TYPE":      "# TYPE x gauge\n# TYPE x gauge\nx 1\n",
		"duplicate series": "# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",
		"bad value":        "# TYPE x gauge\nx one\n",
		"bad escape":       "# TYPE x gauge\nx{a=\"\\t\"} 1\n",
		"unterminated":     "# TYPE x gauge\nx{a=\"1} 1\n",
		"foreign sample":   "# TYPE x gauge\ny 1\n",
		"no +Inf":          "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
		"count mismatch":   "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
		"decreasing":       "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
	} {
		if _, err := metricstest.Parse(strings.NewReader(text)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

func BenchmarkCounterVecWith(b *testing.B) {
	cv := metrics.NewRegistry().NewCounterVec("x_total", "x", "kind")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cv.With("message").Inc()
		}
	})
}

func BenchmarkHistogramObserve(b *testing.B) {
	h := metrics.NewRegistry().NewHistogram("x_seconds", "x", metrics.LatencyBuckets())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Observe(0.003)
		}
	})
}
