package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"biboumi/store"
)

// logRow is a LogLine in its stored form.
type logRow struct {
	uuid, owner, server, channel string
	timeUS                       int64
	nick, body                   string
}

const logColumns = 7 // parameters per row in the INSERT

// AppendLog implements store.Store.
func (s *Store) AppendLog(ctx context.Context, l *store.LogLine) error {
	return s.AppendLogs(ctx, []*store.LogLine{l})
}

// AppendLogs implements store.Store.
//
// Rows go in with multi-row INSERT … ON CONFLICT (uuid) DO NOTHING
// RETURNING, one statement per dialect.logChunk lines. A line
// that RETURNING leaves out already existed: it is looked up by UUID, and is
// either our own earlier insert (a retry after a lost connection, or the
// same line twice) or a conflict.
func (s *Store) AppendLogs(ctx context.Context, lines []*store.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	now := time.Now()
	rows := make([]logRow, len(lines))
	for i, l := range lines {
		if l == nil {
			return fmt.Errorf("sqlstore: append logs: line %d is nil", i)
		}
		if err := checkJID("owner", l.Owner); err != nil {
			return err
		}
		// Filled before the first attempt, so that a retry inserts the
		// same UUIDs and recognises them.
		if l.ID == "" {
			l.ID = newID()
		}
		if l.Time.IsZero() {
			l.Time = now
		}
		rows[i] = logRow{l.ID, key(l.Owner), l.Server, l.Channel, l.Time.UnixMicro(), l.Nick, l.Body}
	}
	seqs := make([]int64, len(rows))
	err := s.do(ctx, "append logs", func(ctx context.Context) error {
		clear(seqs)
		if len(rows) == 1 {
			// No transaction: one statement is atomic, and this saves the
			// BEGIN and COMMIT round trips on the hot path.
			return s.insertLogs(ctx, s.w, rows, seqs)
		}
		return s.inTx(ctx, func(tx *sql.Tx) error { return s.insertLogs(ctx, tx, rows, seqs) })
	})
	if err != nil {
		return err
	}
	for i, l := range lines {
		l.Seq = seqs[i]
		l.Time = time.UnixMicro(rows[i].timeUS).UTC()
		l.Owner = l.Owner.Bare()
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertLogs inserts rows and sets seqs[i] to the seq of rows[i].
func (s *Store) insertLogs(ctx context.Context, q querier, rows []logRow, seqs []int64) error {
	chunk := s.d.logChunk
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		if err := s.insertLogChunk(ctx, q, rows[start:end], seqs[start:end]); err != nil {
			return err
		}
	}
	for i, r := range rows {
		if seqs[i] != 0 {
			continue
		}
		seq, err := existingLog(ctx, q, r)
		if err != nil {
			return err
		}
		seqs[i] = seq
	}
	return nil
}

func (s *Store) insertLogChunk(ctx context.Context, q querier, rows []logRow, seqs []int64) error {
	var b strings.Builder
	b.WriteString("INSERT INTO muc_log (uuid, owner, server, channel, time_us, nick, body) VALUES ")
	args := make([]any, 0, len(rows)*logColumns)
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		if s.d.name == "sqlite" {
			// Positional "?" binds in constant time; SQLite looks "$N" up
			// by name with a linear search, which makes a chunk O(n²)
			// (measured in the fan-out profile: ~30% of the gateway's CPU).
			b.WriteString("?, ?, ?, ?, ?, ?, ?")
		} else {
			placeholders(&b, len(args)+1, logColumns)
		}
		b.WriteByte(')')
		args = append(args, r.uuid, r.owner, r.server, r.channel, r.timeUS, r.nick, r.body)
	}
	b.WriteString(" ON CONFLICT (uuid) DO NOTHING RETURNING uuid, seq")

	res, err := q.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return err
	}
	defer res.Close()
	// RETURNING order is not specified: match rows by UUID. Seq follows
	// VALUES order in both engines.
	index := make(map[string]int, len(rows))
	for i := len(rows) - 1; i >= 0; i-- {
		index[rows[i].uuid] = i // the first occurrence of a duplicate wins
	}
	for res.Next() {
		var id string
		var seq int64
		if err := res.Scan(&id, &seq); err != nil {
			return err
		}
		if i, ok := index[id]; ok {
			seqs[i] = seq
		}
	}
	return res.Err()
}

// existingLog returns the seq of the stored line with r's UUID if it has
// r's content, and store.ErrConflict if it differs.
func existingLog(ctx context.Context, q querier, r logRow) (int64, error) {
	var seq int64
	var got logRow
	err := q.QueryRowContext(ctx, "SELECT seq, owner, server, channel, time_us, nick, body FROM muc_log WHERE uuid = $1", r.uuid).
		Scan(&seq, &got.owner, &got.server, &got.channel, &got.timeUS, &got.nick, &got.body)
	if errors.Is(err, sql.ErrNoRows) {
		// Inserting did nothing, yet nothing is there: it was purged in
		// between. Rare enough to report rather than loop.
		return 0, fmt.Errorf("%w: log line %s vanished while being appended", store.ErrConflict, r.uuid)
	}
	if err != nil {
		return 0, err
	}
	got.uuid = r.uuid
	if got != r {
		return 0, fmt.Errorf("%w: log line id %s is already archived with other content", store.ErrConflict, r.uuid)
	}
	return seq, nil
}

// ListLogs implements store.Store.
func (s *Store) ListLogs(ctx context.Context, q store.LogQuery) (store.LogPage, error) {
	if err := checkJID("owner", q.Owner); err != nil {
		return store.LogPage{}, err
	}
	if len(q.IDs) > store.MaxLogLimit {
		return store.LogPage{}, fmt.Errorf("sqlstore: %d ids in one query, at most %d", len(q.IDs), store.MaxLogLimit)
	}
	owner := q.Owner.Bare()
	limit := q.PageSize()
	backward := q.Backward()
	var page store.LogPage
	err := s.do(ctx, "list logs", func(ctx context.Context) error {
		page = store.LogPage{}
		var bounds seqBounds
		for _, bound := range []struct {
			id  string
			seq *int64
		}{{q.AfterID, &bounds.after}, {q.BeforeID, &bounds.before}} {
			if bound.id == "" {
				continue
			}
			err := s.r.QueryRowContext(ctx, seqOfUUID, bound.id, owner.String(), q.Server, q.Channel).Scan(bound.seq)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: no log line %q in this archive", store.ErrNotFound, bound.id)
			}
			if err != nil {
				return err
			}
		}
		query, args := s.logsStatement(q, bounds)
		rows, err := s.r.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		lines := make([]store.LogLine, 0, min(limit+1, 64))
		for rows.Next() {
			l := store.LogLine{Owner: owner, Server: q.Server, Channel: q.Channel}
			var us int64
			if err := rows.Scan(&l.Seq, &l.ID, &us, &l.Nick, &l.Body); err != nil {
				return err
			}
			l.Time = time.UnixMicro(us).UTC()
			lines = append(lines, l)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		page.Complete = len(lines) <= limit
		if !page.Complete {
			lines = lines[:limit]
		}
		if backward {
			slices.Reverse(lines)
		}
		page.Lines = lines
		return nil
	})
	return page, err
}

// seqOfUUID finds the seq of an AfterID or BeforeID in its archive.
const seqOfUUID = "SELECT seq FROM muc_log WHERE uuid = $1 AND owner = $2 AND server = $3 AND channel = $4"

// seqBounds are the exclusive seq bounds of a page, from the query's
// AfterID and BeforeID; 0 is no bound (seqs start at 1).
type seqBounds struct{ after, before int64 }

// logsStatement returns the statement that selects q's page (one line
// more than the page size, which tells whether it is complete), in paging
// order.
//
// A time window is found through the muc_log_time index, and its lines
// must then be put in seq order. Both engines need help when the window
// is wide (a client catching up on a week of a busy channel), as measured
// by BenchmarkArchive's wide-* cases:
//   - SQLite sorts whole rows in a temporary B-tree; the statement instead
//     sorts the seqs alone, which the time index holds, and reads the
//     page's rows by primary key (a deferred join);
//   - pgx prepares statements, and after five runs PostgreSQL switches to
//     a generic plan that sorts the whole window; the statement runs
//     unprepared (QueryExecModeExec), so each run is planned for its own
//     bounds.
func (s *Store) logsStatement(q store.LogQuery, bounds seqBounds) (string, []any) {
	var b strings.Builder
	args := []any{q.Owner.Bare().String(), q.Server, q.Channel}
	b.WriteString("owner = $1 AND server = $2 AND channel = $3")
	if bounds.after != 0 {
		args = append(args, bounds.after)
		fmt.Fprintf(&b, " AND seq > $%d", len(args))
	}
	if bounds.before != 0 {
		args = append(args, bounds.before)
		fmt.Fprintf(&b, " AND seq < $%d", len(args))
	}
	if len(q.IDs) > 0 {
		b.WriteString(" AND uuid IN (")
		for i, id := range q.IDs {
			if i > 0 {
				b.WriteString(", ")
			}
			args = append(args, id)
			fmt.Fprintf(&b, "$%d", len(args))
		}
		b.WriteString(")")
	}
	window := !q.Start.IsZero() || !q.End.IsZero()
	if !q.Start.IsZero() {
		args = append(args, ceilMicro(q.Start))
		fmt.Fprintf(&b, " AND time_us >= $%d", len(args))
	}
	if !q.End.IsZero() {
		args = append(args, q.End.UnixMicro())
		fmt.Fprintf(&b, " AND time_us <= $%d", len(args))
	}
	order := " ORDER BY seq"
	if q.Backward() {
		order += " DESC"
	}
	args = append(args, q.PageSize()+1)
	where := b.String()
	const cols = "SELECT seq, uuid, time_us, nick, body FROM muc_log"
	switch {
	case window && s.d.deferredWindow:
		return fmt.Sprintf("%s WHERE seq IN (SELECT seq FROM muc_log WHERE %s%s LIMIT $%d)%s", cols, where, order, len(args), order), args
	case window && s.d.windowMode != nil:
		return fmt.Sprintf("%s WHERE %s%s LIMIT $%d", cols, where, order, len(args)), append([]any{s.d.windowMode}, args...)
	}
	return fmt.Sprintf("%s WHERE %s%s LIMIT $%d", cols, where, order, len(args)), args
}

// ceilMicro returns t in microseconds, rounded up, so that an inclusive
// start bound with sub-microsecond digits does not include earlier lines.
func ceilMicro(t time.Time) int64 {
	us := t.UnixMicro()
	if time.UnixMicro(us).Before(t) {
		us++
	}
	return us
}

// purgeBatch is how many lines PurgeLogs deletes per transaction: small
// enough that SQLite's single writer is never held for long.
const purgeBatch = 1000

// PurgeLogs implements store.Store.
//
// Each round finds, on the read pool, the highest seq among the oldest
// purgeBatch lines to delete, then deletes lines up to that seq that are
// old enough, using the primary key. The scan for old lines never runs
// inside a write transaction. If a round's commit is lost with the
// connection and retried, its lines are not counted.
func (s *Store) PurgeLogs(ctx context.Context, before time.Time) (int64, error) {
	cutoff := ceilMicro(before)
	var total int64
	for {
		var n int64
		err := s.do(ctx, "purge logs", func(ctx context.Context) error {
			n = 0
			var maxSeq sql.NullInt64
			err := s.r.QueryRowContext(ctx,
				"SELECT MAX(seq) FROM (SELECT seq FROM muc_log WHERE time_us < $1 ORDER BY seq LIMIT $2) AS old",
				cutoff, purgeBatch).Scan(&maxSeq)
			if err != nil || !maxSeq.Valid {
				return err
			}
			res, err := s.w.ExecContext(ctx, "DELETE FROM muc_log WHERE seq <= $1 AND time_us < $2", maxSeq.Int64, cutoff)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			if err == nil && n == 0 {
				n = -1 // found lines that another purge deleted: look again
			}
			return err
		})
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		total += max(n, 0)
	}
}

// newID returns a new log line ID: a UUIDv7 (RFC 9562). Its time-ordered
// prefix makes inserts into the UNIQUE index on uuid append at the end,
// where random UUIDv4s would dirty pages all over it (measured on SQLite:
// about 8 times the write cost per line). It is still an opaque, globally
// unique id for MAM and XEP-0359.
func newID() string {
	id, err := uuid.NewV7()
	if err != nil { // the system random source failed
		return uuid.NewString()
	}
	return id.String()
}
