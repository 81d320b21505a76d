-- Initial schema (SQLite).
--
-- Conventions shared with postgres/0001_init.sql:
--  * times are INTEGER microseconds since the Unix epoch, UTC (no 2038
--    overflow, sub-second precision, one code path for both engines);
--  * owner, local and remote are bare JIDs in canonical string form;
--  * channel names are stored casefolded by the caller (IRC CASEMAPPING);
--  * booleans are 0/1, tri-states are 0 unset / 1 true / -1 false
--    (Biboumi's encoding).
-- STRICT tables make SQLite enforce the column types.

CREATE TABLE global_options (
	owner              TEXT    NOT NULL PRIMARY KEY,
	max_history_length INTEGER NOT NULL,
	record_history     INTEGER NOT NULL,
	persistent         INTEGER NOT NULL -- tri-state; unset = persistent_by_default
) STRICT;

CREATE TABLE irc_server_options (
	owner              TEXT    NOT NULL,
	server             TEXT    NOT NULL,
	address            TEXT    NOT NULL,
	ports              TEXT    NOT NULL, -- "6667;7000"
	tls_ports          TEXT    NOT NULL,
	verify_cert        INTEGER NOT NULL,
	fingerprint        TEXT    NOT NULL,
	pass               TEXT    NOT NULL,
	sasl_password      TEXT    NOT NULL,
	nick               TEXT    NOT NULL,
	username           TEXT    NOT NULL,
	realname           TEXT    NOT NULL,
	encoding_in        TEXT    NOT NULL,
	encoding_out       TEXT    NOT NULL,
	max_history_length INTEGER NOT NULL,
	throttle_limit     INTEGER NOT NULL,
	PRIMARY KEY (owner, server)
) STRICT;

-- Raw IRC lines sent after 001, in order (Biboumi's after_connection_commands_).
CREATE TABLE irc_server_commands (
	owner   TEXT    NOT NULL,
	server  TEXT    NOT NULL,
	pos     INTEGER NOT NULL,
	command TEXT    NOT NULL,
	PRIMARY KEY (owner, server, pos),
	FOREIGN KEY (owner, server) REFERENCES irc_server_options (owner, server) ON DELETE CASCADE
) STRICT;

CREATE TABLE irc_channel_options (
	owner              TEXT    NOT NULL,
	server             TEXT    NOT NULL,
	channel            TEXT    NOT NULL,
	encoding_in        TEXT    NOT NULL,
	encoding_out       TEXT    NOT NULL,
	max_history_length INTEGER NOT NULL,
	persistent         INTEGER NOT NULL,
	record_history     INTEGER NOT NULL, -- tri-state; unset = the global option
	PRIMARY KEY (owner, server, channel)
) STRICT;

-- The per-user channel archive (MUC join history and MAM). Archive order is
-- seq, never time. AUTOINCREMENT so a seq is never reused, even after every
-- row was purged.
CREATE TABLE muc_log (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	uuid    TEXT    NOT NULL UNIQUE, -- MAM result id and XEP-0359 stanza-id
	owner   TEXT    NOT NULL,
	server  TEXT    NOT NULL,
	channel TEXT    NOT NULL,
	time_us INTEGER NOT NULL,
	nick    TEXT    NOT NULL, -- empty for room messages (mode changes…)
	body    TEXT    NOT NULL
) STRICT;

-- "Last N of (owner, server, channel)" and RSM paging: every SQLite index ends
-- with the rowid (= seq), so this one already orders an archive by seq.
CREATE INDEX muc_log_archive ON muc_log (owner, server, channel);
-- MAM start/end ranges.
CREATE INDEX muc_log_time ON muc_log (owner, server, channel, time_us);

-- Presence subscriptions: local is the gateway or an IRC server JID, remote
-- the user's bare JID.
CREATE TABLE roster (
	local  TEXT NOT NULL,
	remote TEXT NOT NULL,
	PRIMARY KEY (local, remote)
) STRICT;
