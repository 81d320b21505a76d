// Package store defines the gateway's persistent state: per-user options,
// the per-user channel archive (MUC join history and MAM) and the roster of
// presence subscriptions to the gateway and IRC server JIDs.
//
// The package holds only the interface, the record types and the sentinel
// errors. The implementation over database/sql, for SQLite and PostgreSQL,
// is store/sqlstore; store/storetest is the conformance suite every
// implementation must pass.
//
// Conventions, shared by every implementation:
//   - Owners and roster JIDs are bare JIDs: implementations drop any
//     resourcepart and store the canonical string form.
//   - IRC server names and channel names are stored exactly as given. The
//     caller casefolds them with the server's CASEMAPPING, so that the same
//     channel always has one key.
//   - Times keep microsecond precision and are returned in UTC.
package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
)

// Store is the gateway's persistent state.
//
// Implementations are safe for concurrent use. Every method honours ctx, and
// backends add their own per-query timeout (5 s by default), so a stuck
// database cannot block a caller forever. Errors wrap ErrNotFound or
// ErrConflict where those apply, so test them with errors.Is.
type Store interface {
	// Close releases the database handles. Calls made after Close fail.
	Close() error

	// GlobalOptions returns owner's global options, or
	// DefaultGlobalOptions(owner) when none were stored.
	GlobalOptions(ctx context.Context, owner jid.JID) (GlobalOptions, error)
	// StoreGlobalOptions creates or replaces the row of o.Owner.
	StoreGlobalOptions(ctx context.Context, o GlobalOptions) error
	// ServerOptions returns owner's options for an IRC server, or
	// DefaultServerOptions(owner, server) when none were stored.
	ServerOptions(ctx context.Context, owner jid.JID, server string) (ServerOptions, error)
	// StoreServerOptions creates or replaces the row of (o.Owner, o.Server),
	// after-connect commands included (the stored list becomes exactly
	// o.AfterConnectCommands).
	StoreServerOptions(ctx context.Context, o ServerOptions) error
	// ChannelOptions returns owner's options for a channel, or
	// DefaultChannelOptions(owner, server, channel) when none were stored.
	ChannelOptions(ctx context.Context, owner jid.JID, server, channel string) (ChannelOptions, error)
	// StoreChannelOptions creates or replaces the row of
	// (o.Owner, o.Server, o.Channel).
	StoreChannelOptions(ctx context.Context, o ChannelOptions) error
	// ClientCert returns the PEM certificate and key of owner's IRC client
	// certificate, or ErrNotFound.
	ClientCert(ctx context.Context, owner jid.JID) (certPEM, keyPEM []byte, err error)
	// StoreClientCert records owner's client certificate; it fails with
	// ErrConflict if one exists (the first one made wins).
	StoreClientCert(ctx context.Context, owner jid.JID, certPEM, keyPEM []byte) error
	// PersistentChannels lists every stored channel option row with
	// Persistent set, of every owner: the channels to rejoin at start-up.
	PersistentChannels(ctx context.Context) ([]ChannelOptions, error)
	// KeepChannel records that c.Owner stays in c.Channel with no client
	// joined, because of the user's global "persistent" option: the
	// gateway joins it again at start-up. Keeping a kept channel is not
	// an error.
	KeepChannel(ctx context.Context, c KeptChannel) error
	// ForgetChannel removes c from the kept channels (the user left it).
	// Forgetting a channel that is not kept is not an error.
	ForgetChannel(ctx context.Context, c KeptChannel) error
	// KeptChannels lists the kept channels of every owner, sorted by
	// (Owner, Server, Channel).
	KeptChannels(ctx context.Context) ([]KeptChannel, error)

	// AppendLog archives l. See AppendLogs.
	AppendLog(ctx context.Context, l *LogLine) error
	// AppendLogs archives lines, in order, in one transaction: either every
	// line is stored or none is.
	//
	// For each line it generates ID (a UUID) when empty and sets Time to the
	// current time when zero, before trying, so these stay set even when it
	// fails and calling again with the same lines is safe. On success it
	// sets Seq and normalises Time and Owner to what ListLogs will return
	// (UTC with microsecond precision; bare JID). Seq grows in slice order.
	//
	// Seq order is commit order within one archive as long as appends to
	// that archive are not concurrent, which the gateway guarantees by
	// appending from the owner's Session goroutine. Concurrent appends to
	// one archive could commit out of seq order on PostgreSQL, and a reader
	// paging forward could then miss the late line.
	//
	// Appending a line whose ID is already archived with the same content
	// (owner, server, channel, time, nick, body) is a no-op that sets Seq to
	// the archived line's: this makes a retried append idempotent. The same
	// ID with other content fails with ErrConflict.
	AppendLogs(ctx context.Context, lines []*LogLine) error
	// ListLogs returns one page of one owner's archive of one channel, in
	// archive order (oldest first). See LogQuery for the selection. An
	// AfterID or BeforeID that is not in that archive gives ErrNotFound
	// (XEP-0313 item-not-found).
	ListLogs(ctx context.Context, q LogQuery) (LogPage, error)
	// PurgeLogs deletes every archived line older than before, for every
	// owner, and returns how many lines it deleted. It works in small
	// batches, so it never blocks writers for long.
	PurgeLogs(ctx context.Context, before time.Time) (int64, error)

	// Roster returns the stored subscriptions that match q, sorted by
	// (Local, Remote).
	Roster(ctx context.Context, q RosterQuery) ([]RosterItem, error)
	// AddRosterItem records that remote is subscribed to local. Adding an
	// existing item is not an error.
	AddRosterItem(ctx context.Context, local, remote jid.JID) error
	// DeleteRosterItem removes the subscription of remote to local. Deleting
	// an item that does not exist is not an error.
	DeleteRosterItem(ctx context.Context, local, remote jid.JID) error
}

// Sentinel errors. Backends map their driver errors to these at their
// boundary (for example sql.ErrNoRows to ErrNotFound and a unique violation
// to ErrConflict) and wrap them with details.
var (
	// ErrNotFound reports a record that does not exist, such as an unknown
	// RSM after/before id in LogQuery.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict reports a write that contradicts a stored record, such as
	// a log line ID that is already archived with other content.
	ErrConflict = errors.New("store: conflict")
	// ErrSchemaTooNew reports a database whose schema version is newer than
	// this program knows: it was written by a newer release, and running an
	// older one against it could lose data.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this program")
)

// Driver names a database engine.
type Driver string

// The database engines.
const (
	DriverSQLite   Driver = "sqlite"
	DriverPostgres Driver = "postgres"
)

// ParseDBName interprets the db_name configuration key as Biboumi does: a
// value that starts with "postgresql://" or "postgres://" is a PostgreSQL
// connection URI; anything else is the path of an SQLite database file.
// It returns the driver and the DSN to give it (the value itself).
func ParseDBName(dbName string) (Driver, string) {
	if strings.HasPrefix(dbName, "postgresql://") || strings.HasPrefix(dbName, "postgres://") {
		return DriverPostgres, dbName
	}
	return DriverSQLite, dbName
}
