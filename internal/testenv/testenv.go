// Package testenv starts real, throwaway servers (prosody, ejabberd,
// inspircd, ngircd) on loopback for tests, and provides raw IRC and XMPP
// clients that play the people on either side of the gateway.
//
// Every server listens on 127.0.0.1 on ports chosen by the harness, with
// its configuration rendered from the templates in testdata/integration/
// into a temporary directory. Servers started with Start* are stopped by
// t.Cleanup; servers obtained with Shared* live for the whole test binary
// and are stopped by RunMain.
//
// A missing server binary skips the test, or fails it when the
// environment variable CI is "true" (see Require).
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Timeouts used by the harness.
const (
	// ExpectTimeout is how long the clients' Expect waits for a match.
	ExpectTimeout = 15 * time.Second
	// dialTimeout bounds a TCP connect to a local server.
	dialTimeout = 5 * time.Second
	// stopTimeout is how long a server gets to exit after SIGTERM before
	// it is killed.
	stopTimeout = 10 * time.Second
)

// InCI reports whether the tests run in CI (CI=true), where missing
// servers fail instead of skipping.
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// Require checks that each binary is in PATH (or, for a name with a slash,
// exists). If one is missing the test is skipped, or fails when CI=true.
func Require(t testing.TB, bins ...string) {
	t.Helper()
	var missing []string
	for _, b := range bins {
		if _, err := lookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 {
		return
	}
	if InCI() {
		t.Fatalf("testenv: required binaries not found: %s (CI=true, so this is an error; install them, see .ci/run)", strings.Join(missing, ", "))
	}
	t.Skipf("testenv: required binaries not found: %s", strings.Join(missing, ", "))
}

// lookPath finds a binary in PATH and in the sbin directories, which are
// not in a normal user's PATH on Debian (inspircd, ngircd, ejabberdctl
// live in /usr/sbin).
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if strings.Contains(name, "/") {
		return "", fmt.Errorf("%s: not found", name)
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH or sbin directories", name)
}

func mustLookPath(t testing.TB, name string) string {
	t.Helper()
	Require(t, name)
	p, _ := lookPath(name)
	return p
}

// skipOrFatal skips the test, or fails it in CI.
func skipOrFatal(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// Ports handed out by this process, so that two servers of one test binary
// never get the same port even before either has bound it.
var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

// FreePort returns a TCP port that is free on 127.0.0.1 right now.
//
// Ports are picked at random below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), so that neither the outgoing connections
// of the tests nor another process binding port 0 can take a port between
// the moment it is chosen and the moment the server binds it. A port is
// never handed out twice by one process.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("testenv: FreePort: %v", err)
	}
	return p
}

func freePort() (int, error) {
	lo, hi := 20000, 32000
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if eph, err := strconv.Atoi(f[0]); err == nil && eph > 12000 {
				hi = eph
				lo = max(10000, eph-12000)
			}
		}
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 200 {
		p := lo + rand.IntN(hi-lo)
		if ports[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		ports[p] = true
		return p, nil
	}
	// Fall back to whatever the kernel gives for port 0.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	p := l.Addr().(*net.TCPAddr).Port
	ports[p] = true
	return p, nil
}

// TestdataDir returns the absolute path of the module's
// testdata/integration directory, found by walking up from the current
// directory (go test runs in the package directory) to go.mod. The
// environment variable BIBOUMI_TESTDATA overrides it.
func TestdataDir() (string, error) {
	if d := os.Getenv("BIBOUMI_TESTDATA"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "testdata", "integration")
			if _, err := os.Stat(d); err != nil {
				return "", fmt.Errorf("testenv: %s: %w", d, err)
			}
			return d, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: go.mod not found above the working directory; set BIBOUMI_TESTDATA")
		}
		dir = parent
	}
}

// render executes the template testdata/integration/name with data and
// writes it to dst.
func render(name, dst string, data any) error {
	dir, err := TestdataDir()
	if err != nil {
		return err
	}
	tmpl, err := template.New(name).Option("missingkey=error").ParseFiles(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("testenv: template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return fmt.Errorf("testenv: template %s: %w", name, err)
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

// daemon is one server process: how to start it, how to tell it is ready,
// where its logs are.
type daemon struct {
	name     string // "prosody", … for messages
	dir      string
	argv     []string
	env      []string // added to os.Environ()
	cred     *syscall.Credential
	ready    []string      // addresses it must listen on
	timeout  time.Duration // start-up deadline
	logs     []string      // log files to show on failure (console log first)
	failOn   []string      // log substrings meaning the start failed
	readyLog string        // log substring that must appear (optional)
	pidFile  string        // killed too on stop, for daemons that run beyond our child

	mu         sync.Mutex
	logOffsets map[string]int64 // log sizes when the last start began
	cmd        *exec.Cmd
	done       chan struct{}
	waitErr    error
	started    time.Time
	// startupTime is how long the last start took until ready.
	startupTime time.Duration
}

func (d *daemon) consoleLog() string { return filepath.Join(d.dir, d.name+".console.log") }

// start launches the process and waits until it is ready. On failure the
// process is stopped and the error includes the tail of its logs.
func (d *daemon) start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil {
		return fmt.Errorf("testenv: %s already running", d.name)
	}
	console, err := os.OpenFile(d.consoleLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer console.Close()
	fmt.Fprintf(console, "=== testenv: %s: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(d.argv, " "))
	cmd := exec.Command(d.argv[0], d.argv[1:]...)
	cmd.Dir = d.dir
	cmd.Env = append(os.Environ(), d.env...)
	// An *os.File (not a pipe) so that Wait does not wait for
	// grandchildren that inherit it.
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL, // do not outlive a killed test binary
		Credential: d.cred,
	}
	d.logOffsets = map[string]int64{}
	for _, f := range d.allLogs() {
		if fi, err := os.Stat(f); err == nil {
			d.logOffsets[f] = fi.Size()
		}
	}
	d.started = time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testenv: start %s: %w", d.name, err)
	}
	d.cmd = cmd
	d.done = make(chan struct{})
	d.waitErr = nil
	go func(done chan struct{}) {
		err := cmd.Wait()
		d.waitErr = err
		close(done)
	}(d.done)

	if err := d.waitReady(); err != nil {
		_ = d.signalAndWait(syscall.SIGKILL)
		return fmt.Errorf("%w\n%s", err, d.logTail())
	}
	d.startupTime = time.Since(d.started)
	return nil
}

// waitReady polls until every ready address accepts connections and the
// ready log line (if any) is there, or the process exits, or a fail
// pattern shows up in the logs, or the deadline passes.
func (d *daemon) waitReady() error {
	deadline := time.Now().Add(d.timeout)
	pending := append([]string(nil), d.ready...)
	logOK := d.readyLog == ""
	for {
		select {
		case <-d.done:
			return fmt.Errorf("testenv: %s exited during start-up: %v", d.name, d.waitErr)
		default:
		}
		if msg := d.findInLogs(d.failOn...); msg != "" {
			return fmt.Errorf("testenv: %s failed to start: log says %q", d.name, msg)
		}
		for len(pending) > 0 {
			// Ask the kernel rather than dialling: a connection could
			// reach another process that holds the port.
			if !d.listening(pending[0]) {
				break
			}
			pending = pending[1:]
		}
		if !logOK && d.findInLogs(d.readyLog) != "" {
			logOK = true
		}
		if len(pending) == 0 && logOK {
			return nil
		}
		if time.Now().After(deadline) {
			what := fmt.Sprintf("a listener of its own on %v", pending)
			if !logOK {
				what += fmt.Sprintf(", log line %q", d.readyLog)
			}
			return fmt.Errorf("testenv: %s not ready after %v (waiting for %s)", d.name, d.timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// findInLogs returns the first of pats found in what the logs got since
// the last start, or "".
func (d *daemon) findInLogs(pats ...string) string {
	if len(pats) == 0 {
		return ""
	}
	for _, f := range d.allLogs() {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if off := d.logOffsets[f]; off <= int64(len(b)) {
			b = b[off:]
		}
		for _, p := range pats {
			if bytes.Contains(b, []byte(p)) {
				return p
			}
		}
	}
	return ""
}

func (d *daemon) allLogs() []string { return append([]string{d.consoleLog()}, d.logs...) }

// logTail returns the last few KiB of each log file.
func (d *daemon) logTail() string {
	var b strings.Builder
	for _, f := range d.allLogs() {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(&b, "--- %s: %v\n", f, err)
			continue
		}
		const max = 6000
		if len(data) > max {
			data = append([]byte("…"), data[len(data)-max:]...)
		}
		fmt.Fprintf(&b, "--- %s (tail):\n%s\n", f, data)
	}
	return b.String()
}

// stop shuts the server down gracefully (SIGTERM), as an administrator
// would: clients get their stream errors / ERROR lines.
func (d *daemon) stop() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopLocked()
}

// kill SIGKILLs the server: a crash, and the fast way to clean up.
func (d *daemon) kill() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.signalAndWait(syscall.SIGKILL)
}

// stopLocked sends SIGTERM to the process group (and to the pid in
// pidFile), waits, then SIGKILLs whatever is left.
func (d *daemon) stopLocked() error {
	return d.signalAndWait(syscall.SIGTERM)
}

func (d *daemon) signalAndWait(first syscall.Signal) error {
	if d.cmd == nil {
		return nil
	}
	pgid := d.cmd.Process.Pid
	extra := d.readPidFile()
	if extra > 0 && processGroup(extra) != pgid {
		extra = 0 // stale pid file: not ours
	}
	signal := func(sig syscall.Signal) {
		_ = syscall.Kill(-pgid, sig)
		if extra > 0 {
			_ = syscall.Kill(extra, sig)
		}
	}
	signal(first)
	var err error
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		err = fmt.Errorf("testenv: %s did not exit %v after %v; killed", d.name, stopTimeout, first)
		signal(syscall.SIGKILL)
		<-d.done
	}
	// Leftovers of the group (or the daemon behind pidFile) must not keep
	// the ports: wait until they are gone.
	if extra > 0 {
		waitGone(extra, stopTimeout)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if d.pidFile != "" {
		_ = os.Remove(d.pidFile)
	}
	d.cmd = nil
	return err
}

func (d *daemon) readPidFile() int {
	if d.pidFile == "" {
		return 0
	}
	b, err := os.ReadFile(d.pidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// waitGone waits for a process that is not our child to disappear (or
// become a zombie, which holds no sockets: init may take its time to reap
// it), SIGKILLing it after timeout.
func waitGone(pid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for syscall.Kill(pid, 0) == nil && !isZombie(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *daemon) running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// addrInUse reports whether a start error looks like a port conflict, in
// which case the caller retries on other ports.
func addrInUse(err error) bool {
	if err == nil {
		return false
	}
	s := strings.ToLower(err.Error())
	for _, p := range []string{"address already in use", "eaddrinuse", "failed to open server port", "can't bind", "could not bind", "failed to bind"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// startAttempts is how many times a server start is tried on fresh ports
// when the first attempt hits a port conflict.
const startAttempts = 3

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

var nameSeq atomic.Int64

// uniqueName returns prefix followed by a suffix unique in this process
// and very likely across processes.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d%03d", prefix, nameSeq.Add(1), os.Getpid()%1000)
}

// isZombie reports whether /proc says pid has exited but is not reaped.
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // gone
	}
	// pid (comm) state …; comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// serverPort picks the ports of the servers; tests replace it to force a
// port conflict.
var serverPort = freePort

// listening reports whether addr ("127.0.0.1:port") is a listening TCP
// socket of a process in the daemon's process group. Where /proc cannot
// tell (not Linux, or no permission to see the processes' descriptors),
// it falls back to trying to connect.
func (d *daemon) listening(addr string) bool {
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	owned, err := listenerInGroup(port, d.cmd.Process.Pid)
	if err == nil {
		return owned
	}
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// listenerInGroup reports whether a process of process group pgid has a
// socket listening on TCP port (any address) open.
func listenerInGroup(port, pgid int) (bool, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			if f == "/proc/net/tcp" {
				return false, err
			}
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 10 || fields[3] != "0A" { // 0A = LISTEN
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			p, err := strconv.ParseUint(fields[1][i+1:], 16, 16)
			if err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return false, nil
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return false, err
	}
	seen, denied := 0, 0
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || processGroup(pid) != pgid {
			continue
		}
		seen++
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			denied++
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[l] {
				return true, nil
			}
		}
	}
	if seen > 0 && denied == seen {
		return false, errors.New("cannot read the file descriptors of the server's processes")
	}
	return false, nil
}

// processGroup returns the process group of pid, or -1.
func processGroup(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:])) // state ppid pgrp …
	if len(f) < 3 {
		return -1
	}
	g, err := strconv.Atoi(f[2])
	if err != nil {
		return -1
	}
	return g
}
