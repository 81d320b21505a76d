package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"biboumi/internal/testenv"
)

// TestBenchSmoke runs the load generator at a tiny size against our
// gateway (prosody and ngircd, which start fastest), so that it keeps
// working as the gateway changes.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real servers and builds the gateway")
	}
	testenv.Require(t, "prosody", "prosodyctl", "ngircd")
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	code := mainErr([]string{"-users", "3", "-channels", "2", "-duration", "2s", "-lines", "5",
		"-xmpp", "prosody", "-irc", "ngircd", "-target", "ours", "-wait-quiet", "0", "-json", out}, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(rep.Runs))
	}
	r := rep.Runs[0]
	if r.Error != "" || r.Fanout == nil || !r.Fanout.Complete || r.Fanout.Delivered != 3*5 {
		t.Errorf("run: error %q, fan-out %+v", r.Error, r.Fanout)
	}
	if r.Steady == nil || r.Steady.IRCToXMPP.Count == 0 || r.Steady.XMPPToIRC.Count == 0 {
		t.Errorf("steady: %+v", r.Steady)
	}
	if _, ok := r.get("memory", "gateway RSS per bridged user"); !ok {
		t.Error("no RSS per user figure")
	}
	if !strings.Contains(stdout.String(), "deliveries per second") {
		t.Error("no table on stdout")
	}
}
