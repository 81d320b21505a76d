package pgtest

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestWithParams(t *testing.T) {
	params := map[string]string{"search_path": "t_1", "application_name": "t_1"}
	u := withParams("postgres://u@127.0.0.1:5/db?sslmode=disable", params)
	if u != "postgres://u@127.0.0.1:5/db?application_name=t_1&search_path=t_1&sslmode=disable" {
		t.Errorf("URL: %q", u)
	}
	kv := withParams("host=/tmp port=5 user=u", params)
	if kv != "host=/tmp port=5 user=u application_name='t_1' search_path='t_1'" {
		t.Errorf("key=value: %q", kv)
	}
	for _, dsn := range []string{u, kv} {
		if got := paramOf(dsn, "application_name"); got != "t_1" {
			t.Errorf("paramOf(%q) = %q", dsn, got)
		}
	}
}

// TestDSN checks that each DSN is its own schema, and that a connection
// through it lands there.
func TestDSN(t *testing.T) {
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatal("two tests share a schema")
	}
	db, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE x (i INTEGER)"); err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'x'").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if schema != paramOf(a, "search_path") {
		t.Fatalf("table created in %q", schema)
	}

	// TerminateConnections really ends the session: the next working
	// query runs in another backend. (database/sql may report the dead
	// connection once before it reconnects.)
	var before, after int
	if err := db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&before); err != nil {
		t.Fatal(err)
	}
	TerminateConnections(t, a)
	for range 3 {
		if err = db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&after); err == nil {
			break
		}
	}
	if err != nil || after == before {
		t.Fatalf("backend %d before, %d after (err %v): the connection was not terminated", before, after, err)
	}
}

// TestMissingBinaries runs this package's tests in a child process without
// PostgreSQL: they skip, or fail when CI=true.
func TestMissingBinaries(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") != "" {
		DSN(t)
		return
	}
	for _, tc := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "SKIP: TestMissingBinaries"},
		{"true", true, "not found"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingBinaries$", "-test.v")
		cmd.Env = append(os.Environ(), "PGTEST_CHILD=1", "BIBOUMI_TEST_PGBIN=/nonexistent", "BIBOUMI_TEST_POSTGRES=", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.wantFail || !strings.Contains(string(out), tc.want) {
			t.Errorf("CI=%q: err %v, output:\n%s", tc.ci, err, out)
		}
	}
}
