package main

// Helpers shared by the end-to-end tests (e2e_test.go, chat_e2e_test.go,
// archive_e2e_test.go): the gateway run in-process, a per-test "world" of
// real servers, and matchers for stanzas and IRC lines.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"biboumi/internal/servers"
	"biboumi/internal/testenv"

	"github.com/ergochat/irc-go/ircmsg"
)

// Namespaces the tests look for.
const (
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCUser  = "http://jabber.org/protocol/muc#user"
	nsMUCAdmin = "http://jabber.org/protocol/muc#admin"
	nsStanzas  = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsDelay    = "urn:xmpp:delay"
	nsSID      = "urn:xmpp:sid:0"
	nsMAM      = "urn:xmpp:mam:2"
	nsRSM      = "http://jabber.org/protocol/rsm"
	nsForward  = "urn:xmpp:forward:0"
	nsXHTMLIM  = "http://jabber.org/protocol/xhtml-im"
	nsXHTML    = "http://www.w3.org/1999/xhtml"
	nsVersion  = "jabber:iq:version"
	nsCarbons  = "urn:xmpp:carbons:2"
	nsHints    = "urn:xmpp:hints"
)

// ircHost is the IRC server's name in the JIDs: the test IRC servers
// listen on 127.0.0.1, and the gateway dials the name it is given.
const ircHost = "127.0.0.1"

// gateway is the gateway under test, run in-process against real servers.
type gateway struct {
	host string        // component domain
	done chan struct{} // closed when the gateway has returned
	code int           // its exit status, valid once done is closed
	stop context.CancelFunc
}

// gatewayOptions are the settings a test may choose.
type gatewayOptions struct {
	// dbName is the db_name key: a SQLite path or a PostgreSQL URL. Empty
	// means a SQLite file in a temporary directory.
	dbName string
	// admins is the admin key: the bare JIDs allowed to run the
	// admin-only ad-hoc commands. Empty means none.
	admins []string
}

// startGateway runs the gateway with a configuration pointing at xs and at
// the IRC server's port, and waits until it answers disco#info through the
// XMPP server.
func startGateway(t *testing.T, xs *testenv.XMPPServer, ircPort int, probe *testenv.XMPPClient) *gateway {
	t.Helper()
	return startGatewayWith(t, xs, ircPort, probe, gatewayOptions{})
}

// startGatewayWith is startGateway with options.
func startGatewayWith(t *testing.T, xs *testenv.XMPPServer, ircPort int, probe *testenv.XMPPClient, o gatewayOptions) *gateway {
	t.Helper()
	dir := t.TempDir()
	if o.dbName == "" {
		o.dbName = filepath.Join(dir, "biboumi.sqlite")
	}
	cfgPath := filepath.Join(dir, "biboumi.toml")
	admins := make([]string, len(o.admins))
	for i, a := range o.admins {
		admins[i] = strconv.Quote(a)
	}
	cfg := fmt.Sprintf(`hostname = %q
password = %q
port = %d
db_name = %q
identd_port = 0
log_level = "debug"
admin = [%s]
[irc]
tls_ports = []
ports = [%d]
[component]
reconnect_min = "100ms"
`, xs.ComponentHost, xs.Secret, xs.ComponentPort, o.dbName, strings.Join(admins, ", "), ircPort)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := newLogging(c, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &gateway{host: xs.ComponentHost, done: make(chan struct{}), stop: cancel}
	go func() {
		defer close(g.done)
		d := daemon{path: cfgPath, cfg: c, logs: logs, reload: make(chan os.Signal)}
		if err := d.run(ctx); err != nil {
			t.Logf("gateway: %v", err)
			g.code = 1
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-g.done:
		case <-time.After(10 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	// Wait for the component to be routable: ask its disco#info until the
	// XMPP server stops bouncing it.
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		id := fmt.Sprintf("probe%d", i)
		probe.Sendf(t, `<iq type='get' id='%s' to='%s'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, id, g.host)
		e := probe.Expect(t, testenv.IsStanza("iq", "id", id), "disco#info answer from the gateway")
		if e.Attr("type") == "result" {
			if e.Find("query", "identity") == nil || e.Find("query", "identity").Attr("name") != "Biboumi XMPP-IRC gateway" {
				t.Fatalf("gateway disco#info: %s", e)
			}
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway never became reachable: %s", e)
		}
		time.Sleep(50 * time.Millisecond) // the XMPP server has no "component connected" event to wait on
	}
}

// shutdown stops the gateway as SIGTERM does and returns its exit status.
func (g *gateway) shutdown(t *testing.T) int {
	t.Helper()
	g.stop()
	select {
	case <-g.done:
		return g.code
	case <-time.After(8 * time.Second):
		t.Fatal("gateway did not stop within 8 s")
		return -1
	}
}

// world is what one test runs against: its own XMPP server, IRC server
// and gateway, the XMPP user alice (resource "phone") and raw IRC
// clients. Nothing is shared between tests: servers start in well under
// a second (ejabberd in one or two), so independence is cheap.
type world struct {
	xs     *testenv.XMPPServer
	is     *testenv.IRCServer
	g      *gateway
	dbName string
	admins []string // the gateway's admin key
	alice  *testenv.XMPPClient
	irc    []*testenv.IRCClient // one per setup.nicks, registered
	users  map[string]bool      // XMPP accounts created
}

// setup says which servers a world runs.
type setup struct {
	xmpp, irc string   // "prosody" or "ejabberd"; "inspircd" or "ngircd"
	nicks     []string // IRC clients to register
	dbName    string   // db_name; "" for a SQLite file of the test
	admins    []string // the admin key (bare JIDs); none if empty
}

const alicePassword = "pw"

// start starts the servers and the gateway. The IRC clients register
// while the XMPP side starts (inspircd completes registrations on a
// once-a-second timer).
func (s setup) start(t *testing.T) *world {
	t.Helper()
	w := &world{users: map[string]bool{}}
	w.is = startIRC(t, s.irc)
	ircReady := dialIRCsAsync(t, w.is.Addr, s.nicks...)
	w.xs = startXMPP(t, s.xmpp)
	w.alice = w.dial(t, "alice", "phone")
	w.dbName = s.dbName
	if w.dbName == "" {
		w.dbName = filepath.Join(t.TempDir(), "biboumi.sqlite")
	}
	w.admins = s.admins
	w.g = startGatewayWith(t, w.xs, w.is.Port, w.alice, gatewayOptions{dbName: w.dbName, admins: w.admins})
	w.irc = ircReady()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s logs:\n%s", w.is.Kind, tail(w.is.Logs(), 40))
		}
	})
	return w
}

// dial logs user in with resource, creating the account on first use.
func (w *world) dial(t *testing.T, user, resource string) *testenv.XMPPClient {
	t.Helper()
	if !w.users[user] {
		w.xs.AddUser(t, user, alicePassword)
		w.users[user] = true
	}
	return testenv.DialXMPP(t, w.xs, user, alicePassword, resource)
}

// restartGateway stops the gateway (if it still runs), waits until the
// XMPP server has noticed, and starts a new one on the same database.
func (w *world) restartGateway(t *testing.T) {
	t.Helper()
	if code := w.g.shutdown(t); code != 0 {
		t.Fatalf("gateway exit status %d", code)
	}
	// A new component connection for the host would be refused while the
	// server still holds the old one: wait until it bounces iqs.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		id := fmt.Sprintf("gone%d", i)
		w.alice.Sendf(t, `<iq type='get' id='%s' to='%s'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, id, w.g.host)
		if e := w.alice.Expect(t, testenv.IsStanza("iq", "id", id), "disco#info bounce"); e.Attr("type") == "error" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the XMPP server still routes to the stopped gateway")
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.g = startGatewayWith(t, w.xs, w.is.Port, w.alice, gatewayOptions{dbName: w.dbName, admins: w.admins})
}

// room returns the JID of channel on the test IRC server.
func (w *world) room(channel string) string { return channel + "%" + ircHost + "@" + w.g.host }

// user returns the JID of an IRC user on the test IRC server.
func (w *world) user(nick string) string { return nick + "%" + ircHost + "@" + w.g.host }

// serverJID returns the JID of the test IRC server.
func (w *world) serverJID() string { return ircHost + "@" + w.g.host }

// dialIRCsAsync registers IRC clients in the background; the returned
// function waits for them (and fails the test if one failed). It must be
// called from the test's goroutine.
func dialIRCsAsync(t *testing.T, addr string, nicks ...string) func() []*testenv.IRCClient {
	type result struct {
		cs  []*servers.IRCClient
		err error
	}
	ch := make(chan result, 1)
	go func() {
		cs, err := servers.DialIRCs(addr, nicks...)
		ch <- result{cs, err}
	}()
	var (
		once sync.Once
		r    result
	)
	wait := func() { once.Do(func() { r = <-ch }) }
	// Close the clients even if the test ends before it waits for them.
	t.Cleanup(func() {
		wait()
		for _, c := range r.cs {
			_ = c.Close()
		}
	})
	return func() []*testenv.IRCClient {
		t.Helper()
		wait()
		if r.err != nil {
			t.Fatalf("IRC clients: %v", r.err)
		}
		out := make([]*testenv.IRCClient, len(r.cs))
		for i, c := range r.cs {
			c.QuitMessage = "testenv"
			out[i] = &testenv.IRCClient{IRCClient: c}
		}
		return out
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---- XMPP side ----

type matcher = func(*testenv.Element) bool

// joined is what the gateway sent for a join, in order, up to and
// including the subject.
type joined struct {
	stanzas []*testenv.Element
	self    *testenv.Element // the self-presence
	subject *testenv.Element
}

// afterSelf returns the stanzas between the self-presence and the subject.
func (j joined) afterSelf() []*testenv.Element {
	i := slices.Index(j.stanzas, j.self)
	return j.stanzas[i+1 : len(j.stanzas)-1]
}

// join sends a MUC join for room/nick with extra inside the MUC <x/>
// (e.g. a <password/>) and collects what the room sends up to the
// subject. It fails on a presence error, or if the self-presence lacks
// status 110, 210 or 100 (Biboumi always sends the three, reference §5.2).
func join(t *testing.T, c *testenv.XMPPClient, room, nick, extra string) joined {
	t.Helper()
	c.Sendf(t, `<presence to='%s/%s'><x xmlns='%s'>%s</x></presence>`, room, nick, nsMUC, extra)
	var j joined
	c.Expect(t, func(e *testenv.Element) bool {
		if bareOf(e.Attr("from")) != room {
			return false
		}
		j.stanzas = append(j.stanzas, e)
		switch {
		case e.Name() == "presence" && e.Attr("type") == "error":
			return true
		case e.Name() == "presence" && j.self == nil && hasStatus(e, "110"):
			j.self = e
		case e.Name() == "message" && e.Child("subject") != nil:
			j.subject = e
			return true
		}
		return false
	}, "the join of "+room+"/"+nick+" up to the subject")
	last := j.stanzas[len(j.stanzas)-1]
	if last.Attr("type") == "error" {
		t.Fatalf("join of %s/%s refused: %s", room, nick, last)
	}
	if j.self == nil {
		t.Fatalf("join of %s/%s: subject before any self-presence: %v", room, nick, j.stanzas)
	}
	if j.self.Attr("type") != "" {
		t.Errorf("self-presence of type %q: %s", j.self.Attr("type"), j.self)
	}
	for _, code := range []string{"110", "210", "100"} {
		if !hasStatus(j.self, code) {
			t.Errorf("self-presence lacks status %s: %s", code, j.self)
		}
	}
	return j
}

// joinError sends a MUC join and returns the presence error it gets.
func joinError(t *testing.T, c *testenv.XMPPClient, room, nick, extra string) *testenv.Element {
	t.Helper()
	c.Sendf(t, `<presence to='%s/%s'><x xmlns='%s'>%s</x></presence>`, room, nick, nsMUC, extra)
	e := c.Expect(t, func(e *testenv.Element) bool {
		return e.Name() == "presence" && bareOf(e.Attr("from")) == room &&
			(e.Attr("type") == "error" || hasStatus(e, "110"))
	}, "a presence error for the join of "+room+"/"+nick)
	if e.Attr("type") != "error" {
		t.Fatalf("join of %s/%s succeeded, want an error: %s", room, nick, e)
	}
	return e
}

// expectAll collects stanzas until each matcher has accepted one, in any
// order, and returns the first match of each, in the matchers' order.
func expectAll(t *testing.T, c *testenv.XMPPClient, what string, ms ...matcher) []*testenv.Element {
	t.Helper()
	got := make([]*testenv.Element, len(ms))
	left := len(ms)
	c.Expect(t, func(e *testenv.Element) bool {
		for i, m := range ms {
			if got[i] == nil && m(e) {
				got[i] = e
				left--
				break
			}
		}
		return left == 0
	}, what)
	return got
}

// collectUntil returns every stanza c receives up to and including the
// first that until accepts.
func collectUntil(t *testing.T, c *testenv.XMPPClient, until matcher, what string) []*testenv.Element {
	t.Helper()
	var all []*testenv.Element
	c.Expect(t, func(e *testenv.Element) bool {
		all = append(all, e)
		return until(e)
	}, what)
	return all
}

// expectNothing fails if c receives a stanza that m accepts within d.
// Use it only right after a stanza that would have come with the
// unwanted one.
func expectNothing(t *testing.T, c *testenv.XMPPClient, m matcher, d time.Duration, what string) {
	t.Helper()
	if e, err := c.XMPPClient.Expect(m, d); err == nil {
		t.Errorf("unexpected %s: %s", what, e)
	}
}

func bareOf(j string) string {
	b, _, _ := strings.Cut(j, "/")
	return b
}

func typeIs(typ string) matcher {
	return func(e *testenv.Element) bool { return e.Attr("type") == typ }
}

// statusCodes returns the MUC status codes of e.
func statusCodes(e *testenv.Element) []string {
	var out []string
	for _, s := range e.ChildNS(nsMUCUser, "x").ChildrenNamed("status") {
		out = append(out, s.Attr("code"))
	}
	return out
}

// mucItem returns the muc#user <item/> of e, or nil.
func mucItem(e *testenv.Element) *testenv.Element {
	return e.ChildNS(nsMUCUser, "x").Child("item")
}

// checkItem reports an error unless e's muc#user item has that role and
// affiliation.
func checkItem(t *testing.T, e *testenv.Element, role, aff string) {
	t.Helper()
	it := mucItem(e)
	if it == nil {
		t.Errorf("no muc#user item in %s", e)
		return
	}
	if it.Attr("role") != role || it.Attr("affiliation") != aff {
		t.Errorf("item role=%q affiliation=%q, want %s/%s: %s", it.Attr("role"), it.Attr("affiliation"), role, aff, e)
	}
}

func hasItem(role, aff string) matcher {
	return func(e *testenv.Element) bool {
		it := mucItem(e)
		return it != nil && it.Attr("role") == role && it.Attr("affiliation") == aff
	}
}

// stanzaError returns the type and defined condition of e's <error/>.
func stanzaError(e *testenv.Element) (typ, cond string) {
	er := e.Child("error")
	if er == nil {
		return "", ""
	}
	for _, c := range er.Children {
		if c.XMLName.Space == nsStanzas && c.XMLName.Local != "text" {
			return er.Attr("type"), c.XMLName.Local
		}
	}
	return er.Attr("type"), ""
}

// checkError reports an error unless e is an error of that type and
// condition.
func checkError(t *testing.T, e *testenv.Element, typ, cond string) {
	t.Helper()
	if gt, gc := stanzaError(e); e.Attr("type") != "error" || gt != typ || gc != cond {
		t.Errorf("want a %s/%s error, got %s", typ, cond, e)
	}
}

func groupchatFrom(from string) matcher {
	return and(testenv.IsStanza("message", "type", "groupchat", "from", from), func(e *testenv.Element) bool {
		return e.Child("body") != nil
	})
}

// ---- IRC side ----

type ircMatcher = func(ircmsg.Message) bool

// ircFrom matches a command from nick whose first parameters are params.
func ircFrom(nick, command string, params ...string) ircMatcher {
	is := testenv.IsCommand(command, params...)
	return func(m ircmsg.Message) bool { return m.Nick() == nick && is(m) }
}

// ircUntil returns the lines c receives up to and including the first
// that until accepts.
func ircUntil(t *testing.T, c *testenv.IRCClient, until ircMatcher, what string) []ircmsg.Message {
	t.Helper()
	var all []ircmsg.Message
	c.Expect(t, func(m ircmsg.Message) bool {
		all = append(all, m)
		return until(m)
	}, what)
	return all
}

func lastParam(m ircmsg.Message) string {
	if len(m.Params) == 0 {
		return ""
	}
	return m.Params[len(m.Params)-1]
}
