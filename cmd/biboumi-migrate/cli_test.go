package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"biboumi/store"
	"biboumi/store/biboumi/biboumitest"
)

func TestExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a database\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.sqlite")
	db := sqlOpen(t, empty)
	if _, err := db.Exec("CREATE TABLE unrelated (a INTEGER)"); err != nil {
		t.Fatal(err)
	}
	src := biboumitest.SQLite(t)
	dst := filepath.Join(dir, "dst.sqlite")

	for _, tc := range []struct {
		args   []string
		code   int
		output string // expected in stdout on success, in stderr on failure
	}{
		{nil, exitUsage, "Usage: biboumi-migrate COMMAND"},
		{[]string{"--help"}, exitOK, "Commands:"},
		{[]string{"-h"}, exitOK, "copy "},
		{[]string{"help"}, exitOK, "Commands:"},
		{[]string{"help", "copy"}, exitOK, "--from"},
		{[]string{"help", "nope"}, exitUsage, `unknown command "nope"`},
		{[]string{"nope"}, exitUsage, `unknown command "nope"`},
		{[]string{"copy", "--help"}, exitOK, "Usage: biboumi-migrate copy"},
		{[]string{"copy", "--to", dst}, exitUsage, "--from is required"},
		{[]string{"copy", "--from", src}, exitUsage, "--to is required"},
		{[]string{"copy", "--from", src, "--to", dst, "--batch", "0"}, exitUsage, "--batch must be positive"},
		{[]string{"copy", "--from", src, "--to", dst, "--batch", "x"}, exitUsage, "invalid value"},
		{[]string{"copy", "--from", src, "--to", dst, "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"copy", "--from", src, "--to", src}, exitUsage, "the same database"},
		{[]string{"copy", "--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"copy", "--from", filepath.Join(dir, "missing.sqlite"), "--to", dst}, exitFailure, "no such file"},
		{[]string{"copy", "--from", text, "--to", dst}, exitFailure, "not a database"},
		{[]string{"copy", "--from", empty, "--to", dst}, exitFailure, "neither a Biboumi database"},
		{[]string{"copy", "--from", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", "--to", dst}, exitFailure, "connecting to postgres://nobody@127.0.0.1:1/none"},
		{[]string{"copy", "--from", src, "--to", dst}, exitOK, "Copied from biboumi:sqlite:"},
	} {
		code, stdout, stderr := cli(t, t.Context(), tc.args...)
		out := stderr
		if tc.code == exitOK {
			out = stdout
		}
		if code != tc.code || !strings.Contains(out, tc.output) {
			t.Errorf("biboumi-migrate %q: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s",
				tc.args, code, tc.code, tc.output, stdout, stderr)
		}
	}
}

// TestInterrupted checks the message and status of a copy whose context
// ends (SIGINT, SIGTERM).
func TestInterrupted(t *testing.T) {
	t.Parallel()
	src := ourSQLite(t, 100)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	code, _, stderr := cli(t, ctx, "copy", "--from", src, "--to", filepath.Join(t.TempDir(), "dst.sqlite"))
	if code != exitFailure || !strings.Contains(stderr, "interrupted: ") || !strings.Contains(stderr, "run the same command again to resume") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(1000, 0)
	p := &progress{w: &buf, interval: 5 * time.Second, now: func() time.Time { return clock }}
	step := func(d time.Duration, s store.CopyStatus) {
		clock = clock.Add(d)
		p.update(s)
	}
	step(0, store.CopyStatus{Phase: store.PhaseLogs, Total: 1_000_000})
	step(time.Second, store.CopyStatus{Phase: store.PhaseLogs, Done: 50_000, Total: 1_000_000})
	step(4*time.Second, store.CopyStatus{Phase: store.PhaseLogs, Done: 250_000, Total: 1_000_000})
	step(time.Second, store.CopyStatus{Phase: store.PhaseLogs, Done: 300_000, Total: 1_000_000})
	step(14*time.Second+123*time.Millisecond, store.CopyStatus{Phase: store.PhaseLogs, Done: 1_000_000, Total: 1_000_000, Final: true})
	step(0, store.CopyStatus{Phase: store.PhaseVerify, Total: 1_000_000})
	p.end()
	want := "logs: 250,000 / 1,000,000 rows (25.0%), 50,000 rows/s, ETA 15s\n" +
		"logs: 1,000,000 rows in 20.1s (49,694 rows/s)\n"
	if buf.String() != want {
		t.Errorf("not a terminal:\n%s\nwant\n%s", buf.String(), want)
	}

	buf.Reset()
	p = &progress{w: &buf, tty: true, interval: 200 * time.Millisecond, now: func() time.Time { return clock }}
	step(0, store.CopyStatus{Phase: store.PhaseLogs, Total: 100})
	step(time.Second, store.CopyStatus{Phase: store.PhaseLogs, Done: 10, Total: 100})
	step(time.Millisecond, store.CopyStatus{Phase: store.PhaseLogs, Done: 11, Total: 100})
	p.end() // interrupted
	want = "\rlogs: 10 / 100 rows (10.0%), 10 rows/s, ETA 9s\x1b[K\n"
	if buf.String() != want {
		t.Errorf("terminal:\n%q\nwant\n%q", buf.String(), want)
	}
	for n, s := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := comma(n); got != s {
			t.Errorf("comma(%d) = %q, want %q", n, got, s)
		}
	}
}
