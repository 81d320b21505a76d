package main

// Fault tests against real servers (issue "Reliability and security"):
// the XMPP server, the IRC server and PostgreSQL restart under the
// gateway, the gateway itself is SIGKILLed, and the disk of its SQLite
// archive fills. Each subtest runs its own servers and asserts that
// nothing is lost that the design promises to keep, nothing is doubled,
// and what does not depend on the failed part keeps working.
//
// The gateway runs in-process (so the race detector sees it) except where
// the fault needs a process of its own (SIGKILL, RLIMIT_FSIZE): there the
// binary is built into the test's temporary directory.

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"biboumi/internal/pgcluster"
	"biboumi/internal/testenv"
	"biboumi/store"
	"biboumi/store/sqlstore"

	"github.com/ergochat/irc-go/ircmsg"
	"mellium.im/xmpp/jid"
)

// TestFaults runs each fault against its own servers and gateway, all in
// parallel (about a minute in all):
//
//	xmpp_restart/{stop,kill}+prosody, stop+ejabberd   the XMPP server goes away and comes back
//	irc_restart/kill+inspircd, stop+ngircd            the IRC server goes away and comes back
//	postgres_restart/stop+kill, down_5s               PostgreSQL restarts under traffic
//	gateway_sigkill                                   the gateway (built binary) is SIGKILLed
//	disk_full/tmpfs, rlimit_fsize                     the SQLite archive's disk fills
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault tests with real servers")
	}
	t.Parallel() // beside TestSoak, once the package's other tests are done
	t.Run("xmpp_restart/stop+prosody", func(t *testing.T) { t.Parallel(); testFaultXMPPRestart(t, "prosody", false) })
	t.Run("xmpp_restart/kill+prosody", func(t *testing.T) { t.Parallel(); testFaultXMPPRestart(t, "prosody", true) })
	t.Run("xmpp_restart/stop+ejabberd", func(t *testing.T) { t.Parallel(); testFaultXMPPRestart(t, "ejabberd", false) })
	t.Run("irc_restart/kill+inspircd", func(t *testing.T) { t.Parallel(); testFaultIRCRestart(t, "inspircd", true) })
	t.Run("irc_restart/stop+ngircd", func(t *testing.T) { t.Parallel(); testFaultIRCRestart(t, "ngircd", false) })
	t.Run("postgres_restart/stop+kill", func(t *testing.T) { t.Parallel(); testFaultPostgresRestart(t, 0) })
	t.Run("postgres_restart/down_5s", func(t *testing.T) { t.Parallel(); testFaultPostgresRestart(t, 5*time.Second) })
	t.Run("gateway_sigkill", func(t *testing.T) { t.Parallel(); testFaultSIGKILL(t) })
	t.Run("disk_full/tmpfs", func(t *testing.T) { t.Parallel(); testFaultDiskTmpfs(t) })
	t.Run("disk_full/rlimit_fsize", func(t *testing.T) { t.Parallel(); testFaultDiskRlimit(t) })
}

// ---- the gateway's log ----

// faultLog keeps the gateway's log lines so that a test can wait for one,
// and echoes them to the test log (unless quiet).
type faultLog struct {
	t     testing.TB
	quiet bool

	mu      sync.Mutex
	lines   []string
	partial []byte
	ended   bool // the test is over: t.Log would panic
	grew    chan struct{}
}

func newFaultLog(t testing.TB, quiet bool) *faultLog {
	l := &faultLog{t: t, quiet: quiet, grew: make(chan struct{})}
	t.Cleanup(func() {
		l.mu.Lock()
		l.ended = true
		l.mu.Unlock()
	})
	return l
}

func (l *faultLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := strings.IndexByte(string(l.partial), '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.lines = append(l.lines, line)
		added = true
		if !l.quiet && !l.ended {
			l.t.Logf("gw: %s", line)
		}
	}
	if added {
		close(l.grew)
		l.grew = make(chan struct{})
	}
	return len(p), nil
}

// count returns how many lines contain every one of subs.
func (l *faultLog) count(subs ...string) int { return len(l.matching(subs...)) }

// matching returns the lines that contain every one of subs.
func (l *faultLog) matching(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range l.lines {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// waitCount waits until at least n lines contain every one of subs.
func (l *faultLog) waitCount(t testing.TB, n int, timeout time.Duration, subs ...string) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		grew := l.grew
		l.mu.Unlock()
		if l.count(subs...) >= n {
			return
		}
		select {
		case <-grew:
		case <-deadline.C:
			t.Fatalf("the gateway did not log %d lines with %q within %v; last lines:\n%s", n, subs, timeout, l.tail(30))
		}
	}
}

func (l *faultLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---- the gateway's configuration ----

// faultConf is what a fault test chooses of the gateway's configuration.
type faultConf struct {
	xs       *testenv.XMPPServer
	ircPort  int
	dbName   string
	logLevel string // default "debug"
	// maxHistory is [archive] max_history_length; -1 keeps the default.
	maxHistory int
	metrics    string // [metrics] listen, or ""
	queueSize  int    // [component] queue_size, or 0 for the default
	// persistentByDefault sets persistent_by_default.
	persistentByDefault bool
}

// write writes the configuration file into dir and returns its path.
func (c faultConf) write(t testing.TB, dir string) string {
	t.Helper()
	if c.logLevel == "" {
		c.logLevel = "debug"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hostname = %q\npassword = %q\nport = %d\ndb_name = %q\nidentd_port = 0\nlog_level = %q\n",
		c.xs.ComponentHost, c.xs.Secret, c.xs.ComponentPort, c.dbName, c.logLevel)
	if c.persistentByDefault {
		b.WriteString("persistent_by_default = true\n")
	}
	fmt.Fprintf(&b, "[irc]\ntls_ports = []\nports = [%d]\n", c.ircPort)
	// The component redials fast: the tests wait for it.
	fmt.Fprintf(&b, "[component]\nreconnect_min = \"100ms\"\nreconnect_max = \"1s\"\n")
	if c.queueSize > 0 {
		fmt.Fprintf(&b, "queue_size = %d\n", c.queueSize)
	}
	if c.maxHistory >= 0 {
		fmt.Fprintf(&b, "[archive]\nmax_history_length = %d\n", c.maxHistory)
	}
	if c.metrics != "" {
		fmt.Fprintf(&b, "[metrics]\nlisten = %q\n", c.metrics)
	}
	path := filepath.Join(dir, "biboumi.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ---- the gateway in-process ----

// faultGateway is the gateway run in-process, with its log kept.
type faultGateway struct {
	host string
	log  *faultLog
	done chan struct{}
	err  error // what run returned, once done is closed
	stop context.CancelFunc
}

// faultStartInProcess runs the gateway in-process with conf, and waits until
// probe can reach it through the XMPP server.
func faultStartInProcess(t *testing.T, conf faultConf, probe *testenv.XMPPClient) *faultGateway {
	t.Helper()
	cfgPath := conf.write(t, t.TempDir())
	c, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	g := &faultGateway{host: conf.xs.ComponentHost, log: newFaultLog(t, conf.logLevel == "warn" || conf.logLevel == "error"), done: make(chan struct{})}
	logs, err := newLogging(c, g.log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.stop = cancel
	go func() {
		defer close(g.done)
		d := daemon{path: cfgPath, cfg: c, logs: logs, reload: make(chan os.Signal)}
		g.err = d.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-g.done:
		case <-time.After(10 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	faultRoutable(t, probe, g.host, 15*time.Second)
	return g
}

// running fails the test if the gateway has returned.
func (g *faultGateway) running(t *testing.T) {
	t.Helper()
	select {
	case <-g.done:
		t.Fatalf("the gateway has stopped: %v", g.err)
	default:
	}
}

// shutdown stops the gateway as SIGTERM does and returns run's error.
func (g *faultGateway) shutdown(t *testing.T) error {
	t.Helper()
	g.stop()
	select {
	case <-g.done:
		return g.err
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not stop within 10 s")
		return nil
	}
}

var faultSeq atomic.Int64

// faultRoutable asks the gateway's disco#info through the XMPP server until
// it answers (the server bounces it while no component is connected).
func faultRoutable(t testing.TB, c *testenv.XMPPClient, host string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		id := fmt.Sprintf("probe-%d", faultSeq.Add(1))
		c.Sendf(t, `<iq type='get' id='%s' to='%s'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, id, host)
		e := c.Expect(t, testenv.IsStanza("iq", "id", id), "disco#info answer from the gateway")
		if e.Attr("type") == "result" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not reachable within %v: %s", timeout, e)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---- the gateway as a process ----

// faultBuild builds cmd/biboumi into a temporary directory of t.
func faultBuild(t testing.TB) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "biboumi")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// faultProc is the built gateway running as a child process.
type faultProc struct {
	host string
	cmd  *exec.Cmd
	log  *faultLog
	done chan struct{}
	err  error // cmd.Wait's, once done is closed
}

// faultStartProcess runs the built gateway bin with the configuration file
// cfgPath, and waits until probe reaches it (unless probe is nil).
func faultStartProcess(t testing.TB, bin, cfgPath, host string, log *faultLog, probe *testenv.XMPPClient) *faultProc {
	t.Helper()
	cmd := exec.Command(bin, cfgPath)
	cmd.Dir = filepath.Dir(cfgPath)
	for _, kv := range os.Environ() {
		// Not under systemd: plain text logs on stderr, no sd_notify.
		if k, _, _ := strings.Cut(kv, "="); k != "JOURNAL_STREAM" && k != "NOTIFY_SOCKET" && !strings.HasPrefix(k, "WATCHDOG_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &faultProc{host: host, cmd: cmd, log: log, done: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			log.Write(append(sc.Bytes(), '\n'))
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		g.err = cmd.Wait()
		pw.Close()
		<-copied
		close(g.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-g.done
	})
	if probe != nil {
		faultRoutable(t, probe, host, 15*time.Second)
	}
	return g
}

// kill SIGKILLs the gateway and waits for it.
func (g *faultProc) kill(t testing.TB) {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-g.done
}

// terminate sends SIGTERM and returns the exit status.
func (g *faultProc) terminate(t testing.TB) int {
	t.Helper()
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the gateway did not exit within 15 s of SIGTERM")
	}
	return g.cmd.ProcessState.ExitCode()
}

func (g *faultProc) running(t testing.TB) {
	t.Helper()
	select {
	case <-g.done:
		t.Fatalf("the gateway process has exited: %v", g.err)
	default:
	}
}

// ---- small helpers ----

// faultMAM pages through the whole MAM archive of room and returns the
// body of every result, oldest first.
func faultMAM(t *testing.T, c *testenv.XMPPClient, room string) []string {
	t.Helper()
	var bodies []string
	after := ""
	for page := 0; ; page++ {
		rsm := "<max>100</max>"
		if after != "" {
			rsm += "<after>" + testenv.Escape(after) + "</after>"
		}
		id := fmt.Sprintf("mam-%d", faultSeq.Add(1))
		res, end := mamPage(t, c, room, id, id, rsm)
		if end.Attr("type") != "result" {
			t.Fatalf("MAM query refused: %s", end)
		}
		for _, e := range res {
			m := e.ChildNS(nsMAM, "result").ChildNS(nsForward, "forwarded").ChildNS("jabber:client", "message")
			if m != nil {
				bodies = append(bodies, m.ChildText("body"))
			}
		}
		fin := end.ChildNS(nsMAM, "fin")
		if fin == nil || fin.Attr("complete") == "true" || len(res) == 0 {
			return bodies
		}
		after = fin.ChildNS(nsRSM, "set").ChildText("last")
		if page > 1000 {
			t.Fatal("MAM paging does not end")
		}
	}
}

// faultCount counts how many times each of want appears in got, and reports
// the missing and the doubled ones.
func faultCount(got, want []string) (missing, doubled []string) {
	n := map[string]int{}
	for _, g := range got {
		n[g]++
	}
	for _, w := range want {
		switch {
		case n[w] == 0:
			missing = append(missing, w)
		case n[w] > 1:
			doubled = append(doubled, fmt.Sprintf("%s (×%d)", w, n[w]))
		}
	}
	return missing, doubled
}

// faultSelfPing sends a XEP-0410 self-ping to room/nick and returns the answer.
func faultSelfPing(t *testing.T, c *testenv.XMPPClient, room, nick string) *testenv.Element {
	t.Helper()
	id := fmt.Sprintf("self-ping-%d", faultSeq.Add(1))
	c.Sendf(t, `<iq type='get' id='%s' to='%s/%s'><ping xmlns='urn:xmpp:ping'/></iq>`, id, room, nick)
	return c.Expect(t, testenv.IsStanza("iq", "id", id), "the self-ping answer")
}

// faultWatch makes an IRC matcher that also fails the test when it sees a
// line that bad accepts (every line passes through the matcher of an
// Expect, so nothing slips by unseen). FAULT_DEBUG=1 logs every line.
func faultWatch(t *testing.T, bad ircMatcher, what string) func(ircMatcher) ircMatcher {
	return func(m ircMatcher) ircMatcher {
		return func(msg ircmsg.Message) bool {
			if os.Getenv("FAULT_DEBUG") != "" {
				t.Logf("irc seen: %s %v", msg.Source, append([]string{msg.Command}, msg.Params...))
			}
			if bad(msg) {
				t.Errorf("unexpected on IRC (%s): %s %v", what, msg.Source, append([]string{msg.Command}, msg.Params...))
			}
			return m(msg)
		}
	}
}

// ---- 1. the XMPP server restarts ----

// testFaultXMPPRestart stops (or kills) the XMPP server under a gateway
// whose user is in two channels, lets the IRC side talk meanwhile, and
// starts the server again on the same ports.
//
// #xr is persistent (set through muc#owner), #np is not. What must hold:
//   - the IRC connection stays: the IRC side sees no QUIT of the user, and
//     no PART of #xr;
//   - the component link re-authenticates by itself;
//   - the lines said on IRC during the outage are archived (MAM has them
//     once each): the archive does not depend on XMPP;
//   - once the user logs in again, a self-ping (XEP-0410) tells whether
//     the gateway still has her in the room (a rejoin follows if not), and
//     the room works both ways.
//
// On a graceful stop the XMPP server usually sends the gateway an
// unavailable presence for each of the user's rooms before closing the
// link (prosody always did here; ejabberd did unless loaded): the gateway
// then rightly PARTs #np (not persistent) and keeps #xr. On a crash nobody
// tells the gateway, so it keeps her in both until the stanzas it queued
// for her during the outage bounce after the reconnection ("Error from
// remote client"). Either way is right; the PART of #np is only logged.
//
// What cannot hold, and is not asserted: live delivery of the outage's
// lines to the user, whose c2s session died with the server (offline
// storage is off in the test servers, and groupchat is never stored
// offline anyway).
func testFaultXMPPRestart(t *testing.T, kind string, crash bool) {
	xs := startXMPP(t, kind)
	is := startIRC(t, "inspircd")
	bobReady := dialIRCsAsync(t, is.Addr, "bob")
	xs.AddUser(t, "alice", alicePassword)
	alice := testenv.DialXMPP(t, xs, "alice", alicePassword, "phone")
	g := faultStartInProcess(t, faultConf{xs: xs, ircPort: is.Port, dbName: filepath.Join(t.TempDir(), "biboumi.sqlite"), maxHistory: -1}, alice)
	bob := bobReady()[0]
	watch := faultWatch(t, func(m ircmsg.Message) bool {
		if m.Nick() == "Alice" && m.Command == "PART" && len(m.Params) > 0 && m.Params[0] == "#np" {
			t.Logf("Alice left #np: %v", m.Params)
		}
		return m.Nick() == "Alice" && (m.Command == "QUIT" || m.Command == "PART" && len(m.Params) > 0 && m.Params[0] == "#xr")
	}, "the XMPP server's restart must not take Alice off IRC")

	xr := "#xr%" + ircHost + "@" + g.host
	np := "#np%" + ircHost + "@" + g.host
	for _, ch := range []string{"#xr", "#np"} {
		bob.Join(t, ch)
		join(t, alice, ch+"%"+ircHost+"@"+g.host, "Alice", "")
		bob.Expect(t, watch(ircFrom("Alice", "JOIN", ch)), "Alice's JOIN")
	}
	faultConfigure(t, alice, xr, "persistent", "true")
	alice.Sendf(t, `<message to='%s' type='groupchat'><body>before</body></message>`, xr)
	bob.Expect(t, watch(ircFrom("Alice", "PRIVMSG", "#xr", "before")), "Alice's message")
	bob.Privmsg(t, "#xr", "hello before")
	alice.Expect(t, and(groupchatFrom(xr+"/bob"), bodyIs("hello before")), "bob's message")

	linkUps := g.log.count("component: connected and authenticated")
	start := time.Now()
	if crash {
		xs.Kill(t)
	} else {
		xs.Stop(t)
	}
	t.Logf("%s down in %v (crash: %v)", kind, time.Since(start), crash)
	g.log.waitCount(t, 1, 10*time.Second, "component: link lost")
	// The IRC side talks while the XMPP server is down.
	var during, duringNP []string
	for i := range 5 {
		line := fmt.Sprintf("during the outage %d", i)
		bob.Privmsg(t, "#xr", line)
		during = append(during, line)
		bob.Privmsg(t, "#np", line)
		duringNP = append(duringNP, line)
	}
	// A round trip through the IRC server: the gateway has read the
	// lines before the server comes back.
	bob.Send(t, "PING :sync")
	bob.Expect(t, watch(testenv.IsCommand("PONG")), "PONG")
	time.Sleep(100 * time.Millisecond)

	start = time.Now()
	xs.Start(t)
	t.Logf("%s started again in %v", kind, time.Since(start))
	g.log.waitCount(t, linkUps+1, 30*time.Second, "component: connected and authenticated")
	t.Logf("link re-authenticated %v after the server's start", time.Since(start))

	// Alice logs in again; her client thinks she is in both rooms.
	alice2 := testenv.DialXMPP(t, xs, "alice", alicePassword, "phone")
	faultRoutable(t, alice2, g.host, 10*time.Second)
	for _, room := range []string{xr, np} {
		pong := faultSelfPing(t, alice2, room, "Alice")
		t.Logf("self-ping of %s after the restart: type=%s", room, pong.Attr("type"))
		if pong.Attr("type") != "result" {
			join(t, alice2, room, "Alice", "")
		}
	}
	g.running(t)

	// Both ways work.
	alice2.Sendf(t, `<message to='%s' type='groupchat'><body>after</body></message>`, xr)
	bob.Expect(t, watch(ircFrom("Alice", "PRIVMSG", "#xr", "after")), "Alice's message after the restart")
	bob.Privmsg(t, "#xr", "hello after")
	alice2.Expect(t, and(groupchatFrom(xr+"/bob"), bodyIs("hello after")), "bob's message after the restart")

	// The archive has every line, once.
	got := faultMAM(t, alice2, xr)
	want := append(append([]string{"before", "hello before"}, during...), "after", "hello after")
	if missing, doubled := faultCount(got, want); len(missing) > 0 || len(doubled) > 0 || len(got) != len(want) {
		t.Errorf("archive of #xr after the XMPP server's restart: missing %q, doubled %q; archive (%d lines, want %d): %q", missing, doubled, len(got), len(want), got)
	}
	// #np: nothing twice; and after a crash, when the gateway was surely
	// still in the channel during the outage, every line.
	missing, doubled := faultCount(faultMAM(t, alice2, np), duringNP)
	if len(doubled) > 0 || crash && len(missing) > 0 {
		t.Errorf("archive of #np after the XMPP server's restart: missing %q, doubled %q", missing, doubled)
	}
	// Nothing slipped by on IRC: a last line, and every line before it
	// went through the watch.
	alice2.Sendf(t, `<message to='%s' type='groupchat'><body>the end</body></message>`, xr)
	bob.Expect(t, watch(ircFrom("Alice", "PRIVMSG", "#xr", "the end")), "Alice's last message")
	if n := g.log.count("component: connected and authenticated"); n != linkUps+1 {
		t.Errorf("the link authenticated %d times after the restart, want once", n-linkUps)
	}
}

// faultConfigure submits the muc#owner form of room with one field set.
func faultConfigure(t *testing.T, c *testenv.XMPPClient, room, field, value string) {
	t.Helper()
	id := fmt.Sprintf("cfg-%d", faultSeq.Add(1))
	c.Sendf(t, `<iq type='set' id='%s' to='%s'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='%s'><value>%s</value></field></x></query></iq>`,
		id, room, field, value)
	if e := c.Expect(t, testenv.IsStanza("iq", "id", id), "the muc#owner answer"); e.Attr("type") != "result" {
		t.Fatalf("muc#owner %s=%s refused: %s", field, value, e)
	}
}

// ---- 2. the IRC server restarts ----

// testFaultIRCRestart kills (or stops gracefully) the IRC server of one
// user and starts it again on the same port, while another user of the
// gateway talks on another IRC server.
//
// What must hold: the XMPP user stays in the room and is told twice
// (connection lost; reconnected); what she sends after being told the
// connection is lost is queued and delivered to IRC once back, each line
// exactly once and in order (counted on the IRC side by a client that is
// in the channel again before the gateway rejoins), and reflected to her
// exactly once; and the other user, on the other IRC server, is not
// disturbed at all.
//
// The IRC client joins the channel again before the gateway does: the test
// starts the server only after the gateway's second reconnection attempt
// failed, so the next one is at least 8 s away (ircbridge/reconnect.go).
// Had the gateway rejoined first, the lines it flushes would reach an
// empty channel: IRC keeps no history.
func testFaultIRCRestart(t *testing.T, kind string, kill bool) {
	other := "ngircd"
	if kind == "ngircd" {
		other = "inspircd"
	}
	xs := startXMPP(t, "prosody")
	a := startIRC(t, kind)
	b := startIRC(t, other)
	ircReady := dialIRCsAsync(t, a.Addr, "bob")
	daveReady := dialIRCsAsync(t, b.Addr, "dave")
	xs.AddUser(t, "alice", alicePassword)
	xs.AddUser(t, "carol", alicePassword)
	alice := testenv.DialXMPP(t, xs, "alice", alicePassword, "phone")
	carol := testenv.DialXMPP(t, xs, "carol", alicePassword, "laptop")

	// Carol's IRC server "localhost" is the other server: her own server
	// options, stored before the gateway starts.
	dbPath := filepath.Join(t.TempDir(), "biboumi.sqlite")
	st, err := sqlstore.OpenDBName(context.Background(), dbPath, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	so := store.DefaultServerOptions(jid.MustParse("carol@"+xs.Domain), "localhost")
	so.Address, so.Ports, so.TLSPorts = "127.0.0.1", []int{b.Port}, []int{}
	if err := st.StoreServerOptions(context.Background(), so); err != nil {
		t.Fatal(err)
	}
	st.Close()

	g := faultStartInProcess(t, faultConf{xs: xs, ircPort: a.Port, dbName: dbPath, maxHistory: -1}, alice)
	bob, dave := ircReady()[0], daveReady()[0]
	room := "#r%" + ircHost + "@" + g.host
	sroom := "#s%localhost@" + g.host
	bob.Join(t, "#r")
	dave.Join(t, "#s")
	join(t, alice, room, "Alice", "")
	join(t, carol, sroom, "Carol", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#r"), "Alice's JOIN")
	dave.Expect(t, ircFrom("Carol", "JOIN", "#s"), "Carol's JOIN")
	alice.Sendf(t, `<message to='%s' type='groupchat'><body>before</body></message>`, room)
	bob.Expect(t, ircFrom("Alice", "PRIVMSG", "#r", "before"), "Alice's message")

	// The fault.
	start := time.Now()
	if kill {
		a.Kill(t)
	} else {
		a.Stop(t)
	}
	t.Logf("%s down in %v (kill: %v)", kind, time.Since(start), kill)
	isNotice := func(prefix string) matcher {
		return func(e *testenv.Element) bool {
			return e.Name() == "message" && e.Attr("from") == room && e.Attr("type") == "groupchat" &&
				strings.HasPrefix(e.ChildText("body"), prefix)
		}
	}
	selfGone := func(e *testenv.Element) bool {
		return e.Name() == "presence" && e.Attr("from") == room+"/Alice" && e.Attr("type") == "unavailable"
	}
	outage := collectUntil(t, alice, isNotice("Connection to the IRC server lost"), "the room notice of the lost connection")
	t.Logf("room notice: %q", outage[len(outage)-1].ChildText("body"))

	// Alice talks while the server is down: queued.
	var queued []string
	for i := range 5 {
		body := fmt.Sprintf("queued %d", i)
		alice.Sendf(t, `<message to='%s' type='groupchat' id='q%d'><body>%s</body></message>`, room, i, body)
		queued = append(queued, body)
	}
	// Carol, on the other server, is not disturbed.
	for i := range 3 {
		body := fmt.Sprintf("carol during %d", i)
		carol.Sendf(t, `<message to='%s' type='groupchat'><body>%s</body></message>`, sroom, body)
		dave.Expect(t, ircFrom("Carol", "PRIVMSG", "#s", body), "Carol's message during the other server's outage")
		carol.Expect(t, and(groupchatFrom(sroom+"/Carol"), bodyIs(body)), "Carol's reflection")
		body = fmt.Sprintf("dave during %d", i)
		dave.Privmsg(t, "#s", body)
		carol.Expect(t, and(groupchatFrom(sroom+"/dave"), bodyIs(body)), "dave's message during the other server's outage")
	}

	// Once the gateway's second attempt has failed, the server comes back
	// and bob joins again before the gateway's third attempt, at least 8 s
	// later: time enough even on a loaded machine.
	g.log.waitCount(t, 1, 30*time.Second, "IRC connection lost, reconnecting", "server="+ircHost, "attempt=3")
	start = time.Now()
	a.Start(t)
	bob2 := testenv.DialIRC(t, a.Addr, "bob")
	bob2.Join(t, "#r")
	t.Logf("%s up again and bob in #r after %v", kind, time.Since(start))

	seen := collectUntil(t, alice, isNotice("Reconnected to the IRC server"), "the room notice of the reconnection")
	t.Logf("reconnected %v after the server's start", time.Since(start))
	for _, e := range append(outage, seen...) {
		if e.Attr("type") == "error" {
			t.Errorf("error while the IRC connection was down: %s", e)
		}
		if selfGone(e) {
			t.Errorf("Alice was taken out of the room: %s", e)
		}
	}
	alice.Sendf(t, `<message to='%s' type='groupchat' id='after'><body>after</body></message>`, room)

	// IRC side: each queued line once, in order, then "after".
	var onIRC []string
	bob2.Expect(t, func(m ircmsg.Message) bool {
		if m.Nick() == "Alice" && m.Command == "PRIVMSG" && len(m.Params) == 2 && m.Params[0] == "#r" {
			onIRC = append(onIRC, m.Params[1])
		}
		return m.Nick() == "Alice" && m.Command == "PRIVMSG" && lastParam(m) == "after"
	}, "Alice's line after the reconnection")
	if want := append(append([]string(nil), queued...), "after"); strings.Join(onIRC, "|") != strings.Join(want, "|") {
		t.Errorf("lines on IRC after the reconnection: %q, want %q", onIRC, want)
	}
	// XMPP side: each reflected once, in order.
	var reflected []string
	for _, e := range collectUntil(t, alice, and(groupchatFrom(room+"/Alice"), bodyIs("after")), "the reflection of \"after\"") {
		switch {
		case e.Attr("type") == "error":
			t.Errorf("error after the reconnection: %s", e)
		case e.Name() == "message" && e.Attr("from") == room+"/Alice" && e.Child("body") != nil:
			reflected = append(reflected, e.ChildText("body"))
		}
	}
	if want := append(append([]string(nil), queued...), "after"); strings.Join(reflected, "|") != strings.Join(want, "|") {
		t.Errorf("reflections after the reconnection: %q, want %q", reflected, want)
	}
	bob2.Privmsg(t, "#r", "welcome back")
	alice.Expect(t, and(groupchatFrom(room+"/bob"), bodyIs("welcome back")), "bob's message after the restart")
	// Carol still fine.
	carol.Sendf(t, `<message to='%s' type='groupchat'><body>carol after</body></message>`, sroom)
	dave.Expect(t, ircFrom("Carol", "PRIVMSG", "#s", "carol after"), "Carol's message after")
	g.running(t)
}

// ---- 3. PostgreSQL restarts ----

// testFaultPostgresRestart runs traffic both ways through a gateway whose
// archive is on PostgreSQL while the database server goes down and comes
// back: with down > 0, one crash (SIGKILL) and down later the start;
// with down == 0, a fast shutdown and start, then a crash and an
// immediate start.
//
// What must hold: live relay never waits for the database (IRC → XMPP
// lines are timed; XMPP → IRC lines are sent a little over a second apart,
// as the gateway throttles each IRC connection to one line a second after
// a burst); the gateway keeps running; and afterwards the archive (read
// through MAM) has every line said before, during and after the outages,
// each exactly once.
func testFaultPostgresRestart(t *testing.T, down time.Duration) {
	cl := pgcluster.New(t)
	xs := startXMPP(t, "prosody")
	is := startIRC(t, "inspircd")
	bobReady := dialIRCsAsync(t, is.Addr, "bob")
	xs.AddUser(t, "alice", alicePassword)
	alice := testenv.DialXMPP(t, xs, "alice", alicePassword, "phone")
	g := faultStartInProcess(t, faultConf{xs: xs, ircPort: is.Port, dbName: cl.DBName(), maxHistory: -1}, alice)
	bob := bobReady()[0]
	room := "#pg%" + ircHost + "@" + g.host
	bob.Join(t, "#pg")
	join(t, alice, room, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#pg"), "Alice's JOIN")

	// The faults run beside the traffic.
	var (
		phaseMu sync.Mutex
		phases  []string
	)
	var (
		outageMu sync.Mutex
		longest  time.Duration // the longest time PostgreSQL was down
		downAt   time.Time
	)
	mark := func(name string) {
		now := time.Now()
		phaseMu.Lock()
		phases = append(phases, now.Format("15:04:05.000")+" "+name)
		phaseMu.Unlock()
		outageMu.Lock()
		switch name {
		case "fast stop", "kill":
			downAt = now
		case "up":
			longest = max(longest, now.Sub(downAt))
		}
		outageMu.Unlock()
	}
	faults := make(chan error, 1)
	go func() {
		var err error
		time.Sleep(500 * time.Millisecond)
		if down == 0 {
			mark("fast stop")
			err = cl.Stop()
			mark("start")
			err = errors.Join(err, cl.Start())
			mark("up")
			time.Sleep(time.Second)
		}
		mark("kill")
		err = errors.Join(err, cl.Kill())
		time.Sleep(down)
		mark("start")
		err = errors.Join(err, cl.Start())
		mark("up")
		time.Sleep(time.Second)
		faults <- err
	}()

	var want []string
	var slowest time.Duration
	var slowestLine string
	lastXMPP := time.Time{}
	for i, done := 0, false; !done; i++ {
		select {
		case err := <-faults:
			if err != nil {
				t.Fatalf("restarting PostgreSQL: %v", err)
			}
			done = true
		default:
		}
		line := fmt.Sprintf("irc %d", i)
		sent := time.Now()
		bob.Privmsg(t, "#pg", line)
		alice.Expect(t, and(groupchatFrom(room+"/bob"), bodyIs(line)), "bob's line "+line)
		if d := time.Since(sent); d > slowest {
			slowest, slowestLine = d, line
		}
		want = append(want, line)
		if time.Since(lastXMPP) > 1100*time.Millisecond {
			lastXMPP = time.Now()
			line := fmt.Sprintf("xmpp %d", i)
			alice.Sendf(t, `<message to='%s' type='groupchat'><body>%s</body></message>`, room, line)
			bob.Expect(t, ircFrom("Alice", "PRIVMSG", "#pg", line), "Alice's line "+line)
			if d := time.Since(lastXMPP); d > slowest {
				slowest, slowestLine = d, line
			}
			want = append(want, line)
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.running(t)
	phaseMu.Lock()
	t.Logf("postgres: %s", strings.Join(phases, ", "))
	phaseMu.Unlock()
	t.Logf("%d lines relayed; slowest %q took %v", len(want), slowestLine, slowest)
	// A relay that waited for the database would take the store's query
	// timeout (5 s) or the outage; a loaded machine takes a second or so.
	if slowest > 3*time.Second {
		t.Errorf("live relay waited for the database: %q took %v", slowestLine, slowest)
	}

	got := faultMAM(t, alice, room)
	missing, doubled := faultCount(got, want)
	t.Logf("archive: %d lines of %d; %d batches retried, %d batches given up, %d lost-connection retries in the store",
		len(got), len(want), g.log.count("archive write failed, retrying"), g.log.count("archive write failed, lines lost"),
		g.log.count("database connection lost; retrying once"))
	outageMu.Lock()
	t.Logf("longest outage: %v", longest)
	outageMu.Unlock()
	if len(missing) > 0 || len(doubled) > 0 || len(got) != len(want) {
		t.Errorf("archive after PostgreSQL's outage: %d lines, want %d; missing %d %q; doubled %q",
			len(got), len(want), len(missing), missing, doubled)
		for _, l := range g.log.matching("archive write failed, lines lost") {
			t.Logf("gateway: %s", l)
		}
	}
}

// ---- 4. the gateway is SIGKILLed ----

// testFaultSIGKILL kills the built gateway with SIGKILL while IRC lines
// pour into a persistent channel, checks the SQLite archive left behind,
// and starts the gateway again on it.
//
// What must hold: the database passes PRAGMA integrity_check (checked on
// a copy, before the new gateway opens it), the new gateway opens it and
// rejoins the persistent channel by itself (and not the other one), the
// archive holds no line twice and nothing that was not said, every line
// the user saw live at least killMargin before the kill is in it (the
// archive commits in groups every 20 ms: the last few lines before a
// SIGKILL may be lost, by design), and the room works again.
func testFaultSIGKILL(t *testing.T) {
	bin := faultBuild(t)
	xs := startXMPP(t, "prosody")
	is := startIRC(t, "inspircd")
	bobReady := dialIRCsAsync(t, is.Addr, "bob")
	xs.AddUser(t, "alice", alicePassword)
	alice := testenv.DialXMPP(t, xs, "alice", alicePassword, "phone")
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "biboumi.sqlite")
	cfgPath := faultConf{xs: xs, ircPort: is.Port, dbName: dbPath, maxHistory: -1}.write(t, dir)
	g := faultStartProcess(t, bin, cfgPath, xs.ComponentHost, newFaultLog(t, false), alice)
	bob := bobReady()[0]
	watch := faultWatch(t, func(m ircmsg.Message) bool {
		return strings.EqualFold(m.Nick(), "Alice") && m.Command == "JOIN" && len(m.Params) > 0 && m.Params[0] == "#other"
	}, "only the persistent channel is rejoined")

	keep := "#keep%" + ircHost + "@" + g.host
	other := "#other%" + ircHost + "@" + g.host
	bob.Join(t, "#keep")
	bob.Join(t, "#other")
	join(t, alice, keep, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#keep"), "Alice's JOIN of #keep")
	join(t, alice, other, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#other"), "Alice's JOIN of #other")
	faultConfigure(t, alice, keep, "persistent", "true")

	// Traffic: bob says a line every 10 ms until told to stop.
	var said []string
	var saidMu sync.Mutex
	stop := make(chan struct{})
	talked := make(chan struct{})
	go func() {
		defer close(talked)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			line := fmt.Sprintf("k %d", i)
			if err := bob.IRCClient.Privmsg("#keep", line); err != nil {
				return
			}
			saidMu.Lock()
			said = append(said, line)
			saidMu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	for i := range 3 {
		alice.Sendf(t, `<message to='%s' type='groupchat'><body>alice %d</body></message>`, keep, i)
	}
	seenAt := map[string]time.Time{}
	alice.Expect(t, func(e *testenv.Element) bool {
		if e.Name() == "message" && e.Attr("from") == keep+"/bob" && e.Child("body") != nil && e.Child("delay") == nil {
			seenAt[e.ChildText("body")] = time.Now()
		}
		return len(seenAt) >= 300
	}, "300 of bob's lines")
	killedAt := time.Now()
	g.kill(t)
	t.Logf("SIGKILL after %d lines seen live: %v", len(seenAt), g.err)
	bob.Expect(t, watch(ircFrom("Alice", "QUIT")), "Alice's QUIT when the gateway's connections drop")
	close(stop)
	<-talked

	// The database left behind, checked on a copy.
	check := filepath.Join(t.TempDir(), "copy.sqlite")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(dbPath + suffix)
		if err != nil && !(suffix != "" && errors.Is(err, os.ErrNotExist)) {
			t.Fatal(err)
		}
		if err == nil {
			if err := os.WriteFile(check+suffix, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fi, err := os.Stat(dbPath + "-wal"); err == nil {
		t.Logf("after the kill: %s-wal is %d bytes", filepath.Base(dbPath), fi.Size())
	}
	db, err := sql.Open("sqlite", "file:"+check)
	if err != nil {
		t.Fatal(err)
	}
	var integrity string
	var rows int
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT count(*) FROM muc_log").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	db.Close()
	t.Logf("integrity_check: %s; %d archived lines", integrity, rows)
	if integrity != "ok" {
		t.Errorf("the SQLite database is damaged after SIGKILL: %s", integrity)
	}

	// A new gateway on the same database.
	g2 := faultStartProcess(t, bin, cfgPath, xs.ComponentHost, newFaultLog(t, false), alice)
	// Without a join presence to give it a nick, the gateway rejoins with
	// the localpart of the JID (ircbridge/persistent.go): "alice".
	rejoin := bob.Expect(t, watch(func(m ircmsg.Message) bool {
		return strings.EqualFold(m.Nick(), "Alice") && testenv.IsCommand("JOIN", "#keep")(m)
	}), "the persistent channel rejoined at start")
	t.Logf("rejoined at start as %q", rejoin.Nick())
	if e := faultSelfPing(t, alice, keep, "Alice"); e.Attr("type") != "error" {
		t.Errorf("self-ping answered by a gateway that has just started: %s", e)
	}
	join(t, alice, keep, "Alice", "")
	alice.Sendf(t, `<message to='%s' type='groupchat'><body>back</body></message>`, keep)
	bob.Expect(t, watch(func(m ircmsg.Message) bool {
		return strings.EqualFold(m.Nick(), "Alice") && testenv.IsCommand("PRIVMSG", "#keep", "back")(m)
	}), "Alice's line after the restart")
	bob.Privmsg(t, "#keep", "welcome back")
	alice.Expect(t, and(groupchatFrom(keep+"/bob"), bodyIs("welcome back")), "bob's line after the restart")

	got := faultMAM(t, alice, keep)
	saidMu.Lock()
	valid := map[string]bool{"back": true, "welcome back": true, "alice 0": true, "alice 1": true, "alice 2": true}
	for _, l := range said {
		valid[l] = true
	}
	saidMu.Unlock()
	count := map[string]int{}
	for _, b := range got {
		count[b]++
		if count[b] == 2 {
			t.Errorf("archived twice: %q", b)
		}
		if !valid[b] {
			t.Errorf("archived but never said: %q", b)
		}
	}
	var lost, recent []string
	for body, at := range seenAt {
		if count[body] == 0 {
			if killedAt.Sub(at) > killMargin {
				lost = append(lost, body)
			} else {
				recent = append(recent, body)
			}
		}
	}
	t.Logf("archive after the restart: %d lines; of the %d lines seen live, %d not archived, all within %v of the kill", len(got), len(seenAt), len(recent), killMargin)
	if len(lost) > 0 {
		t.Errorf("lines seen live more than %v before the kill are not archived: %q", killMargin, lost)
	}
	if code := g2.terminate(t); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}

// killMargin: lines seen live this long before the SIGKILL must have
// been committed (20 ms batches, with room for a loaded machine).
const killMargin = 1500 * time.Millisecond

// ---- 5. the disk fills ----

// testFaultDiskTmpfs puts the SQLite archive on a small tmpfs, fills it,
// and checks the gateway says so clearly and keeps relaying; then frees
// the space and checks the archive works again.
func testFaultDiskTmpfs(t *testing.T) {
	dir, err := os.MkdirTemp("", "biboumi-diskfull-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		t.Skipf("mount -t tmpfs: %v (needs root or CAP_SYS_ADMIN); disk_full/rlimit_fsize covers a full disk without privileges", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	filler := filepath.Join(dir, "filler")
	fill := func() int64 {
		f, err := os.OpenFile(filler, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var n int64
		for _, size := range []int{64 << 10, 4 << 10, 512} {
			buf := make([]byte, size)
			for {
				m, err := f.Write(buf)
				n += int64(m)
				if err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("filling the disk: %v", err)
					}
					break
				}
			}
		}
		return n
	}
	free := func() error { return os.Remove(filler) }
	testFaultDiskFull(t, filepath.Join(dir, "biboumi.sqlite"), nil, fill, free)
}

// testFaultDiskRlimit runs the built gateway and lowers its RLIMIT_FSIZE
// (prlimit(2)) to one page: once the WAL is truncated, every database
// write fails with EFBIG, as on a full disk (Go ignores SIGXFSZ). Then it
// raises the limit again.
func testFaultDiskRlimit(t *testing.T) {
	bin := faultBuild(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "biboumi.sqlite")
	var g *faultProc
	start := func(t *testing.T, conf faultConf, probe *testenv.XMPPClient) faultGW {
		g = faultStartProcess(t, bin, conf.write(t, dir), conf.xs.ComponentHost, newFaultLog(t, false), probe)
		return g
	}
	limit := func(max uint64) error {
		lim := syscall.Rlimit{Cur: max, Max: ^uint64(0)}
		_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(g.cmd.Process.Pid), uintptr(syscall.RLIMIT_FSIZE),
			uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
		if errno != 0 {
			return errno
		}
		return nil
	}
	fill := func() int64 {
		// No write may start past the first page of any file: the
		// (truncated) WAL cannot take a frame.
		if err := limit(4096); err != nil {
			t.Skipf("prlimit(RLIMIT_FSIZE) on the gateway: %v", err)
		}
		return 4096
	}
	free := func() error { return limit(^uint64(0)) }
	testFaultDiskFull(t, dbPath, start, fill, free)
}

// faultGW is what testFaultDiskFull needs of a gateway, in-process or not.
type faultGW interface {
	logs() *faultLog
	alive(t testing.TB)
}

func (g *faultGateway) logs() *faultLog { return g.log }
func (g *faultGateway) alive(t testing.TB) {
	t.Helper()
	select {
	case <-g.done:
		t.Fatalf("the gateway has stopped: %v", g.err)
	default:
	}
}
func (g *faultProc) logs() *faultLog    { return g.log }
func (g *faultProc) alive(t testing.TB) { g.running(t) }

// testFaultDiskFull runs a gateway (start, or in-process when nil) on the
// SQLite database dbPath, makes writes to the database fail with fill
// (which returns how much it took), and frees the space with free.
//
// What must hold: while full, live relay goes on both ways, every line
// exactly once; the log says clearly, at WARN or ERROR level, that
// archive writes fail and why (the error names the full disk or the
// failed write), more than once (the disk stays full); the gateway keeps
// running. Once the space is back, the archive writer's retry goes
// through: every line said before, while and after the disk was full is
// archived, exactly once.
func testFaultDiskFull(t *testing.T, dbPath string, start func(*testing.T, faultConf, *testenv.XMPPClient) faultGW, fill func() int64, free func() error) {
	xs := startXMPP(t, "prosody")
	is := startIRC(t, "inspircd")
	bobReady := dialIRCsAsync(t, is.Addr, "bob")
	xs.AddUser(t, "alice", alicePassword)
	alice := testenv.DialXMPP(t, xs, "alice", alicePassword, "phone")
	conf := faultConf{xs: xs, ircPort: is.Port, dbName: dbPath, maxHistory: -1}
	var g faultGW
	if start != nil {
		g = start(t, conf, alice)
	} else {
		g = faultStartInProcess(t, conf, alice)
	}
	bob := bobReady()[0]
	room := "#full%" + ircHost + "@" + xs.ComponentHost
	bob.Join(t, "#full")
	join(t, alice, room, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#full"), "Alice's JOIN")
	talk := func(prefix string, n int) []string {
		t.Helper()
		var lines []string
		pad := strings.Repeat("x", 300)
		for i := range n {
			line := fmt.Sprintf("%s irc %d %s", prefix, i, pad)
			bob.Privmsg(t, "#full", line)
			alice.Expect(t, and(groupchatFrom(room+"/bob"), bodyIs(line)), "bob's line "+line[:20])
			lines = append(lines, line)
			if i%10 == 0 { // within the IRC throttle's burst
				line := fmt.Sprintf("%s xmpp %d", prefix, i)
				alice.Sendf(t, `<message to='%s' type='groupchat'><body>%s</body></message>`, room, line)
				bob.Expect(t, ircFrom("Alice", "PRIVMSG", "#full", line), "Alice's line "+line)
				alice.Expect(t, and(groupchatFrom(room+"/Alice"), bodyIs(line)), "the reflection of "+line)
				lines = append(lines, line)
			}
		}
		return lines
	}
	before := talk("before", 5)
	if got := faultMAM(t, alice, room); len(got) != len(before) {
		t.Fatalf("archive before the disk fills: %d lines, want %d", len(got), len(before))
	}

	// An empty WAL first: SQLite reuses the space of a WAL it has
	// checkpointed, and would then write on for a while without needing
	// a byte more. Now every transaction must grow the file.
	faultTruncateWAL(t, dbPath)
	n := fill()
	t.Logf("disk full: %d bytes taken", n)
	during := talk("full", 30)
	g.logs().waitCount(t, 1, 10*time.Second, "archive write failed")
	// Stay full for a while, relaying meanwhile: the archive retries its
	// batch (for minutes) rather than give it up.
	during = append(during, talk("still full", 5)...)
	g.logs().waitCount(t, 2, 10*time.Second, "archive write failed")
	g.alive(t)
	failures := g.logs().matching("archive write failed")
	t.Logf("%d archive failures logged while full; the first: %s", len(failures), failures[0])
	clear := false
	for _, l := range failures {
		low := strings.ToLower(l)
		if (strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR")) &&
			(strings.Contains(low, "full") || strings.Contains(low, "no space") || strings.Contains(low, "too large") ||
				strings.Contains(low, "i/o error") || strings.Contains(low, "ioerr")) {
			clear = true
		}
	}
	if !clear {
		t.Errorf("no log line says the archive write failed because of the disk: %q", failures)
	}

	if err := free(); err != nil {
		t.Fatal(err)
	}
	after := talk("after", 5)
	// The retried batch goes through at its next attempt (at most 5 s
	// later); the lines behind it follow.
	want := append(append([]string(nil), before...), after...)
	var got []string
	for deadline := time.Now().Add(20 * time.Second); ; {
		got = faultMAM(t, alice, room)
		if missing, _ := faultCount(got, want); len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond) // the archive's retry timer; no event to wait on
	}
	g.alive(t)
	if missing, doubled := faultCount(got, append(append([]string(nil), before...), after...)); len(missing) > 0 || len(doubled) > 0 {
		t.Errorf("archive once the space is back: missing %d %q, doubled %q", len(missing), missing, doubled)
	}
	kept, lostDuring := 0, 0
	n2 := map[string]int{}
	for _, b := range got {
		n2[b]++
	}
	for _, l := range during {
		switch n2[l] {
		case 0:
			lostDuring++
		case 1:
			kept++
		default:
			t.Errorf("archived %d times: %q", n2[l], l)
		}
	}
	logged := 0
	for _, l := range g.logs().matching("archive write failed, lines lost") {
		if _, rest, ok := strings.Cut(l, " lines="); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			logged += n
		}
	}
	t.Logf("lines said while full: %d archived once the space came back, %d lost, %d lost according to the log; %d retries logged",
		kept, lostDuring, logged, g.logs().count("archive write failed, retrying"))
	if lostDuring > 0 || logged > 0 {
		t.Errorf("%d lines said while the disk was full are not archived (the log reports %d lost): the archive retries a batch for minutes", lostDuring, logged)
	}
}

// faultTruncateWAL checkpoints the SQLite database at path and truncates
// its WAL to nothing, from a connection of its own (the gateway's are
// idle between batches; a busy checkpoint is tried again).
func faultTruncateWAL(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 0; ; i++ {
		var busy, frames, done int
		if err := db.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path + "-wal")
		if busy == 0 && err == nil && fi.Size() == 0 {
			return
		}
		if i == 50 {
			t.Fatalf("could not truncate the WAL of %s (busy=%d)", path, busy)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
