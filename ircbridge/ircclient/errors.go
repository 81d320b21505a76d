package ircclient

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/ergochat/irc-go/ircreader"
)

// Errors reported by a Conn.
var (
	// ErrClosed is returned by Send and SendRaw once the connection is
	// closing (after Quit, Close, or a failure).
	ErrClosed = errors.New("ircclient: connection closed")
	// ErrQueueFull is returned by Send and SendRaw when the send queue is
	// full; the line was not queued.
	ErrQueueFull = errors.New("ircclient: send queue full")
	// ErrPingTimeout ends a connection on which nothing was received for a
	// whole PingInterval after a PING.
	ErrPingTimeout = errors.New("ircclient: ping timeout")
	// ErrRegistrationTimeout ends a connection that did not get 001 within
	// RegistrationTimeout.
	ErrRegistrationTimeout = errors.New("ircclient: registration timed out")
	// ErrEmptyLine is returned by SendRaw for a line that is empty once CR,
	// LF and NUL are removed.
	ErrEmptyLine = errors.New("ircclient: empty line")
	// ErrConfig is wrapped by the error of a Config that Dial cannot use
	// (reported by an immediate Closed event).
	ErrConfig = errors.New("ircclient: invalid configuration")
)

// ServerError is the text of an ERROR line from the server, which ends the
// connection.
type ServerError struct {
	Text string
	// Numeric is the refusal numeric the server sent before ERROR, if any:
	// "463" (ERR_NOPERMFORHOST), "464" (ERR_PASSWDMISMATCH) or "465"
	// (ERR_YOUREBANNEDCREEP). Retryable reports false when it is set.
	Numeric string
}

func (e *ServerError) Error() string { return "ircclient: server error: " + e.Text }

// SASLError ends a connection whose SASL authentication failed: the server
// answered 902, 904, 905, 906, 907 or 908, refused or did not offer the sasl
// capability, or does not support capability negotiation at all.
type SASLError struct {
	// Numeric is the failure numeric ("904"…), or "" when the failure is
	// about the capability itself.
	Numeric string
	// Text is the server's text for a numeric, else our explanation.
	Text string
}

func (e *SASLError) Error() string { return "ircclient: SASL authentication failed: " + e.Text }

// TLSError wraps a failed TLS handshake.
type TLSError struct {
	Err error
}

func (e *TLSError) Error() string { return "ircclient: TLS handshake: " + e.Err.Error() }

// Unwrap returns the handshake error.
func (e *TLSError) Unwrap() error { return e.Err }

// StrError turns err into the user-facing text Biboumi would show, in the
// style of C's strerror rather than Go's error strings: "Connection refused",
// "Connection timed out", "Domain name not found", "Network is unreachable",
// "No route to host", "TLS error: …", "Connection closed.". It returns ""
// for nil.
func StrError(err error) string {
	if err == nil {
		return ""
	}
	var (
		dnsErr *net.DNSError
		tlsErr *TLSError
		srvErr *ServerError
		errno  syscall.Errno
		netErr net.Error
	)
	var saslErr *SASLError
	switch {
	case errors.As(err, &srvErr):
		return srvErr.Text
	case errors.As(err, &saslErr):
		return "SASL authentication failed: " + saslErr.Text
	case errors.Is(err, ErrConfig):
		return capitalize(strings.TrimPrefix(err.Error(), "ircclient: "))
	case errors.As(err, &tlsErr):
		return "TLS error: " + tlsText(tlsErr.Err)
	case errors.As(err, &dnsErr):
		switch {
		case dnsErr.IsNotFound:
			return "Domain name not found"
		case dnsErr.IsTimeout:
			return "Timeout while contacting DNS servers"
		}
		return "Domain name resolution failed: " + dnsErr.Err
	case errors.Is(err, ErrPingTimeout):
		return "Ping timeout"
	case errors.Is(err, ErrRegistrationTimeout):
		return "Registration timed out"
	case errors.Is(err, ircreader.ErrReadQ):
		return "Line too long"
	case errors.As(err, &errno):
		// Go's Linux error table is glibc's strerror in lower case.
		return capitalize(errno.Error())
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "Connection timed out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "Connection closed."
	case errors.Is(err, context.Canceled):
		return "Operation canceled"
	}
	return capitalize(err.Error())
}

// tlsText is the part after "TLS error: ". Socket errors during the
// handshake keep their strerror text; TLS and X.509 errors keep Go's text
// without the package prefix.
func tlsText(err error) string {
	var errno syscall.Errno
	var netErr net.Error
	switch {
	case errors.As(err, &errno), errors.As(err, &netErr) && netErr.Timeout(),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.DeadlineExceeded):
		return StrError(err)
	}
	s := err.Error()
	s = strings.TrimPrefix(s, "tls: ")
	return s
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || !unicode.IsLower(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// Retryable tells the owner of a connection whether reconnecting after it
// ended with Closed.Err = err may work: true when the network or the server
// dropped us (refused, reset, timed out, EOF, ping or registration timeout,
// a transient DNS failure, an ERROR for a ping timeout, a flood or a server
// shutdown…); false when we ended it ourselves (nil: Quit or Close; a
// cancelled context), for configuration errors, SASL failures, certificate
// or TLS protocol failures, an unknown domain name, and ERRORs that say we
// are banned, killed or refused (K/G/Z/D-lines, "banned", "Killed", a bad
// password, or a 463/464/465 numeric before the ERROR).
//
// Even when it is true the owner must back off (with jitter) between
// attempts: networks ban clients that reconnect too fast.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var (
		saslErr *SASLError
		srvErr  *ServerError
		tlsErr  *TLSError
		dnsErr  *net.DNSError
	)
	switch {
	case errors.Is(err, ErrConfig), errors.As(err, &saslErr):
		return false
	case errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &srvErr):
		return srvErr.Numeric == "" && !refusalText(srvErr.Text)
	case errors.As(err, &tlsErr):
		return transportError(tlsErr.Err)
	case errors.As(err, &dnsErr):
		return !dnsErr.IsNotFound
	case errors.Is(err, ErrPingTimeout), errors.Is(err, ErrRegistrationTimeout),
		errors.Is(err, ircreader.ErrReadQ), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return transportError(err)
}

// transportError reports whether err is a socket-level failure: EOF, a
// timeout, an errno, or another net.Error.
func transportError(err error) bool {
	var (
		errno  syscall.Errno
		netErr net.Error
	)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &errno):
		return true
	case errors.As(err, &netErr):
		// Certificate errors are not net.Errors; a net.OpError wraps a
		// socket failure.
		return true
	}
	return false
}

// refusalPatterns are lower-case fragments of ERROR texts after which
// reconnecting blindly is wrong: bans, kills and authentication refusals.
var refusalPatterns = []string{
	"k-line", "g-line", "z-line", "d-line", "e-line",
	"klined", "glined", "zlined", "dlined", "k:line", "g:line", "z:line",
	"banned", "killed", "password", "not authorized", "unauthorized",
	"access denied", "not welcome", "no authorization", "you are not allowed",
}

func refusalText(text string) bool {
	t := strings.ToLower(text)
	for _, p := range refusalPatterns {
		if strings.Contains(t, p) {
			return true
		}
	}
	return false
}
