// Package servers starts real, throwaway servers (prosody, ejabberd,
// inspircd, ngircd) on loopback, and provides raw IRC and XMPP clients
// that play the people on either side of the gateway.
//
// Every server listens on 127.0.0.1 on ports chosen here, with its
// configuration rendered from the templates in testdata/integration/ into
// a directory given by the caller. Every function returns an error
// instead of failing a test: biboumi/internal/testenv wraps this package
// for tests, and cmd/biboumi-demo uses it directly.
//
// A server binary that is missing (or, for ejabberd, that cannot run as
// this user) is reported with an error wrapping ErrUnavailable.
package servers

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
	"time"
)

// Timeouts.
const (
	// DefaultTimeout is how long the clients' Expect waits when given a
	// timeout of 0, and how long the XMPP client's login may take.
	DefaultTimeout = 15 * time.Second
	// DialTimeout bounds a TCP connect to a local server, and each write.
	DialTimeout = 5 * time.Second
	// StopTimeout is how long a process gets to exit after SIGTERM before
	// it is killed.
	StopTimeout = 10 * time.Second
)

// Errors that callers can test with errors.Is.
var (
	// ErrUnavailable means a server cannot be started here: its binary
	// is not installed, or it cannot run as this user.
	ErrUnavailable = errors.New("server unavailable")
	// ErrTimeout means an Expect saw nothing that matched in time.
	ErrTimeout = errors.New("timed out")
	// ErrClosed means the connection ended (closed by either side) before
	// an Expect saw what it waited for.
	ErrClosed = errors.New("connection ended")
)

// LookPath finds a binary in PATH and in the sbin directories, which are
// not in a normal user's PATH on Debian (inspircd, ngircd, ejabberdctl
// live in /usr/sbin). A name with a slash is checked as is. The error
// wraps ErrUnavailable.
func LookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if strings.Contains(name, "/") {
		return "", fmt.Errorf("%s: not found: %w", name, ErrUnavailable)
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH or sbin directories: %w", name, ErrUnavailable)
}

// Missing returns the binaries of bins that LookPath does not find.
func Missing(bins ...string) []string {
	var missing []string
	for _, b := range bins {
		if _, err := LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	return missing
}

// Ports handed out by this process, so that two servers of one process
// never get the same port even before either has bound it.
var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

// FreePort returns a TCP port that is free on 127.0.0.1 right now.
//
// Ports are picked at random below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), so that neither outgoing connections
// nor another process binding port 0 can take a port between the moment
// it is chosen and the moment the server binds it. A port is never handed
// out twice by one process.
func FreePort() (int, error) {
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

// pickPort returns f, or FreePort if f is nil.
func pickPort(f func() (int, error)) func() (int, error) {
	if f != nil {
		return f
	}
	return FreePort
}

// TemplateDir returns the absolute path of the module's
// testdata/integration directory. The environment variable
// BIBOUMI_TESTDATA overrides it; otherwise it is found by walking up from
// the current directory (go test runs in the package directory) to
// go.mod, and failing that next to this package's source (for a binary
// built from this module and run elsewhere).
func TemplateDir() (string, error) {
	if d := os.Getenv("BIBOUMI_TESTDATA"); d != "" {
		return d, nil
	}
	var walkErr error
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				d := filepath.Join(dir, "testdata", "integration")
				if _, err := os.Stat(d); err == nil {
					return d, nil
				}
				walkErr = fmt.Errorf("%s: not found", d)
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				walkErr = errors.New("go.mod not found above the working directory")
				break
			}
			dir = parent
		}
	} else {
		walkErr = err
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "integration")
		if _, err := os.Stat(d); err == nil {
			return filepath.Clean(d), nil
		}
	}
	return "", fmt.Errorf("server config templates: %v; set BIBOUMI_TESTDATA to the testdata/integration directory", walkErr)
}

// render executes the template testdata/integration/name with data and
// writes it to dst.
func render(name, dst string, data any) error {
	dir, err := TemplateDir()
	if err != nil {
		return err
	}
	tmpl, err := template.New(name).Option("missingkey=error").ParseFiles(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return fmt.Errorf("template %s: %w", name, err)
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
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

// UniqueName returns prefix followed by a suffix unique in this process
// and very likely across processes.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s%d%03d", prefix, nameSeq.Add(1), os.Getpid()%1000)
}
