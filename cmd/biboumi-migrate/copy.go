package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"biboumi/store"
	"biboumi/store/biboumi"
	"biboumi/store/sqlstore"
)

const copyUsage = `Usage: biboumi-migrate copy --from SRC --to DST [OPTIONS]

Copies per-user options (global, server with after-connect commands,
channel), the roster and the whole channel archive from SRC into DST; from
a database of this gateway, also the kept channels (the global persistent
option's) and the IRC client certificates (CertFP).

SRC is a database of Biboumi 9.x or of this gateway, in SQLite (a file path)
or PostgreSQL (a postgres:// or postgresql:// URL); its schema is detected.
SRC is only read: SQLite is opened read-only, PostgreSQL sessions are
read-only. DST is this gateway's database, normally a postgres:// URL (an
SQLite path works too); its schema is created or upgraded first.

Archived lines keep their IDs (clients know them as MAM ids); Biboumi lines
with an empty or duplicate uuid_ get a stable derived ID. Options in DST are
replaced by the source's; a client certificate DST already has is kept
(the IRC servers may know it) and a different one in SRC is reported. Running the command again copies nothing twice; a
copy that was interrupted (Ctrl-C, kill, crash) resumes where it stopped.
At the end the copy is verified: every source row is accounted for, and
every source line is in DST with the same content; a mismatch exits with
status 1. Source rows that cannot be converted (an owner that is not a
valid JID) are skipped with a warning.

Options:
`

func runCopy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the source database: an SQLite file or a postgres:// URL")
	to := fs.String("to", "", "the destination database: a postgres:// URL or an SQLite file")
	batch := fs.Int("batch", store.DefaultCopyBatch, "log lines per transaction (and per resumable step)")
	dryRun := fs.Bool("dry-run", false, "read and convert the whole source and report, without touching DST")
	rescan := fs.Bool("rescan", false, "read the source from its start, ignoring the recorded progress")
	quick := fs.Bool("quick-verify", false, "verify counts only, without reading the source a second time")
	fs.Usage = func() {} // flag reports the error; the help goes to stdout
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, copyUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return exitOK
		}
		fmt.Fprintln(stderr, `Run "biboumi-migrate copy --help" for usage.`)
		return exitUsage
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "biboumi-migrate copy: "+format+"\n", a...)
		fmt.Fprintln(stderr, `Run "biboumi-migrate copy --help" for usage.`)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case *from == "":
		return bad("--from is required")
	case *to == "" && !*dryRun:
		return bad("--to is required")
	case *batch <= 0:
		return bad("--batch must be positive")
	case *to != "" && sqlstore.Location(*from) == sqlstore.Location(*to):
		return bad("--from and --to name the same database")
	}

	fail := func(err error) int {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w; run the same command again to resume", err)
		}
		fmt.Fprintln(stderr, "biboumi-migrate copy:", err)
		return exitFailure
	}
	src, kind, err := openSource(ctx, *from)
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	var dst store.Store
	if !*dryRun {
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		s, err := sqlstore.OpenDBName(ctx, *to, sqlstore.Options{Logger: log})
		if err != nil {
			return fail(fmt.Errorf("opening the destination: %w", err))
		}
		defer s.Close()
		dst = s
	}
	fmt.Fprintf(stderr, "Copying from %s (%s)\n", src.SourceID(), kind)

	p := newProgress(stderr)
	report, err := store.Copy(ctx, dst, src, store.CopyOptions{
		BatchSize:   *batch,
		DryRun:      *dryRun,
		Rescan:      *rescan,
		QuickVerify: *quick,
		Progress:    p.update,
	})
	p.end()
	printWarnings(stderr, report)
	printReport(stdout, report)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("stopped after source id %d", report.Progress.LastSrcID)
		}
		return fail(err)
	}
	return exitOK
}

// source is a store.CopySource that owns its database.
type source interface {
	store.CopySource
	Close() error
}

// openSource opens dbName read-only and detects its schema: this
// gateway's (schema_version and muc_log) or Biboumi's (muclogline_ …).
// It also returns the schema's name, for messages.
func openSource(ctx context.Context, dbName string) (source, string, error) {
	db, driver, err := sqlstore.OpenReadOnlyDB(ctx, dbName)
	if err != nil {
		return nil, "", fmt.Errorf("opening the source: %w", err)
	}
	ours, err := sqlstore.NewSource(ctx, db, driver, dbName)
	switch {
	case err == nil:
		cols, err := sqlstore.TableColumns(ctx, db, driver, "muclogline_")
		if err != nil {
			db.Close()
			return nil, "", fmt.Errorf("the source: %w", err)
		}
		if cols != nil {
			db.Close()
			return nil, "", errors.New("the source holds both this gateway's tables and Biboumi's (muclogline_): " +
				"which to copy is ambiguous")
		}
		return ours, "gateway database", nil
	case !errors.Is(err, sqlstore.ErrNoSchema):
		db.Close()
		return nil, "", fmt.Errorf("the source: %w", err)
	}
	bib, err := biboumi.New(ctx, db, driver, dbName)
	if err != nil {
		db.Close()
		if errors.Is(err, biboumi.ErrNotBiboumi) {
			return nil, "", errors.New("the source holds neither a Biboumi database (muclogline_ …) " +
				"nor one of this gateway (schema_version, muc_log)")
		}
		return nil, "", fmt.Errorf("the source: %w", err)
	}
	return bib, "Biboumi 9 database", nil
}

// maxWarnings bounds the skipped rows listed one by one.
const maxWarnings = 20

func printWarnings(w io.Writer, r *store.CopyReport) {
	issues := append(append([]store.CopyIssue(nil), r.SettingsSkipped...), r.SkippedLogs...)
	total := len(r.SettingsSkipped) + int(r.Run.Skipped)
	for i, is := range issues {
		if i == maxWarnings {
			break
		}
		id := ""
		if is.SrcID != 0 {
			id = fmt.Sprintf(" id_ %d", is.SrcID)
		}
		fmt.Fprintf(w, "warning: skipped %s%s: %s\n", is.Table, id, is.Reason)
	}
	if total > maxWarnings {
		fmt.Fprintf(w, "warning: … and %d more skipped rows\n", total-maxWarnings)
	}
	for _, is := range r.SettingsRepaired {
		fmt.Fprintf(w, "warning: repaired %s id_ %d: %s\n", is.Table, is.SrcID, is.Reason)
	}
}

func printReport(w io.Writer, r *store.CopyReport) {
	verb := "Copied"
	if r.DryRun {
		verb = "Dry run: would copy"
	}
	fmt.Fprintf(w, "%s from %s:\n", verb, r.Source)
	fmt.Fprintf(w, "  options: %d global, %d server, %d channel; roster: %d items; %d kept channels; %d client certificates; %d settings rows skipped, %d repaired\n",
		r.Global, r.Servers, r.Channels, r.Roster, r.Kept, r.Certs, len(r.SettingsSkipped), len(r.SettingsRepaired))
	run := r.Run
	start := "from the start"
	if r.ResumedAfter > 0 {
		start = fmt.Sprintf("resumed after source id %d", r.ResumedAfter)
	}
	if r.DryRun {
		fmt.Fprintf(w, "  log lines: %s would be copied, %s rows skipped, %s given a derived ID\n",
			comma(run.Imported), comma(run.Skipped), comma(r.NewIDs))
		return
	}
	fmt.Fprintf(w, "  log lines (this run, %s): %s rows read: %s copied, %s already there, %s skipped, %s conflicting; %s given a derived ID\n",
		start, comma(run.Rows), comma(run.Imported), comma(run.Present), comma(run.Skipped), comma(run.Conflicts), comma(r.NewIDs))
	if p := r.Progress; p != run {
		fmt.Fprintf(w, "  log lines (all runs): %s rows read: %s copied, %s already there, %s skipped, %s conflicting\n",
			comma(p.Rows), comma(p.Imported), comma(p.Present), comma(p.Skipped), comma(p.Conflicts))
	}
	if r.Progress.LastSrcID > 0 {
		fmt.Fprintf(w, "  verification: the source holds %s log rows up to id %d", comma(r.SourceRows), r.Progress.LastSrcID)
		if r.Verified >= 0 {
			fmt.Fprintf(w, "; %s of its lines are in the destination", comma(r.Verified))
		}
		fmt.Fprintln(w)
	}
}
