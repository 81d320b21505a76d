-- SASL EXTERNAL with a per-user client certificate (CertFP): the mechanism
-- chosen per server, and each user's certificate, made by the gateway on
-- first use.
ALTER TABLE irc_server_options ADD COLUMN sasl_mechanism TEXT NOT NULL DEFAULT '';

CREATE TABLE client_certs (
	owner    TEXT NOT NULL PRIMARY KEY, -- bare JID
	cert_pem TEXT NOT NULL,
	key_pem  TEXT NOT NULL
);
