package ircclient

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/ergochat/irc-go/ircreader"
)

func TestRetryable(t *testing.T) {
	t.Parallel()
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	dialErr := func(err error) error { return fmt.Errorf("ircclient: cannot connect to irc.example.org: %w", err) }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		// The network or the server dropped us: reconnect (with backoff).
		{"refused", dialErr(opErr(syscall.ECONNREFUSED)), true},
		{"unreachable", dialErr(opErr(syscall.ENETUNREACH)), true},
		{"connect timeout", dialErr(&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}), true},
		{"reset", fmt.Errorf("ircclient: read: %w", opErr(syscall.ECONNRESET)), true},
		{"server closed", fmt.Errorf("ircclient: server closed the connection: %w", io.EOF), true},
		{"ping timeout", ErrPingTimeout, true},
		{"registration timeout", ErrRegistrationTimeout, true},
		{"line too long", fmt.Errorf("ircclient: read: %w", ircreader.ErrReadQ), true},
		{"DNS timeout", dialErr(&net.DNSError{Err: "i/o timeout", IsTimeout: true}), true},
		{"TLS handshake reset", dialErr(&TLSError{Err: opErr(syscall.ECONNRESET)}), true},
		{"TLS handshake EOF", dialErr(&TLSError{Err: io.EOF}), true},
		{"TLS handshake timeout", dialErr(&TLSError{Err: context.DeadlineExceeded}), true},
		{"ERROR ping timeout", &ServerError{Text: "Closing link: (u@h) [Ping timeout: 120 seconds]"}, true},
		{"ERROR excess flood", &ServerError{Text: "Closing Link: nick[127.0.0.1] (Excess Flood)"}, true},
		{"ERROR server shutdown", &ServerError{Text: "Closing link: (u@h) [Server shutting down]"}, true},
		{"ERROR throttled", &ServerError{Text: "Your host is trying to (re)connect too fast -- throttled"}, true},

		// We ended it, or retrying cannot help: do not reconnect blindly.
		{"nil: Quit or Close", nil, false},
		{"context cancelled", context.Canceled, false},
		{"config", fmt.Errorf("%w: invalid nick %q", ErrConfig, "a b"), false},
		{"SASL 904", &SASLError{Numeric: "904", Text: "SASL authentication failed"}, false},
		{"SASL not offered", &SASLError{Text: "the server does not offer SASL"}, false},
		{"unknown domain", dialErr(&net.DNSError{Err: "no such host", IsNotFound: true}), false},
		{"untrusted certificate", dialErr(&TLSError{Err: x509.UnknownAuthorityError{}}), false},
		{"hostname mismatch", dialErr(&TLSError{Err: x509.HostnameError{Host: "x"}}), false},
		{"fingerprint mismatch", dialErr(&TLSError{Err: errors.New("certificate fingerprint mismatch")}), false},
		{"K-lined", &ServerError{Text: "Closing link: (u@h) [K-Lined: spam]"}, false},
		{"G-lined", &ServerError{Text: "Closing Link: 127.0.0.1 (G-Lined)"}, false},
		{"banned (ngircd)", &ServerError{Text: "You are banned from this server: spam"}, false},
		{"killed", &ServerError{Text: "Closing link: (u@h) [Killed (oper (go away))]"}, false},
		{"bad password", &ServerError{Text: "Closing link: (u@h) [Invalid password]"}, false},
		{"465 before ERROR", &ServerError{Text: "Closing link", Numeric: "465"}, false},
	}
	for _, tc := range tests {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("%s: Retryable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestStrErrorNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{&SASLError{Numeric: "904", Text: "Bad password"}, "SASL authentication failed: Bad password"},
		{fmt.Errorf("%w: invalid nick %q", ErrConfig, "a b"), `Invalid configuration: invalid nick "a b"`},
	}
	for _, tc := range tests {
		if got := StrError(tc.err); got != tc.want {
			t.Errorf("StrError(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
