package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"biboumi/internal/pgtest"
	"biboumi/store"
	"biboumi/store/biboumi"
	"biboumi/store/biboumi/biboumitest"
	"biboumi/store/sqlstore"
)

// sourceKind is one kind of source database.
type sourceKind struct {
	name    string
	make    func(t *testing.T) string // returns the --from value
	expect  func(t testing.TB, dbName string) dump
	sqlite  bool
	skipped int // log rows the copy skips
}

var sources = []sourceKind{
	{"biboumi-sqlite", func(t *testing.T) string { return biboumitest.SQLite(t) }, expectBiboumi, true, 6},
	{"biboumi-postgres", func(t *testing.T) string { return biboumitest.Postgres(t) }, expectBiboumi, false, 7},
	{"ours-sqlite", func(t *testing.T) string { return ourSQLite(t, 1234) }, dumpOurs, true, 0},
	{"ours-postgres", func(t *testing.T) string { return ourPostgres(t, 567) }, dumpOurs, false, 0},
}

// TestCopy copies each kind of source into PostgreSQL through the command,
// compares every row, runs it again (nothing copied twice), and checks the
// source did not change.
func TestCopy(t *testing.T) {
	for _, sk := range sources {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			from := sk.make(t)
			to := pgtest.DSN(t)
			var sum [32]byte
			if sk.sqlite {
				sum = checksum(t, from)
			}
			want := sk.expect(t, from)

			stdout, stderr := mustCLI(t, exitOK, "copy", "--from", from, "--to", to, "--batch", "50")
			compareDumps(t, dumpOurs(t, to), want)
			if n := strings.Count(stderr, "warning: skipped muclogline_"); n != sk.skipped && n != maxWarnings {
				t.Errorf("%d skipped log rows reported, want %d\n%s", n, sk.skipped, stderr)
			}
			for _, s := range []string{"logs: ", "verify: "} {
				if !strings.Contains(stderr, s) {
					t.Errorf("no %q progress line in\n%s", s, stderr)
				}
			}
			if !strings.Contains(stdout, "of its lines are in the destination") {
				t.Errorf("no verification in the report:\n%s", stdout)
			}

			// Again: the progress says everything was copied.
			stdout, _ = mustCLI(t, exitOK, "copy", "--from", from, "--to", to)
			if !strings.Contains(stdout, "0 rows read: 0 copied") {
				t.Errorf("second run:\n%s", stdout)
			}
			// And from the start: every line is recognised.
			stdout, _ = mustCLI(t, exitOK, "copy", "--from", from, "--to", to, "--rescan", "--batch", "1000")
			if !strings.Contains(stdout, ": 0 copied, "+comma(int64(len(want.logs)))+" already there") {
				t.Errorf("rescan:\n%s", stdout)
			}
			compareDumps(t, dumpOurs(t, to), want)

			if sk.sqlite {
				if checksum(t, from) != sum {
					t.Error("the source file changed")
				}
				if files, _ := filepath.Glob(from + "-*"); len(files) > 0 && !strings.HasPrefix(sk.name, "ours") {
					t.Errorf("files created next to the source: %q", files)
				}
			}
		})
	}
}

// TestCopyToSQLite copies into an SQLite destination (the importer's other
// dialect), twice.
func TestCopyToSQLite(t *testing.T) {
	t.Parallel()
	from := biboumitest.SQLite(t)
	to := filepath.Join(t.TempDir(), "dst.sqlite")
	want := expectBiboumi(t, from)
	mustCLI(t, exitOK, "copy", "--from", from, "--to", to, "--batch", "64")
	compareDumps(t, dumpOurs(t, to), want)
	mustCLI(t, exitOK, "copy", "--from", from, "--to", to, "--rescan")
	compareDumps(t, dumpOurs(t, to), want)
}

func openDst(t *testing.T, dbName string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenDBName(t.Context(), dbName, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openBiboumi(t *testing.T, dbName string) *biboumi.Reader {
	t.Helper()
	r, err := biboumi.Open(t.Context(), dbName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestCopyResume interrupts a copy after a few batches (as a kill would
// between two commits), then resumes it.
func TestCopyResume(t *testing.T) {
	for _, sk := range sources[:2] {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			from := sk.make(t)
			to := pgtest.DSN(t)
			want := sk.expect(t, from)
			src := openBiboumi(t, from)
			dst := openDst(t, to)

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			batches := 0
			report, err := store.Copy(ctx, dst, src, store.CopyOptions{BatchSize: 20, Progress: func(s store.CopyStatus) {
				if s.Phase == store.PhaseLogs && s.Done > 0 {
					if batches++; batches == 4 {
						cancel()
					}
				}
			}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted copy: %v", err)
			}
			stopped := report.Progress
			if stopped.LastSrcID == 0 || stopped.Rows < 80 || stopped.Rows >= int64(len(want.logs)) {
				t.Fatalf("stopped at %+v", stopped)
			}
			if got := dumpOurs(t, to); int64(len(got.logs)) != stopped.Imported {
				t.Fatalf("%d lines stored, the progress says %d", len(got.logs), stopped.Imported)
			}

			report, err = store.Copy(t.Context(), dst, src, store.CopyOptions{BatchSize: 20})
			if err != nil {
				t.Fatal(err)
			}
			if report.ResumedAfter != stopped.LastSrcID || report.Run.Present != 0 ||
				report.Progress.Rows != report.SourceRows || report.Verified != int64(len(want.logs)) {
				t.Errorf("resumed: %+v", report)
			}
			if report.Progress.Skipped != int64(sk.skipped) || len(report.SkippedLogs) != sk.skipped-int(stopped.Skipped) {
				t.Errorf("skipped %d (this run: %d listed), want %d in all", report.Progress.Skipped, len(report.SkippedLogs), sk.skipped)
			}
			compareDumps(t, dumpOurs(t, to), want)
		})
	}
}

// hideImporter hides the LogImporter of a store, so that Copy falls back to
// AppendLogs.
type hideImporter struct{ store.Store }

func TestCopyFallback(t *testing.T) {
	t.Parallel()
	from := biboumitest.SQLite(t)
	to := pgtest.DSN(t)
	want := expectBiboumi(t, from)
	src := openBiboumi(t, from)
	dst := hideImporter{openDst(t, to)}
	for range 2 {
		report, err := store.Copy(t.Context(), dst, src, store.CopyOptions{BatchSize: 33})
		if err != nil {
			t.Fatal(err)
		}
		if report.Verified != -1 || report.Progress.Rows != report.SourceRows {
			t.Errorf("report %+v", report)
		}
		compareDumps(t, dumpOurs(t, to), want)
	}
}

// TestCopyMismatch checks that verification catches lines whose ID is
// taken by other content, lines missing in the destination and rows that
// appear below the copied range, with exit status 1, and that the copy
// still stores what it can.
func TestCopyMismatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	from := biboumitest.SQLite(t)
	to := pgtest.DSN(t)
	want := expectBiboumi(t, from)
	dst := openDst(t, to)

	// A line of the destination already has the ID of the source's "hello".
	taken := &store.LogLine{ID: "5d2c2a3e-1b1f-4b7e-9f0e-000000000001", Owner: jid.MustParse("alice@example.org"),
		Server: "irc.example.org", Channel: "#chan", Body: "something else"}
	if err := dst.AppendLog(ctx, taken); err != nil {
		t.Fatal(err)
	}
	// A row deleted from the source now, and put back after the copy.
	src := sqlOpen(t, from)
	if _, err := src.ExecContext(ctx, "DELETE FROM muclogline_ WHERE id_ = 100"); err != nil {
		t.Fatal(err)
	}

	_, stderr := mustCLI(t, exitFailure, "copy", "--from", from, "--to", to)
	if !strings.Contains(stderr, "1 log lines were not copied because their ID is archived with other content (IDs: "+taken.ID+")") {
		t.Errorf("conflict not reported:\n%s", stderr)
	}
	got := dumpOurs(t, to)
	if len(got.logs) != len(want.logs)-1 {
		t.Errorf("%d lines stored, want %d (all but the deleted row; the conflicting one was there)", len(got.logs), len(want.logs)-1)
	}

	if _, err := src.ExecContext(ctx, "INSERT INTO muclogline_ (id_, uuid_, owner_, ircchanname_, ircservername_, date_, body_, nick_) "+
		"VALUES (100, 'back-again', 'alice@example.org', '#chan', 'irc.example.org', 1, 'put back', 'x')"); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlOpen(t, to).ExecContext(ctx, "DELETE FROM muc_log WHERE uuid = $1", taken.ID); err != nil {
		t.Fatal(err)
	}
	_, stderr = mustCLI(t, exitFailure, "copy", "--from", from, "--to", to)
	for _, s := range []string{"rows appeared below the copied range", "rescan", "are missing in the destination"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("no %q in\n%s", s, stderr)
		}
	}
	// --rescan fixes both: the missing line and the row put back.
	stdout, _ := mustCLI(t, exitOK, "copy", "--from", from, "--to", to, "--rescan")
	if !strings.Contains(stdout, ": 2 copied, 316 already there") {
		t.Errorf("rescan:\n%s", stdout)
	}
	got = dumpOurs(t, to)
	if len(got.logs) != len(want.logs) { // one row deleted, one put back
		t.Errorf("%d lines after the rescan, want %d", len(got.logs), len(want.logs))
	}
	bodies := map[string]string{}
	for _, l := range got.logs {
		bodies[l.uuid] = l.body
	}
	if bodies[taken.ID] != "hello" || bodies["back-again"] != "put back" {
		t.Errorf("after the rescan: %q, %q", bodies[taken.ID], bodies["back-again"])
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	from := biboumitest.SQLite(t)
	to := filepath.Join(t.TempDir(), "untouched.sqlite")
	stdout, _ := mustCLI(t, exitOK, "copy", "--from", from, "--to", to, "--dry-run")
	if !strings.Contains(stdout, "Dry run: would copy") || !strings.Contains(stdout, "318 would be copied, 6 rows skipped, 5 given a derived ID") {
		t.Errorf("dry run report:\n%s", stdout)
	}
	if _, err := os.Stat(to); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dry run created the destination: %v", err)
	}
	mustCLI(t, exitOK, "copy", "--from", from, "--dry-run") // no --to needed
}

// TestCopyKeepsDestinationCert checks that a client certificate the
// destination already has is kept (the IRC servers may know its
// fingerprint) and that the copy reports the difference as a mismatch.
func TestCopyKeepsDestinationCert(t *testing.T) {
	t.Parallel()
	from := ourSQLite(t, 10)
	to := filepath.Join(t.TempDir(), "dst.sqlite")
	alice := jid.MustParse("alice@example.org")
	theirs := []byte("-----BEGIN CERTIFICATE-----\nTHEIRS\n-----END CERTIFICATE-----\n")
	func() {
		dst := openDst(t, to)
		if err := dst.StoreClientCert(t.Context(), alice, theirs, []byte("key")); err != nil {
			t.Fatal(err)
		}
		dst.Close()
	}()
	_, stderr := mustCLI(t, exitFailure, "copy", "--from", from, "--to", to)
	if !strings.Contains(stderr, "1 client certificates differ in the destination") {
		t.Errorf("no mismatch reported for the certificate:\n%s", stderr)
	}
	dst := openDst(t, to)
	cert, _, err := dst.ClientCert(t.Context(), alice)
	if err != nil || string(cert) != string(theirs) {
		t.Errorf("destination certificate %q, %v; want its own kept", cert, err)
	}
	// Everything else was copied.
	if kept, err := dst.KeptChannels(t.Context()); err != nil || len(kept) != 1 {
		t.Errorf("kept channels %v, %v", kept, err)
	}
}
