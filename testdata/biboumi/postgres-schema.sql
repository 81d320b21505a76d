-- Biboumi 9 schema on PostgreSQL, as a fresh Biboumi 9.0 creates it
-- (src/database/table.hpp, postgresql_engine.cpp): id_ is SERIAL, a 32-bit
-- integer with a sequence default and NO primary key or unique constraint;
-- strings are TEXT, every other column INTEGER.
--
-- Run before data.sql, then postgres-quirks.sql. Used by
-- store/biboumi/biboumitest.

CREATE TABLE IF NOT EXISTS muclogline_ (id_ SERIAL,uuid_ TEXT,owner_ TEXT,ircchanname_ TEXT,ircservername_ TEXT,date_ INTEGER,body_ TEXT,nick_ TEXT);
CREATE TABLE IF NOT EXISTS globaloptions_ (id_ SERIAL,owner_ TEXT,maxhistorylength_ INTEGER,recordhistory_ INTEGER,persistent_ INTEGER);
CREATE TABLE IF NOT EXISTS ircserveroptions_ (id_ SERIAL,owner_ TEXT,server_ TEXT,pass_ TEXT,tlsports_ TEXT,ports_ TEXT,username_ TEXT,realname_ TEXT,verifycert_ INTEGER,trustedfingerprint_ TEXT,encodingout_ TEXT,encodingin_ TEXT,maxhistorylength_ INTEGER,address_ TEXT,nick_ TEXT,saslpassword_ TEXT,throttlelimit_ INTEGER);
CREATE TABLE IF NOT EXISTS ircchanneloptions_ (id_ SERIAL,owner_ TEXT,server_ TEXT,channel_ TEXT,encodingout_ TEXT,encodingin_ TEXT,maxhistorylength_ INTEGER,persistent_ INTEGER,recordhistory_ INTEGER);
CREATE TABLE IF NOT EXISTS roster (local TEXT,remote TEXT);
CREATE TABLE IF NOT EXISTS after_connection_commands_ (id_ SERIAL,fk_ INTEGER,afterconnectioncommand_ TEXT);
CREATE INDEX IF NOT EXISTS archive_index ON muclogline_ (owner_,ircchanname_,ircservername_);

-- What the SQLite fixture's old release wrote, in 9.0 columns.
INSERT INTO ircserveroptions_ (id_, owner_, server_, pass_, tlsports_, ports_, username_, realname_, verifycert_, trustedfingerprint_, encodingout_, encodingin_, maxhistorylength_) VALUES
	(1, 'alice@example.org', 'irc.example.org', 'secret', '6697;6670;', '6667;', 'al', 'Alice A.', 1, '', 'UTF-8', 'ISO-8859-15', 20),
	(2, 'bob@example.org', 'chat.freenode.net', '', '', '', '', '', 0, 'AB:CD:EF', '', '', 10),
	(3, 'bad owner@', 'irc.example.org', 'x', '6697;', '6667;', '', '', 1, '', '', '', 20);
INSERT INTO muclogline_ (uuid_, owner_, ircchanname_, ircservername_, date_, body_, nick_) VALUES
	('0a1b2c3d-0000-4000-8000-000000000001', 'alice@example.org', '#old', 'irc.example.org', 1400000000, 'a line from an old release', 'oldnick');
INSERT INTO after_connection_commands_ (fk_, afterconnectioncommand_) VALUES
	(1, 'MODE alice +i'),
	(3, 'orphan: its server row has an invalid owner'),
	(1, 'JOIN #secret key');
