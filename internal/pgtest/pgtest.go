// Package pgtest gives tests a real, throwaway PostgreSQL server.
//
// The first call to DSN in a test process starts a private cluster: initdb in
// a temp dir (run as the postgres user when the process is root, since initdb
// refuses root), then the postgres server on a free loopback port with
// fsync off. Every DSN call creates its own schema and returns a DSN whose
// search_path selects it, so tests are isolated and may run in parallel; the
// schema is dropped when the test ends.
//
// Use Main from TestMain so that the cluster is stopped and its directory
// removed after the tests:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Without Main the server still dies with the test process (it gets SIGINT
// when its parent exits), and a later run removes the stale directory.
//
// Environment:
//   - BIBOUMI_TEST_POSTGRES: a DSN (URL or key=value) of an existing server
//     to use instead of a private cluster. Its user needs CREATE on the
//     database.
//   - BIBOUMI_TEST_PGBIN: the directory of initdb and postgres; by default
//     the newest /usr/lib/postgresql/*/bin, then $PATH.
//   - BIBOUMI_TEST_PG_FSYNC=on: keep fsync on, for benchmarks that claim
//     durability.
//   - CI=true: when PostgreSQL is missing, tests fail instead of skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"biboumi/internal/pgcluster"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

const (
	envDSN   = "BIBOUMI_TEST_POSTGRES"
	envFsync = "BIBOUMI_TEST_PG_FSYNC"
	dirGlob  = "biboumi-pgtest-*"
)

// server is the process-wide test server; it is set up once.
var (
	once sync.Once
	srv  *server
	// errMissing is returned when no PostgreSQL is installed; callers skip
	// (or fail under CI).
	errMissing = errors.New("pgtest: PostgreSQL binaries (initdb, postgres) not found")
	setupErr   error
)

type server struct {
	base  string  // DSN of the server's postgres database
	admin *sql.DB // for CREATE/DROP SCHEMA and pg_terminate_backend

	// Only for a private cluster:
	dir    string
	cmd    *exec.Cmd
	exited chan error // receives cmd.Wait's result
}

// Main runs the tests of m, stops the private cluster if one was started,
// and exits with the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// DSN returns the DSN of a new, empty schema on the test server, for t
// alone: its search_path selects the schema, and its application_name is the
// schema name (see TerminateConnections). The schema is dropped at the end
// of t.
//
// When PostgreSQL is not installed, DSN skips t, or fails it when the
// environment has CI=true.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(func() { srv, setupErr = setup() })
	if errors.Is(setupErr, errMissing) && !inCI() {
		t.Skipf("%v; set %s to a server's DSN, or install postgresql", setupErr, envDSN)
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}

	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := srv.admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return withParams(srv.base, map[string]string{
		"search_path":      schema,
		"application_name": schema,
	})
}

// TerminateConnections ends, on the server side, every connection opened
// with dsn (a DSN returned by DSN), as a server restart or a network failure
// would. The client notices on its next use of each connection.
func TerminateConnections(t testing.TB, dsn string) {
	t.Helper()
	name := paramOf(dsn, "application_name")
	if name == "" || srv == nil {
		t.Fatalf("pgtest: TerminateConnections: %q is not a DSN from pgtest.DSN", dsn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.admin.ExecContext(ctx,
		// The timeout form (PostgreSQL 14+) waits until each backend is
		// gone, so the caller's next query surely meets a dead connection.
		"SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = $1", name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

func inCI() bool {
	switch strings.ToLower(os.Getenv("CI")) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// setup connects to BIBOUMI_TEST_POSTGRES or starts a private cluster.
func setup() (*server, error) {
	if dsn := os.Getenv(envDSN); dsn != "" {
		s := &server{base: dsn}
		if err := s.connect(nil); err != nil {
			return nil, fmt.Errorf("pgtest: %s: %w", envDSN, err)
		}
		return s, nil
	}
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	sweepStale()
	s, err := startCluster(bin)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	return s, nil
}

// findBin returns the directory holding initdb and postgres; its error
// wraps errMissing when there is none.
func findBin() (string, error) {
	bin, err := pgcluster.FindBin()
	if errors.Is(err, pgcluster.ErrUnavailable) {
		return "", fmt.Errorf("%w (%v)", errMissing, err)
	}
	return bin, err
}

func startCluster(bin string) (_ *server, err error) {
	cred, err := pgcluster.RunAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", dirGlob)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}

	fsync := "off"
	if os.Getenv(envFsync) == "on" {
		fsync = "on"
	}
	// A port can be taken between our check and the server's bind; try a
	// few.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := startServer(bin, dir, data, port, fsync, cred)
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			return nil, err
		}
	}
}

func startServer(bin, dir, data string, port int, fsync string, cred *syscall.Credential) (*server, error) {
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync="+fsync,
		"-c", "max_connections=200",
	)
	if fsync == "off" {
		cmd.Args = append(cmd.Args, "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// If the test process dies without stopping us (a panic, a
		// timeout kill), the kernel tells the server to shut down fast.
		Pdeathsig: syscall.SIGINT,
		Setpgid:   true, // a ^C in the terminal is for go test, not for us
	}
	s := &server{
		base:   fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		dir:    dir,
		cmd:    cmd,
		exited: make(chan error, 1),
	}
	// Pdeathsig fires when the *thread* that started the child exits, and
	// the Go runtime may retire idle threads. Start the child from a locked
	// thread that lives until the child exits.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := s.connect(s.exited); err != nil {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-s.exited
		out, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("postgres on port %d: %w\n%s", port, err, out)
	}
	return s, nil
}

// connect opens s.admin and waits until the server answers. exited, when
// not nil, reports a server that died while we waited.
func (s *server) connect(exited <-chan error) error {
	db, err := sql.Open("pgx", s.base)
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(4)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			s.admin = db
			return nil
		}
		if time.Now().After(deadline) {
			db.Close()
			return fmt.Errorf("not ready after 30 s: %w", err)
		}
		select {
		case werr := <-exited:
			db.Close()
			return fmt.Errorf("server exited: %v", werr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop shuts the private cluster down (fast shutdown) and removes its
// directory. It is a no-op when no cluster was started.
func stop() error {
	if srv == nil {
		return nil
	}
	s := srv
	srv = nil
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// sweepStale removes cluster directories left behind by test processes that
// died without calling Main's cleanup: those whose server is gone and that
// are old enough not to belong to a process starting right now.
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirGlob))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < 10*time.Minute {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
			if pid > 0 && syscall.Kill(pid, 0) == nil {
				continue // still running
			}
		}
		os.RemoveAll(d)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// withParams adds connection parameters to a URL or key=value DSN.
func withParams(dsn string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for _, k := range keys {
			q.Set(k, params[k])
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for _, k := range keys {
		dsn += " " + k + "='" + params[k] + "'"
	}
	return dsn
}

// paramOf returns the value of key in a DSN made by withParams.
func paramOf(dsn, key string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return u.Query().Get(key)
	}
	i := strings.LastIndex(dsn, " "+key+"='")
	if i < 0 {
		return ""
	}
	v := dsn[i+len(key)+3:]
	v, _, _ = strings.Cut(v, "'")
	return v
}
