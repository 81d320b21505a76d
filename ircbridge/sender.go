package ircbridge

import "context"

// Sender delivers stanzas to the XMPP server. component.Link implements it.
//
// Implementations queue and return quickly; they are safe for concurrent
// use and keep the order of the stanzas given by any one goroutine. An error
// means the stanza was not queued (the queue is full or the link is shut
// down for good); callers log it and go on.
type Sender interface {
	SendMessage(ctx context.Context, m Message) error
	SendPresence(ctx context.Context, p Presence) error
	SendIQ(ctx context.Context, iq IQ) error
}
