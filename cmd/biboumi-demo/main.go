// Command biboumi-demo shows the gateway at work on one machine: it starts
// a throwaway prosody and inspircd on free loopback ports, builds and
// starts the gateway (component irc.localhost, SQLite database), plays a
// short scripted conversation between an XMPP user (alice) and an IRC user
// (ircbob), prints it as a transcript, and then tells how to point a real
// XMPP client and a real IRC client at it.
//
// Usage:
//
//	go run ./cmd/biboumi-demo [-gateway PATH] [-duration D] [-users bob,carol]
//
// Everything (configs, databases, logs) lives in a temporary directory
// that is removed at exit. Without -duration the demo runs until Ctrl-C
// (SIGINT) or SIGTERM; -duration 0 exits right after the scripted
// conversation. It exits 1 if a step fails, naming what it waited for.
//
// It must run from the biboumi module (it finds the server config
// templates in testdata/integration and builds ./cmd/biboumi there),
// unless -gateway and BIBOUMI_TESTDATA are given.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills the demo at once (the
	// servers die with it: they have a parent-death signal).
	context.AfterFunc(ctx, stop)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(os.Stderr, "biboumi-demo:", err)
		os.Exit(130)
	default:
		fmt.Fprintln(os.Stderr, "biboumi-demo: FAILED:", err)
		os.Exit(1)
	}
}
