package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"mellium.im/xmpp/jid"

	"biboumi/internal/pgtest"
	"biboumi/migrations"
	"biboumi/store"
	"biboumi/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// engine is one way to open a test database.
type engine struct {
	name   string
	driver store.Driver
	dsn    func(t testing.TB) string
}

var engines = []engine{
	{"sqlite", store.DriverSQLite, func(t testing.TB) string { return filepath.Join(t.TempDir(), "test.sqlite") }},
	{"postgres", store.DriverPostgres, pgtest.DSN},
}

func openTest(t testing.TB, driver store.Driver, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), driver, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, e.driver, e.dsn(t)) })
		})
	}
	t.Run("sqlite-memory", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, store.DriverSQLite, ":memory:") })
	})
}

func TestMigrations(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			testMigrations(t, e)
		})
	}
}

func testMigrations(t *testing.T, e engine) {
	ctx := t.Context()
	dsn := e.dsn(t)
	d, _ := dialectOf(e.driver)
	list := migrations.List(d.name)

	// A fresh database ends at the newest version, with one row per
	// migration.
	s := openTest(t, e.driver, dsn)
	var version, rows int
	if err := s.w.QueryRowContext(ctx, "SELECT MAX(version), COUNT(*) FROM schema_version").Scan(&version, &rows); err != nil {
		t.Fatal(err)
	}
	if version != len(list) || rows != len(list) {
		t.Fatalf("fresh database at version %d with %d rows, want %d", version, rows, len(list))
	}
	// Opening again applies nothing.
	s.Close()
	s = openTest(t, e.driver, dsn)
	if err := s.w.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_version").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(list) {
		t.Fatalf("reopening added versions: %d rows", rows)
	}

	// An upgrade applies only the new migration.
	next := migrations.Migration{Version: len(list) + 1, Name: "test_upgrade", SQL: "CREATE TABLE upgraded (x INTEGER); INSERT INTO upgraded VALUES (42);"}
	v, err := migrate(ctx, s.w, d, append(list, next))
	if err != nil || v != next.Version {
		t.Fatalf("upgrade: version %d, %v", v, err)
	}
	var x int
	if err := s.w.QueryRowContext(ctx, "SELECT x FROM upgraded").Scan(&x); err != nil || x != 42 {
		t.Fatalf("upgrade did not run: %d, %v", x, err)
	}

	// A failing migration leaves nothing behind: not its first statement,
	// not its version.
	bad := migrations.Migration{Version: next.Version + 1, Name: "broken", SQL: "CREATE TABLE half (x INTEGER); SELECT * FROM no_such_table;"}
	if _, err := migrate(ctx, s.w, d, append(list, next, bad)); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("broken migration: err = %v", err)
	}
	if err := s.w.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_version").Scan(&version); err != nil || version != next.Version {
		t.Fatalf("after a failed migration: version %d, %v", version, err)
	}
	if _, err := s.w.ExecContext(ctx, "SELECT * FROM half"); err == nil {
		t.Fatal("a failed migration left its table")
	}
	s.Close()

	// This binary does not know version len(list)+1: Open refuses.
	_, err = Open(ctx, e.driver, dsn, Options{})
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: err = %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), "version 5") && !strings.Contains(err.Error(), "version") {
		t.Fatalf("unclear error: %v", err)
	}
	t.Logf("newer schema refused with: %v", err)
}

func TestConcurrentMigrations(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			dsn := e.dsn(t)
			if e.driver == store.DriverSQLite {
				// Switching a new file to WAL takes an exclusive lock for
				// which SQLite may not wait (SQLITE_BUSY). A deployment
				// does it once; later opens find WAL set. Start from an
				// empty WAL database, so that the openers race on the
				// migrations themselves.
				db, err := sql.Open("sqlite", "file:"+dsn+"?_pragma=journal_mode(WAL)")
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Ping(); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() {
					s, err := Open(t.Context(), e.driver, dsn, Options{})
					if err == nil {
						s.Close()
					}
					errs[i] = err
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			s := openTest(t, e.driver, dsn)
			defer s.Close()
			var rows, versions int
			if err := s.w.QueryRowContext(t.Context(), "SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_version").Scan(&rows, &versions); err != nil {
				t.Fatal(err)
			}
			if want := len(migrations.List(s.d.name)); rows != want || versions != want {
				t.Fatalf("%d version rows (%d distinct), want %d: a migration ran twice", rows, versions, want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	if _, err := Open(ctx, "mysql", "x", Options{}); err == nil || !strings.Contains(err.Error(), "unknown driver") {
		t.Fatalf("unknown driver: %v", err)
	}
	if _, err := Open(ctx, store.DriverSQLite, filepath.Join(t.TempDir(), "no", "such", "dir", "db"), Options{}); err == nil {
		t.Fatal("opened a database in a missing directory")
	}
	if _, err := Open(ctx, store.DriverSQLite, "", Options{}); err == nil {
		t.Fatal("opened an empty path")
	}
	// A server that does not answer: a clear error within the timeout.
	start := time.Now()
	_, err := Open(ctx, store.DriverPostgres, "postgres://nobody@127.0.0.1:1/x?connect_timeout=2", Options{QueryTimeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("unreachable postgres: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("unreachable postgres took %v", time.Since(start))
	}
}

func TestOpenDBName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "biboumi.sqlite")
	s, err := OpenDBName(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.d != sqliteDialect {
		t.Fatalf("a path opened %s", s.d.name)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		return
	}
	dsn := pgtest.DSN(t)
	if !strings.HasPrefix(dsn, "postgres://") {
		t.Skip("BIBOUMI_TEST_POSTGRES is not a URL")
	}
	p, err := OpenDBName(t.Context(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.d != postgresDialect {
		t.Fatalf("a postgres:// URL opened %s", p.d.name)
	}
}

func TestSQLiteFiles(t *testing.T) {
	dir := t.TempDir()
	// Characters that mean something in a URI must not break the path.
	path := filepath.Join(dir, "my db?x=1#frag%20.sqlite")
	s := openTest(t, store.DriverSQLite, path)
	defer s.Close()
	if err := s.AppendLog(t.Context(), &store.LogLine{Owner: jid.MustParse("a@b"), Server: "s", Channel: "#c", Body: "x"}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) < 2 {
		t.Fatalf("files: %v", entries)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "my db?x=1#frag%20.sqlite") {
			t.Errorf("unexpected file %q: the path was mangled", e.Name())
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		// The database holds IRC passwords.
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
}

func TestSQLitePragmas(t *testing.T) {
	s := openTest(t, store.DriverSQLite, filepath.Join(t.TempDir(), "p.sqlite"))
	defer s.Close()
	ctx := t.Context()
	for _, tc := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "1"}, // NORMAL
		{"busy_timeout", "5000"},
		{"foreign_keys", "1"},
	} {
		var got string
		if err := s.w.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("writer PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
	if s.w.Stats().MaxOpenConnections != 1 {
		t.Errorf("writer pool allows %d connections", s.w.Stats().MaxOpenConnections)
	}
	// The read pool cannot write.
	if _, err := s.r.ExecContext(ctx, "DELETE FROM roster"); err == nil {
		t.Error("the read pool wrote")
	}
}

// TestSQLiteQueryPlans checks that the hot queries use the archive indexes
// and need no sort.
func TestSQLiteQueryPlans(t *testing.T) {
	s := openTest(t, store.DriverSQLite, filepath.Join(t.TempDir(), "q.sqlite"))
	defer s.Close()
	for _, tc := range []struct{ name, query, index string }{
		{"last N", "SELECT seq FROM muc_log WHERE owner = 'a' AND server = 'b' AND channel = 'c' ORDER BY seq DESC LIMIT 51", "muc_log_archive"},
		{"after id", "SELECT seq FROM muc_log WHERE owner = 'a' AND server = 'b' AND channel = 'c' AND seq > 10 ORDER BY seq LIMIT 51", "muc_log_archive"},
		{"time range", "SELECT seq FROM muc_log WHERE owner = 'a' AND server = 'b' AND channel = 'c' AND time_us >= 1 AND time_us <= 2 ORDER BY seq LIMIT 51", "muc_log_time"},
	} {
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, tc.index) {
			t.Errorf("%s: plan %q does not use %s", tc.name, p, tc.index)
		}
		if tc.index == "muc_log_archive" && strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s: plan %q sorts", tc.name, p)
		}
	}
}

// TestSQLiteWritersDoNotBlockReaders runs writers and readers at once: with
// the split pools no operation may fail with SQLITE_BUSY.
func TestSQLiteWritersDoNotBlockReaders(t *testing.T) {
	s := openTest(t, store.DriverSQLite, filepath.Join(t.TempDir(), "c.sqlite"))
	defer s.Close()
	ctx := t.Context()
	owner := jid.MustParse("a@b")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	deadline := time.Now().Add(500 * time.Millisecond)
	for range 4 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := s.AppendLogs(ctx, []*store.LogLine{
					{Owner: owner, Server: "s", Channel: "#c", Body: "1"},
					{Owner: owner, Server: "s", Channel: "#c", Body: "2"},
				}); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if _, err := s.ListLogs(ctx, store.LogQuery{Owner: owner, Server: "s", Channel: "#c", Last: true, Limit: 50}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestPostgresReconnect cuts every connection of the store on the server
// side, as a PostgreSQL restart does: the next reads and writes must still
// succeed, through the pool's own check or our retry.
func TestPostgresReconnect(t *testing.T) {
	dsn := pgtest.DSN(t)
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	s, err := Open(t.Context(), store.DriverPostgres, dsn, Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(logs.String(), "retrying once") {
			t.Error("no operation needed a retry: the test did not cut live connections")
		}
		t.Logf("retries:\n%s", logs.String())
	}()
	ctx := t.Context()
	owner := jid.MustParse("a@b")
	q := store.LogQuery{Owner: owner, Server: "s", Channel: "#c", Last: true}
	for round := range 2 {
		// Keep several connections busy so the pool holds more than one.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if _, err := s.ListLogs(ctx, q); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		pgtest.TerminateConnections(t, dsn)
		l := &store.LogLine{Owner: owner, Server: "s", Channel: "#c", Body: "after restart"}
		if err := s.AppendLog(ctx, l); err != nil {
			t.Fatalf("round %d: append after the connections were cut: %v", round, err)
		}
		pgtest.TerminateConnections(t, dsn)
		page, err := s.ListLogs(ctx, q)
		if err != nil {
			t.Fatalf("round %d: list after the connections were cut: %v", round, err)
		}
		if len(page.Lines) != round+1 {
			t.Fatalf("round %d: %d lines", round, len(page.Lines))
		}
		pgtest.TerminateConnections(t, dsn)
		if err := s.AppendLogs(ctx, []*store.LogLine{
			{Owner: owner, Server: "s", Channel: "#other", Body: "1"},
			{Owner: owner, Server: "s", Channel: "#other", Body: "2"},
		}); err != nil {
			t.Fatalf("round %d: batch after the connections were cut: %v", round, err)
		}
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestRetryClassification checks which errors count as a lost connection.
func TestRetryClassification(t *testing.T) {
	if sqliteDialect.connLost(errors.New("anything")) {
		t.Error("sqlite retried")
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, false},
		{context.Canceled, false},
		{errors.New("syntax error"), false},
		{store.ErrNotFound, false},
		{errors.New("conn closed"), true},
	} {
		if got := pgConnLost(tc.err); got != tc.want {
			t.Errorf("pgConnLost(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestRetryOnce checks the retry policy of Store.do with fake failures.
func TestRetryOnce(t *testing.T) {
	s := &Store{d: postgresDialect, timeout: time.Second, log: slog.New(slog.DiscardHandler)}
	lost := &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}
	for _, tc := range []struct {
		name      string
		errs      []error // returned by successive calls
		wantCalls int
		wantErr   string
	}{
		{"ok", []error{nil}, 1, ""},
		{"lost then ok", []error{lost, nil}, 2, ""},
		{"lost twice", []error{lost, lost}, 2, "database connection lost (retried once)"},
		{"other error", []error{errors.New("syntax error")}, 1, "sqlstore: op: syntax error"},
		{"sentinel kept", []error{store.ErrNotFound}, 1, store.ErrNotFound.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := s.do(t.Context(), "op", func(ctx context.Context) error {
				if _, ok := ctx.Deadline(); !ok {
					t.Error("no per-query deadline")
				}
				calls++
				return tc.errs[calls-1]
			})
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestEscapeURIPath(t *testing.T) {
	if got := escapeURIPath("/a b/c?d#e%f"); got != "/a b/c%3fd%23e%25f" {
		t.Fatalf("got %q", got)
	}
}

// TestReadersOpenAtStart: the SQLite reader pool is open, with its schema
// loaded, when Open returns.
func TestReadersOpenAtStart(t *testing.T) {
	s, err := Open(t.Context(), store.DriverSQLite, filepath.Join(t.TempDir(), "db.sqlite"), Options{ReadConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.r.Stats(); st.OpenConnections != 3 || st.Idle != 3 {
		t.Fatalf("reader pool: %d open, %d idle; want 3 and 3", st.OpenConnections, st.Idle)
	}
}
