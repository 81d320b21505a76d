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
)

// ServerError is the text of an ERROR line from the server, which ends the
// connection.
type ServerError struct {
	Text string
}

func (e *ServerError) Error() string { return "ircclient: server error: " + e.Text }

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
	switch {
	case errors.As(err, &srvErr):
		return srvErr.Text
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
