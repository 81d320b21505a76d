package component

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"biboumi/component/fakexmpp"
	"biboumi/ircbridge"
)

const (
	testDomain = "irc.localhost"
	testSecret = "s3cr3t"
)

var testDomainJID = jid.MustParse(testDomain)

// recorder is a Handler that records every call, in order.
type recorder struct {
	mu    sync.Mutex
	calls []any // ircbridge.Message, ircbridge.Presence or ircbridge.IQ
	ch    chan any
}

func newRecorder() *recorder { return &recorder{ch: make(chan any, 100000)} }

func (r *recorder) add(v any) {
	r.mu.Lock()
	r.calls = append(r.calls, v)
	r.mu.Unlock()
	r.ch <- v
}

func (r *recorder) HandleMessage(_ context.Context, m ircbridge.Message)   { r.add(m) }
func (r *recorder) HandlePresence(_ context.Context, p ircbridge.Presence) { r.add(p) }
func (r *recorder) HandleIQ(_ context.Context, iq ircbridge.IQ)            { r.add(iq) }

// next waits for the next Handler call.
func (r *recorder) next(t testing.TB) any {
	t.Helper()
	select {
	case v := <-r.ch:
		return v
	case <-time.After(fakexmpp.Timeout):
		t.Fatal("timed out waiting for a Handler call")
		return nil
	}
}

func (r *recorder) nextMessage(t testing.TB) ircbridge.Message {
	t.Helper()
	v := r.next(t)
	m, ok := v.(ircbridge.Message)
	if !ok {
		t.Fatalf("got Handler call %#v, want a Message", v)
	}
	return m
}

// none asserts that no call arrives within d.
func (r *recorder) none(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case v := <-r.ch:
		t.Fatalf("unexpected Handler call %#v", v)
	case <-time.After(d):
	}
}

// testLogger logs to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testConfig is a Config for srv with fast timers.
func testConfig(t testing.TB, addr string) Config {
	return Config{
		Addr:         addr,
		Domain:       testDomainJID,
		Secret:       testSecret,
		ReconnectMin: 10 * time.Millisecond,
		ReconnectMax: 50 * time.Millisecond,
		DialTimeout:  2 * time.Second,
		CloseTimeout: time.Second,
		Logger:       testLogger(t),
	}
}

// runLink starts l.Run in a goroutine; the returned channel yields Run's
// result. Cleanup cancels Run and waits for it, so nothing logs after the
// test.
func runLink(t testing.TB, l *Link) (context.CancelFunc, <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		runErr = l.Run(ctx)
		close(done)
	}()
	res := make(chan error, 1)
	go func() {
		<-done
		res <- runErr
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if runErr != nil {
				t.Errorf("Run: %v", runErr)
			}
		case <-time.After(fakexmpp.Timeout):
			t.Errorf("Run did not return")
		}
	})
	return cancel, res
}

// startLink connects a Link to a new fake server and waits for it to be
// ready.
func startLink(t testing.TB, modify func(*Config)) (*fakexmpp.Server, *Link, *recorder, context.CancelFunc, <-chan error) {
	t.Helper()
	srv := fakexmpp.NewServer(t, testDomain, testSecret)
	cfg := testConfig(t, srv.Addr())
	if modify != nil {
		modify(&cfg)
	}
	rec := newRecorder()
	l := New(cfg, rec)
	cancel, errc := runLink(t, l)
	select {
	case <-l.Ready():
	case err := <-errc:
		t.Fatalf("Run returned before Ready: %v", err)
	case <-time.After(fakexmpp.Timeout):
		t.Fatal("link not ready")
	}
	return srv, l, rec, cancel, errc
}

// runStream feeds input (the content of the server's stream, after its
// header) through the link's read path, exactly as serve does, and returns
// the replies the link would have queued and why the stream ended.
func runStream(input []byte, h Handler, cfg Config) ([][]byte, error) {
	return runStreamPanic(input, h, cfg, nil)
}

// runStreamPanic is runStream, telling onPanic about recovered panics.
func runStreamPanic(input []byte, h Handler, cfg Config, onPanic func(any)) ([][]byte, error) {
	cfg.Domain = testDomainJID
	cfg.setDefaults()
	if cfg.Logger == slog.Default() {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rd := newStreamReader(bufio.NewReader(bytes.NewReader(input)), limits{
		softDepth: cfg.MaxDepth,
		hardDepth: hardDepth,
		softBytes: cfg.MaxStanzaBytes,
		hardBytes: 16 * int64(cfg.MaxStanzaBytes),
	})
	var replies [][]byte
	in := &inbound{
		domain:  cfg.Domain,
		maxBody: cfg.MaxBodyBytes,
		h:       h,
		reply:   func(b []byte) error { replies = append(replies, b); return nil },
		log:     cfg.Logger,
		onPanic: onPanic,
	}
	err := readLoop(context.Background(), rd, in, func() bool { return false })
	return replies, err
}

// decodeOne runs one raw stanza through the read path.
func decodeOne(t testing.TB, raw string) (*recorder, [][]byte) {
	t.Helper()
	rec := newRecorder()
	replies, err := runStream([]byte(raw+"</stream:stream>"), rec, Config{Logger: testLogger(t)})
	if err != io.EOF {
		t.Fatalf("stream ended with %v, want io.EOF", err)
	}
	return rec, replies
}

// wellFormed checks that b is one well-formed XML element (nothing else)
// whose text and attributes contain only characters XML 1.0 allows.
// encoding/xml's decoder rejects the forbidden ones.
func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w in %q", err, b)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 {
				return fmt.Errorf("text outside the element in %q", b)
			}
		default:
			return fmt.Errorf("unexpected %T in %q", tok, b)
		}
	}
	if roots != 1 || depth != 0 {
		return fmt.Errorf("%d root elements in %q", roots, b)
	}
	return nil
}
