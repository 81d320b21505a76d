package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"biboumi/internal/testenv"

	"golang.org/x/sys/unix"
	"mellium.im/xmpp/stream"
)

func TestWatchdogInterval(t *testing.T) {
	const pid = 4242
	for _, tc := range []struct {
		usec, wpid string
		want       time.Duration
	}{
		{"", "", 0},
		{"60000000", "", 30 * time.Second},
		{"60000000", "4242", 30 * time.Second},
		{"60000000", "4243", 0}, // meant for another process
		{"0", "", 0},
		{"-5", "", 0},
		{"soon", "", 0},
		{"1000", "", 500 * time.Microsecond},
	} {
		env := map[string]string{"WATCHDOG_USEC": tc.usec, "WATCHDOG_PID": tc.wpid}
		if got := watchdogInterval(func(k string) string { return env[k] }, pid); got != tc.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, want %v", tc.usec, tc.wpid, got, tc.want)
		}
	}
}

func TestStatusIsOneLine(t *testing.T) {
	if got := status("a\nb\rc"); got != "STATUS=a b c" {
		t.Errorf("status = %q", got)
	}
}

func TestFailureStatus(t *testing.T) {
	auth := &linkFailure{fmt.Errorf("component: connecting: XEP-0114 handshake: %w", stream.NotAuthorized)}
	dial := &linkFailure{fmt.Errorf("component: connecting: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})}
	closed := &linkFailure{errors.New("component: connecting: XEP-0114 handshake: EOF")}
	other := errors.New("db_name: cannot open")
	for err, want := range map[error]string{
		auth:   "Failed to authenticate to the XMPP server: component: connecting: XEP-0114 handshake: not-authorized",
		dial:   "Failed to connect to the XMPP server: component: connecting: dial tcp: connection refused",
		closed: "Failed to authenticate to the XMPP server: component: connecting: XEP-0114 handshake: EOF",
		other:  "Failed to start: db_name: cannot open",
	} {
		if got := failureStatus(err); got != want {
			t.Errorf("failureStatus(%v) = %q, want %q", err, got, want)
		}
	}
}

// notifySocket is the service manager's end of $NOTIFY_SOCKET.
type notifySocket struct {
	path string
	conn *net.UnixConn
	msgs chan string

	mu  sync.Mutex
	all []string // every datagram received, in order
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	// A short directory: socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &notifySocket{path: filepath.Join(dir, "notify"), msgs: make(chan string, 1000)}
	n.conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := n.conn.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			m := string(buf[:k])
			n.mu.Lock()
			n.all = append(n.all, m)
			n.mu.Unlock()
			n.msgs <- m
		}
	}()
	return n
}

// expect returns the next datagram for which match is true, failing the
// test after a timeout.
func (n *notifySocket) expect(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				t.Fatalf("notify socket closed while waiting for %s", what)
			}
			if match(m) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s from the gateway; got %q", what, n.received())
		}
	}
}

func (n *notifySocket) received() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.all)
}

// fields parses a datagram into its assignments.
func fields(m string) map[string]string {
	f := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(m, "\n"), "\n") {
		k, v, _ := strings.Cut(line, "=")
		f[k] = v
	}
	return f
}

func has(key, value string) func(string) bool {
	return func(m string) bool {
		v, ok := fields(m)[key]
		return ok && (value == "" || v == value)
	}
}

func monotonicUsec(t *testing.T) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1000
}

// buildGateway builds cmd/biboumi into a temporary directory (with -race
// when the tests run with it) and returns the binary's path.
func buildGateway(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "biboumi")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is the gateway run as a child process.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error // Wait's result, once done is closed
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProcess runs bin with cfgPath and the given extra environment (the
// systemd variables of the test's own environment are removed).
func startProcess(t *testing.T, bin, cfgPath string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, cfgPath)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains([]string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"}, k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	p := &process{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.stderr
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("gateway output:\n%s", p.stderr.String())
		}
	})
	return p
}

// wait returns the exit status.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the gateway did not exit")
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee) && ee.Exited():
		return ee.ExitCode()
	default:
		t.Fatalf("gateway: %v", p.err)
		return -1
	}
}

func writeConfig(t *testing.T, dir, content string) string {
	t.Helper()
	path := filepath.Join(dir, "biboumi.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSystemdNotify runs the built gateway as systemd would (Type=notify,
// WatchdogSec) against a real prosody, and checks what it tells systemd,
// in order: STATUS while connecting, READY=1 with a STATUS after the
// handshake, WATCHDOG=1 pings, RELOADING=1 with MONOTONIC_USEC then
// READY=1 on SIGHUP, STOPPING=1 on SIGTERM, and exit status 0. The same
// run checks log rotation (the log file renamed, then SIGHUP: the new file
// gets the new lines) and that the component secret is never logged.
func TestSystemdNotify(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway and runs it against a real XMPP server")
	}
	const secret = "Cmp-s3cret-9f3c1b"
	xs := testenv.StartProsody(t, testenv.XMPPOptions{Secret: secret})
	bin := buildGateway(t)
	notify := listenNotify(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "biboumi.log")
	cfgPath := writeConfig(t, dir, fmt.Sprintf(`hostname = %q
password = %q
port = %d
db_name = %q
identd_port = 0
log_file = %q
log_level = "debug"
`, xs.ComponentHost, secret, xs.ComponentPort, filepath.Join(dir, "biboumi.sqlite"), logPath))

	const watchdogUsec = 400_000 // pings every 200 ms
	p := startProcess(t, bin, cfgPath, "NOTIFY_SOCKET="+notify.path, "WATCHDOG_USEC="+strconv.Itoa(watchdogUsec))

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(xs.ComponentPort))
	notify.expect(t, "STATUS while connecting", has("STATUS", "Connecting to the XMPP server "+addr))
	ready := notify.expect(t, "READY=1", has("READY", "1"))
	if st := fields(ready)["STATUS"]; st != "Connected; 0 users" {
		t.Errorf("STATUS with READY=1: %q, want \"Connected; 0 users\"", st)
	}
	start := time.Now()
	for range 3 {
		notify.expect(t, "WATCHDOG=1", has("WATCHDOG", "1"))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("3 watchdog pings took %v, want about 400ms", d)
	}

	// logrotate: rename, then reload.
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	before := monotonicUsec(t)
	p.cmd.Process.Signal(syscall.SIGHUP)
	rel := notify.expect(t, "RELOADING=1", has("RELOADING", "1"))
	after := monotonicUsec(t)
	if us, err := strconv.ParseInt(fields(rel)["MONOTONIC_USEC"], 10, 64); err != nil || us < before || us > after {
		t.Errorf("MONOTONIC_USEC %q not between %d and %d", fields(rel)["MONOTONIC_USEC"], before, after)
	}
	notify.expect(t, "READY=1 after the reload", has("READY", "1"))
	rotated, _ := os.ReadFile(logPath + ".1")
	current, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("no new log file after the reload: %v", err)
	}
	if !bytes.Contains(rotated, []byte("starting")) || bytes.Contains(rotated, []byte("configuration reloaded")) {
		t.Errorf("rotated log:\n%s", rotated)
	}
	if !bytes.Contains(current, []byte("configuration reloaded")) {
		t.Errorf("the new log file lacks the reload:\n%s", current)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	notify.expect(t, "STOPPING=1", has("STOPPING", "1"))
	if code := p.wait(t); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}

	// The whole conversation, in order; nothing after STOPPING=1.
	var seq []string
	for _, m := range notify.received() {
		f := fields(m)
		for _, k := range []string{"READY", "RELOADING", "STOPPING", "WATCHDOG"} {
			if _, ok := f[k]; ok {
				seq = append(seq, k)
			}
		}
		if len(f) == 1 && f["STATUS"] != "" {
			seq = append(seq, "STATUS")
		}
	}
	compact := slices.Compact(slices.Clone(seq))
	want := []string{"STATUS", "READY", "WATCHDOG", "RELOADING", "READY", "WATCHDOG", "STOPPING"}
	// The reload may come between two pings, or the last ping may be
	// missing if SIGTERM came right after READY.
	if !slices.Equal(compact, want) && !slices.Equal(compact, slices.Delete(slices.Clone(want), 5, 6)) {
		t.Errorf("notification sequence %v, want %v", compact, want)
	}

	// The secret appears in no log.
	final, _ := os.ReadFile(logPath)
	for name, text := range map[string]string{"rotated log": string(rotated), "log": string(final), "stderr": p.stderr.String()} {
		if strings.Contains(text, secret) {
			t.Errorf("the component secret is in the %s", name)
		}
	}
	if !strings.Contains(string(final), "All connections cleanly closed") {
		t.Errorf("log lacks the goodbye:\n%s", final)
	}
}

// TestSystemdNotifyFailures checks the STATUS= that says why the gateway
// gave up, in Biboumi's words, and exit status 1, with no READY=1.
func TestSystemdNotifyFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway and runs it against a real XMPP server")
	}
	xs := testenv.StartProsody(t, testenv.XMPPOptions{})
	bin := buildGateway(t)
	for _, tc := range []struct {
		name, secret string
		port         int
		status, text string
	}{
		{"wrong secret", "wrong-Secret-x1", xs.ComponentPort, "Failed to authenticate to the XMPP server: ", "not-authorized"},
		{"refused", xs.Secret, testenv.FreePort(t), "Failed to connect to the XMPP server: ", "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notify := listenNotify(t)
			dir := t.TempDir()
			cfgPath := writeConfig(t, dir, fmt.Sprintf("hostname = %q\npassword = %q\nport = %d\ndb_name = %q\nidentd_port = 0\n",
				xs.ComponentHost, tc.secret, tc.port, filepath.Join(dir, "b.sqlite")))
			p := startProcess(t, bin, cfgPath, "NOTIFY_SOCKET="+notify.path)
			m := notify.expect(t, "the failure STATUS", func(m string) bool {
				return strings.HasPrefix(fields(m)["STATUS"], "Failed")
			})
			st := fields(m)["STATUS"]
			if !strings.HasPrefix(st, tc.status) || !strings.Contains(st, tc.text) {
				t.Errorf("STATUS=%s, want %q…%q", st, tc.status, tc.text)
			}
			if code := p.wait(t); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			for _, m := range notify.received() {
				if has("READY", "")(m) {
					t.Errorf("READY sent: %q", m)
				}
			}
			if strings.Contains(p.stderr.String(), tc.secret) {
				t.Error("the secret was logged")
			}
		})
	}
}

func TestNotifierSend(t *testing.T) {
	var nilNotifier *notifier
	if err := nilNotifier.send("READY=1"); err != nil {
		t.Errorf("nil notifier: %v", err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if newNotifier() != nil {
		t.Error("a notifier without NOTIFY_SOCKET")
	}

	sock := listenNotify(t)
	t.Setenv("NOTIFY_SOCKET", sock.path)
	n := newNotifier()
	if err := n.send("READY=1", status("Connected; 2 users")); err != nil {
		t.Fatal(err)
	}
	if m := sock.expect(t, "a datagram", func(string) bool { return true }); m != "READY=1\nSTATUS=Connected; 2 users\n" {
		t.Errorf("datagram %q", m)
	}

	// systemd's usual socket is abstract (@/org/freedesktop/systemd1/notify).
	name := fmt.Sprintf("@biboumi-test-%d", os.Getpid())
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", name)
	if err := newNotifier().send(reloading()...); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if f := fields(string(buf[:k])); f["RELOADING"] != "1" || f["MONOTONIC_USEC"] == "" {
		t.Errorf("reload datagram %q", buf[:k])
	}

	// A socket that is gone is an error to log, not a crash.
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
	if err := newNotifier().send("WATCHDOG=1"); err == nil {
		t.Error("no error for a missing socket")
	}
}
