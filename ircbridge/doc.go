// Package ircbridge is the gateway's domain: it maps XMPP users, rooms and
// occupants onto IRC connections, channels and nicks.
//
// The package knows nothing about XML. The component package decodes
// stanzas into the plain structs of stanzas.go (Message, Presence, IQ) and
// calls the Gateway's Handle methods; the Gateway answers through a Sender.
//
// Concurrency: the Gateway holds only the registry of sessions. Each XMPP
// user (bare JID) has one Session, and all of that user's state is owned by
// the Session's goroutine; other goroutines talk to it through its event
// channels. Each IRC connection (ircclient.Conn) has its own reader and
// writer goroutines and reports to its Session through a channel.
package ircbridge
