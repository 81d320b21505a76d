package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"biboumi/internal/pgtest"
	"biboumi/migrations"
	"biboumi/store"
	"biboumi/store/sqlstore"
)

// BenchmarkMigrate copies an SQLite database of our schema holding
// benchLines log lines into PostgreSQL, through the same code as
// "biboumi-migrate copy" (default batch size), and reports:
//
//   - lines/s: the copy itself (the logs phase);
//   - verified-lines/s: the whole store.Copy, with the verification that
//     reads the source again.
//
// Run it with
//
//	make bench-migrate
//	go test -run '^$' -bench BenchmarkMigrate -benchtime 1x ./cmd/biboumi-migrate/
//
// The source is generated once, with plain SQL, and kept in os.TempDir()
// under a name holding the line count and schema version, so reruns skip
// that step. BIBOUMI_BENCH_MIGRATE_LINES changes the line count (default
// 1,000,000). PostgreSQL is pgtest's private cluster, with fsync off
// unless BIBOUMI_TEST_PG_FSYNC=on.
func BenchmarkMigrate(b *testing.B) {
	lines := 1_000_000
	if s := os.Getenv("BIBOUMI_BENCH_MIGRATE_LINES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("BIBOUMI_BENCH_MIGRATE_LINES=%q", s)
		}
		lines = n
	}
	from := benchSource(b, lines)
	ctx := context.Background()
	var copyTime, allTime time.Duration
	for range b.N {
		b.StopTimer()
		to := pgtest.DSN(b)
		src, _, err := openSource(ctx, from)
		if err != nil {
			b.Fatal(err)
		}
		dst, err := sqlstore.OpenDBName(ctx, to, sqlstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		var logsStart, logsEnd time.Time
		b.StartTimer()
		start := time.Now()
		report, err := store.Copy(ctx, dst, src, store.CopyOptions{Progress: func(s store.CopyStatus) {
			if s.Phase == store.PhaseLogs && !s.Final && s.Done == 0 {
				logsStart = time.Now()
			}
			if s.Phase == store.PhaseLogs && s.Final {
				logsEnd = time.Now()
			}
		}})
		allTime += time.Since(start)
		b.StopTimer()
		copyTime += logsEnd.Sub(logsStart)
		if err != nil {
			b.Fatal(err)
		}
		if report.Run.Imported != int64(lines) || report.Verified != int64(lines) {
			b.Fatalf("copied %d, verified %d of %d lines", report.Run.Imported, report.Verified, lines)
		}
		src.Close()
		dst.Close()
	}
	total := float64(lines) * float64(b.N)
	b.ReportMetric(total/copyTime.Seconds(), "lines/s")
	b.ReportMetric(total/allTime.Seconds(), "verified-lines/s")
	b.ReportMetric(0, "ns/op") // one op is a whole migration: lines/s says it better
}

// benchSource returns the path of a cached SQLite database of our schema
// with n log lines (10 owners × 2 servers × 10 channels), creating it if
// needed.
func benchSource(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(os.TempDir(),
		fmt.Sprintf("biboumi-bench-migrate-%d-v%d.sqlite", n, len(migrations.List("sqlite"))))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	start := time.Now()
	ctx := context.Background()
	tmp := path + ".tmp"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(tmp + suffix)
	}
	s, err := sqlstore.OpenDBName(ctx, tmp, sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+tmp+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
INSERT INTO muc_log (uuid, owner, server, channel, time_us, nick, body)
SELECT printf('018c%04x-%04x-7000-8000-%012x', i >> 16, i & 65535, i),
	'user' || (i % 10) || '@example.org',
	CASE i % 2 WHEN 0 THEN 'irc.libera.chat' ELSE 'irc.oftc.net' END,
	'#channel' || ((i / 10) % 10),
	1700000000000000 + i * 1000000,
	'nick' || (i % 37),
	'a typical IRC line of moderate length, with a few words in it ' || i
FROM n`, n)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	db.Close()
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(tmp + suffix)
	}
	b.Logf("generated %s (%d lines) in %v", path, n, time.Since(start).Round(time.Millisecond))
	return path
}
