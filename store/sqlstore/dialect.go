package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"biboumi/store"
)

// dialect is what differs between the engines once the DDL (in
// migrations/) is set aside: the driver name and how errors are classified.
// All query text is shared: both drivers bind $N placeholders and both
// engines support ON CONFLICT and RETURNING.
type dialect struct {
	name       string // migrations directory: "sqlite" or "postgres"
	driverName string // database/sql driver: "sqlite" (modernc) or "pgx"
	// uniqueViolation reports a UNIQUE or PRIMARY KEY violation.
	uniqueViolation func(error) bool
	// connLost reports an error after which the connection is gone and a
	// retry on a new one may succeed.
	connLost func(error) bool
	// lockMigrations, when not empty, is run with migrationLockKey first in
	// each migration transaction to serialise concurrent migrators.
	lockMigrations string
	// logChunk is how many log lines one INSERT statement carries. SQLite
	// parses a long VALUES list in superlinear time (measured: 7 µs/row at
	// 10 rows, 28 µs/row at 200), so it gets short statements; PostgreSQL
	// gains from fewer round trips.
	logChunk int
	// optimize, when not empty, is run on the writer at Close.
	optimize string
	// deferredWindow makes a time-bounded page sort seqs from the time
	// index and then read its rows (see logsStatement).
	deferredWindow bool
	// windowMode, when not nil, is passed first to a time-bounded page's
	// query: a pgx.QueryExecMode (see logsStatement).
	windowMode any
}

var sqliteDialect = &dialect{
	name:       "sqlite",
	driverName: "sqlite",
	uniqueViolation: func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	// A local file does not drop connections.
	connLost: func(error) bool { return false },
	// The writer pool's BEGIN IMMEDIATE already serialises migrators, even
	// across processes.
	lockMigrations: "",
	logChunk:       100,
	deferredWindow: true,
}

// migrationLockKey is the pg_advisory_xact_lock key that serialises schema
// migrations ("bib0" in ASCII).
const migrationLockKey = 0x62696230

var postgresDialect = &dialect{
	name:       "postgres",
	driverName: "pgx",
	uniqueViolation: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505" // unique_violation
	},
	connLost:       pgConnLost,
	lockMigrations: "SELECT pg_advisory_xact_lock($1)", // with migrationLockKey
	logChunk:       100,
	windowMode:     pgx.QueryExecModeExec,
}

// pgConnLost reports whether err means the PostgreSQL connection broke: the
// server restarted or terminated the backend, or the network failed. A
// timeout or a cancelled context is not a lost connection: retrying would
// only wait again.
func pgConnLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception. 57P01..03: admin_shutdown,
		// crash_shutdown, cannot_connect_now (the server is restarting).
		return strings.HasPrefix(pgErr.Code, "08") ||
			pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.SafeToRetry(err) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// pgx reports a connection it closed after a fatal error this way.
	return strings.Contains(err.Error(), "conn closed")
}

func dialectOf(d store.Driver) (*dialect, bool) {
	switch d {
	case store.DriverSQLite:
		return sqliteDialect, true
	case store.DriverPostgres:
		return postgresDialect, true
	}
	return nil, false
}
