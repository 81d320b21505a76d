package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"biboumi/internal/testenv"
)

// journalFile returns a file to stand for the standard error, and the
// $JOURNAL_STREAM value that names it.
func journalFile(t *testing.T) (*os.File, string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return f, fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIsJournalStream(t *testing.T) {
	f, stream := journalFile(t)
	other, otherStream := journalFile(t)
	for _, tc := range []struct {
		f    *os.File
		env  string
		want bool
	}{
		{f, stream, true},
		{other, otherStream, true},
		{f, otherStream, false}, // inherited by a process whose stderr is elsewhere
		{f, "", false},
		{f, "12", false},
		{f, "a:b", false},
		{f, stream + "0", false},
	} {
		if got := isJournalStream(tc.f, tc.env); got != tc.want {
			t.Errorf("isJournalStream(%s, %q) = %v, want %v", tc.f.Name(), tc.env, got, tc.want)
		}
	}
}

func TestJournalLines(t *testing.T) {
	f, stream := journalFile(t)
	t.Setenv("JOURNAL_STREAM", stream)
	cfg := &Config{LogLevel: slog.LevelDebug}
	logs, err := newLogging(cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	log := logs.Logger()
	log.Debug("probing", "n", 3)
	log.Info("starting", "hostname", "irc.example.org")
	log.With("part", "component").Warn("link lost, reconnecting", "err", "EOF")
	log.WithGroup("irc").With("server", "irc.libera.chat").Error("TLS failed", "err", "bad certificate", "port", 6697)
	log.Info("two\nlines", "text", "a b\nc")
	want := []string{
		`<7>probing n=3`,
		`<6>starting hostname=irc.example.org`,
		`<4>link lost, reconnecting part=component err=EOF`,
		`<3>TLS failed irc.server=irc.libera.chat irc.err="bad certificate" irc.port=6697`,
		`<6>two\nlines text="a b\nc"`,
	}
	got := strings.Split(strings.TrimSuffix(readAll(t, f.Name()), "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("journal lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The level still changes on reload.
	logs.Apply(&Config{LogLevel: slog.LevelWarn})
	log.Info("hidden")
	if strings.Contains(readAll(t, f.Name()), "hidden") {
		t.Error("info logged at level warn")
	}
}

// With log_file set, the file gets ordinary text lines (with their time),
// even under systemd; the journal gets nothing.
func TestJournalWithLogFile(t *testing.T) {
	f, stream := journalFile(t)
	t.Setenv("JOURNAL_STREAM", stream)
	path := filepath.Join(t.TempDir(), "biboumi.log")
	logs, err := newLogging(&Config{LogLevel: slog.LevelInfo, LogFile: path}, f)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	logs.Logger().Info("to the file")
	if s := readAll(t, f.Name()); s != "" {
		t.Errorf("the journal got %q", s)
	}
	if s := readAll(t, path); !regexp.MustCompile(`^time=\S+ level=INFO msg="to the file"\n$`).MatchString(s) {
		t.Errorf("log file: %q", s)
	}
	// Back to the journal when log_file is removed.
	logs.Apply(&Config{LogLevel: slog.LevelInfo})
	logs.Logger().Info("to the journal")
	if s := readAll(t, f.Name()); s != "<6>to the journal\n" {
		t.Errorf("journal: %q", s)
	}
}

// Outside systemd (or when $JOURNAL_STREAM names another stream), the
// standard error gets slog's text, with the time.
func TestTextWithoutJournal(t *testing.T) {
	for _, env := range []string{"", "1:1"} {
		f, _ := journalFile(t)
		t.Setenv("JOURNAL_STREAM", env)
		logs, err := newLogging(&Config{LogLevel: slog.LevelInfo}, f)
		if err != nil {
			t.Fatal(err)
		}
		logs.Logger().Warn("plain", "k", "v")
		logs.Close()
		if s := readAll(t, f.Name()); !regexp.MustCompile(`^time=\S+ level=WARN msg=plain k=v\n$`).MatchString(s) {
			t.Errorf("JOURNAL_STREAM=%q: %q", env, s)
		}
	}
}

// TestLogReopenAfterRename is what logrotate does: rename the file, then
// reload; the lines after the reload go to a new file at the same path.
func TestLogReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "biboumi.log")
	cfg := &Config{LogLevel: slog.LevelInfo, LogFile: path}
	var stderr bytes.Buffer
	logs, err := newLogging(cfg, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	logs.Logger().Info("before rotation")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	logs.Logger().Info("still the old file") // until the reload
	if err := logs.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	logs.Logger().Info("after rotation")

	old, cur := readAll(t, path+".1"), readAll(t, path)
	if !strings.Contains(old, "before rotation") || !strings.Contains(old, "still the old file") || strings.Contains(old, "after rotation") {
		t.Errorf("rotated file:\n%s", old)
	}
	if !strings.Contains(cur, "after rotation") || strings.Contains(cur, "before rotation") {
		t.Errorf("new file:\n%s", cur)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode: %v %v", fi.Mode(), err)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr got %q", stderr.String())
	}
}

// TestNoSecretsInLogs runs the program's configuration and logging path
// (realMain, at debug level) with every kind of secret the configuration
// can hold, through the ways it can fail, and scans what it logged. The
// successful path, with a reload, is scanned by TestSystemdNotify.
func TestNoSecretsInLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("uses a real XMPP server")
	}
	const (
		component = "Cmp-s3cret-4d2a"
		webirc    = "W3bIRC-s3cret-77"
		pgPass    = "Pg-s3cret-0b9e"
	)
	secrets := []string{component, webirc, pgPass}
	xs := testenv.StartProsody(t, testenv.XMPPOptions{Secret: component})
	closed := testenv.FreePort(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "component-password")
	os.WriteFile(pwFile, []byte(component+"\n"), 0o600)
	base := fmt.Sprintf("hostname = %q\nport = %d\nidentd_port = 0\nlog_level = \"debug\"\nwebirc_password = %q\n", xs.ComponentHost, xs.ComponentPort, webirc)
	sqlite := fmt.Sprintf("db_name = %q\n", filepath.Join(dir, "b.sqlite"))
	for _, tc := range []struct {
		name, cfg string
		code      int
	}{
		{"database unreachable", base + fmt.Sprintf("password = %q\ndb_name = \"postgresql://biboumi:%s@127.0.0.1:%d/biboumi?connect_timeout=2\"\n", component, pgPass, closed), 1},
		{"wrong component secret", base + sqlite + "password = \"not-the-" + component + "\"\n", 1},
		{"XMPP server unreachable", strings.Replace(base, fmt.Sprintf("port = %d", xs.ComponentPort), fmt.Sprintf("port = %d", closed), 1) + sqlite + fmt.Sprintf("password_file = %q\n", pwFile), 1},
		{"bad configuration", base + fmt.Sprintf("password = %q\n[irc]\nports = [0]\n", component), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath := filepath.Join(t.TempDir(), "c.toml")
			os.WriteFile(cfgPath, []byte(tc.cfg), 0o600)
			var stdout, stderr bytes.Buffer
			code := realMain([]string{cfgPath}, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			if !strings.Contains(out, "level=") && tc.code == 1 {
				t.Errorf("nothing logged:\n%s", out)
			}
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("a secret (%s…) is in the output:\n%s", s[:4], out)
				}
			}
		})
	}
}
