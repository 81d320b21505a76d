// Package sqlstore implements store.Store over database/sql, for SQLite
// (modernc.org/sqlite, no cgo) and PostgreSQL (pgx through its stdlib
// driver), with one set of queries.
//
// What differs between the engines is small and kept apart: the DDL lives in
// the embedded migrations (migrations/sqlite, migrations/postgres), and the
// dialect value knows the driver name and how to classify errors (unique
// violation, lost connection). Times are BIGINT microseconds in both.
//
// SQLite runs in WAL mode with two pools: one writer connection whose
// transactions start IMMEDIATE (so a read-then-write transaction never fails
// with SQLITE_BUSY on the lock upgrade), and a query_only read pool that
// never waits for the writer. The database file is created with mode 0600:
// it holds IRC passwords.
//
// PostgreSQL uses one pool. A statement that fails because the connection
// was lost (server restart, terminated backend) is retried once on a new
// connection; every operation of this package is safe to repeat (see
// Store.do).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"biboumi/migrations"
	"biboumi/store"
)

// Options tune a Store. The zero value gives the defaults.
type Options struct {
	// QueryTimeout bounds each database round of an operation (a retry
	// gets a fresh one). Default 5 s.
	QueryTimeout time.Duration
	// ReadConns is the size of the SQLite read pool. Default 4.
	ReadConns int
	// MaxConns is the size of the PostgreSQL pool. PostgreSQL allows 100
	// connections by default, for every client together. Default 10.
	MaxConns int
	// Logger receives warnings, such as a retried lost connection. Default:
	// discard.
	Logger *slog.Logger
}

// Store is a store.Store on an SQL database. It is safe for concurrent use.
type Store struct {
	d       *dialect
	w       *sql.DB // writes; SQLite: one connection, IMMEDIATE transactions
	r       *sql.DB // reads; SQLite: query_only pool; PostgreSQL and :memory:: w
	timeout time.Duration
	log     *slog.Logger
}

var _ store.Store = (*Store)(nil)

// OpenDBName opens the database that the db_name configuration key names
// (see store.ParseDBName): a postgres:// or postgresql:// URI, or an SQLite
// file path.
func OpenDBName(ctx context.Context, dbName string, opts Options) (*Store, error) {
	driver, dsn := store.ParseDBName(dbName)
	return Open(ctx, driver, dsn, opts)
}

// Open connects to a database, brings its schema up to date and returns
// the Store.
//
// For store.DriverSQLite, dsn is a file path (created with mode 0600 if
// missing; its directory must exist), ":memory:" (a private in-memory
// database on one connection, for tests), or a "file:" URI used as is.
// For store.DriverPostgres, dsn is anything pgx accepts: a URI or
// key=value pairs.
//
// Open fails with store.ErrSchemaTooNew when the database was migrated by a
// newer release.
func Open(ctx context.Context, driver store.Driver, dsn string, opts Options) (*Store, error) {
	d, ok := dialectOf(driver)
	if !ok {
		return nil, fmt.Errorf("sqlstore: unknown driver %q (want %q or %q)", driver, store.DriverSQLite, store.DriverPostgres)
	}
	s := &Store{d: d, timeout: opts.QueryTimeout, log: opts.Logger}
	if s.timeout <= 0 {
		s.timeout = 5 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	switch driver {
	case store.DriverSQLite:
		s.w, s.r, err = openSQLite(dsn, opts)
	case store.DriverPostgres:
		s.w, err = sql.Open(d.driverName, dsn)
		if err == nil {
			n := opts.MaxConns
			if n <= 0 {
				n = 10
			}
			s.w.SetMaxOpenConns(n)
			s.w.SetMaxIdleConns(n)
			s.w.SetConnMaxIdleTime(5 * time.Minute)
			s.r = s.w
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", driver, err)
	}
	if err := s.do(ctx, "connect", func(ctx context.Context) error { return s.w.PingContext(ctx) }); err != nil {
		s.closePools()
		return nil, err
	}
	if _, err := migrate(ctx, s.w, d, migrations.List(d.name)); err != nil {
		s.closePools()
		return nil, err
	}
	if s.r != s.w {
		if err := warm(ctx, s.r, readConns(opts)); err != nil {
			s.closePools()
			return nil, fmt.Errorf("sqlstore: open %s readers: %w", driver, err)
		}
	}
	return s, nil
}

// warm opens the n connections of a reader pool at once: a database a
// reader cannot open fails at start-up rather than at a user's first
// request, and the memory the connections take is there from the start,
// not counted against the first users.
func warm(ctx context.Context, db *sql.DB, n int) error {
	conns := make([]*sql.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close() // back to the idle pool
		}
	}()
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		var one int
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&one); err != nil {
			return err
		}
	}
	return nil
}

// readConns is the size of the SQLite reader pool.
func readConns(opts Options) int {
	if opts.ReadConns <= 0 {
		return 4
	}
	return opts.ReadConns
}

// openSQLite opens the writer and reader pools of an SQLite database.
func openSQLite(path string, opts Options) (w, r *sql.DB, err error) {
	const (
		// Shared by both pools. busy_timeout covers other processes and
		// WAL checkpoints; our own writers queue in the one-connection
		// pool instead. temp_store(MEMORY) keeps statement journals (one
		// per multi-row INSERT in a transaction) off temp files: measured
		// 50 → 32 µs per line in batches of 100.
		common = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)"
		writer = common + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		reader = common + "&_pragma=query_only(1)"
	)
	if path == "" {
		return nil, nil, errors.New("empty database path")
	}
	var uri string
	switch {
	case path == ":memory:":
		// Every connection to :memory: is a different database: use one
		// connection for everything, and never let the pool close it.
		w, err = sql.Open("sqlite", "file::memory:?"+writer)
		if err != nil {
			return nil, nil, err
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		return w, w, nil
	case strings.HasPrefix(path, "file:"):
		uri = path
	default:
		// Create the file ourselves so that it gets mode 0600; SQLite
		// creates -wal and -shm with the mode of the database file.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, err
		}
		f.Close()
		uri = "file:" + escapeURIPath(path)
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	w, err = sql.Open("sqlite", uri+sep+writer)
	if err != nil {
		return nil, nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	r, err = sql.Open("sqlite", uri+sep+reader)
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	n := readConns(opts)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return w, r, nil
}

// escapeURIPath escapes the characters that have a meaning in an SQLite URI
// filename (RFC 3986 with SQLite's rules), so that any path can be opened.
func escapeURIPath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// Close closes both pools. On SQLite it first lets the query planner
// refresh its statistics (PRAGMA optimize), as SQLite advises for
// connections that end.
func (s *Store) Close() error {
	var err error
	if s.d.optimize != "" {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		_, err = s.w.ExecContext(ctx, s.d.optimize)
		cancel()
	}
	return errors.Join(err, s.closePools())
}

func (s *Store) closePools() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// do runs f with the per-query timeout and, when the connection was lost,
// runs it once more on a new connection. Every f of this package may run
// twice safely: reads trivially; options and roster writes are upserts or
// deletes that leave the same state; log appends are keyed by their UUID
// with ON CONFLICT DO NOTHING and recognise their own earlier insert. The
// operation name op labels errors.
//
// Errors that wrap a store sentinel are returned as they are; others get
// the "sqlstore: op:" prefix.
func (s *Store) do(ctx context.Context, op string, f func(ctx context.Context) error) error {
	err := s.attempt(ctx, f)
	if err != nil && s.d.connLost(err) && ctx.Err() == nil {
		s.log.Warn("sqlstore: database connection lost; retrying once", "op", op, "err", err)
		err = s.attempt(ctx, f)
		if err != nil && s.d.connLost(err) {
			return fmt.Errorf("sqlstore: %s: database connection lost (retried once): %w", op, err)
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrSchemaTooNew):
		return err
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

func (s *Store) attempt(ctx context.Context, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return f(ctx)
}

// inTx runs f in a transaction on the writer pool and commits it.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// placeholders returns "$first, $first+1, …" for n parameters.
func placeholders(b *strings.Builder, first, n int) {
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "$%d", first+i)
	}
}
