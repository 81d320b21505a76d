package sqlstore

import (
	"context"
	"fmt"

	"biboumi/store"

	"mellium.im/xmpp/jid"
)

// PersistentChannels implements store.Store.
func (s *Store) PersistentChannels(ctx context.Context) ([]store.ChannelOptions, error) {
	var out []store.ChannelOptions
	err := s.do(ctx, "persistent channels", func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.r.QueryContext(ctx, `SELECT owner, server, channel, encoding_in, encoding_out,
	max_history_length, persistent, record_history
FROM irc_channel_options WHERE persistent ORDER BY owner, server, channel`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var owner string
			var record int64
			var o store.ChannelOptions
			if err := rows.Scan(&owner, &o.Server, &o.Channel, &o.EncodingIn, &o.EncodingOut,
				&o.MaxHistoryLength, &o.Persistent, &record); err != nil {
				return err
			}
			j, err := jid.Parse(owner)
			if err != nil {
				continue // not a JID: skipped, as every reader of owners does
			}
			o.Owner, o.RecordHistory = j, store.Tristate(record)
			out = append(out, o)
		}
		return rows.Err()
	})
	return out, err
}

// KeepChannel implements store.Store.
func (s *Store) KeepChannel(ctx context.Context, c store.KeptChannel) error {
	if err := checkKept(c); err != nil {
		return err
	}
	return s.do(ctx, "keep channel", func(ctx context.Context) error {
		_, err := s.w.ExecContext(ctx, `INSERT INTO kept_channels (owner, server, channel) VALUES ($1, $2, $3)
ON CONFLICT (owner, server, channel) DO NOTHING`, key(c.Owner), c.Server, c.Channel)
		return err
	})
}

// ForgetChannel implements store.Store.
func (s *Store) ForgetChannel(ctx context.Context, c store.KeptChannel) error {
	if err := checkKept(c); err != nil {
		return err
	}
	return s.do(ctx, "forget channel", func(ctx context.Context) error {
		_, err := s.w.ExecContext(ctx, "DELETE FROM kept_channels WHERE owner = $1 AND server = $2 AND channel = $3",
			key(c.Owner), c.Server, c.Channel)
		return err
	})
}

// KeptChannels implements store.Store.
func (s *Store) KeptChannels(ctx context.Context) ([]store.KeptChannel, error) {
	var out []store.KeptChannel
	err := s.do(ctx, "kept channels", func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.r.QueryContext(ctx, "SELECT owner, server, channel FROM kept_channels ORDER BY owner, server, channel")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var owner string
			var c store.KeptChannel
			if err := rows.Scan(&owner, &c.Server, &c.Channel); err != nil {
				return err
			}
			j, err := jid.Parse(owner)
			if err != nil {
				continue // not a JID: skipped, as every reader of owners does
			}
			c.Owner = j
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

func checkKept(c store.KeptChannel) error {
	if err := checkJID("owner", c.Owner); err != nil {
		return err
	}
	if c.Server == "" || c.Channel == "" {
		return fmt.Errorf("sqlstore: kept channel %q of server %q: empty name", c.Channel, c.Server)
	}
	return nil
}
