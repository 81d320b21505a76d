// Package biboumi reads a database written by Biboumi 9.x, the C++ gateway
// this program replaces, as the source of store.Copy. It reads SQLite and
// PostgreSQL databases, and never writes to them: SQLite files are opened
// with mode=ro, PostgreSQL sessions are read-only.
//
// Biboumi's schema (biboumi-reference.md §7) and how it is converted:
//
//   - muclogline_ (id_, uuid_, owner_, ircchanname_, ircservername_, date_,
//     body_, nick_): one row per archived line and user. date_ is in Unix
//     seconds; uuid_ is the MAM id that clients saw, and is kept. A row
//     whose uuid_ is empty, or not unique, gets a name-based UUID derived
//     from its id_ (see DerivedID); the first row of a duplicated uuid_
//     keeps it. Archive order is id_.
//   - On PostgreSQL, id_ is a SERIAL without primary key: it may repeat
//     and has no index. Rows are then read in one ordered query, in a
//     REPEATABLE READ snapshot, and rows that share an id_ are kept
//     together and ordered by their content; a row identical to another
//     (a dump loaded twice) is skipped and reported. On SQLite id_ is the
//     rowid and pages are read by it.
//   - Options tables hold INTEGER booleans (0/1) and tri-states (0 unset,
//     1 true, -1 false; any positive or negative value counts, as Biboumi
//     reads them); ports are ';'-joined with a trailing ';'. Columns added
//     by a Biboumi upgrade (ALTER TABLE ADD) are NULL in older rows: a NULL
//     means the user never set the option, so it converts to this
//     program's default (where Biboumi itself would read 0 or "").
//   - after_connection_commands_.fk_ is the id_ of an ircserveroptions_
//     row; commands are kept in id_ order. The pre-7.0
//     ircserveroptions_.afterconnectioncommand_ column, unused by Biboumi
//     9, is ignored.
//   - Owners and roster JIDs that are not valid JIDs are skipped and
//     reported, never fatal. Duplicate option rows for one key (possible
//     in PostgreSQL, which has no unique constraint) keep the newest row
//     (highest id_); the others are reported as skipped.
//
// Columns or tables that an older Biboumi schema lacks read as NULL or as
// empty tables.
package biboumi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"biboumi/store"
	"biboumi/store/sqlstore"
)

// ErrNotBiboumi reports a database without Biboumi's muclogline_ table.
var ErrNotBiboumi = errors.New("biboumi: not a Biboumi database (no muclogline_ table)")

// Reader reads one Biboumi database. It is safe for concurrent use.
type Reader struct {
	db     *sql.DB
	driver store.Driver
	id     string
	// cols holds the existing columns of each Biboumi table; a missing
	// table has no entry.
	cols map[string]map[string]bool
	// logsByPage: muclogline_.id_ is unique and indexed (SQLite's rowid),
	// so logs are read in short pages by id_ rather than in one query.
	logsByPage bool
}

var _ store.CopySource = (*Reader)(nil)

// The tables Reader reads.
var tables = []string{"muclogline_", "globaloptions_", "ircserveroptions_", "ircchanneloptions_", "roster", "after_connection_commands_"}

// Open opens the Biboumi database that dbName names, as Biboumi's db_name
// does (a postgres:// or postgresql:// URI, or an SQLite file path),
// read-only.
func Open(ctx context.Context, dbName string) (*Reader, error) {
	db, driver, err := sqlstore.OpenReadOnlyDB(ctx, dbName)
	if err != nil {
		return nil, err
	}
	r, err := New(ctx, db, driver, dbName)
	if err != nil {
		db.Close()
		return nil, err
	}
	return r, nil
}

// New returns a Reader on db, which sqlstore.OpenReadOnlyDB opened from
// dbName. It fails with ErrNotBiboumi when db has no muclogline_ table.
// The Reader owns db: Close closes it.
func New(ctx context.Context, db *sql.DB, driver store.Driver, dbName string) (*Reader, error) {
	r := &Reader{db: db, driver: driver, id: "biboumi:" + sqlstore.Location(dbName), cols: map[string]map[string]bool{}}
	for _, t := range tables {
		cols, err := sqlstore.TableColumns(ctx, db, driver, t)
		if err != nil {
			return nil, err
		}
		if cols == nil {
			continue
		}
		r.cols[t] = map[string]bool{}
		for _, c := range cols {
			r.cols[t][c] = true
		}
	}
	logs := r.cols["muclogline_"]
	if logs == nil {
		return nil, ErrNotBiboumi
	}
	for _, c := range []string{"id_", "owner_"} {
		if !logs[c] {
			return nil, fmt.Errorf("biboumi: muclogline_ has no %s column", c)
		}
	}
	if driver == store.DriverSQLite {
		var pk int
		err := db.QueryRowContext(ctx, "SELECT pk FROM pragma_table_info('muclogline_') WHERE name = 'id_'").Scan(&pk)
		if err != nil {
			return nil, fmt.Errorf("biboumi: %w", err)
		}
		r.logsByPage = pk == 1
	}
	return r, nil
}

// Close closes the database.
func (r *Reader) Close() error { return r.db.Close() }

// SourceID implements store.CopySource: "biboumi:" and the database's
// sqlstore.Location.
func (r *Reader) SourceID() string { return r.id }

// selectCols returns "SELECT a, b, … FROM table" where columns the table
// lacks read as NULL.
func (r *Reader) selectCols(table string, cols ...string) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		if r.cols[table][c] {
			b.WriteString(c)
		} else {
			b.WriteString("NULL")
		}
	}
	b.WriteString(" FROM ")
	b.WriteString(table)
	return b.String()
}

// idNamespace is the UUID namespace of DerivedID (a random constant).
var idNamespace = uuid.MustParse("0b5e3f1c-6a3d-4f7e-9c59-8d2b7a41e6c3")

// DerivedID returns the ID given to the Biboumi log row with id_ id when its
// uuid_ is empty or not unique: a name-based UUID (version 5) of
// "biboumi/muclogline_/ID", so that every copy of the same database
// derives the same one. k is the row's position among rows that share the
// id_ (PostgreSQL only); it is part of the name when above 0.
func DerivedID(id int64, k int) string {
	name := "biboumi/muclogline_/" + strconv.FormatInt(id, 10)
	if k > 0 {
		name += "/" + strconv.Itoa(k)
	}
	return uuid.NewSHA1(idNamespace, []byte(name)).String()
}
