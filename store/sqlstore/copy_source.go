package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"mellium.im/xmpp/jid"

	"biboumi/migrations"
	"biboumi/store"
)

// This file reads a database of our own schema as the source of a copy
// (store.Copy), without ever writing to it, and holds the helpers that the
// Biboumi reader (store/biboumi) shares: a read-only open and the listing
// of a table's columns.

// ErrNoSchema reports a database that has no schema of this gateway (no
// schema_version and muc_log tables).
var ErrNoSchema = errors.New("sqlstore: not a database of this gateway (no schema_version and muc_log tables)")

// OpenReadOnlyDB opens the database that dbName names (see
// store.ParseDBName) so that nothing can write to it, and checks that it
// answers.
//
// An SQLite file must exist; it is opened with mode=ro and query_only, so
// SQLite itself refuses writes, and no checkpoint ever rewrites the file.
// Reading a WAL-mode file creates its -wal and -shm files when missing,
// as every reader does; when running as root, those are given the owner
// of the database file, so that its own server can still open them.
// PostgreSQL sessions get default_transaction_read_only=on, so the server
// refuses writes.
func OpenReadOnlyDB(ctx context.Context, dbName string) (*sql.DB, store.Driver, error) {
	driver, dsn := store.ParseDBName(dbName)
	var db *sql.DB
	switch driver {
	case store.DriverSQLite:
		uri, path, err := readOnlyURI(dsn)
		if err != nil {
			return nil, driver, err
		}
		sidecars := existingSidecars(path)
		if db, err = sql.Open("sqlite", uri); err != nil {
			return nil, driver, fmt.Errorf("sqlstore: open %s: %w", dsn, err)
		}
		db.SetMaxOpenConns(2)
		// A real read: opening alone does not touch the file.
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_schema").Scan(&n); err != nil {
			db.Close()
			return nil, driver, fmt.Errorf("sqlstore: reading %s: %w", dsn, err)
		}
		giveSidecarsToOwner(path, sidecars)
		return db, driver, nil
	case store.DriverPostgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, driver, fmt.Errorf("sqlstore: %w", err)
		}
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
		db = stdlib.OpenDB(*cfg)
		db.SetMaxOpenConns(4)
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, driver, fmt.Errorf("sqlstore: connecting to %s: %w", Location(dbName), err)
		}
		return db, driver, nil
	}
	return nil, driver, fmt.Errorf("sqlstore: unknown driver %q", driver)
}

// readOnlyURI returns the SQLite URI that opens dsn read-only, and the
// file's path ("" for a file: URI given as is).
func readOnlyURI(dsn string) (uri, path string, err error) {
	const params = "mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(5000)"
	switch {
	case dsn == "" || dsn == ":memory:":
		return "", "", fmt.Errorf("sqlstore: %q is not a database file", dsn)
	case strings.HasPrefix(dsn, "file:"):
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + params, "", nil
	}
	fi, err := os.Stat(dsn)
	if err != nil {
		return "", "", fmt.Errorf("sqlstore: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", "", fmt.Errorf("sqlstore: %s is not a regular file", dsn)
	}
	return "file:" + escapeURIPath(dsn) + "?" + params, dsn, nil
}

var sidecarSuffixes = []string{"-wal", "-shm"}

func existingSidecars(path string) map[string]bool {
	have := map[string]bool{}
	for _, s := range sidecarSuffixes {
		if _, err := os.Lstat(path + s); err == nil {
			have[s] = true
		}
	}
	return have
}

// giveSidecarsToOwner chowns the -wal and -shm files that opening path
// created to the owner of path, when we run as root: otherwise the server
// that owns the database could no longer open it in WAL mode.
func giveSidecarsToOwner(path string, existed map[string]bool) {
	if path == "" || os.Geteuid() != 0 {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	owner, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	for _, s := range sidecarSuffixes {
		if existed[s] {
			continue
		}
		if sfi, err := os.Lstat(path + s); err == nil && sfi.Mode().IsRegular() {
			_ = os.Lchown(path+s, int(owner.Uid), int(owner.Gid))
		}
	}
}

// TableColumns returns the column names of table in db, in order, or nil
// when there is no such table. On PostgreSQL the table is looked up through
// the search_path, as unqualified queries find it.
func TableColumns(ctx context.Context, db *sql.DB, driver store.Driver, table string) ([]string, error) {
	q := "SELECT name FROM pragma_table_info($1) ORDER BY cid"
	if driver == store.DriverPostgres {
		q = "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1::text) AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
	}
	rows, err := db.QueryContext(ctx, q, table)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: columns of %s: %w", table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// Location names the database dbName stably and without secrets: the
// absolute path of an SQLite file ("sqlite:/var/lib/…"), or the user, host,
// port, database and search_path of a PostgreSQL one, never its password.
func Location(dbName string) string {
	driver, dsn := store.ParseDBName(dbName)
	if driver == store.DriverSQLite {
		if strings.HasPrefix(dsn, "file:") {
			return "sqlite:" + dsn
		}
		p, err := filepath.Abs(dsn)
		if err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
		} else {
			p = dsn
		}
		return "sqlite:" + p
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "postgres:(unparsable)"
	}
	s := fmt.Sprintf("postgres://%s@%s/%s", cfg.User, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), cfg.Database)
	if sp := cfg.RuntimeParams["search_path"]; sp != "" {
		s += "?search_path=" + sp
	}
	return s
}

// Source reads a database of our own schema, SQLite or PostgreSQL, for
// store.Copy. It never writes to it. It is safe for concurrent use.
type Source struct {
	db     *sql.DB
	driver store.Driver
	id     string
}

var _ store.CopySource = (*Source)(nil)

// OpenSource opens the database dbName read-only as a copy source. It
// fails with ErrNoSchema when the database has no schema of ours, and when
// its schema version is not the one this program writes.
func OpenSource(ctx context.Context, dbName string) (*Source, error) {
	db, driver, err := OpenReadOnlyDB(ctx, dbName)
	if err != nil {
		return nil, err
	}
	src, err := NewSource(ctx, db, driver, dbName)
	if err != nil {
		db.Close()
		return nil, err
	}
	return src, nil
}

// NewSource returns a Source on db, which OpenReadOnlyDB opened from
// dbName. The Source owns db: Close closes it.
func NewSource(ctx context.Context, db *sql.DB, driver store.Driver, dbName string) (*Source, error) {
	d, ok := dialectOf(driver)
	if !ok {
		return nil, fmt.Errorf("sqlstore: unknown driver %q", driver)
	}
	for _, t := range []string{"schema_version", "muc_log"} {
		cols, err := TableColumns(ctx, db, driver, t)
		if err != nil {
			return nil, err
		}
		if cols == nil {
			return nil, ErrNoSchema
		}
	}
	var version int
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&version); err != nil {
		return nil, fmt.Errorf("sqlstore: reading the schema version: %w", err)
	}
	newest := len(migrations.List(d.name))
	switch {
	case version > newest:
		return nil, fmt.Errorf("%w: the source is at schema version %d, this program knows versions up to %d",
			store.ErrSchemaTooNew, version, newest)
	case version < newest:
		return nil, fmt.Errorf("sqlstore: the source is at schema version %d and this program reads version %d: "+
			"start the gateway of this release on it once to upgrade it (the copy never writes to its source)", version, newest)
	}
	return &Source{db: db, driver: driver, id: "sqlstore:" + Location(dbName)}, nil
}

// Close closes the database.
func (s *Source) Close() error { return s.db.Close() }

// SourceID implements store.CopySource: "sqlstore:" and the Location.
func (s *Source) SourceID() string { return s.id }

// CountLogs implements store.LogScanner. Source ids are muc_log.seq.
func (s *Source) CountLogs(ctx context.Context, after, upTo int64) (int64, error) {
	if upTo <= 0 {
		upTo = math.MaxInt64
	}
	var n int64
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM muc_log WHERE seq > $1 AND seq <= $2", after, upTo).Scan(&n)
	return n, err
}

// ScanLogs implements store.LogScanner. Pages are read by seq, the primary
// key, each in its own short read, so a live gateway is never held up.
func (s *Source) ScanLogs(ctx context.Context, after, upTo int64, size int, f func(*store.LogBatch) error) error {
	if upTo <= 0 {
		upTo = math.MaxInt64
	}
	size = max(size, 1)
	owners := ownerCache{}
	for {
		b, err := s.scanPage(ctx, after, upTo, size, owners)
		if err != nil || b.Rows == 0 {
			return err
		}
		if err := f(b); err != nil {
			return err
		}
		if b.Rows < int64(size) {
			return nil
		}
		after = b.Last
	}
}

func (s *Source) scanPage(ctx context.Context, after, upTo int64, size int, owners ownerCache) (*store.LogBatch, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, uuid, owner, server, channel, time_us, nick, body FROM muc_log
WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`, after, upTo, size)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	b := &store.LogBatch{After: after, Last: after, Lines: make([]store.SourceLine, 0, min(size, 65536))}
	for rows.Next() {
		var sl store.SourceLine
		var owner string
		var us int64
		l := &sl.Line
		if err := rows.Scan(&sl.SrcID, &l.ID, &owner, &l.Server, &l.Channel, &us, &l.Nick, &l.Body); err != nil {
			return nil, err
		}
		b.Last = sl.SrcID
		b.Rows++
		if l.Owner, err = owners.parse(owner); err != nil {
			b.Skipped = append(b.Skipped, store.CopyIssue{Table: "muc_log", SrcID: sl.SrcID, Reason: "owner: " + err.Error()})
			continue
		}
		l.Time = time.UnixMicro(us).UTC()
		b.Lines = append(b.Lines, sl)
	}
	return b, rows.Err()
}

// ownerCache parses each distinct owner string once: an archive has many
// lines per owner, and JID parsing (PRECIS) is not cheap.
type ownerCache map[string]ownerEntry

type ownerEntry struct {
	j   jid.JID
	err error
}

// ownerCacheMax bounds the cache; past it, owners are parsed every time.
const ownerCacheMax = 100_000

func (c ownerCache) parse(s string) (jid.JID, error) {
	if e, ok := c[s]; ok {
		return e.j, e.err
	}
	j, err := ParseOwner(s)
	if len(c) < ownerCacheMax {
		c[s] = ownerEntry{j, err}
	}
	return j, err
}

// ParseOwner parses a stored user JID (an owner, a roster JID) as a copy
// takes it: a valid JID with a domainpart, reduced to its bare form.
func ParseOwner(s string) (jid.JID, error) {
	if s == "" {
		return jid.JID{}, errors.New("empty JID")
	}
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, fmt.Errorf("invalid JID %q: %w", s, err)
	}
	return j.Bare(), nil
}

// ScanSettings implements store.SettingsScanner.
func (s *Source) ScanSettings(ctx context.Context) (*store.Settings, error) {
	set := &store.Settings{}
	owners := ownerCache{}
	skip := func(table string, what string, err error) {
		set.Skipped = append(set.Skipped, store.CopyIssue{Table: table, Reason: what + ": " + err.Error()})
	}
	err := queryEach(ctx, s.db, "SELECT owner, max_history_length, record_history, persistent FROM global_options ORDER BY owner",
		func(rows *sql.Rows) error {
			var o store.GlobalOptions
			var owner string
			var persistent int64
			if err := rows.Scan(&owner, &o.MaxHistoryLength, &o.RecordHistory, &persistent); err != nil {
				return err
			}
			o.Persistent = store.Tristate(persistent)
			var err error
			if o.Owner, err = owners.parse(owner); err != nil {
				skip("global_options", "owner", err)
				return nil
			}
			set.Global = append(set.Global, o)
			return nil
		})
	if err != nil {
		return nil, err
	}

	servers := map[[2]string]int{} // (owner, server) → index in set.Servers
	err = queryEach(ctx, s.db, `SELECT owner, server, address, ports, tls_ports, verify_cert, fingerprint, pass, sasl_password,
	nick, username, realname, encoding_in, encoding_out, max_history_length, throttle_limit, sasl_mechanism
FROM irc_server_options ORDER BY owner, server`, func(rows *sql.Rows) error {
		o := store.ServerOptions{Stored: true}
		var owner, ports, tlsPorts string
		if err := rows.Scan(&owner, &o.Server, &o.Address, &ports, &tlsPorts, &o.VerifyCert, &o.Fingerprint, &o.Pass,
			&o.SASLPassword, &o.Nick, &o.Username, &o.Realname, &o.EncodingIn, &o.EncodingOut,
			&o.MaxHistoryLength, &o.ThrottleLimit, &o.SASLMechanism); err != nil {
			return err
		}
		var err error
		if o.Owner, err = owners.parse(owner); err != nil {
			skip("irc_server_options", "owner", err)
			return nil
		}
		if o.Ports, err = parsePorts(ports); err != nil {
			return err
		}
		if o.TLSPorts, err = parsePorts(tlsPorts); err != nil {
			return err
		}
		servers[[2]string{owner, o.Server}] = len(set.Servers)
		set.Servers = append(set.Servers, o)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = queryEach(ctx, s.db, "SELECT owner, server, command FROM irc_server_commands ORDER BY owner, server, pos",
		func(rows *sql.Rows) error {
			var owner, server, cmd string
			if err := rows.Scan(&owner, &server, &cmd); err != nil {
				return err
			}
			if i, ok := servers[[2]string{owner, server}]; ok {
				set.Servers[i].AfterConnectCommands = append(set.Servers[i].AfterConnectCommands, cmd)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}

	err = queryEach(ctx, s.db, `SELECT owner, server, channel, encoding_in, encoding_out, max_history_length, persistent, record_history
FROM irc_channel_options ORDER BY owner, server, channel`, func(rows *sql.Rows) error {
		var o store.ChannelOptions
		var owner string
		var record int64
		if err := rows.Scan(&owner, &o.Server, &o.Channel, &o.EncodingIn, &o.EncodingOut, &o.MaxHistoryLength,
			&o.Persistent, &record); err != nil {
			return err
		}
		o.RecordHistory = store.Tristate(record)
		var err error
		if o.Owner, err = owners.parse(owner); err != nil {
			skip("irc_channel_options", "owner", err)
			return nil
		}
		set.Channels = append(set.Channels, o)
		return nil
	})
	if err != nil {
		return nil, err
	}

	err = queryEach(ctx, s.db, "SELECT local, remote FROM roster ORDER BY local, remote", func(rows *sql.Rows) error {
		var local, remote string
		if err := rows.Scan(&local, &remote); err != nil {
			return err
		}
		l, err := ParseOwner(local)
		if err != nil {
			skip("roster", "local", err)
			return nil
		}
		r, err := owners.parse(remote)
		if err != nil {
			skip("roster", "remote", err)
			return nil
		}
		set.Roster = append(set.Roster, store.RosterItem{Local: l, Remote: r})
		return nil
	})
	if err != nil {
		return nil, err
	}

	err = queryEach(ctx, s.db, "SELECT owner, server, channel FROM kept_channels ORDER BY owner, server, channel", func(rows *sql.Rows) error {
		var k store.KeptChannel
		var owner string
		if err := rows.Scan(&owner, &k.Server, &k.Channel); err != nil {
			return err
		}
		var err error
		if k.Owner, err = owners.parse(owner); err != nil {
			skip("kept_channels", "owner", err)
			return nil
		}
		set.Kept = append(set.Kept, k)
		return nil
	})
	if err != nil {
		return nil, err
	}

	err = queryEach(ctx, s.db, "SELECT owner, cert_pem, key_pem FROM client_certs ORDER BY owner", func(rows *sql.Rows) error {
		var c store.ClientCert
		var owner, cert, key string
		if err := rows.Scan(&owner, &cert, &key); err != nil {
			return err
		}
		var err error
		if c.Owner, err = owners.parse(owner); err != nil {
			skip("client_certs", "owner", err)
			return nil
		}
		c.CertPEM, c.KeyPEM = []byte(cert), []byte(key)
		set.Certs = append(set.Certs, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return set, nil
}

// queryEach runs q and calls f for each row.
func queryEach(ctx context.Context, db *sql.DB, q string, f func(*sql.Rows) error, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
