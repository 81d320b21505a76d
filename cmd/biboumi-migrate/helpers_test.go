package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"biboumi/internal/pgtest"
	"biboumi/store"
	"biboumi/store/biboumi"
	"biboumi/store/sqlstore"
)

// envMain makes the test binary run main instead of the tests, so that
// tests can run the command as a process (and kill it).
const envMain = "BIBOUMI_MIGRATE_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envMain) == "1" {
		main()
	}
	pgtest.Main(m)
}

// cli runs the command in-process.
func cli(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = realMain(ctx, args, &o, &e)
	return code, o.String(), e.String()
}

// mustCLI runs the command and fails t unless it exits with want.
func mustCLI(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := cli(t, t.Context(), args...)
	if code != want {
		t.Fatalf("biboumi-migrate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

// logRow is a muc_log row without its seq.
type logRow struct {
	uuid, owner, server, channel string
	timeUS                       int64
	nick, body                   string
}

// dump is the content of a database of our schema, in comparable form.
type dump struct {
	logs                              []logRow // in seq order
	global, servers, channels, roster []string
	kept, certs                       []string
}

func sqlOpen(t testing.TB, dbName string) *sql.DB {
	t.Helper()
	driver, dsn := store.ParseDBName(dbName)
	name := "sqlite"
	if driver == store.DriverPostgres {
		name = "pgx"
	}
	db, err := sql.Open(name, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func query(t testing.TB, db *sql.DB, q string, scan func(*sql.Rows) error) {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// dumpOurs reads every row of a database of our schema.
func dumpOurs(t testing.TB, dbName string) dump {
	t.Helper()
	db := sqlOpen(t, dbName)
	var d dump
	query(t, db, "SELECT uuid, owner, server, channel, time_us, nick, body FROM muc_log ORDER BY seq", func(r *sql.Rows) error {
		var l logRow
		err := r.Scan(&l.uuid, &l.owner, &l.server, &l.channel, &l.timeUS, &l.nick, &l.body)
		d.logs = append(d.logs, l)
		return err
	})
	query(t, db, "SELECT owner, max_history_length, record_history, persistent FROM global_options ORDER BY owner", func(r *sql.Rows) error {
		var owner string
		var mhl, persistent int
		var record bool
		err := r.Scan(&owner, &mhl, &record, &persistent)
		d.global = append(d.global, fmt.Sprint(owner, mhl, record, persistent))
		return err
	})
	commands := map[string][]string{}
	query(t, db, "SELECT owner, server, command FROM irc_server_commands ORDER BY owner, server, pos", func(r *sql.Rows) error {
		var owner, server, cmd string
		err := r.Scan(&owner, &server, &cmd)
		commands[owner+" "+server] = append(commands[owner+" "+server], cmd)
		return err
	})
	query(t, db, `SELECT owner, server, address, ports, tls_ports, verify_cert, fingerprint, pass, sasl_password, nick, username,
	realname, encoding_in, encoding_out, max_history_length, throttle_limit, sasl_mechanism FROM irc_server_options ORDER BY owner, server`,
		func(r *sql.Rows) error {
			var s [14]string
			var verify bool
			var mhl, throttle int
			err := r.Scan(&s[0], &s[1], &s[2], &s[3], &s[4], &verify, &s[5], &s[6], &s[7], &s[8], &s[9], &s[10], &s[11], &s[12], &mhl, &throttle, &s[13])
			d.servers = append(d.servers, fmt.Sprintf("%q %v %d %d %q %q", s[:13], verify, mhl, throttle, commands[s[0]+" "+s[1]], s[13]))
			return err
		})
	query(t, db, `SELECT owner, server, channel, encoding_in, encoding_out, max_history_length, persistent, record_history
FROM irc_channel_options ORDER BY owner, server, channel`, func(r *sql.Rows) error {
		var s [5]string
		var mhl, record int
		var persistent bool
		err := r.Scan(&s[0], &s[1], &s[2], &s[3], &s[4], &mhl, &persistent, &record)
		d.channels = append(d.channels, fmt.Sprintf("%q %d %v %d", s, mhl, persistent, record))
		return err
	})
	query(t, db, "SELECT local, remote FROM roster ORDER BY local, remote", func(r *sql.Rows) error {
		var l, rm string
		err := r.Scan(&l, &rm)
		d.roster = append(d.roster, l+" "+rm)
		return err
	})
	query(t, db, "SELECT owner, server, channel FROM kept_channels ORDER BY owner, server, channel", func(r *sql.Rows) error {
		var o, s, c string
		err := r.Scan(&o, &s, &c)
		d.kept = append(d.kept, o+" "+s+" "+c)
		return err
	})
	query(t, db, "SELECT owner, cert_pem, key_pem FROM client_certs ORDER BY owner", func(r *sql.Rows) error {
		var o, c, k string
		err := r.Scan(&o, &c, &k)
		d.certs = append(d.certs, fmt.Sprintf("%s %q %q", o, c, k))
		return err
	})
	return d
}

// expectBiboumi computes what a copy of the Biboumi database dbName must
// leave in the destination. The archive is converted here from the raw
// rows, independently of store/biboumi; the settings are the reader's,
// whose conversion store/biboumi's tests check row by row.
func expectBiboumi(t testing.TB, dbName string) dump {
	t.Helper()
	db := sqlOpen(t, dbName)
	driver, _ := store.ParseDBName(dbName)
	order := "id_"
	if driver == store.DriverPostgres {
		order = "id_, uuid_, owner_, ircservername_, ircchanname_, date_, nick_, body_"
	}
	type raw struct {
		id                           int64
		uuid, owner, channel, server sql.NullString
		date                         sql.NullInt64
		body, nick                   sql.NullString
	}
	var rows []raw
	query(t, db, "SELECT id_, uuid_, owner_, ircchanname_, ircservername_, date_, body_, nick_ FROM muclogline_ ORDER BY "+order,
		func(r *sql.Rows) error {
			var x raw
			err := r.Scan(&x.id, &x.uuid, &x.owner, &x.channel, &x.server, &x.date, &x.body, &x.nick)
			rows = append(rows, x)
			return err
		})
	count := map[string]int{}
	first := map[string]int64{}
	for _, r := range rows {
		if u := r.uuid.String; u != "" {
			count[u]++
			if _, ok := first[u]; !ok || r.id < first[u] {
				first[u] = r.id
			}
		}
	}
	var d dump
	k := 0
	given := map[string]bool{}
	for i, r := range rows {
		if i > 0 && rows[i-1].id == r.id {
			k++
			if rows[i-1] == r {
				continue // an exact duplicate is skipped
			}
		} else {
			k = 0
			clear(given)
		}
		owner, err := jid.Parse(r.owner.String)
		if err != nil || r.owner.String == "" {
			continue
		}
		id := r.uuid.String
		if id == "" || (count[id] > 1 && (first[id] != r.id || given[id])) {
			id = biboumi.DerivedID(r.id, k)
		}
		given[r.uuid.String] = true
		d.logs = append(d.logs, logRow{id, owner.Bare().String(), r.server.String, r.channel.String,
			r.date.Int64 * 1_000_000, r.nick.String, r.body.String})
	}

	rd, err := biboumi.Open(context.Background(), dbName)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	set, err := rd.ScanSettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d.global, d.servers, d.channels, d.roster = formatSettings(set)
	return d
}

// formatSettings formats settings as dumpOurs formats the stored rows.
func formatSettings(set *store.Settings) (global, servers, channels, roster []string) {
	ports := func(p []int) string {
		s := make([]string, len(p))
		for i, n := range p {
			s[i] = fmt.Sprint(n)
		}
		return strings.Join(s, ";")
	}
	for _, o := range set.Global {
		global = append(global, fmt.Sprint(o.Owner.String(), o.MaxHistoryLength, o.RecordHistory, int(o.Persistent)))
	}
	for _, o := range set.Servers {
		s := []string{o.Owner.String(), o.Server, o.Address, ports(o.Ports), ports(o.TLSPorts), o.Fingerprint, o.Pass,
			o.SASLPassword, o.Nick, o.Username, o.Realname, o.EncodingIn, o.EncodingOut}
		var cmds []string
		cmds = append(cmds, o.AfterConnectCommands...)
		servers = append(servers, fmt.Sprintf("%q %v %d %d %q %q", s, o.VerifyCert, o.MaxHistoryLength, o.ThrottleLimit, cmds, o.SASLMechanism))
	}
	for _, o := range set.Channels {
		s := [5]string{o.Owner.String(), o.Server, o.Channel, o.EncodingIn, o.EncodingOut}
		channels = append(channels, fmt.Sprintf("%q %d %v %d", s, o.MaxHistoryLength, o.Persistent, int(o.RecordHistory)))
	}
	for _, it := range set.Roster {
		roster = append(roster, it.Local.String()+" "+it.Remote.String())
	}
	for _, l := range [][]string{global, servers, channels, roster} {
		slices.Sort(l)
	}
	return global, servers, channels, roster
}

// compareDumps reports every difference between got and want.
func compareDumps(t *testing.T, got, want dump) {
	t.Helper()
	if len(got.logs) != len(want.logs) {
		t.Errorf("%d log lines, want %d", len(got.logs), len(want.logs))
	}
	bad := 0
	for i := range min(len(got.logs), len(want.logs)) {
		if got.logs[i] != want.logs[i] {
			if bad++; bad <= 5 {
				t.Errorf("log line %d:\n got %+v\nwant %+v", i, got.logs[i], want.logs[i])
			}
		}
	}
	if bad > 5 {
		t.Errorf("… %d differing log lines in all", bad)
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"global options", got.global, want.global},
		{"server options", got.servers, want.servers},
		{"channel options", got.channels, want.channels},
		{"roster", got.roster, want.roster},
		{"kept channels", got.kept, want.kept},
		{"client certificates", got.certs, want.certs},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.what, c.got, c.want)
		}
	}
}

func checksum(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// ourSQLite creates an SQLite database of our schema with settings and n
// log lines, closed, and returns its path.
func ourSQLite(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.sqlite")
	fillOurs(t, path, n)
	return path
}

// ourPostgres is ourSQLite in a PostgreSQL schema; it returns the DSN.
func ourPostgres(t testing.TB, n int) string {
	t.Helper()
	dsn := pgtest.DSN(t)
	fillOurs(t, dsn, n)
	return dsn
}

func fillOurs(t testing.TB, dbName string, n int) {
	t.Helper()
	ctx := context.Background()
	// A long timeout: under -race on a busy machine, a batch can take seconds.
	s, err := sqlstore.OpenDBName(ctx, dbName, sqlstore.Options{QueryTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	alice, bob := jid.MustParse("alice@example.org"), jid.MustParse("bob@example.org")
	for _, err := range []error{
		s.StoreGlobalOptions(ctx, store.GlobalOptions{Owner: alice, MaxHistoryLength: 30, RecordHistory: true, Persistent: store.False}),
		s.StoreGlobalOptions(ctx, store.GlobalOptions{Owner: bob, MaxHistoryLength: 0, Persistent: store.Unset}),
		s.StoreServerOptions(ctx, store.ServerOptions{Owner: alice, Server: "irc.example.org", Address: "10.0.0.1",
			Ports: []int{6667, 7000}, TLSPorts: []int{}, VerifyCert: true, Pass: "pw", SASLPassword: "sasl", Nick: "al",
			ThrottleLimit: 3, MaxHistoryLength: 20, AfterConnectCommands: []string{"MODE al +i", "JOIN #x"}, SASLMechanism: "EXTERNAL"}),
		s.StoreServerOptions(ctx, store.DefaultServerOptions(bob, "chat.freenode.net")),
		s.StoreChannelOptions(ctx, store.ChannelOptions{Owner: alice, Server: "irc.example.org", Channel: "#ça",
			EncodingIn: "ISO-8859-1", MaxHistoryLength: 5, Persistent: true, RecordHistory: store.False}),
		s.StoreChannelOptions(ctx, store.DefaultChannelOptions(bob, "chat.freenode.net", "#chan")),
		s.AddRosterItem(ctx, jid.MustParse("biboumi.example.org"), alice),
		s.AddRosterItem(ctx, jid.MustParse("irc.example.org@biboumi.example.org"), bob),
		s.KeepChannel(ctx, store.KeptChannel{Owner: bob, Server: "chat.freenode.net", Channel: "#kept"}),
		s.StoreClientCert(ctx, alice, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
			[]byte("-----BEGIN PRIVATE KEY-----\nMC4C\n-----END PRIVATE KEY-----\n")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	owners := []jid.JID{alice, bob, jid.MustParse("émile@example.org")}
	base := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	batch := make([]*store.LogLine, 0, 500)
	for i := range n {
		batch = append(batch, &store.LogLine{
			Owner:   owners[i%len(owners)],
			Server:  []string{"irc.example.org", "chat.freenode.net"}[i%2],
			Channel: fmt.Sprintf("#chan%d", i%5),
			Time:    base.Add(time.Duration(i) * 1500 * time.Millisecond),
			Nick:    []string{"", "bob", "Émile"}[i%3],
			Body:    fmt.Sprintf("line %d: ça va? 'quotes' \"double\"\nsecond line", i),
		})
		if len(batch) == cap(batch) || i == n-1 {
			if err := s.AppendLogs(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}
