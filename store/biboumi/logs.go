package biboumi

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"mellium.im/xmpp/jid"

	"biboumi/store"
	"biboumi/store/sqlstore"
)

// CountLogs implements store.LogScanner. Source ids are muclogline_.id_.
func (r *Reader) CountLogs(ctx context.Context, after, upTo int64) (int64, error) {
	if upTo <= 0 {
		upTo = math.MaxInt64
	}
	var n int64
	err := r.db.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM muclogline_ WHERE id_ > CAST($1 AS BIGINT) AND id_ <= CAST($2 AS BIGINT)", after, upTo).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("biboumi: counting log rows: %w", err)
	}
	return n, nil
}

// logColumns are read from muclogline_, in rawLine's order.
var logColumns = []string{"id_", "uuid_", "owner_", "ircchanname_", "ircservername_", "date_", "body_", "nick_"}

// rawLine is a muclogline_ row as stored; any column but id_ may be NULL.
type rawLine struct {
	id                           int64
	uuid, owner, channel, server sql.NullString
	date                         sql.NullInt64
	body, nick                   sql.NullString
}

func (l *rawLine) dest() []any {
	return []any{&l.id, &l.uuid, &l.owner, &l.channel, &l.server, &l.date, &l.body, &l.nick}
}

// ScanLogs implements store.LogScanner.
func (r *Reader) ScanLogs(ctx context.Context, after, upTo int64, size int, f func(*store.LogBatch) error) error {
	if upTo <= 0 {
		upTo = math.MaxInt64
	}
	size = max(size, 1)
	if r.logsByPage {
		return r.scanPages(ctx, after, upTo, size, f)
	}
	return r.scanStream(ctx, after, upTo, size, f)
}

// duplicateIDs returns, for each uuid_ that more than one row has, the
// lowest id_ among those rows.
func (r *Reader) duplicateIDs(ctx context.Context, q querier) (map[string]int64, error) {
	dups := map[string]int64{}
	if !r.cols["muclogline_"]["uuid_"] {
		return dups, nil
	}
	rows, err := q.QueryContext(ctx,
		"SELECT uuid_, MIN(id_) FROM muclogline_ WHERE uuid_ IS NOT NULL AND uuid_ <> '' GROUP BY uuid_ HAVING COUNT(*) > 1")
	if err != nil {
		return nil, fmt.Errorf("biboumi: looking for duplicate uuid_: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u string
		var id int64
		if err := rows.Scan(&u, &id); err != nil {
			return nil, err
		}
		dups[u] = id
	}
	return dups, rows.Err()
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// scanPages reads SQLite's muclogline_ page by page along its rowid, each
// page in its own short read: a live Biboumi (rollback journal) cannot
// commit while a read is open.
func (r *Reader) scanPages(ctx context.Context, after, upTo int64, size int, f func(*store.LogBatch) error) error {
	dups, err := r.duplicateIDs(ctx, r.db)
	if err != nil {
		return err
	}
	conv := newConverter(dups)
	q := r.selectCols("muclogline_", logColumns...) +
		" WHERE id_ > CAST($1 AS BIGINT) AND id_ <= CAST($2 AS BIGINT) ORDER BY id_ LIMIT $3"
	for {
		b := conv.newBatch(after, size)
		err := func() error {
			rows, err := r.db.QueryContext(ctx, q, after, upTo, size)
			if err != nil {
				return err
			}
			defer rows.Close()
			var raw rawLine
			dest := raw.dest()
			for rows.Next() {
				if err := rows.Scan(dest...); err != nil {
					return err
				}
				conv.add(b, &raw)
			}
			return rows.Err()
		}()
		if err != nil {
			return fmt.Errorf("biboumi: reading muclogline_ after id_ %d: %w", after, err)
		}
		if b.Rows == 0 {
			return nil
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

// scanStream reads muclogline_ in one query ordered by id_, in a
// REPEATABLE READ snapshot shared with the duplicate search: without an
// index on id_ (PostgreSQL), paging would sort the whole table once per
// page. Rows that share an id_ come out ordered by their content, so the
// order, and the IDs derived from it, are the same on every scan.
func (r *Reader) scanStream(ctx context.Context, after, upTo int64, size int, f func(*store.LogBatch) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if r.driver == store.DriverPostgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := r.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("biboumi: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	dups, err := r.duplicateIDs(ctx, tx)
	if err != nil {
		return err
	}
	conv := newConverter(dups)
	order := " ORDER BY id_"
	for _, c := range []string{"uuid_", "owner_", "ircservername_", "ircchanname_", "date_", "nick_", "body_"} {
		if r.cols["muclogline_"][c] {
			order += ", " + c
		}
	}
	rows, err := tx.QueryContext(ctx, r.selectCols("muclogline_", logColumns...)+
		" WHERE id_ > CAST($1 AS BIGINT) AND id_ <= CAST($2 AS BIGINT)"+order, after, upTo)
	if err != nil {
		return fmt.Errorf("biboumi: reading muclogline_: %w", err)
	}
	defer rows.Close()
	b := conv.newBatch(after, size)
	var raw rawLine
	dest := raw.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("biboumi: reading muclogline_ after id_ %d: %w", b.Last, err)
		}
		// A full batch ends where the id_ changes.
		if b.Rows >= int64(size) && raw.id != b.Last {
			if err := f(b); err != nil {
				return err
			}
			b = conv.newBatch(b.Last, size)
		}
		conv.add(b, &raw)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("biboumi: reading muclogline_: %w", err)
	}
	if b.Rows > 0 {
		return f(b)
	}
	return nil
}

// converter turns muclogline_ rows into lines. It keeps the state that
// spans rows: parsed owners, and the group of rows sharing an id_.
type converter struct {
	dups   map[string]int64 // duplicated uuid_ → lowest id_ having it
	owners map[string]ownerResult
	// The current id_ group: its id_, how many rows were seen, and which
	// uuid_ values it gave out already.
	groupID   int64
	groupSize int
	groupIDs  map[string]bool
	prev      rawLine // the previous row of the group
}

type ownerResult struct {
	j   jid.JID
	err error
}

func newConverter(dups map[string]int64) *converter {
	return &converter{dups: dups, owners: map[string]ownerResult{}, groupID: math.MinInt64}
}

func (c *converter) newBatch(after int64, size int) *store.LogBatch {
	return &store.LogBatch{After: after, Last: after, Lines: make([]store.SourceLine, 0, min(size, 65536))}
}

// ownerCacheMax bounds the cache of parsed owners.
const ownerCacheMax = 100_000

func (c *converter) owner(s string) (jid.JID, error) {
	if o, ok := c.owners[s]; ok {
		return o.j, o.err
	}
	j, err := sqlstore.ParseOwner(s)
	if len(c.owners) < ownerCacheMax {
		c.owners[s] = ownerResult{j, err}
	}
	return j, err
}

// add converts raw and adds it to b, as a line or as a skipped row.
func (c *converter) add(b *store.LogBatch, raw *rawLine) {
	if raw.id != c.groupID {
		c.groupID, c.groupSize = raw.id, 0
		clear(c.groupIDs)
	}
	k := c.groupSize
	c.groupSize++
	b.Last = raw.id
	b.Rows++
	if k > 0 && *raw == c.prev {
		// The same row loaded twice (PostgreSQL has no key to prevent it):
		// copying it would show the message twice.
		b.Skipped = append(b.Skipped, store.CopyIssue{Table: "muclogline_", SrcID: raw.id,
			Reason: "exact duplicate of another row with this id_"})
		return
	}
	c.prev = *raw

	owner, err := c.owner(raw.owner.String)
	if err != nil {
		b.Skipped = append(b.Skipped, store.CopyIssue{Table: "muclogline_", SrcID: raw.id, Reason: "owner_: " + err.Error()})
		return
	}
	id := raw.uuid.String
	if first, dup := c.dups[id]; id == "" || (dup && (first != raw.id || c.groupIDs[id])) {
		id = DerivedID(raw.id, k)
		b.NewIDs++
	} else if dup {
		// The first row of a duplicated uuid_ keeps it; rows of the same
		// id_ group that repeat it do not.
		if c.groupIDs == nil {
			c.groupIDs = map[string]bool{}
		}
		c.groupIDs[id] = true
	}
	b.Lines = append(b.Lines, store.SourceLine{
		SrcID: raw.id,
		Line: store.LogLine{
			ID:      id,
			Owner:   owner,
			Server:  raw.server.String,
			Channel: raw.channel.String,
			Time:    time.Unix(raw.date.Int64, 0).UTC(),
			Nick:    raw.nick.String,
			Body:    raw.body.String,
		},
	})
}
