-- Channels a user stays in with no client joined because of their global
-- "persistent" option (a channel's own option is in irc_channel_options):
-- the gateway joins them again when it starts. A row is added when the
-- user's last client leaves such a channel and removed when the user
-- really leaves it (part, kick, failed join, disconnect).
CREATE TABLE kept_channels (
	owner   TEXT NOT NULL, -- bare JID
	server  TEXT NOT NULL,
	channel TEXT NOT NULL,
	PRIMARY KEY (owner, server, channel)
) STRICT;
