// Command biboumi-migrate moves a Biboumi 9.x installation, or this
// gateway's own SQLite database, over to this gateway: the data into its
// database (normally PostgreSQL), the configuration into its TOML format.
//
// Usage:
//
//	biboumi-migrate copy --from SRC --to DST [--batch N] [--dry-run] [--rescan] [--quick-verify]
//	biboumi-migrate config [--env] BIBOUMI_CFG > biboumi.toml
//	biboumi-migrate help [COMMAND]
//
// Exit status: 0 on success, 1 when the work failed (including a copy whose
// verification found a mismatch), 2 for a bad command line.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand. run gets the arguments after the command's
// name and returns the exit status.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands, in the order of the help text. Add new
// ones here.
var commands = []command{
	{"copy", "copy logs, options and roster from a Biboumi 9 or gateway database into a gateway database", runCopy},
	{"config", "convert a Biboumi biboumi.cfg into this gateway's TOML configuration (on stdout)", runConfig},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				return c.run(ctx, []string{"--help"}, stdout, stderr)
			}
			fmt.Fprintf(stderr, "biboumi-migrate: unknown command %q\n", args[1])
			return exitUsage
		}
		usage(stdout)
		return exitOK
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "biboumi-migrate: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: biboumi-migrate COMMAND [OPTIONS]

Moves the data of a Biboumi 9 gateway, or of this gateway's own database,
into this gateway's database.

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "biboumi-migrate help COMMAND" (or COMMAND --help) for its options.
Exit status: 0 on success, 1 on failure, 2 for a bad command line.
`)
}
