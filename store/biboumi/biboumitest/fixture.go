// Package biboumitest builds Biboumi 9 databases from the SQL fixtures in
// testdata/biboumi, for tests of the Biboumi reader and of the migration
// tool. Nothing is committed in binary form: every test builds its own
// database from the scripts.
package biboumitest

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"biboumi/internal/pgtest"
)

// Dir returns the directory of the fixture scripts.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "biboumi")
}

// The scripts each engine runs, in order.
var (
	SQLiteScripts   = []string{"sqlite-schema.sql", "data.sql"}
	PostgresScripts = []string{"postgres-schema.sql", "data.sql", "postgres-quirks.sql"}
)

// SQLite returns the path of a new Biboumi 9 SQLite database (rollback
// journal, as Biboumi leaves it) in a temporary directory of t.
func SQLite(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "biboumi.sqlite")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run(t, db, SQLiteScripts)
	return path
}

// Postgres returns the DSN (a postgres:// URL) of a new PostgreSQL schema
// (pgtest.DSN) holding a Biboumi 9 database. It skips t when PostgreSQL is
// not installed, as pgtest does.
func Postgres(t testing.TB) string {
	t.Helper()
	dsn := pgtest.DSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run(t, db, PostgresScripts)
	return dsn
}

func run(t testing.TB, db *sql.DB, scripts []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range scripts {
		b, err := os.ReadFile(filepath.Join(Dir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, string(b)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
