// Package pgcluster runs a private, throwaway PostgreSQL cluster that a
// test can stop, kill and start again on the same port and data directory:
// what internal/pgtest (one shared cluster per test binary, schemas per
// test) cannot offer, since restarting its cluster would disturb every
// other test.
//
// The recipe is pgtest's (and shared/go-libs.md §5.5): initdb in a fresh
// directory, run as the postgres user when the process is root (initdb and
// postgres refuse root), then postgres listening on 127.0.0.1 only, on a
// port chosen by internal/servers, with fsync off. The server is a
// servers.Process: its own process group, killed if the test process dies,
// its output in Dir/postgres.console.log.
//
// Environment: BIBOUMI_TEST_PGBIN names the directory of initdb and
// postgres (default: the newest /usr/lib/postgresql/*/bin, then $PATH).
package pgcluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"biboumi/internal/servers"
)

// ErrUnavailable is wrapped by the error of Start when PostgreSQL is not
// installed here (or cannot run as this user).
var ErrUnavailable = servers.ErrUnavailable

// Database is the database that Start creates, and that URL names.
const Database = "biboumi"

// Cluster is a running (or stopped) private PostgreSQL cluster.
type Cluster struct {
	Dir  string // owned by the server's user; holds data/, the socket and the log
	Port int
	Host string // "127.0.0.1"

	bin  string
	cred *syscall.Credential
	p    *servers.Process
}

// Start creates a cluster in a fresh directory under os.TempDir(), starts
// it, creates Database and returns once it accepts connections. Close
// removes it.
func Start() (_ *Cluster, err error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	cred, err := RunAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "biboumi-pgcluster-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgcluster: initdb: %w\n%s", err, out)
	}
	var lastErr error
	for range 3 { // a port can be taken between the pick and the bind
		port, err := servers.FreePort()
		if err != nil {
			return nil, err
		}
		c := &Cluster{Dir: dir, Port: port, Host: "127.0.0.1", bin: bin, cred: cred}
		c.p, lastErr = servers.StartProcess(c.processConfig())
		if lastErr != nil {
			continue
		}
		if err := c.createDatabase(); err != nil {
			_ = c.p.Kill()
			return nil, err
		}
		return c, nil
	}
	return nil, fmt.Errorf("pgcluster: %w", lastErr)
}

func (c *Cluster) processConfig() servers.ProcessConfig {
	return servers.ProcessConfig{
		Name: "postgres",
		Dir:  c.Dir,
		Argv: []string{filepath.Join(c.bin, "postgres"), "-D", filepath.Join(c.Dir, "data"),
			"-p", strconv.Itoa(c.Port), "-k", c.Dir,
			"-c", "listen_addresses=127.0.0.1",
			"-c", "max_connections=300",
			"-c", "fsync=off", "-c", "full_page_writes=off",
		},
		Env:        []string{"LC_ALL=C"},
		Credential: c.cred,
		Ready:      []string{fmt.Sprintf("%s:%d", "127.0.0.1", c.Port)},
		ReadyLog:   "database system is ready to accept connections",
		Timeout:    60 * time.Second,
		FailOn:     []string{"could not bind", "could not create any TCP/IP sockets", "PANIC"},
	}
}

// URL returns the postgres:// URL of db on the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@%s:%d/%s?sslmode=disable", c.Host, c.Port, db)
}

// DBName is the db_name of the gateway configuration for Database.
func (c *Cluster) DBName() string { return c.URL(Database) }

func (c *Cluster) createDatabase() error {
	db, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+Database); err != nil {
		return fmt.Errorf("pgcluster: CREATE DATABASE: %w", err)
	}
	return nil
}

// Stop shuts the server down as an administrator's restart does (a fast
// shutdown: SIGINT to the postmaster, which ends every session with
// "terminating connection due to administrator command") and waits until
// it has exited.
func (c *Cluster) Stop() error {
	if pid := c.postmasterPID(); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGINT)
		deadline := time.Now().Add(servers.StopTimeout)
		for c.p.Running() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c.p.Stop() // reaps it, or SIGTERMs and then kills what is left
}

// Kill SIGKILLs the whole server (a crash: the next Start runs crash
// recovery). Backends put themselves in process groups of their own
// (setsid), so they are killed one by one, and waited for: one still
// alive keeps the shared memory, and the next start would refuse to run.
func (c *Cluster) Kill() error {
	pm := c.postmasterPID()
	var kids []int
	if pm > 0 {
		kids = childrenOf(pm)
		for _, k := range kids {
			_ = syscall.Kill(k, syscall.SIGKILL)
		}
	}
	err := c.p.Kill()
	deadline := time.Now().Add(servers.StopTimeout)
	for _, k := range kids {
		for alive(k) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return err
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := procStat(p); ok && ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != "Z"
}

// procStat returns the state and parent of pid from /proc/pid/stat.
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(b[i+1:])) // state ppid …
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid, true
}

// Start starts a stopped or killed server again on the same port and data.
func (c *Cluster) Start() error {
	if err := c.p.Start(); err != nil {
		return fmt.Errorf("pgcluster: start again: %w", err)
	}
	return nil
}

// Restart is Stop then Start.
func (c *Cluster) Restart() error {
	_ = c.Stop()
	return c.Start()
}

// Running reports whether the server is up.
func (c *Cluster) Running() bool { return c.p.Running() }

// Logs returns the tail of the server's log.
func (c *Cluster) Logs() string { return c.p.Logs() }

// Close kills the server and removes its directory.
func (c *Cluster) Close() error {
	err := c.p.Kill()
	return errors.Join(err, os.RemoveAll(c.Dir))
}

func (c *Cluster) postmasterPID() int {
	b, err := os.ReadFile(filepath.Join(c.Dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// New starts a cluster for t, closed by t.Cleanup. Without PostgreSQL the
// test is skipped, or fails when CI=true.
func New(t testing.TB) *Cluster {
	t.Helper()
	c, err := Start()
	if errors.Is(err, ErrUnavailable) {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("%v (CI=true, so this is an error)", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres log:\n%s", c.Logs())
		}
		_ = c.Close()
	})
	return c
}

// FindBin returns the directory holding initdb and postgres:
// $BIBOUMI_TEST_PGBIN, else the newest /usr/lib/postgresql/*/bin, else
// $PATH. Its error wraps ErrUnavailable.
func FindBin() (string, error) {
	has := func(dir string) bool {
		for _, p := range []string{"initdb", "postgres"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("BIBOUMI_TEST_PGBIN"); dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("pgcluster: no initdb and postgres in BIBOUMI_TEST_PGBIN=%s: %w", dir, ErrUnavailable)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { // newest major version first
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("pgcluster: PostgreSQL binaries (initdb, postgres) not found: %w", ErrUnavailable)
}

// RunAs returns the credential to run PostgreSQL with: the postgres user
// when we are root (initdb and postgres refuse root), else nil (ourselves).
func RunAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs a postgres user to run the server: %v: %w", err, ErrUnavailable)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgcluster: user postgres: bad uid %q or gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
