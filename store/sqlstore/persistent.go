package sqlstore

import (
	"context"

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
