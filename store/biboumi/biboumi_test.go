package biboumi

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"biboumi/internal/pgtest"
	"biboumi/store"
	"biboumi/store/biboumi/biboumitest"
	"biboumi/store/sqlstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fixture is one Biboumi database built from testdata/biboumi, and what
// the reader must make of it.
type fixture struct {
	name   string
	dbName func(t *testing.T) string
	// Expected counts of muclogline_ rows, skipped rows and derived IDs.
	rows, skipped, newIDs int64
}

var fixtures = []fixture{
	{"sqlite", func(t *testing.T) string { return biboumitest.SQLite(t) }, 324, 6, 5},
	{"postgres", func(t *testing.T) string { return biboumitest.Postgres(t) }, 330, 7, 6},
}

func openReader(t *testing.T, dbName string) *Reader {
	t.Helper()
	r, err := Open(t.Context(), dbName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func scanAll(t *testing.T, r *Reader, after, upTo int64, size int) ([]*store.LogBatch, []store.SourceLine) {
	t.Helper()
	var batches []*store.LogBatch
	var lines []store.SourceLine
	err := r.ScanLogs(t.Context(), after, upTo, size, func(b *store.LogBatch) error {
		batches = append(batches, b)
		lines = append(lines, b.Lines...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return batches, lines
}

func TestLogs(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			r := openReader(t, fx.dbName(t))
			ctx := t.Context()
			n, err := r.CountLogs(ctx, 0, 0)
			if err != nil || n != fx.rows {
				t.Fatalf("CountLogs = %d, %v; want %d", n, err, fx.rows)
			}

			batches, lines := scanAll(t, r, 0, 0, 7)
			var rows, skipped, newIDs int64
			var reasons []string
			for i, b := range batches {
				rows += b.Rows
				skipped += int64(len(b.Skipped))
				newIDs += b.NewIDs
				if b.Rows != int64(len(b.Lines)+len(b.Skipped)) {
					t.Errorf("batch %d: Rows %d, %d lines, %d skipped", i, b.Rows, len(b.Lines), len(b.Skipped))
				}
				if i > 0 && b.After != batches[i-1].Last {
					t.Errorf("batch %d starts after %d, the previous ended at %d", i, b.After, batches[i-1].Last)
				}
				for _, sl := range b.Lines {
					if sl.SrcID <= b.After || sl.SrcID > b.Last {
						t.Errorf("batch %d (%d, %d] holds source id %d", i, b.After, b.Last, sl.SrcID)
					}
					if sl.Line.Seq != 0 {
						t.Errorf("source line %d has a destination seq %d", sl.SrcID, sl.Line.Seq)
					}
				}
				for _, s := range b.Skipped {
					reasons = append(reasons, s.Reason)
				}
			}
			if rows != fx.rows || skipped != fx.skipped || newIDs != fx.newIDs {
				t.Errorf("rows %d, skipped %d, new IDs %d; want %d, %d, %d\nskipped: %q",
					rows, skipped, newIDs, fx.rows, fx.skipped, fx.newIDs, reasons)
			}
			for _, r := range reasons[:6] {
				if !strings.HasPrefix(r, "owner_: ") {
					t.Errorf("skipped for %q, want an owner_ problem", r)
				}
			}

			// IDs are unique, and source order is kept.
			ids := map[string]bool{}
			for i, sl := range lines {
				if ids[sl.Line.ID] {
					t.Errorf("ID %s given twice", sl.Line.ID)
				}
				ids[sl.Line.ID] = true
				if i > 0 && sl.SrcID < lines[i-1].SrcID {
					t.Errorf("source id %d after %d", sl.SrcID, lines[i-1].SrcID)
				}
			}
			checkQuirkLines(t, fx.name, lines)

			// Another batch size, and a resumed scan, give the same lines.
			_, again := scanAll(t, r, 0, 0, 1000)
			if !reflect.DeepEqual(again, lines) {
				t.Error("a second scan with another batch size differs")
			}
			mid := lines[len(lines)/2].SrcID
			_, tail := scanAll(t, r, mid, 0, 5)
			i := slices.IndexFunc(lines, func(sl store.SourceLine) bool { return sl.SrcID > mid })
			if !reflect.DeepEqual(tail, lines[i:]) {
				t.Errorf("resuming after %d: %d lines, want %d", mid, len(tail), len(lines)-i)
			}
			_, head := scanAll(t, r, 0, mid, 5)
			if !reflect.DeepEqual(head, lines[:i]) {
				t.Errorf("scanning up to %d: %d lines, want %d", mid, len(head), i)
			}
			if n, _ := r.CountLogs(ctx, 0, mid); n < int64(i) {
				t.Errorf("CountLogs up to %d = %d, below the %d lines", mid, n, i)
			}
		})
	}
}

// checkQuirkLines checks the conversion of the fixture's special rows,
// found by body.
func checkQuirkLines(t *testing.T, engine string, lines []store.SourceLine) {
	t.Helper()
	byBody := map[string][]store.SourceLine{}
	for _, sl := range lines {
		byBody[sl.Line.Body] = append(byBody[sl.Line.Body], sl)
	}
	one := func(body string) store.SourceLine {
		t.Helper()
		got := byBody[body]
		if len(got) != 1 {
			t.Fatalf("%d lines with body %q, want 1", len(got), body)
		}
		return got[0]
	}
	wantID := func(body, id string) {
		t.Helper()
		if got := one(body).Line.ID; got != id {
			t.Errorf("line %q: ID %q, want %q", body, got, id)
		}
	}
	derived := func(body string, k int) {
		t.Helper()
		sl := one(body)
		wantID(body, DerivedID(sl.SrcID, k))
	}
	wantID("hello", "5d2c2a3e-1b1f-4b7e-9f0e-000000000001")
	derived("empty uuid_", 0)
	if engine == "postgres" {
		// id_ 5 is shared by three rows; the NULL uuid_ sorts last.
		derived("NULL uuid_", 2)
		wantID("same id_ as another row (a)", "f0000000-0000-4000-8000-000000000001")
		wantID("same id_ as another row (b)", "f0000000-0000-4000-8000-000000000002")
		wantID("same id_ and uuid_ (a)", "f0000000-0000-4000-8000-000000000003")
		derived("same id_ and uuid_ (b)", 1)
		wantID("loaded twice", "f0000000-0000-4000-8000-000000000004")
	} else {
		derived("NULL uuid_", 0)
	}
	wantID("odd uuid_", "not-a-uuid-but-kept")
	wantID("duplicate uuid_, first", "dddddddd-0000-4000-8000-000000000001")
	derived("duplicate uuid_, second", 0)
	derived("duplicate uuid_, third", 0)
	wantID("bulk line 7", "b0000000-0000-4000-8000-100000000007")
	derived("reuses a bulk line's uuid_", 0)

	hello := one("hello").Line
	if !hello.Owner.Equal(jid.MustParse("alice@example.org")) || hello.Server != "irc.example.org" ||
		hello.Channel != "#chan" || hello.Nick != "bob" || !hello.Time.Equal(time.Unix(1500000000, 0)) {
		t.Errorf("hello: %+v", hello)
	}
	if l := one("bob has set mode +o alice").Line; l.Nick != "" {
		t.Errorf("room message nick %q", l.Nick)
	}
	nulls := byBody[""]
	var sawNULLs bool
	for _, sl := range nulls {
		if sl.Line.Nick == "" && sl.Line.Time.Equal(time.Unix(0, 0)) && sl.Line.Channel == "#chan" {
			sawNULLs = true
		}
	}
	if !sawNULLs {
		t.Error("the row with NULL date_, body_ and nick_ is missing or misread")
	}
	if l := one("the epoch, no channel").Line; l.Channel != "" || l.Server != "" || l.Time.Unix() != 0 {
		t.Errorf("NULL channel and server: %+v", l)
	}
	if l := one("the last second of INTEGER time").Line; l.Time.Unix() != 2147483647 || l.Time.Location() != time.UTC {
		t.Errorf("date_ 2147483647 read as %v", l.Time)
	}
	if l := one("ça marche ✓ 🎉").Line; l.Owner.String() != "carol@example.org" || l.Channel != "#ça" ||
		l.Server != "irc.über.example" || l.Nick != "Émile" {
		t.Errorf("non-canonical owner and non-ASCII text: %+v", l)
	}
	if l := one("owner with a resource").Line; l.Owner.String() != "dave@example.org" || l.Channel != "&local" {
		t.Errorf("owner with a resource: %+v", l)
	}
	one("line one\nline two")
	one("it's \"quoted\"; a\\b\ttab")
}

func TestSettings(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			r := openReader(t, fx.dbName(t))
			s, err := r.ScanSettings(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			j := jid.MustParse
			global := []store.GlobalOptions{
				{Owner: j("alice@example.org"), MaxHistoryLength: 50, RecordHistory: true, Persistent: store.True},
				{Owner: j("bob@example.org"), MaxHistoryLength: 5, RecordHistory: true, Persistent: store.True},
				{Owner: j("carol@example.org"), MaxHistoryLength: 20, RecordHistory: true, Persistent: store.False},
				{Owner: j("erin@example.org"), MaxHistoryLength: 20, RecordHistory: true, Persistent: store.Unset},
			}
			if fx.name == "postgres" {
				global = append(global, store.GlobalOptions{Owner: j("frank@example.org"), MaxHistoryLength: 7, Persistent: store.False})
			}
			sort.Slice(s.Global, func(a, b int) bool { return s.Global[a].Owner.String() < s.Global[b].Owner.String() })
			equal(t, "global options", s.Global, global)

			servers := []store.ServerOptions{{
				Owner: j("alice@example.org"), Server: "irc.example.org", Pass: "secret",
				TLSPorts: []int{6697, 6670}, Ports: []int{6667}, Username: "al", Realname: "Alice A.", VerifyCert: true,
				EncodingOut: "UTF-8", EncodingIn: "ISO-8859-15", MaxHistoryLength: 20, ThrottleLimit: 10,
				AfterConnectCommands: []string{"MODE alice +i", "JOIN #secret key"},
			}, {
				Owner: j("bob@example.org"), Server: "chat.freenode.net", TLSPorts: []int{}, Ports: []int{},
				Fingerprint: "AB:CD:EF", MaxHistoryLength: 10, ThrottleLimit: 10,
			}, {
				Owner: j("carol@example.org"), Server: "irc.example.org", TLSPorts: []int{6697}, Ports: []int{6667, 7000},
				Username: "caro", Realname: "Carol C.", VerifyCert: true, MaxHistoryLength: 20, Address: "irc.example.net",
				Nick: "caro", SASLPassword: "sasl-secret", ThrottleLimit: 0,
				AfterConnectCommands: []string{"PRIVMSG NickServ :IDENTIFY caro pw", "JOIN #caro"},
			}, {
				Owner: j("alice@example.org"), Server: "irc.other.org", TLSPorts: []int{6697, 6670}, Ports: []int{6667},
				VerifyCert: true, MaxHistoryLength: 20, ThrottleLimit: 10,
			}, {
				Owner: j("dave@example.org"), Server: "irc.example.org", Pass: "p2", TLSPorts: []int{6697}, Ports: []int{},
				VerifyCert: true, MaxHistoryLength: 20, Nick: "dave2", ThrottleLimit: 10,
				AfterConnectCommands: []string{"MODE dave2 +x"},
			}}
			for i := range servers {
				servers[i].Stored = true
			}
			equal(t, "server options", s.Servers, servers)

			channels := []store.ChannelOptions{
				{Owner: j("alice@example.org"), Server: "irc.example.org", Channel: "#chan", EncodingOut: "UTF-8",
					MaxHistoryLength: 40, RecordHistory: store.False},
				{Owner: j("alice@example.org"), Server: "irc.example.org", Channel: "#other", EncodingOut: "UTF-8",
					EncodingIn: "ISO-8859-1", MaxHistoryLength: 20, RecordHistory: store.False},
				{Owner: j("bob@example.org"), Server: "chat.freenode.net", Channel: "#chan", MaxHistoryLength: 20},
				{Owner: j("carol@example.org"), Server: "irc.über.example", Channel: "#ça", MaxHistoryLength: 20,
					Persistent: true, RecordHistory: store.True},
				{Owner: j("dave@example.org"), Server: "irc.example.org", Channel: "&local", MaxHistoryLength: 20,
					RecordHistory: store.False},
			}
			equal(t, "channel options", s.Channels, channels)

			roster := []store.RosterItem{
				{Local: j("biboumi.example.org"), Remote: j("bob@example.org")},
				{Local: j("biboumi.example.org"), Remote: j("alice@example.org")},
				{Local: j("irc.example.org@biboumi.example.org"), Remote: j("alice@example.org")},
			}
			equal(t, "roster", s.Roster, roster)

			var skipped []string
			for _, i := range s.Skipped {
				skipped = append(skipped, i.Table)
			}
			sort.Strings(skipped)
			want := []string{
				"after_connection_commands_", "after_connection_commands_", "after_connection_commands_",
				"globaloptions_", "globaloptions_", "ircchanneloptions_", "ircchanneloptions_",
				"ircserveroptions_", "ircserveroptions_", "roster", "roster",
			}
			if !slices.Equal(skipped, want) {
				t.Errorf("skipped rows of %q, want %q\n%+v", skipped, want, s.Skipped)
			}
			if len(s.Repaired) != 2 || !strings.Contains(s.Repaired[0].Reason, `"abc"`) ||
				!strings.Contains(s.Repaired[1].Reason, `"99999"`) {
				t.Errorf("repaired: %+v", s.Repaired)
			}
		})
	}
}

func equal[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d:\n got %+v\nwant %+v", what, len(got), len(want), got, want)
		return
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%s %d:\n got %+v\nwant %+v", what, i, got[i], want[i])
		}
	}
}

// TestReadOnly checks that the reader cannot write, and leaves an SQLite
// file as it was, byte for byte, with no journal files.
func TestReadOnly(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			dbName := fx.dbName(t)
			var before [32]byte
			if fx.name == "sqlite" {
				before = checksum(t, dbName)
			}
			r := openReader(t, dbName)
			scanAll(t, r, 0, 0, 10)
			if _, err := r.ScanSettings(t.Context()); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"INSERT INTO roster (local, remote) VALUES ('a', 'b')", "CREATE TABLE x (a INTEGER)", "DELETE FROM muclogline_"} {
				if _, err := r.db.ExecContext(t.Context(), q); err == nil {
					t.Errorf("%s: no error on a read-only source", q)
				}
			}
			r.Close()
			if fx.name == "sqlite" {
				if checksum(t, dbName) != before {
					t.Error("the source file changed")
				}
				files, _ := filepath.Glob(dbName + "*")
				if len(files) != 1 {
					t.Errorf("files next to the source: %q", files)
				}
			}
		})
	}
}

func checksum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestNotBiboumi(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ours.sqlite")
	s, err := sqlstore.OpenDBName(ctx, path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, path); !errors.Is(err, ErrNotBiboumi) {
		t.Errorf("Open(our schema) = %v, want ErrNotBiboumi", err)
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "missing.sqlite")); err == nil {
		t.Error("Open(missing file) succeeded")
	}
}

func TestDerivedID(t *testing.T) {
	a, b, c := DerivedID(1, 0), DerivedID(1, 1), DerivedID(2, 0)
	if a == b || a == c || b == c {
		t.Errorf("collisions: %s %s %s", a, b, c)
	}
	if DerivedID(1, 0) != a || len(a) != 36 || a[14] != '5' {
		t.Errorf("DerivedID(1, 0) = %s, want a stable version 5 UUID", a)
	}
}
