// Command biboumi is an XMPP ↔ IRC gateway: an XEP-0114 external component
// that lets the users of an XMPP server join IRC channels as group chats.
//
// Usage:
//
//	biboumi [CONFIG]                 run the gateway (default /etc/biboumi/biboumi.toml)
//	biboumi --test-config CONFIG     check the configuration and exit 0, or 2
//
// Exit status: 0 after a clean shutdown, 1 when the XMPP server could never
// be reached or refused the component, 2 for a bad command line or
// configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// DefaultConfigPath is where the configuration is read from when no path is
// given on the command line.
const DefaultConfigPath = "/etc/biboumi/biboumi.toml"

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	tuneGC(os.Getenv)
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("biboumi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	testConfig := fs.Bool("test-config", false, "check the configuration file and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: biboumi [--test-config] [CONFIG]\n\nCONFIG defaults to %s.\n", DefaultConfigPath)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "biboumi", version)
		return 0
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	path := DefaultConfigPath
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		fmt.Fprintln(stderr, "biboumi:", err)
		return 2
	}
	if *testConfig {
		fmt.Fprintf(stdout, "%s: configuration OK\n", path)
		return 0
	}
	logs, err := newLogging(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "biboumi:", err)
		return 2
	}
	defer logs.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(reload)

	d := daemon{path: path, cfg: cfg, logs: logs, reload: reload, notify: newNotifier()}
	if err := d.run(ctx); err != nil {
		logs.Logger().Error("exiting", "err", err)
		return 1
	}
	logs.Logger().Info("All connections cleanly closed, have a nice day.")
	return 0
}
