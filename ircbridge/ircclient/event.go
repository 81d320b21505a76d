package ircclient

import "github.com/ergochat/irc-go/ircmsg"

// Event is what a Conn reports to its owner, through Config.Handler or on
// Config.Events. The set is closed: Progress, Registered, Line and Closed.
type Event interface{ isEvent() }

// Progress is a gateway message about the connection attempt, with
// Biboumi's exact texts: "Connecting to 127.0.0.1:6697 (encrypted)",
// "Connection failed: Connection refused", "Connected to IRC server." or
// "Connected to IRC server (encrypted).", and during SASL the server's 900
// (RPL_LOGGEDIN) text, such as "You are now logged in as alice".
type Progress struct {
	Conn *Conn
	Text string
}

// Registered reports 001: the server accepted the registration. Nick is the
// first parameter of 001, our nick from now on. ISupport is the snapshot at
// that moment: servers usually send 005 after 001, so it often still holds the
// defaults; each later 005 also arrives as a Line event, after which
// Conn.ISupport returns the updated values.
type Registered struct {
	Conn     *Conn
	Nick     string
	ISupport *ISupport
}

// Line is one line received from the server after the connection was
// established, with its source, parameters and tag values decoded to valid
// UTF-8; tags (time, msgid, label, batch…) are delivered as the server sent
// them. PING (answered by the Conn), CAP (negotiated by the Conn),
// AUTHENTICATE and the SASL numerics 900-908 while authenticating (reported
// as Progress or Closed), and ERROR (reported by Closed) are not delivered
// as Line events; 001 is delivered both as Registered and as a Line.
type Line struct {
	Conn *Conn
	Msg  ircmsg.Message
}

// Closed is the last event of a Conn, delivered exactly once. Err is nil when
// the connection ended because of Quit or Close, and otherwise says why it
// ended: a *ServerError for an ERROR line, a *SASLError, ErrPingTimeout,
// ErrRegistrationTimeout, an error wrapping ErrConfig, the context's error,
// the last dial error (a *TLSError for a failed handshake), or a socket
// error. Retryable(Err) says whether reconnecting makes sense. Text is the
// user-facing reason: the ERROR text verbatim, "SASL authentication failed:
// <server text>", "Connection closed." when the server closed the socket, or
// a strerror-style message (see StrError).
type Closed struct {
	Conn *Conn
	Err  error
	Text string
}

func (Progress) isEvent()   {}
func (Registered) isEvent() {}
func (Line) isEvent()       {}
func (Closed) isEvent()     {}
