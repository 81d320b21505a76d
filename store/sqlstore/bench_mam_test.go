package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"mellium.im/xmpp/jid"

	"biboumi/internal/pgtest"
	"biboumi/migrations"
	"biboumi/store"
)

// BenchmarkArchive measures the archive on 1,000,000 lines: 10 owners ×
// 100 channels of one IRC server, 1,000 lines per (owner, channel) archive,
// spread over 100 days. Run it with
//
//	make bench-archive
//	BIBOUMI_TEST_PG_FSYNC=on go test -run '^$' -bench BenchmarkArchive -count 6 -timeout 30m ./store/sqlstore/
//
// Sub-benchmarks are engine/operation. The queries are those of
// ircbridge/mam.go and of the join history:
//
//   - last50: Last, Limit 50 (the join history; MAM with RSM <before/>);
//   - day: Start and End one day apart, Limit 100 (about 10 lines match);
//   - after: AfterID the 500th line of the archive, Limit 100 (forward
//     paging from the middle: the id lookup, then the page).
//
// Each iteration queries a random archive (fixed seed). Besides ns/op (the
// mean) each reports the median and 99th percentile of the per-query
// latencies, p50-µs and p99-µs. The target is p99 under 5 ms.
//
// The writes append to the same archive what ircbridge's archiver writes:
// one AppendLogs of 256 lines (its group commit) per iteration, lines
// round-robin over the 1,000 archives, reported as lines/s:
//
//   - append256-v4: random UUIDv4 ids, as ircbridge's newID gives live
//     lines;
//   - append256-v7: time-ordered UUIDv7 ids, as sqlstore's newID gives
//     lines that come without one.
//
// The SQLite writes go to a copy of the cached fixture; the PostgreSQL ones
// to the fixture itself, after the queries.
//
// The fixture is laid out as the live gateway writes it: each channel
// message is copied to the 10 owners' archives in a row (consecutive seqs),
// one message every 86.4 s round-robin over the channels, ids are random
// UUIDs and the indexes are maintained row by row, not built afterwards.
//
//   - SQLite: a file on disk, generated once with plain SQL and cached in
//     os.TempDir() under a name holding the line count, the fixture layout
//     version and the schema version (about 15 s, 350 MB). It is not
//     ANALYZEd: the gateway never runs ANALYZE on SQLite, so its planner
//     has no statistics either.
//   - PostgreSQL: pgtest's private cluster, with fsync on only when
//     BIBOUMI_TEST_PG_FSYNC=on (logged). Loaded with one INSERT … SELECT
//     from generate_series (about 20 s), then VACUUM ANALYZE, which is
//     what autovacuum does to an insert-only table, and CHECKPOINT, so
//     that flushing the load does not land in the measurements.
//
// Queries run with a warm OS page cache. BIBOUMI_BENCH_MAM_LINES changes
// the line count (a multiple of 1,000; default 1,000,000).
//
// Each query's plan is logged once per engine (SQLite: EXPLAIN QUERY PLAN;
// PostgreSQL: EXPLAIN ANALYZE of the custom and of the generic plan, since
// pgx prepares statements and PostgreSQL may switch to the generic plan
// after five executions), with how the fixture was made.
func BenchmarkArchive(b *testing.B) {
	n := mamLines(b)
	b.Run("sqlite", func(b *testing.B) {
		path := mamSQLiteFixture(b, n)
		s, err := Open(b.Context(), store.DriverSQLite, path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		mamRun(b, s, n)
		for _, ids := range []string{"v4", "v7"} {
			b.Run("append256-"+ids, func(b *testing.B) {
				cp := filepath.Join(b.TempDir(), "archive.sqlite")
				mamCopyFile(b, path, cp)
				s, err := Open(b.Context(), store.DriverSQLite, cp, Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				mamAppend(b, s, ids)
			})
		}
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := pgtest.DSN(b)
		s, err := Open(b.Context(), store.DriverPostgres, dsn, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		mamPostgresFixture(b, s, n)
		mamRun(b, s, n)
		for _, ids := range []string{"v4", "v7"} {
			b.Run("append256-"+ids, func(b *testing.B) { mamAppend(b, s, ids) })
		}
	})
}

// The fixture's shape. Lines i = 0 … n-1: message m = i / mamOwners goes
// to channel m % mamChannels at mamT0 + m·step, and is copied to owner
// i % mamOwners.
const (
	mamOwners   = 10
	mamChannels = 100
	mamArchives = mamOwners * mamChannels
	mamDays     = 100
	mamServer   = "irc.libera.chat"
	// mamLayout is the fixture layout version, part of the cache file
	// name: bump it when the generator changes.
	mamLayout = 1
	// mamBody is cut to 20 … 119 bytes for the line bodies.
	mamBody = "so I rebased the branch on main and the tests that failed yesterday pass now, " +
		"but the benchmark numbers moved by a lot, which is odd"
)

var mamT0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func mamLines(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("BIBOUMI_BENCH_MAM_LINES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 2*mamArchives || v%mamArchives != 0 {
			b.Fatalf("BIBOUMI_BENCH_MAM_LINES=%q: want a multiple of %d", s, mamArchives)
		}
		n = v
	}
	return n
}

// mamStepUS is the time between two messages, in microseconds.
func mamStepUS(n int) int64 {
	return int64(mamDays) * 86_400_000_000 / int64(n/mamOwners)
}

func mamOwner(o int) jid.JID      { return jid.MustParse(fmt.Sprintf("user%d@example.org", o)) }
func mamChannel(c int) string     { return fmt.Sprintf("#channel%d", c) }
func mamArchive(a int) (int, int) { return a % mamOwners, a / mamOwners } // owner, channel

// mamSQLiteFixture returns the path of the cached SQLite fixture of n
// lines, generating it when missing.
func mamSQLiteFixture(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("biboumi-bench-mam-%d-l%d-v%d.sqlite",
		n, mamLayout, len(migrations.List("sqlite"))))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	start := time.Now()
	ctx := context.Background()
	tmp := path + ".tmp"
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(tmp + suffix)
	}
	s, err := Open(ctx, store.DriverSQLite, tmp, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	// synchronous(OFF) and a big page cache: the generation is not what
	// is measured. The indexes are still maintained row by row.
	db, err := sql.Open("sqlite", "file:"+tmp+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=cache_size(-262144)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// Random UUIDv4-shaped ids, as ircbridge's newID gives live lines.
	_, err = db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1 - 1)
INSERT INTO muc_log (uuid, owner, server, channel, time_us, nick, body)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
		hex(randomblob(2)) || '-' || hex(randomblob(6))),
	'user' || (i % $2) || '@example.org',
	$3,
	'#channel' || ((i / $2) % $4),
	$5 + (i / $2) * $6,
	'nick' || ((i / $2) % 37),
	substr($7, 1, 20 + ((i / $2) * 7919) % 100)
FROM n`, n, mamOwners, mamServer, mamChannels, mamT0.UnixMicro(), mamStepUS(n), mamBody)
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
	msg := fmt.Sprintf("generated %s (%d lines) in %v", path, n, time.Since(start).Round(time.Millisecond))
	b.Log(msg)
	mamFixtureNotes.Store("sqlite", msg)
	return path
}

// mamPostgresFixture loads n lines into s, then VACUUM ANALYZEs muc_log.
func mamPostgresFixture(b *testing.B, s *Store, n int) {
	b.Helper()
	ctx := context.Background()
	var fsync string
	if err := s.w.QueryRowContext(ctx, "SHOW fsync").Scan(&fsync); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	// md5(i) gives random-looking, UUIDv4-shaped ids (deterministic).
	_, err := s.w.ExecContext(ctx, `INSERT INTO muc_log (uuid, owner, server, channel, time_us, nick, body)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-' || substr(h, 17, 4) || '-' || substr(h, 21, 12),
	'user' || (i % $2) || '@example.org',
	$3,
	'#channel' || ((i / $2) % $4),
	$5 + (i / $2) * $6,
	'nick' || ((i / $2) % 37),
	substr($7, 1, (20 + ((i / $2) * 7919) % 100)::int)
FROM generate_series(0::bigint, $1::bigint - 1) AS i, LATERAL md5(i::text) AS h`,
		n, mamOwners, mamServer, mamChannels, mamT0.UnixMicro(), mamStepUS(n), mamBody)
	if err != nil {
		b.Fatal(err)
	}
	loaded := time.Since(start)
	// VACUUM ANALYZE: what autovacuum does to an insert-only table.
	// CHECKPOINT: flush the load's dirty pages now, so that the
	// checkpoint they would trigger does not land in the measurements.
	for _, cmd := range []string{"VACUUM ANALYZE muc_log", "CHECKPOINT"} {
		if _, err := s.w.ExecContext(ctx, cmd); err != nil {
			b.Fatalf("%s: %v", cmd, err)
		}
	}
	var size int64
	if err := s.w.QueryRowContext(ctx, "SELECT pg_total_relation_size('muc_log')").Scan(&size); err != nil {
		b.Fatal(err)
	}
	msg := fmt.Sprintf("postgres (fsync=%s): loaded %d lines in %v, VACUUM ANALYZE and CHECKPOINT %v; muc_log with indexes %d MiB",
		fsync, n, loaded.Round(time.Millisecond), (time.Since(start) - loaded).Round(time.Millisecond), size>>20)
	b.Log(msg)
	mamFixtureNotes.Store("postgres", msg)
}

// mamCase is one query shape.
type mamCase struct {
	name    string
	queries []store.LogQuery // cycled through
	want    func(store.LogPage) error
	window  bool // time-bounded: also run with the plain statement
}

// mamCases builds the query shapes over a fixture of n lines, each with
// queries on random archives.
func mamCases(b *testing.B, s *Store, n int) []mamCase {
	b.Helper()
	const count = 4096
	perArchive := n / mamArchives
	rnd := rand.New(rand.NewPCG(1, 2))
	archive := func() store.LogQuery {
		o, c := mamArchive(rnd.IntN(mamArchives))
		return store.LogQuery{Owner: mamOwner(o), Server: mamServer, Channel: mamChannel(c)}
	}

	// The id of the middle line of every archive, for "after".
	mid := make([]string, mamArchives)
	for a := range mid {
		o, c := mamArchive(a)
		err := s.r.QueryRowContext(b.Context(),
			"SELECT uuid FROM muc_log WHERE owner = $1 AND server = $2 AND channel = $3 ORDER BY seq LIMIT 1 OFFSET $4",
			mamOwner(o).String(), mamServer, mamChannel(c), perArchive/2-1).Scan(&mid[a])
		if err != nil {
			b.Fatalf("archive %d: %v", a, err)
		}
	}

	var last, day, after, wideLast, wideFirst []store.LogQuery
	for range count {
		q := archive()
		q.Last, q.Limit = true, 50
		last = append(last, q)

		q = archive()
		d := rnd.IntN(mamDays - 1)
		q.Start = mamT0.Add(time.Duration(d)*24*time.Hour + time.Duration(rnd.Int64N(int64(24*time.Hour))))
		q.End = q.Start.Add(24 * time.Hour)
		q.Limit = 100
		day = append(day, q)

		a := rnd.IntN(mamArchives)
		o, c := mamArchive(a)
		after = append(after, store.LogQuery{Owner: mamOwner(o), Server: mamServer, Channel: mamChannel(c),
			AfterID: mid[a], Limit: 100})

		q = archive()
		q.Start, q.End, q.Limit = mamT0, mamT0.Add(mamDays*24*time.Hour), 100
		wideFirst = append(wideFirst, q)
		q.Last = true
		wideLast = append(wideLast, q)
	}
	// A day holds perArchive/mamDays messages of a channel, give or take
	// one at the edges.
	perDay := perArchive / mamDays
	return []mamCase{
		{"last50", last, func(p store.LogPage) error {
			if want, complete := min(50, perArchive), perArchive <= 50; len(p.Lines) != want || p.Complete != complete {
				return fmt.Errorf("%d lines, complete %v; want %d, %v", len(p.Lines), p.Complete, want, complete)
			}
			return nil
		}, false},
		{"day", day, func(p store.LogPage) error {
			if len(p.Lines) < perDay-1 || len(p.Lines) > min(perDay+1, 100) {
				return fmt.Errorf("%d lines; want about %d", len(p.Lines), perDay)
			}
			return nil
		}, true},
		{"after", after, func(p store.LogPage) error {
			if want := min(100, perArchive-perArchive/2); len(p.Lines) != want {
				return fmt.Errorf("%d lines; want %d", len(p.Lines), want)
			}
			return nil
		}, false},
		{"wide-first", wideFirst, wholeArchivePage(perArchive), true},
		{"wide-last", wideLast, wholeArchivePage(perArchive), true},
	}
}

// wholeArchivePage checks a page of 100 from a window that holds all the
// perArchive lines of an archive.
func wholeArchivePage(perArchive int) func(store.LogPage) error {
	return func(p store.LogPage) error {
		if want, complete := min(100, perArchive), perArchive <= 100; len(p.Lines) != want || p.Complete != complete {
			return fmt.Errorf("%d lines, complete %v; want %d, %v", len(p.Lines), p.Complete, want, complete)
		}
		return nil
	}
}

// mamRun runs the query shapes as sub-benchmarks of b. A time-bounded
// shape runs twice: stmt=tuned is ListLogs as it is, stmt=plain the same
// with the engine's plain statement (no deferred join on SQLite; a
// prepared, cached statement on PostgreSQL), so the gain of
// logsStatement's tuning stays measured.
func mamRun(b *testing.B, s *Store, n int) {
	tuned := s.d
	plain := *s.d
	plain.deferredWindow, plain.windowMode = false, nil
	defer func() { s.d = tuned }()
	for _, c := range mamCases(b, s, n) {
		variants := []struct {
			name string
			d    *dialect
		}{{c.name, tuned}}
		if c.window {
			variants = []struct {
				name string
				d    *dialect
			}{{c.name + "/stmt=plain", &plain}, {c.name + "/stmt=tuned", tuned}}
		}
		for _, v := range variants {
			s.d = v.d
			mamRunCase(b, s, v.name, c)
		}
	}
}

// mamRunCase runs one query shape as the sub-benchmark name of b.
func mamRunCase(b *testing.B, s *Store, name string, c mamCase) {
	b.Run(name, func(b *testing.B) {
		ctx := b.Context()
		durs := make([]time.Duration, 0, 1<<15)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			q := c.queries[i%len(c.queries)]
			i++
			start := time.Now()
			page, err := s.ListLogs(ctx, q)
			durs = append(durs, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			if err := c.want(page); err != nil {
				b.Fatalf("%s %+v: %v", c.name, q, err)
			}
		}
		mamPercentiles(b, durs)
		mamExplainOnce(b, s, name, c.queries[0])
	})
}

// mamPercentiles reports the median and the 99th percentile of durs
// (nearest rank) as p50-µs and p99-µs.
func mamPercentiles(b *testing.B, durs []time.Duration) {
	if len(durs) == 0 {
		return
	}
	slices.Sort(durs)
	at := func(p float64) float64 {
		k := int(p*float64(len(durs))+0.999999) - 1
		return float64(durs[max(0, min(k, len(durs)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// mamExplained remembers which plans were logged: once per engine and
// query shape, not at every -count round.
var mamExplained sync.Map

// mamExplainOnce logs the plan of the statements ListLogs runs for q.
func mamExplainOnce(b *testing.B, s *Store, name string, q store.LogQuery) {
	if _, done := mamExplained.LoadOrStore(s.d.name+"/"+name, true); done {
		return
	}
	ctx := b.Context()
	owner := q.Owner.String()
	type stmt struct {
		sql  string
		args []any
	}
	var stmts []stmt
	// The statements of logs.go's ListLogs.
	var bounds seqBounds
	if q.AfterID != "" {
		lookupArgs := []any{q.AfterID, owner, q.Server, q.Channel}
		if err := s.r.QueryRowContext(ctx, seqOfUUID, lookupArgs...).Scan(&bounds.after); err != nil {
			b.Fatal(err)
		}
		stmts = append(stmts, stmt{seqOfUUID, lookupArgs})
	}
	query, args := s.logsStatement(q, bounds)
	if len(args) > 0 {
		if _, ok := args[0].(pgx.QueryExecMode); ok {
			args = args[1:] // an option of pgx, not a parameter
		}
	}
	stmts = append(stmts, stmt{query, args})

	// One line per plan: testing keeps only the first 10 lines of a
	// benchmark's log.
	for i, st := range stmts {
		switch s.d.name {
		case "sqlite":
			b.Logf("plan %s #%d: %s", name, i+1, strings.Join(sqlitePlan(b, s, st.sql, st.args), "; "))
		case "postgres":
			for _, mode := range []string{"custom", "generic"} {
				b.Logf("plan %s #%d %s: %s", name, i+1, mode, strings.Join(postgresPlan(b, s, "force_"+mode+"_plan", st.sql, st.args), "; "))
			}
		}
	}
	if msg, ok := mamFixtureNotes.LoadAndDelete(s.d.name); ok {
		b.Log(msg)
	}
}

// mamFixtureNotes holds, per engine, how its fixture was made, for the
// first sub-benchmark to log (a parent benchmark's log shows only with -v).
var mamFixtureNotes sync.Map

func sqlitePlan(b *testing.B, s *Store, query string, args []any) []string {
	rows, err := s.r.QueryContext(b.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			b.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return plan
}

// postgresPlan runs EXPLAIN (ANALYZE, BUFFERS) of the prepared statement
// query with args, under plan_cache_mode mode, on one connection.
func postgresPlan(b *testing.B, s *Store, mode, query string, args []any) []string {
	ctx := b.Context()
	conn, err := s.w.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	lits := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			lits[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		default:
			lits[i] = fmt.Sprint(v)
		}
	}
	var plan []string
	for _, cmd := range []string{
		"SET plan_cache_mode = " + mode,
		"PREPARE mam_explain AS " + query,
	} {
		if _, err := conn.ExecContext(ctx, cmd); err != nil {
			b.Fatalf("%s: %v", cmd, err)
		}
	}
	defer func() {
		conn.ExecContext(context.Background(), "DEALLOCATE mam_explain") //nolint:errcheck
		conn.ExecContext(context.Background(), "RESET plan_cache_mode")  //nolint:errcheck
	}()
	rows, err := conn.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE mam_explain("+strings.Join(lits, ", ")+")")
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			b.Fatal(err)
		}
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "->"))
		if strings.HasPrefix(line, "Buffers:") || strings.HasPrefix(line, "Planning") || strings.HasPrefix(line, "Sort Method") {
			continue
		}
		plan = append(plan, line)
	}
	return plan
}

// mamAppend appends batches of 256 lines to s, round-robin over the
// fixture's archives, with ids of the given kind ("v4" or "v7"), and
// reports lines/s.
func mamAppend(b *testing.B, s *Store, ids string) {
	ctx := b.Context()
	owners := make([]jid.JID, mamOwners)
	for o := range owners {
		owners[o] = mamOwner(o)
	}
	channels := make([]string, mamChannels)
	for c := range channels {
		channels[c] = mamChannel(c)
	}
	newID := uuid.NewString
	if ids == "v7" {
		newID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	batch := make([]*store.LogLine, 256)
	lines := 0
	for b.Loop() {
		now := time.Now()
		for j := range batch {
			o, c := mamArchive(lines % mamArchives)
			batch[j] = &store.LogLine{ID: newID(), Owner: owners[o], Server: mamServer, Channel: channels[c],
				Time: now, Nick: "bob", Body: mamBody[:60]}
			lines++
		}
		if err := s.AppendLogs(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}

func mamCopyFile(b *testing.B, src, dst string) {
	b.Helper()
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}
