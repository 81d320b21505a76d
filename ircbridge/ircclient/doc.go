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
// An established, idle connection has exactly one goroutine: the one Dial
// starts, which dials, registers and then reads the socket. Its stack stays
// shallow while it waits, and the send queues hold memory only while lines
// wait in them, so that an idle connection costs little more than its socket
// and that goroutine's stack.
//
//   - The connection's goroutine parses every line, decodes it to valid
//     UTF-8 and delivers it as a Line event. It also runs the timers, as
//     read deadlines on the socket: the registration timeout until 001,
//     then the keepalive (see Config.PingInterval). Cancelling the Dial
//     context, Close and the quit timer (a time.AfterFunc armed by Quit)
//     close the socket, which ends its read.
//   - Send and SendRaw queue serialized lines in a bounded queue and never
//     block. While lines wait, a writer goroutine writes them and then
//     exits; it is the only goroutine that writes to the socket. The
//     connection's own lines (registration, PONG, PING, CAP) go first.
//   - Events are delivered in order: Progress events while dialing, then
//     Registered and Line events, and finally exactly one Closed event,
//     which is always the last one. Done is closed after every goroutine of
//     the connection (the writer included) has exited and Closed was
//     delivered.
//
// Events go either to Config.Handler or to Config.Events.
//
// With Config.Handler, the connection's goroutine calls Handler for each
// event, so that the owner needs no goroutine to receive them. Handler may
// block, which only slows this one socket, and may call the methods of Conn,
// which never wait for that goroutine; it must not wait for Done. Close (or
// a cancelled context) closes the socket at once even while Handler blocks;
// the connection's goroutine then stops as soon as Handler returns, calls it
// once more with Closed, and Done is closed.
//
// With Config.Events, each event is sent on the channel. Sending blocks until
// the owner receives it, which only slows this one socket. The owner must
// keep receiving until it gets Closed, or cancel the context given to Dial:
// after a cancellation every pending event send gives up, and Closed is
// delivered only if the channel has room or the owner is receiving at that
// moment. After Close or Quit, pending Line events that the owner has not
// received yet may be dropped, but Closed is not.
//
// The methods of Conn are safe for concurrent use.
package ircclient
