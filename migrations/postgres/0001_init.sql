-- Initial schema (PostgreSQL). See sqlite/0001_init.sql for the conventions
-- shared by both dialects (times in BIGINT microseconds, bare JIDs as text,
-- casefolded channels, tri-states as 0/1/-1).
--
-- Key columns use the "C" collation: byte comparison, as SQLite's BINARY, and
-- cheaper b-tree comparisons than a linguistic collation.

CREATE TABLE global_options (
	owner              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	max_history_length INTEGER  NOT NULL,
	record_history     BOOLEAN  NOT NULL,
	persistent         SMALLINT NOT NULL -- tri-state; unset = persistent_by_default
);

CREATE TABLE irc_server_options (
	owner              TEXT COLLATE "C" NOT NULL,
	server             TEXT COLLATE "C" NOT NULL,
	address            TEXT    NOT NULL,
	ports              TEXT    NOT NULL, -- "6667;7000"
	tls_ports          TEXT    NOT NULL,
	verify_cert        BOOLEAN NOT NULL,
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
);

-- Raw IRC lines sent after 001, in order (Biboumi's after_connection_commands_).
CREATE TABLE irc_server_commands (
	owner   TEXT COLLATE "C" NOT NULL,
	server  TEXT COLLATE "C" NOT NULL,
	pos     INTEGER NOT NULL,
	command TEXT    NOT NULL,
	PRIMARY KEY (owner, server, pos),
	FOREIGN KEY (owner, server) REFERENCES irc_server_options (owner, server) ON DELETE CASCADE
);

CREATE TABLE irc_channel_options (
	owner              TEXT COLLATE "C" NOT NULL,
	server             TEXT COLLATE "C" NOT NULL,
	channel            TEXT COLLATE "C" NOT NULL,
	encoding_in        TEXT     NOT NULL,
	encoding_out       TEXT     NOT NULL,
	max_history_length INTEGER  NOT NULL,
	persistent         BOOLEAN  NOT NULL,
	record_history     SMALLINT NOT NULL, -- tri-state; unset = the global option
	PRIMARY KEY (owner, server, channel)
);

-- The per-user channel archive (MUC join history and MAM). Archive order is
-- seq, never time.
CREATE TABLE muc_log (
	seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	uuid    TEXT COLLATE "C" NOT NULL UNIQUE, -- MAM result id and XEP-0359 stanza-id
	owner   TEXT COLLATE "C" NOT NULL,
	server  TEXT COLLATE "C" NOT NULL,
	channel TEXT COLLATE "C" NOT NULL,
	time_us BIGINT NOT NULL,
	nick    TEXT   NOT NULL, -- empty for room messages (mode changes…)
	body    TEXT   NOT NULL
);

-- "Last N of (owner, server, channel)" and RSM paging by seq.
CREATE INDEX muc_log_archive ON muc_log (owner, server, channel, seq);
-- MAM start/end ranges.
CREATE INDEX muc_log_time ON muc_log (owner, server, channel, time_us);

-- Presence subscriptions: local is the gateway or an IRC server JID, remote
-- the user's bare JID.
CREATE TABLE roster (
	local  TEXT COLLATE "C" NOT NULL,
	remote TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (local, remote)
);
