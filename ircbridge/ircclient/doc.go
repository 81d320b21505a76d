// Package ircclient is one IRC client connection: one per XMPP user and IRC
// server. It dials (TLS ports first, then plain ports, presenting an
// optional client certificate), registers (WEBIRC, PASS, CAP LS 302, NICK,
// USER, then CAP REQ and SASL PLAIN or EXTERNAL, CAP END only once
// authenticated), answers PING, keeps the IRCv3 capabilities up to date
// (cap-notify), tracks ISUPPORT and the current nick, and reports everything
// else to its owner as typed events. Retryable tells the owner whether a
// closed connection is worth reconnecting.
//
// It is built on irc-go's ircmsg and ircreader, not on ircevent: the owner
// (the user's session goroutine) decides about reconnection, nick conflicts
// and every other policy; this package only speaks the wire protocol.
//
// # Goroutines and ownership
//
// Dial starts one supervisor goroutine, which dials and then starts a reader
// and a writer goroutine. The supervisor also runs the registration, keepalive
// and quit timers. All three are awaited before Done is closed.
//
//   - The reader parses every line, decodes it to valid UTF-8 and sends it to
//     Config.Events as a Line event. Sending blocks until the owner receives
//     it, which only slows this one socket.
//   - The writer is the only goroutine that writes to the socket. Send and
//     SendRaw queue serialized lines in a bounded queue and never block.
//   - Events are delivered in order on Config.Events: Progress events while
//     dialing, then Registered and Line events, and finally exactly one
//     Closed event, which is always the last one.
//
// The owner must keep receiving from Config.Events until it gets Closed, or
// cancel the context given to Dial: after a cancellation every pending event
// send gives up, and Closed is delivered only if the channel has room or the
// owner is receiving at that moment. After Close or Quit, pending Line events
// that the owner has not received yet may be dropped, but Closed is not.
//
// The methods of Conn are safe for concurrent use.
package ircclient
