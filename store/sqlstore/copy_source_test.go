package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"biboumi/store"
)

func TestOpenReadOnlyDB(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dsn := e.dsn(t)
			openTest(t, e.driver, dsn).Close() // creates the schema
			dbName := dsn
			db, driver, err := OpenReadOnlyDB(ctx, dbName)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if driver != e.driver {
				t.Errorf("driver %q, want %q", driver, e.driver)
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM muc_log").Scan(&n); err != nil {
				t.Error(err)
			}
			for _, q := range []string{"INSERT INTO roster (local, remote) VALUES ('a', 'b')", "CREATE TABLE x (a INTEGER)"} {
				if _, err := db.ExecContext(ctx, q); err == nil {
					t.Errorf("%s: no error", q)
				}
			}
			cols, err := TableColumns(ctx, db, driver, "roster")
			if err != nil || strings.Join(cols, ",") != "local,remote" {
				t.Errorf("TableColumns(roster) = %q, %v", cols, err)
			}
			if cols, err := TableColumns(ctx, db, driver, "missing"); cols != nil || err != nil {
				t.Errorf("TableColumns(missing) = %q, %v", cols, err)
			}
		})
	}
	ctx := context.Background()
	for _, name := range []string{"", ":memory:", filepath.Join(t.TempDir(), "missing.sqlite"), t.TempDir()} {
		if db, _, err := OpenReadOnlyDB(ctx, name); err == nil {
			db.Close()
			t.Errorf("OpenReadOnlyDB(%q) succeeded", name)
		}
	}
}

// TestReadOnlySidecars checks that the -wal and -shm files that reading a
// WAL database creates belong to the database's owner, not to root.
func TestReadOnlySidecars(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	path := filepath.Join(t.TempDir(), "wal.sqlite")
	openTest(t, store.DriverSQLite, path).Close()
	const nobody = 65534
	if err := os.Chown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-shm"); err == nil {
		t.Fatal("the -shm file outlived the store")
	}
	db, _, err := OpenReadOnlyDB(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{"-wal", "-shm"} {
		fi, err := os.Stat(path + s)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody || st.Gid != nobody {
			t.Errorf("%s belongs to %d:%d, want %d:%d", s, st.Uid, st.Gid, nobody, nobody)
		}
	}
}

func TestLocation(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@db.example.org:5433/biboumi?sslmode=disable&search_path=s1": "postgres://u@db.example.org:5433/biboumi?search_path=s1",
		"postgresql://u:secret@db.example.org/biboumi":                                   "postgres://u@db.example.org:5432/biboumi",
		"/var/lib/biboumi/biboumi.sqlite":                                                "sqlite:/var/lib/biboumi/biboumi.sqlite",
		"file:x.db?mode=ro":                                                              "sqlite:file:x.db?mode=ro",
	} {
		if got := Location(in); got != want {
			t.Errorf("Location(%q) = %q, want %q", in, got, want)
		}
	}
	wd, _ := os.Getwd()
	if got := Location("rel.sqlite"); got != "sqlite:"+filepath.Join(wd, "rel.sqlite") {
		t.Errorf("relative path: %q", got)
	}
}

func TestNewSource(t *testing.T) {
	ctx := context.Background()
	empty := filepath.Join(t.TempDir(), "empty.sqlite")
	raw, err := sql.Open("sqlite", empty)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("CREATE TABLE other (a INTEGER)"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := OpenSource(ctx, empty); !errors.Is(err, ErrNoSchema) {
		t.Errorf("OpenSource(no schema) = %v, want ErrNoSchema", err)
	}

	path := filepath.Join(t.TempDir(), "newer.sqlite")
	s := openTest(t, store.DriverSQLite, path)
	if _, err := s.w.Exec("INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := OpenSource(ctx, path); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Errorf("OpenSource(newer schema) = %v, want ErrSchemaTooNew", err)
	}
}
