// Package component is the gateway's XEP-0114 link to the XMPP server: it
// turns the server's stanzas into ircbridge values for a Handler, and
// ircbridge values into stanzas (Link implements ircbridge.Sender).
// It is the only package that knows XML.
//
// # Link life cycle
//
//	link := component.New(cfg, gateway)
//	go link.Run(ctx) // error only if the first connection fails
//	<-link.Ready()
//	...
//	link.Close(shutdownCtx) // after the gateway sent its last stanzas
//
// Run dials, performs the XEP-0114 handshake with mellium's
// component.NewSession, and then runs the connection itself: mellium's
// Session.Serve is not used, because it answers IQs only inside the
// handler and ends the stream when a handler returns an error, and
// mellium's stream reader is not used either, because it mistakes any
// element in the streams namespace, at any depth, for a stream-level event
// (see reader.go). After a first successful handshake a lost connection is
// re-established with jittered exponential backoff, forever; stanzas sent
// meanwhile wait in the bounded outgoing queue.
//
// # Goroutines
//
// A live connection has two goroutines: Run's, which reads, decodes and
// calls the Handler (whose methods must only enqueue), and one writer,
// which drains the queue through a bufio.Writer and flushes when the queue
// is momentarily empty. Send* render the stanza in the caller's goroutine.
//
// # Incoming stanzas
//
// Messages, presences and iqs in jabber:component:accept (or jabber:client,
// jabber:server) are decoded into ircbridge.Message, ircbridge.Presence and
// ircbridge.IQ and given to the Handler in arrival order. IQ results and
// errors are delivered too (HandleIQ), for the gateway to match against its
// pending requests. An iq get or set whose payload the package does not
// know arrives with an *ircbridge.UnknownPayload, and the gateway must
// answer it (RFC 6120 §8.4: service-unavailable).
//
// A stanza that cannot be accepted is answered with a stanza error from
// the address it was sent to (our domain if that is unusable) and is not
// delivered; the link stays up:
//   - malformed to, or a JID in a known field: modify/jid-malformed;
//   - missing to, iq without id or type, get/set without exactly one child,
//     unknown type, garbage in a known field (history since or maxstanzas,
//     show, role, RSM max, MAM start or end, a MAM FORM_TYPE other than
//     urn:xmpp:mam:2, an ad-hoc command action…): modify/bad-request with
//     a text;
//   - a body, subject or status over MaxBodyBytes ("message too large"), a
//     stanza over MaxStanzaBytes or nested deeper than MaxDepth:
//     modify/not-acceptable.
//
// Errors and iq results are never answered, nor is a stanza without a
// valid from. Unknown top-level elements are logged and ignored. A panic
// while handling one stanza is recovered and logged.
//
// The connection itself ends (and is re-established) on a stream error
// from the server, on XML that is not well-formed (we send
// not-well-formed), and on a stanza beyond the hard limits (16 ×
// MaxStanzaBytes on the wire, or 100000 levels; we send policy-violation),
// because the XML decoder would otherwise hold it all in memory.
//
// # Outgoing stanzas
//
// Stanzas are written by a small hand-rolled encoder (encode.go): single
// quotes, one xmlns per namespace switch, zero JIDs and empty strings
// omitted. Every string is made valid XML 1.0 (xmlwrite.go): characters
// XML forbids, such as the IRC formatting codes, are dropped and invalid
// UTF-8 becomes U+FFFD, since one bad byte would make the server close the
// stream for every user.
package component
