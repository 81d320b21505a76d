package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"biboumi/internal/pgtest"
)

// TestKill kills the command (SIGKILL) in the middle of a copy, then runs
// it again: it resumes after the last committed batch and the result has
// every line once.
func TestKill(t *testing.T) {
	t.Parallel()
	from := ourSQLite(t, 1500)
	to := pgtest.DSN(t)
	want := dumpOurs(t, from)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "copy", "--from", from, "--to", to, "--batch", "5")
	cmd.Env = append(os.Environ(), envMain+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	db := sqlOpen(t, to)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var last int64
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err := db.QueryRowContext(ctx, "SELECT last_src_id FROM copy_progress").Scan(&last)
		cancel()
		if err == nil && last >= 100 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no progress after 60 s (last error: %v)\n%s", err, out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the copy ended before it was killed\n%s", out.String())
	}
	// One statement, one snapshot: the server may still commit a batch
	// whose COMMIT the killed process had sent.
	var last, stored int64
	if err := db.QueryRow("SELECT last_src_id, (SELECT COUNT(*) FROM muc_log) FROM copy_progress").Scan(&last, &stored); err != nil {
		t.Fatal(err)
	}
	if last >= 1500 || stored != last {
		t.Fatalf("killed at source id %d with %d lines stored; want a partial copy of exactly those lines", last, stored)
	}

	stdout, _ := mustCLI(t, exitOK, "copy", "--from", from, "--to", to, "--batch", "500")
	if !strings.Contains(stdout, "resumed after source id") || !strings.Contains(stdout, " 0 already there") {
		t.Errorf("resumed run:\n%s", stdout)
	}
	compareDumps(t, dumpOurs(t, to), want)
}
