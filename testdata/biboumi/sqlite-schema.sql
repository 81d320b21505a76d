-- Biboumi 9 schema on SQLite, as Biboumi leaves a database that an older
-- release (before 7.0) created and 9.0 upgraded: CREATE TABLE IF NOT EXISTS
-- with the columns of the time, rows written then, and ALTER TABLE … ADD for
-- each column added since, which older rows read as NULL. The statements are
-- spelled as Biboumi spells them (src/database/table.hpp): id_ is the rowid,
-- strings are TEXT, every other column INTEGER, no other constraint.
--
-- Run before data.sql. Used by store/biboumi/biboumitest.

CREATE TABLE IF NOT EXISTS muclogline_ (id_ INTEGER PRIMARY KEY AUTOINCREMENT,uuid_ TEXT,owner_ TEXT,ircchanname_ TEXT,ircservername_ TEXT,date_ INTEGER,body_ TEXT,nick_ TEXT);
CREATE TABLE IF NOT EXISTS globaloptions_ (id_ INTEGER PRIMARY KEY AUTOINCREMENT,owner_ TEXT,maxhistorylength_ INTEGER,recordhistory_ INTEGER,persistent_ INTEGER);
-- The pre-7.0 shape: afterconnectioncommand_ (one command, unused since
-- 8.0), and none of address_, nick_, saslpassword_, throttlelimit_.
CREATE TABLE IF NOT EXISTS ircserveroptions_ (id_ INTEGER PRIMARY KEY AUTOINCREMENT,owner_ TEXT,server_ TEXT,pass_ TEXT,afterconnectioncommand_ TEXT,tlsports_ TEXT,ports_ TEXT,username_ TEXT,realname_ TEXT,verifycert_ INTEGER,trustedfingerprint_ TEXT,encodingout_ TEXT,encodingin_ TEXT,maxhistorylength_ INTEGER);
CREATE TABLE IF NOT EXISTS ircchanneloptions_ (id_ INTEGER PRIMARY KEY AUTOINCREMENT,owner_ TEXT,server_ TEXT,channel_ TEXT,encodingout_ TEXT,encodingin_ TEXT,maxhistorylength_ INTEGER,persistent_ INTEGER,recordhistory_ INTEGER);
CREATE TABLE IF NOT EXISTS roster (local TEXT,remote TEXT);

-- Rows of the old release.
INSERT INTO ircserveroptions_ (id_, owner_, server_, pass_, afterconnectioncommand_, tlsports_, ports_, username_, realname_, verifycert_, trustedfingerprint_, encodingout_, encodingin_, maxhistorylength_) VALUES
	(1, 'alice@example.org', 'irc.example.org', 'secret', 'PRIVMSG NickServ :identify legacy-unused', '6697;6670;', '6667;', 'al', 'Alice A.', 1, '', 'UTF-8', 'ISO-8859-15', 20),
	(2, 'bob@example.org', 'chat.freenode.net', '', '', '', '', '', '', 0, 'AB:CD:EF', '', '', 10),
	(3, 'bad owner@', 'irc.example.org', 'x', NULL, '6697;', '6667;', '', '', 1, '', '', '', 20);
INSERT INTO muclogline_ (uuid_, owner_, ircchanname_, ircservername_, date_, body_, nick_) VALUES
	('0a1b2c3d-0000-4000-8000-000000000001', 'alice@example.org', '#old', 'irc.example.org', 1400000000, 'a line from an old release', 'oldnick');

-- The 9.0 upgrade (Table::upgrade, then the new table and the index).
ALTER TABLE ircserveroptions_ ADD address_ TEXT;
ALTER TABLE ircserveroptions_ ADD nick_ TEXT;
ALTER TABLE ircserveroptions_ ADD saslpassword_ TEXT;
ALTER TABLE ircserveroptions_ ADD throttlelimit_ INTEGER;
CREATE TABLE IF NOT EXISTS after_connection_commands_ (id_ INTEGER PRIMARY KEY AUTOINCREMENT,fk_ INTEGER,afterconnectioncommand_ TEXT);
CREATE INDEX IF NOT EXISTS archive_index ON muclogline_ (owner_,ircchanname_,ircservername_);

INSERT INTO after_connection_commands_ (fk_, afterconnectioncommand_) VALUES
	(1, 'MODE alice +i'),
	(3, 'orphan: its server row has an invalid owner'),
	(1, 'JOIN #secret key');
