// Package testenv starts real, throwaway servers (prosody, ejabberd,
// inspircd, ngircd) on loopback for tests, and provides raw IRC and XMPP
// clients that play the people on either side of the gateway.
//
// It is a thin layer over biboumi/internal/servers that turns errors into
// test failures and ties lifetimes to the test: servers started with
// Start* are stopped by t.Cleanup; servers obtained with Shared* live for
// the whole test binary and are stopped by RunMain.
//
// Every server listens on 127.0.0.1 on ports chosen by the harness, with
// its configuration rendered from the templates in testdata/integration/
// into a temporary directory.
//
// A missing server binary skips the test, or fails it when the
// environment variable CI is "true" (see Require).
package testenv

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"biboumi/internal/servers"

	"github.com/ergochat/irc-go/ircmsg"
)

// ExpectTimeout is how long the clients' Expect waits for a match.
const ExpectTimeout = servers.DefaultTimeout

// InCI reports whether the tests run in CI (CI=true), where missing
// servers fail instead of skipping.
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// Require checks that each binary is in PATH (or, for a name with a slash,
// exists), or in an sbin directory. If one is missing the test is skipped,
// or fails when CI=true.
func Require(t testing.TB, bins ...string) {
	t.Helper()
	missing := servers.Missing(bins...)
	if len(missing) == 0 {
		return
	}
	if InCI() {
		t.Fatalf("testenv: required binaries not found: %s (CI=true, so this is an error; install them, see .ci/run)", strings.Join(missing, ", "))
	}
	t.Skipf("testenv: required binaries not found: %s", strings.Join(missing, ", "))
}

// skipOrFatal skips the test, or fails it in CI.
func skipOrFatal(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// fatalOrSkip fails the test with err, or skips it (fails in CI) when err
// says the server is not available here.
func fatalOrSkip(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, servers.ErrUnavailable) {
		skipOrFatal(t, "testenv: %v", err)
	}
	t.Fatalf("testenv: %v", err)
}

// FreePort returns a TCP port that is free on 127.0.0.1 right now, and
// that this process hands out only once (see servers.FreePort).
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("testenv: FreePort: %v", err)
	}
	return p
}

func freePort() (int, error) { return servers.FreePort() }

// serverPort picks the ports of the servers; tests replace it to force a
// port conflict.
var serverPort = freePort

// TestdataDir returns the absolute path of the module's
// testdata/integration directory (see servers.TemplateDir). The
// environment variable BIBOUMI_TESTDATA overrides it.
func TestdataDir() (string, error) { return servers.TemplateDir() }

// IsStanza returns a matcher for a top-level element with that local name
// (message, presence, iq; "" for any) whose attributes have the given
// values, given as name, value pairs: IsStanza("message", "type", "chat").
func IsStanza(name string, attrs ...string) func(*Element) bool {
	return servers.IsStanza(name, attrs...)
}

// IsCommand returns a matcher for a command (case-insensitive) whose
// first parameters equal params.
func IsCommand(command string, params ...string) func(ircmsg.Message) bool {
	return servers.IsCommand(command, params...)
}

// Escape escapes s for use in XML text or a quoted attribute.
func Escape(s string) string { return servers.Escape(s) }

func lastParam(m ircmsg.Message) string { return servers.LastParam(m) }
