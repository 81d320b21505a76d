package pgcluster

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// TestRestart checks the cluster survives a stop, a kill and a start on
// the same port, keeping its data.
func TestRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	c := New(t)
	db, err := sql.Open("pgx", c.DBName())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec := func(q string) {
		t.Helper()
		// The pool may hold a connection of the previous run: one retry.
		if _, err := db.ExecContext(ctx, q); err != nil {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	count := func() int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	exec("CREATE TABLE t (x int)")
	exec("INSERT INTO t VALUES (1)")
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if c.Running() {
		t.Fatal("still running after Stop")
	}
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("ping succeeded while stopped")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exec("INSERT INTO t VALUES (2)")
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Errorf("%d rows after stop, start, kill, start; want 2", n)
	}
}
