-- Biboumi 9 rows shared by the SQLite and the PostgreSQL fixture, covering
-- what a copy must convert or survive. Portable SQL: both engines run it
-- after their schema file. Option rows give their id_ explicitly, so that
-- after_connection_commands_.fk_ can name them on both engines.

-- The archive. date_ is in Unix seconds; an empty nick_ is a room message.
INSERT INTO muclogline_ (uuid_, owner_, ircchanname_, ircservername_, date_, body_, nick_) VALUES
	('5d2c2a3e-1b1f-4b7e-9f0e-000000000001', 'alice@example.org', '#chan', 'irc.example.org', 1500000000, 'hello', 'bob'),
	('5d2c2a3e-1b1f-4b7e-9f0e-000000000002', 'alice@example.org', '#chan', 'irc.example.org', 1500000001, 'bob has set mode +o alice', ''),
	-- No usable uuid_: the copy derives one from id_.
	('', 'alice@example.org', '#chan', 'irc.example.org', 1500000002, 'empty uuid_', 'bob'),
	(NULL, 'alice@example.org', '#chan', 'irc.example.org', 1500000003, 'NULL uuid_', 'bob'),
	-- A uuid_ that is not in UUID form is still the MAM id clients saw.
	('not-a-uuid-but-kept', 'alice@example.org', '#chan', 'irc.example.org', 1500000004, 'odd uuid_', 'bob'),
	-- The first of three rows sharing a uuid_ keeps it.
	('dddddddd-0000-4000-8000-000000000001', 'alice@example.org', '#chan', 'irc.example.org', 1500000005, 'duplicate uuid_, first', 'bob'),
	-- NULL columns (never written by 9.0, but possible after manual edits).
	('5d2c2a3e-1b1f-4b7e-9f0e-000000000003', 'bob@example.org', '#chan', 'chat.freenode.net', NULL, NULL, NULL),
	('5d2c2a3e-1b1f-4b7e-9f0e-000000000004', 'bob@example.org', NULL, NULL, 0, 'the epoch, no channel', 'z'),
	('5d2c2a3e-1b1f-4b7e-9f0e-000000000005', 'bob@example.org', '#chan', 'chat.freenode.net', 2147483647, 'the last second of INTEGER time', 'z'),
	-- Owners that are not valid JIDs: skipped and counted.
	('e0000000-0000-4000-8000-000000000001', '', '#chan', 'irc.example.org', 1500000010, 'empty owner', 'x'),
	('e0000000-0000-4000-8000-000000000002', NULL, '#chan', 'irc.example.org', 1500000011, 'NULL owner', 'x'),
	('e0000000-0000-4000-8000-000000000003', '@example.org', '#chan', 'irc.example.org', 1500000012, 'empty localpart', 'x'),
	('e0000000-0000-4000-8000-000000000004', 'alice@', '#chan', 'irc.example.org', 1500000013, 'empty domain', 'x'),
	('e0000000-0000-4000-8000-000000000005', 'al ice@example.org', '#chan', 'irc.example.org', 1500000014, 'space in localpart', 'x'),
	('e0000000-0000-4000-8000-000000000006', 'a@b@c', '#chan', 'irc.example.org', 1500000015, 'two @', 'x'),
	-- Owners that are valid but not canonical: stored as canonical bare JIDs.
	('5d2c2a3e-1b1f-4b7e-9f0e-000000000006', 'Carol@Example.ORG', '#ça', 'irc.über.example', 1500000020, 'ça marche ✓ 🎉', 'Émile'),
	('5d2c2a3e-1b1f-4b7e-9f0e-000000000007', 'dave@example.org/laptop', '&local', 'irc.example.org', 1500000021, 'owner with a resource', 'dave'),
	-- Bodies that break naive quoting or splitting.
	('5d2c2a3e-1b1f-4b7e-9f0e-000000000008', 'alice@example.org', '#chan', 'irc.example.org', 1500000030, 'line one
line two', 'bob'),
	('5d2c2a3e-1b1f-4b7e-9f0e-000000000009', 'alice@example.org', '#chan', 'irc.example.org', 1500000031, 'it''s "quoted"; a\b	tab', 'bob'),
	('5d2c2a3e-1b1f-4b7e-9f0e-00000000000a', 'alice@example.org', '#chan', 'irc.example.org', 1500000032, '', 'bob');

-- Ordinary traffic: 3 owners × 2 servers × 4 channels.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO muclogline_ (uuid_, owner_, ircchanname_, ircservername_, date_, body_, nick_)
SELECT 'b0000000-0000-4000-8000-' || (100000000000 + i),
	CASE i % 3 WHEN 0 THEN 'alice@example.org' WHEN 1 THEN 'bob@example.org' ELSE 'carol@example.org' END,
	'#chan' || (i % 4),
	CASE WHEN i % 2 = 0 THEN 'irc.example.org' ELSE 'chat.freenode.net' END,
	1600000000 + i * 37,
	'bulk line ' || i,
	CASE WHEN i % 10 = 0 THEN '' ELSE 'nick' || (i % 7) END
FROM n;

-- The later rows sharing the duplicated uuid_, and one sharing a bulk
-- line's: they get derived IDs.
INSERT INTO muclogline_ (uuid_, owner_, ircchanname_, ircservername_, date_, body_, nick_) VALUES
	('dddddddd-0000-4000-8000-000000000001', 'alice@example.org', '#chan', 'irc.example.org', 1700000000, 'duplicate uuid_, second', 'bob'),
	('dddddddd-0000-4000-8000-000000000001', 'bob@example.org', '#chan', 'chat.freenode.net', 1700000001, 'duplicate uuid_, third', 'bob'),
	('b0000000-0000-4000-8000-100000000007', 'bob@example.org', '#chan3', 'chat.freenode.net', 1700000002, 'reuses a bulk line''s uuid_', 'bob');

-- Global options: booleans 0/1; persistent_ is explicit once a row exists.
INSERT INTO globaloptions_ (id_, owner_, maxhistorylength_, recordhistory_, persistent_) VALUES
	(1, 'alice@example.org', 50, 1, 1),
	(2, 'bob@example.org', 0, 0, 0),
	(3, 'Carol@Example.ORG', 20, 1, 0),
	(4, 'erin@example.org', NULL, NULL, NULL),
	(5, 'not valid@', 20, 1, 1),
	-- No unique constraint: bob twice; the newer row wins.
	(6, 'bob@example.org', 5, 1, 1);

-- Server options in the 9.0 columns (written by a 9.0 form).
INSERT INTO ircserveroptions_ (id_, owner_, server_, pass_, tlsports_, ports_, username_, realname_, verifycert_, trustedfingerprint_, encodingout_, encodingin_, maxhistorylength_, address_, nick_, saslpassword_, throttlelimit_) VALUES
	(10, 'carol@example.org', 'irc.example.org', '', ' 6697 ; ', '6667;7000;abc;99999;', 'caro', 'Carol C.', 1, '', '', '', 20, 'irc.example.net', 'caro', 'sasl-secret', 0),
	(11, 'alice@example.org', 'irc.other.org', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(12, 'dave@example.org', 'irc.example.org', 'p', '6697;', '6667;', '', '', 0, '01:02', 'ISO-8859-1', 'ISO-8859-1', 100, '', 'dave_', '', 3),
	-- dave again for the same server: the newer row wins, with its commands.
	(13, 'dave@example.org', 'irc.example.org', 'p2', '6697;', '', '', '', 1, '', '', '', 20, '', 'dave2', '', 10);

INSERT INTO after_connection_commands_ (fk_, afterconnectioncommand_) VALUES
	(10, 'PRIVMSG NickServ :IDENTIFY caro pw'),
	(99, 'orphan: no server row 99'),
	(12, 'belongs to a duplicate server row'),
	(13, 'MODE dave2 +x'),
	(10, 'JOIN #caro');

-- Channel options: persistent_ 0/1, recordhistory_ a tri-state.
INSERT INTO ircchanneloptions_ (id_, owner_, server_, channel_, encodingout_, encodingin_, maxhistorylength_, persistent_, recordhistory_) VALUES
	(1, 'alice@example.org', 'irc.example.org', '#chan', '', '', 30, 1, 1),
	(2, 'alice@example.org', 'irc.example.org', '#other', 'UTF-8', 'ISO-8859-1', 20, 0, -1),
	(3, 'bob@example.org', 'chat.freenode.net', '#chan', NULL, NULL, NULL, NULL, 0),
	(4, 'Carol@Example.ORG', 'irc.über.example', '#ça', '', '', 20, 1, 5),
	(5, 'dave@example.org', 'irc.example.org', '&local', '', '', 20, 0, -3),
	(6, '', 'irc.example.org', '#chan', '', '', 20, 0, 0),
	-- alice #chan again: the newer row wins.
	(7, 'alice@example.org', 'irc.example.org', '#chan', 'UTF-8', '', 40, 0, -1);

-- Roster: gateway and server JIDs; no constraint, so duplicates happen.
INSERT INTO roster (local, remote) VALUES
	('biboumi.example.org', 'alice@example.org'),
	('irc.example.org@biboumi.example.org', 'alice@example.org'),
	('biboumi.example.org', 'alice@example.org'),
	('biboumi.example.org', 'Bob@Example.org'),
	('biboumi.example.org', 'not valid@'),
	('', 'bob@example.org');
