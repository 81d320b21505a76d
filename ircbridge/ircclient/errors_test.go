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

func TestStrError(t *testing.T) {
	t.Parallel()
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{opErr(syscall.ECONNREFUSED), "Connection refused"},
		{opErr(syscall.ENETUNREACH), "Network is unreachable"},
		{opErr(syscall.EHOSTUNREACH), "No route to host"},
		{opErr(syscall.ETIMEDOUT), "Connection timed out"},
		{opErr(syscall.ECONNRESET), "Connection reset by peer"},
		{fmt.Errorf("wrapped: %w", opErr(syscall.EPIPE)), "Broken pipe"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, "Connection timed out"},
		{context.DeadlineExceeded, "Connection timed out"},
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, "Domain name not found"},
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "i/o timeout", IsTimeout: true}}, "Timeout while contacting DNS servers"},
		{&net.DNSError{Err: "server misbehaving"}, "Domain name resolution failed: server misbehaving"},
		{&TLSError{Err: x509.UnknownAuthorityError{}}, "TLS error: x509: certificate signed by unknown authority"},
		{&TLSError{Err: errors.New("tls: handshake failure")}, "TLS error: handshake failure"},
		{&TLSError{Err: io.EOF}, "TLS error: Connection closed."},
		{&TLSError{Err: opErr(syscall.ECONNRESET)}, "TLS error: Connection reset by peer"},
		{io.EOF, "Connection closed."},
		{net.ErrClosed, "Connection closed."},
		{&ServerError{Text: "Closing Link: (Excess Flood)"}, "Closing Link: (Excess Flood)"},
		{ErrPingTimeout, "Ping timeout"},
		{ErrRegistrationTimeout, "Registration timed out"},
		{ircreader.ErrReadQ, "Line too long"},
		{context.Canceled, "Operation canceled"},
		{errors.New("something odd"), "Something odd"},
	}
	for _, tc := range tests {
		if got := StrError(tc.err); got != tc.want {
			t.Errorf("StrError(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
