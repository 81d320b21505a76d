package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"mellium.im/xmpp/jid"

	"biboumi/store"
)

// Roster implements store.Store.
func (s *Store) Roster(ctx context.Context, q store.RosterQuery) ([]store.RosterItem, error) {
	var items []store.RosterItem
	err := s.do(ctx, "roster", func(ctx context.Context) error {
		items = nil
		var b strings.Builder
		var args []any
		b.WriteString("SELECT local, remote FROM roster")
		for _, f := range []struct {
			col string
			j   jid.JID
		}{{"local", q.Local}, {"remote", q.Remote}} {
			if f.j.Domainpart() == "" {
				continue
			}
			if len(args) == 0 {
				b.WriteString(" WHERE ")
			} else {
				b.WriteString(" AND ")
			}
			args = append(args, key(f.j))
			fmt.Fprintf(&b, "%s = $%d", f.col, len(args))
		}
		b.WriteString(" ORDER BY local, remote")
		rows, err := s.r.QueryContext(ctx, b.String(), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var local, remote string
			if err := rows.Scan(&local, &remote); err != nil {
				return err
			}
			l, err := jid.Parse(local)
			if err != nil {
				return fmt.Errorf("stored roster JID %q: %w", local, err)
			}
			r, err := jid.Parse(remote)
			if err != nil {
				return fmt.Errorf("stored roster JID %q: %w", remote, err)
			}
			items = append(items, store.RosterItem{Local: l, Remote: r})
		}
		return rows.Err()
	})
	return items, err
}

// AddRosterItem implements store.Store.
func (s *Store) AddRosterItem(ctx context.Context, local, remote jid.JID) error {
	if err := checkRosterItem(local, remote); err != nil {
		return err
	}
	return s.do(ctx, "add roster item", func(ctx context.Context) error {
		_, err := s.w.ExecContext(ctx, "INSERT INTO roster (local, remote) VALUES ($1, $2) ON CONFLICT (local, remote) DO NOTHING",
			key(local), key(remote))
		return err
	})
}

// DeleteRosterItem implements store.Store. Unlike Biboumi 9, it deletes.
func (s *Store) DeleteRosterItem(ctx context.Context, local, remote jid.JID) error {
	if err := checkRosterItem(local, remote); err != nil {
		return err
	}
	return s.do(ctx, "delete roster item", func(ctx context.Context) error {
		_, err := s.w.ExecContext(ctx, "DELETE FROM roster WHERE local = $1 AND remote = $2", key(local), key(remote))
		return err
	})
}

func checkRosterItem(local, remote jid.JID) error {
	if err := checkJID("roster local", local); err != nil {
		return err
	}
	return checkJID("roster remote", remote)
}
