package biboumi

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"biboumi/store"
	"biboumi/store/sqlstore"
)

// ScanSettings implements store.SettingsScanner.
func (r *Reader) ScanSettings(ctx context.Context) (*store.Settings, error) {
	s := &settingsScan{r: r, set: &store.Settings{}}
	for _, step := range []func(context.Context) error{s.global, s.servers, s.commands, s.channels, s.roster} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	s.set.Servers = make([]store.ServerOptions, 0, len(s.serverRows))
	for _, e := range s.serverRows {
		if e.keep {
			s.set.Servers = append(s.set.Servers, *e.o)
		}
	}
	return s.set, nil
}

// settingsScan is the state of one ScanSettings call.
type settingsScan struct {
	r   *Reader
	set *store.Settings
	// serverRows are the ircserveroptions_ rows in id_ order; serverByID maps
	// an id_ to its row, for after_connection_commands_.fk_.
	serverRows []*serverRow
	serverByID map[int64]*serverRow
}

type serverRow struct {
	id   int64
	o    *store.ServerOptions
	keep bool // false: a newer row has the same (owner, server)
}

func (s *settingsScan) skip(table string, id int64, format string, args ...any) {
	s.set.Skipped = append(s.set.Skipped, store.CopyIssue{Table: table, SrcID: id, Reason: fmt.Sprintf(format, args...)})
}

// query runs the SELECT of cols on table, ordered by order, and calls f
// with each row's values; a missing table has no rows.
func (s *settingsScan) query(ctx context.Context, table, order string, cols []string, f func(v values) error) error {
	if s.r.cols[table] == nil {
		return nil
	}
	rows, err := s.r.db.QueryContext(ctx, s.r.selectCols(table, cols...)+" ORDER BY "+order)
	if err != nil {
		return fmt.Errorf("biboumi: reading %s: %w", table, err)
	}
	defer rows.Close()
	v := make(values, len(cols))
	dest := make([]any, len(cols))
	for i := range v {
		dest[i] = &v[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("biboumi: reading %s: %w", table, err)
		}
		if err := f(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("biboumi: reading %s: %w", table, err)
	}
	return nil
}

// values is one row, each column scanned as any: Biboumi's INTEGER
// columns may hold NULL, and SQLite may hold any type in any column.
type values []any

// str returns column i as text; NULL is "".
func (v values) str(i int) string {
	switch x := v[i].(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v[i])
}

// num returns column i as an integer, and false when it is NULL or not a
// number (then def).
func (v values) num(i int, def int64) (int64, bool) {
	switch x := v[i].(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case float64:
		return int64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string, []byte:
		n, err := strconv.ParseInt(strings.TrimSpace(v.str(i)), 10, 64)
		if err == nil {
			return n, true
		}
	}
	return def, false
}

func (v values) integer(i int, def int) int {
	n, _ := v.num(i, int64(def))
	return int(n)
}

// boolean reads Biboumi's 0/1 booleans: non-zero is true; NULL is def.
func (v values) boolean(i int, def bool) bool {
	n, ok := v.num(i, 0)
	if !ok {
		return def
	}
	return n != 0
}

// tristate reads Biboumi's OptionalBool: positive true, negative false,
// 0 (and NULL) unset.
func (v values) tristate(i int) store.Tristate {
	n, _ := v.num(i, 0)
	switch {
	case n > 0:
		return store.True
	case n < 0:
		return store.False
	}
	return store.Unset
}

func (s *settingsScan) owner(table string, id int64, v values, i int, col string) (jid.JID, bool) {
	j, err := sqlstore.ParseOwner(v.str(i))
	if err != nil {
		s.skip(table, id, "%s: %v", col, err)
		return jid.JID{}, false
	}
	return j, true
}

func (s *settingsScan) global(ctx context.Context) error {
	const table = "globaloptions_"
	byOwner := map[string]int{} // bare JID → index in s.set.Global
	ids := map[string]int64{}
	return s.query(ctx, table, "id_", []string{"id_", "owner_", "maxhistorylength_", "recordhistory_", "persistent_"},
		func(v values) error {
			id, _ := v.num(0, 0)
			owner, ok := s.owner(table, id, v, 1, "owner_")
			if !ok {
				return nil
			}
			o := store.GlobalOptions{
				Owner:            owner,
				MaxHistoryLength: v.integer(2, store.DefaultMaxHistoryLength),
				RecordHistory:    v.boolean(3, true),
				Persistent:       store.Unset,
			}
			// A stored global persistent_ is an explicit choice (the row is
			// written by the configure form only); NULL falls back to the
			// configuration's persistent_by_default.
			if p, ok := v.num(4, 0); ok {
				o.Persistent = store.TristateOf(p != 0)
			}
			k := owner.String()
			if i, dup := byOwner[k]; dup {
				s.skip(table, ids[k], "duplicate of id_ %d for %s, which is copied instead", id, k)
				s.set.Global[i] = o
			} else {
				byOwner[k] = len(s.set.Global)
				s.set.Global = append(s.set.Global, o)
			}
			ids[k] = id
			return nil
		})
}

func (s *settingsScan) servers(ctx context.Context) error {
	const table = "ircserveroptions_"
	s.serverByID = map[int64]*serverRow{}
	byKey := map[[2]string]*serverRow{}
	return s.query(ctx, table, "id_", []string{"id_", "owner_", "server_", "pass_", "tlsports_", "ports_", "username_",
		"realname_", "verifycert_", "trustedfingerprint_", "encodingout_", "encodingin_", "maxhistorylength_",
		"address_", "nick_", "saslpassword_", "throttlelimit_"},
		func(v values) error {
			id, _ := v.num(0, 0)
			owner, ok := s.owner(table, id, v, 1, "owner_")
			if !ok {
				return nil
			}
			o := &store.ServerOptions{
				Owner:            owner,
				Server:           v.str(2),
				Pass:             v.str(3),
				TLSPorts:         s.ports(table, id, "tlsports_", v, 4, store.DefaultTLSPorts()),
				Ports:            s.ports(table, id, "ports_", v, 5, store.DefaultPorts()),
				Username:         v.str(6),
				Realname:         v.str(7),
				VerifyCert:       v.boolean(8, true),
				Fingerprint:      v.str(9),
				EncodingOut:      v.str(10),
				EncodingIn:       v.str(11),
				MaxHistoryLength: v.integer(12, store.DefaultMaxHistoryLength),
				Address:          v.str(13),
				Nick:             v.str(14),
				SASLPassword:     v.str(15),
				ThrottleLimit:    v.integer(16, store.DefaultThrottleLimit),
				Stored:           true,
			}
			row := &serverRow{id: id, o: o, keep: true}
			k := [2]string{owner.String(), o.Server}
			if old := byKey[k]; old != nil {
				old.keep = false
				s.skip(table, old.id, "duplicate of id_ %d for %s on %s, which is copied instead", id, k[0], k[1])
			}
			byKey[k] = row
			s.serverByID[id] = row
			s.serverRows = append(s.serverRows, row)
			return nil
		})
}

// ports parses a ';'-joined port list ("6697;6670;"). NULL gives def; bad
// entries are dropped and reported.
func (s *settingsScan) ports(table string, id int64, col string, v values, i int, def []int) []int {
	if v[i] == nil {
		return def
	}
	raw := v.str(i)
	ports := []int{}
	for f := range strings.SplitSeq(raw, ";") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := strconv.Atoi(f)
		if err != nil || p <= 0 || p > 65535 {
			s.set.Repaired = append(s.set.Repaired, store.CopyIssue{Table: table, SrcID: id,
				Reason: fmt.Sprintf("%s: dropped the invalid port %q from %q", col, f, raw)})
			continue
		}
		ports = append(ports, p)
	}
	return ports
}

func (s *settingsScan) commands(ctx context.Context) error {
	const table = "after_connection_commands_"
	return s.query(ctx, table, "id_", []string{"id_", "fk_", "afterconnectioncommand_"}, func(v values) error {
		id, _ := v.num(0, 0)
		fk, ok := v.num(1, 0)
		row := s.serverByID[fk]
		switch {
		case !ok || row == nil:
			s.skip(table, id, "fk_ %s is no copied ircserveroptions_ row", v.str(1))
		case !row.keep:
			s.skip(table, id, "belongs to ircserveroptions_ row %d, a duplicate that is not copied", fk)
		default:
			row.o.AfterConnectCommands = append(row.o.AfterConnectCommands, v.str(2))
		}
		return nil
	})
}

func (s *settingsScan) channels(ctx context.Context) error {
	const table = "ircchanneloptions_"
	byKey := map[[3]string]int{}
	ids := map[[3]string]int64{}
	return s.query(ctx, table, "id_", []string{"id_", "owner_", "server_", "channel_", "encodingout_", "encodingin_",
		"maxhistorylength_", "persistent_", "recordhistory_"},
		func(v values) error {
			id, _ := v.num(0, 0)
			owner, ok := s.owner(table, id, v, 1, "owner_")
			if !ok {
				return nil
			}
			o := store.ChannelOptions{
				Owner:            owner,
				Server:           v.str(2),
				Channel:          v.str(3),
				EncodingOut:      v.str(4),
				EncodingIn:       v.str(5),
				MaxHistoryLength: v.integer(6, store.DefaultMaxHistoryLength),
				Persistent:       v.boolean(7, false),
				RecordHistory:    v.tristate(8),
			}
			k := [3]string{owner.String(), o.Server, o.Channel}
			if i, dup := byKey[k]; dup {
				s.skip(table, ids[k], "duplicate of id_ %d for %s on %s/%s, which is copied instead", id, k[0], k[1], k[2])
				s.set.Channels[i] = o
			} else {
				byKey[k] = len(s.set.Channels)
				s.set.Channels = append(s.set.Channels, o)
			}
			ids[k] = id
			return nil
		})
}

func (s *settingsScan) roster(ctx context.Context) error {
	const table = "roster"
	seen := map[[2]string]bool{}
	return s.query(ctx, table, "local, remote", []string{"local", "remote"}, func(v values) error {
		local, err := sqlstore.ParseOwner(v.str(0))
		if err != nil {
			s.skip(table, 0, "local: %v", err)
			return nil
		}
		remote, err := sqlstore.ParseOwner(v.str(1))
		if err != nil {
			s.skip(table, 0, "remote: %v", err)
			return nil
		}
		// Biboumi may store an item twice; once is enough.
		k := [2]string{local.String(), remote.String()}
		if !seen[k] {
			seen[k] = true
			s.set.Roster = append(s.set.Roster, store.RosterItem{Local: local, Remote: remote})
		}
		return nil
	})
}
