package servers

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProcessConfig says how to run a server process and how to tell it is
// ready.
type ProcessConfig struct {
	Name       string   // "prosody", … for messages and the console log's name
	Dir        string   // working directory; the console log goes there
	Argv       []string // Argv[0] is the binary
	Env        []string // added to os.Environ()
	Credential *syscall.Credential

	// Ready lists addresses ("127.0.0.1:port") that a process of the
	// process group must listen on.
	Ready []string
	// ReadyLog is a log substring that must appear (optional).
	ReadyLog string
	// Timeout is the start-up deadline (default 20 s).
	Timeout time.Duration
	// Logs are log files to watch and to show on failure, besides the
	// console log (stdout and stderr).
	Logs []string
	// FailOn are log substrings meaning the start failed.
	FailOn []string
	// PidFile names a process that is killed too on stop, for daemons
	// that run beyond our child.
	PidFile string
}

// Process is a server process in a process group of its own (so that a
// terminal's Ctrl-C does not reach it and Stop reaches all of it), killed
// if this program dies (Pdeathsig). Its stdout and stderr go to
// Dir/Name.console.log.
type Process struct {
	cfg ProcessConfig

	mu         sync.Mutex
	logOffsets map[string]int64 // log sizes when the last start began
	cmd        *exec.Cmd
	last       *run          // the last run, nil before the first start
	done       chan struct{} // == last.done
	started    time.Time
	// startupTime is how long the last start took until ready.
	startupTime time.Duration
}

// run is one run of a process: done is closed when it has exited, and
// err is then what Wait returned.
type run struct {
	done chan struct{}
	err  error
}

// StartProcess starts a process and waits until it is ready. On failure
// the process is killed and the error includes the tail of its logs.
func StartProcess(cfg ProcessConfig) (*Process, error) {
	p := newProcess(cfg)
	if err := p.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

func newProcess(cfg ProcessConfig) *Process {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	return &Process{cfg: cfg}
}

// ConsoleLog is the file that gets the process's stdout and stderr.
func (p *Process) ConsoleLog() string {
	return filepath.Join(p.cfg.Dir, p.cfg.Name+".console.log")
}

// Start launches the process (again, after Stop or Kill) and waits until
// it is ready. On failure the process is killed and the error includes
// the tail of its logs.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s already running", p.cfg.Name)
	}
	console, err := os.OpenFile(p.ConsoleLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer console.Close()
	fmt.Fprintf(console, "=== %s: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(p.cfg.Argv, " "))
	cmd := exec.Command(p.cfg.Argv[0], p.cfg.Argv[1:]...)
	cmd.Dir = p.cfg.Dir
	cmd.Env = append(os.Environ(), p.cfg.Env...)
	// An *os.File (not a pipe) so that Wait does not wait for
	// grandchildren that inherit it.
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL, // do not outlive a killed parent
		Credential: p.cfg.Credential,
	}
	p.logOffsets = map[string]int64{}
	for _, f := range p.allLogs() {
		if fi, err := os.Stat(f); err == nil {
			p.logOffsets[f] = fi.Size()
		}
	}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.cfg.Name, err)
	}
	r := &run{done: make(chan struct{})}
	p.cmd, p.last, p.done = cmd, r, r.done
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()

	if err := p.waitReady(); err != nil {
		_ = p.signalAndWait(syscall.SIGKILL)
		return fmt.Errorf("%w\n%s", err, p.Logs())
	}
	p.startupTime = time.Since(p.started)
	return nil
}

// waitReady polls until every ready address accepts connections and the
// ready log line (if any) is there, or the process exits, or a fail
// pattern shows up in the logs, or the deadline passes.
func (p *Process) waitReady() error {
	deadline := time.Now().Add(p.cfg.Timeout)
	pending := append([]string(nil), p.cfg.Ready...)
	logOK := p.cfg.ReadyLog == ""
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start-up: %v", p.cfg.Name, p.last.err)
		default:
		}
		if msg := p.findInLogs(p.cfg.FailOn...); msg != "" {
			return fmt.Errorf("%s failed to start: log says %q", p.cfg.Name, msg)
		}
		for len(pending) > 0 {
			// Ask the kernel rather than dialling: a connection could
			// reach another process that holds the port.
			if !p.listening(pending[0]) {
				break
			}
			pending = pending[1:]
		}
		if !logOK && p.findInLogs(p.cfg.ReadyLog) != "" {
			logOK = true
		}
		if len(pending) == 0 && logOK {
			return nil
		}
		if time.Now().After(deadline) {
			what := fmt.Sprintf("a listener of its own on %v", pending)
			if !logOK {
				what += fmt.Sprintf(", log line %q", p.cfg.ReadyLog)
			}
			return fmt.Errorf("%s not ready after %v (waiting for %s)", p.cfg.Name, p.cfg.Timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// findInLogs returns the first of pats found in what the logs got since
// the last start, or "".
func (p *Process) findInLogs(pats ...string) string {
	if len(pats) == 0 {
		return ""
	}
	for _, f := range p.allLogs() {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if off := p.logOffsets[f]; off <= int64(len(b)) {
			b = b[off:]
		}
		for _, pat := range pats {
			if bytes.Contains(b, []byte(pat)) {
				return pat
			}
		}
	}
	return ""
}

func (p *Process) allLogs() []string { return append([]string{p.ConsoleLog()}, p.cfg.Logs...) }

// Logs returns the last few KiB of each log file, for error messages.
func (p *Process) Logs() string {
	var b strings.Builder
	for _, f := range p.allLogs() {
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

// Stop shuts the process down gracefully, as an administrator would:
// SIGTERM to its process group (and to the pid in PidFile), then waits;
// whatever is left after StopTimeout is killed, and the error says so.
// Stopping a stopped process does nothing.
func (p *Process) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signalAndWait(syscall.SIGTERM)
}

// Kill SIGKILLs the process group: a crash, and the fast way to clean up.
func (p *Process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signalAndWait(syscall.SIGKILL)
}

func (p *Process) signalAndWait(first syscall.Signal) error {
	if p.cmd == nil {
		return nil
	}
	pgid := p.cmd.Process.Pid
	extra := p.readPidFile()
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
	case <-p.done:
	case <-time.After(StopTimeout):
		err = fmt.Errorf("%s did not exit %v after %v; killed", p.cfg.Name, StopTimeout, first)
		signal(syscall.SIGKILL)
		<-p.done
	}
	// Leftovers of the group (or the daemon behind PidFile) must not keep
	// the ports: wait until they are gone.
	if extra > 0 {
		waitGone(extra, StopTimeout)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if p.cfg.PidFile != "" {
		_ = os.Remove(p.cfg.PidFile)
	}
	p.cmd = nil
	return err
}

func (p *Process) readPidFile() int {
	if p.cfg.PidFile == "" {
		return 0
	}
	b, err := os.ReadFile(p.cfg.PidFile)
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

// Running reports whether the process is alive.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exited reports whether the last run of the process has ended, by
// itself or by Stop or Kill, and how: err is nil for exit status 0,
// otherwise what exec.Cmd.Wait returned (an *exec.ExitError for a
// non-zero status or a signal).
func (p *Process) Exited() (exited bool, err error) {
	p.mu.Lock()
	r := p.last
	p.mu.Unlock()
	if r == nil {
		return false, nil
	}
	select {
	case <-r.done:
		return true, r.err
	default:
		return false, nil
	}
}

// StartupTime is how long the last start took until the process was
// ready.
func (p *Process) StartupTime() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startupTime
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

// listening reports whether addr ("127.0.0.1:port") is a listening TCP
// socket of a process in the process group. Where /proc cannot tell (not
// Linux, or no permission to see the processes' descriptors), it falls
// back to trying to connect.
func (p *Process) listening(addr string) bool {
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	owned, err := listenerInGroup(port, p.cmd.Process.Pid)
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
