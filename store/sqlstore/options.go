package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"biboumi/store"
)

// GlobalOptions implements store.Store.
func (s *Store) GlobalOptions(ctx context.Context, owner jid.JID) (store.GlobalOptions, error) {
	o := store.DefaultGlobalOptions(owner)
	if err := checkJID("owner", owner); err != nil {
		return o, err
	}
	err := s.do(ctx, "global options", func(ctx context.Context) error {
		var persistent int64
		err := s.r.QueryRowContext(ctx,
			"SELECT max_history_length, record_history, persistent FROM global_options WHERE owner = $1",
			key(owner)).Scan(&o.MaxHistoryLength, &o.RecordHistory, &persistent)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		o.Persistent = store.Tristate(persistent)
		return err
	})
	return o, err
}

// StoreGlobalOptions implements store.Store.
func (s *Store) StoreGlobalOptions(ctx context.Context, o store.GlobalOptions) error {
	if err := checkJID("owner", o.Owner); err != nil {
		return err
	}
	return s.do(ctx, "store global options", func(ctx context.Context) error {
		_, err := s.w.ExecContext(ctx, `INSERT INTO global_options (owner, max_history_length, record_history, persistent)
VALUES ($1, $2, $3, $4)
ON CONFLICT (owner) DO UPDATE SET
	max_history_length = excluded.max_history_length,
	record_history = excluded.record_history,
	persistent = excluded.persistent`,
			key(o.Owner), o.MaxHistoryLength, o.RecordHistory, int64(o.Persistent))
		return err
	})
}

// ServerOptions implements store.Store.
func (s *Store) ServerOptions(ctx context.Context, owner jid.JID, server string) (store.ServerOptions, error) {
	o := store.DefaultServerOptions(owner, server)
	if err := checkJID("owner", owner); err != nil {
		return o, err
	}
	err := s.do(ctx, "server options", func(ctx context.Context) error {
		// One statement, so that the row and its commands come from one
		// snapshot.
		rows, err := s.r.QueryContext(ctx, `SELECT o.address, o.ports, o.tls_ports, o.verify_cert, o.fingerprint,
	o.pass, o.sasl_password, o.sasl_mechanism, o.nick, o.username, o.realname, o.encoding_in, o.encoding_out,
	o.max_history_length, o.throttle_limit, c.command
FROM irc_server_options o
LEFT JOIN irc_server_commands c ON c.owner = o.owner AND c.server = o.server
WHERE o.owner = $1 AND o.server = $2
ORDER BY c.pos`, key(owner), server)
		if err != nil {
			return err
		}
		defer rows.Close()
		found := store.ServerOptions{Owner: o.Owner, Server: server}
		n := 0
		for rows.Next() {
			var ports, tlsPorts string
			var cmd sql.NullString
			if err := rows.Scan(&found.Address, &ports, &tlsPorts, &found.VerifyCert, &found.Fingerprint,
				&found.Pass, &found.SASLPassword, &found.SASLMechanism, &found.Nick, &found.Username, &found.Realname,
				&found.EncodingIn, &found.EncodingOut, &found.MaxHistoryLength, &found.ThrottleLimit, &cmd); err != nil {
				return err
			}
			if n == 0 {
				if found.Ports, err = parsePorts(ports); err != nil {
					return err
				}
				if found.TLSPorts, err = parsePorts(tlsPorts); err != nil {
					return err
				}
			}
			if cmd.Valid {
				found.AfterConnectCommands = append(found.AfterConnectCommands, cmd.String)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n > 0 {
			found.Stored = true
			o = found
		}
		return nil
	})
	return o, err
}

// StoreServerOptions implements store.Store.
func (s *Store) StoreServerOptions(ctx context.Context, o store.ServerOptions) error {
	if err := checkJID("owner", o.Owner); err != nil {
		return err
	}
	owner := key(o.Owner)
	return s.do(ctx, "store server options", func(ctx context.Context) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO irc_server_options (owner, server, address, ports, tls_ports,
	verify_cert, fingerprint, pass, sasl_password, nick, username, realname, encoding_in, encoding_out,
	max_history_length, throttle_limit, sasl_mechanism)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (owner, server) DO UPDATE SET
	address = excluded.address,
	ports = excluded.ports,
	tls_ports = excluded.tls_ports,
	verify_cert = excluded.verify_cert,
	fingerprint = excluded.fingerprint,
	pass = excluded.pass,
	sasl_password = excluded.sasl_password,
	nick = excluded.nick,
	username = excluded.username,
	realname = excluded.realname,
	encoding_in = excluded.encoding_in,
	encoding_out = excluded.encoding_out,
	max_history_length = excluded.max_history_length,
	throttle_limit = excluded.throttle_limit,
	sasl_mechanism = excluded.sasl_mechanism`,
				owner, o.Server, o.Address, formatPorts(o.Ports), formatPorts(o.TLSPorts),
				o.VerifyCert, o.Fingerprint, o.Pass, o.SASLPassword, o.Nick, o.Username, o.Realname,
				o.EncodingIn, o.EncodingOut, o.MaxHistoryLength, o.ThrottleLimit, o.SASLMechanism)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM irc_server_commands WHERE owner = $1 AND server = $2", owner, o.Server); err != nil {
				return err
			}
			for i, c := range o.AfterConnectCommands {
				if _, err := tx.ExecContext(ctx, "INSERT INTO irc_server_commands (owner, server, pos, command) VALUES ($1, $2, $3, $4)",
					owner, o.Server, i, c); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// ChannelOptions implements store.Store.
func (s *Store) ChannelOptions(ctx context.Context, owner jid.JID, server, channel string) (store.ChannelOptions, error) {
	o := store.DefaultChannelOptions(owner, server, channel)
	if err := checkJID("owner", owner); err != nil {
		return o, err
	}
	err := s.do(ctx, "channel options", func(ctx context.Context) error {
		var record int64
		err := s.r.QueryRowContext(ctx, `SELECT encoding_in, encoding_out, max_history_length, persistent, record_history
FROM irc_channel_options WHERE owner = $1 AND server = $2 AND channel = $3`,
			key(owner), server, channel).Scan(&o.EncodingIn, &o.EncodingOut, &o.MaxHistoryLength, &o.Persistent, &record)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		o.RecordHistory = store.Tristate(record)
		return err
	})
	return o, err
}

// StoreChannelOptions implements store.Store.
func (s *Store) StoreChannelOptions(ctx context.Context, o store.ChannelOptions) error {
	if err := checkJID("owner", o.Owner); err != nil {
		return err
	}
	return s.do(ctx, "store channel options", func(ctx context.Context) error {
		_, err := s.w.ExecContext(ctx, `INSERT INTO irc_channel_options (owner, server, channel, encoding_in, encoding_out,
	max_history_length, persistent, record_history)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (owner, server, channel) DO UPDATE SET
	encoding_in = excluded.encoding_in,
	encoding_out = excluded.encoding_out,
	max_history_length = excluded.max_history_length,
	persistent = excluded.persistent,
	record_history = excluded.record_history`,
			key(o.Owner), o.Server, o.Channel, o.EncodingIn, o.EncodingOut, o.MaxHistoryLength, o.Persistent, int64(o.RecordHistory))
		return err
	})
}

// key is the stored form of a user or gateway JID: the bare JID.
func key(j jid.JID) string { return j.Bare().String() }

func checkJID(what string, j jid.JID) error {
	if j.Domainpart() == "" {
		return fmt.Errorf("sqlstore: empty %s JID", what)
	}
	return nil
}

// formatPorts stores a port list as Biboumi does: "6697;6670".
func formatPorts(ports []int) string {
	var b strings.Builder
	for i, p := range ports {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(strconv.Itoa(p))
	}
	return b.String()
}

// parsePorts reads formatPorts's output; it also accepts Biboumi's trailing
// ';' and blanks, so that imported rows read back.
func parsePorts(s string) ([]int, error) {
	ports := []int{}
	for f := range strings.SplitSeq(s, ";") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := strconv.Atoi(f)
		if err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("bad port %q in stored list %q", f, s)
		}
		ports = append(ports, p)
	}
	return ports, nil
}
