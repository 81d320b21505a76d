-- Rows only the PostgreSQL schema can hold: id_ values that repeat (id_ is
-- a SERIAL without a unique constraint; a dump reloaded by hand, or rows
-- inserted with explicit ids, leave such duplicates). Run after data.sql.

INSERT INTO muclogline_ (id_, uuid_, owner_, ircchanname_, ircservername_, date_, body_, nick_) VALUES
	-- Two more rows with id_ 5, different content and uuid_.
	(5, 'f0000000-0000-4000-8000-000000000001', 'alice@example.org', '#chan', 'irc.example.org', 1800000000, 'same id_ as another row (a)', 'p'),
	(5, 'f0000000-0000-4000-8000-000000000002', 'bob@example.org', '#chan', 'chat.freenode.net', 1800000001, 'same id_ as another row (b)', 'p'),
	-- Same id_ and uuid_, other content: the second gets a derived ID.
	(100000, 'f0000000-0000-4000-8000-000000000003', 'alice@example.org', '#chan', 'irc.example.org', 1800000002, 'same id_ and uuid_ (a)', 'p'),
	(100000, 'f0000000-0000-4000-8000-000000000003', 'alice@example.org', '#chan', 'irc.example.org', 1800000003, 'same id_ and uuid_ (b)', 'p'),
	-- The same row twice: copied once, the other skipped.
	(100001, 'f0000000-0000-4000-8000-000000000004', 'alice@example.org', '#chan', 'irc.example.org', 1800000004, 'loaded twice', 'p'),
	(100001, 'f0000000-0000-4000-8000-000000000004', 'alice@example.org', '#chan', 'irc.example.org', 1800000004, 'loaded twice', 'p');

-- Duplicate id_ in an options table too: both rows are read.
INSERT INTO globaloptions_ (id_, owner_, maxhistorylength_, recordhistory_, persistent_) VALUES
	(4, 'frank@example.org', 7, 0, 0);
