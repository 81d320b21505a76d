package ircbridge

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"mellium.im/xmpp/jid"

	"biboumi/store"
	"biboumi/store/sqlstore"
)

// BenchmarkArchiver measures the archive writer's throughput: lines
// appended as fast as possible through the archiver (its queue, then one
// AppendLogs per batch of up to archiveBatch lines: the group commit),
// until a sync says every one is written. One op is one line; lines/s is
// b.N over the time from the first append to the end of the sync.
//
// The store is SQLite in a new file (WAL, synchronous=NORMAL: no fsync at
// commit), as in BenchmarkIRCToStanza. Lines go round-robin to 10 owners ×
// 100 channels. The ids are:
//
//   - ids=newID: this package's newID (random UUIDv4), as live lines get;
//   - ids=v7: time-ordered UUIDv7s, to compare (store/sqlstore's newID).
//
// store/sqlstore's BenchmarkArchive/*/append256-* measures the same
// batches on a 1,000,000-line archive, on SQLite and PostgreSQL.
func BenchmarkArchiver(b *testing.B) {
	owners := make([]jid.JID, 10)
	for i := range owners {
		owners[i] = jid.MustParse("user" + strconv.Itoa(i) + "@example.org")
	}
	channels := make([]string, 100)
	for i := range channels {
		channels[i] = "#channel" + strconv.Itoa(i)
	}
	for _, ids := range []string{"newID", "v7"} {
		b.Run("ids="+ids, func(b *testing.B) {
			id := newID
			if ids == "v7" {
				id = func() string { return uuid.Must(uuid.NewV7()).String() }
			}
			st, err := sqlstore.Open(b.Context(), store.DriverSQLite, filepath.Join(b.TempDir(), "db.sqlite"), sqlstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			a := newArchiver(st, discardLogger())
			defer a.close()
			ctx := b.Context()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				a.append(ctx, &store.LogLine{ID: id(), Owner: owners[i%len(owners)], Server: "irc.libera.chat",
					Channel: channels[(i/len(owners))%len(channels)], Time: time.Now(), Nick: "Bob",
					Body: "a typical line of chat, about sixty bytes long"})
			}
			a.sync(ctx)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
			// Every line must have been written: the last one is there.
			page, err := st.ListLogs(ctx, store.LogQuery{Owner: owners[(b.N-1)%len(owners)], Server: "irc.libera.chat",
				Channel: channels[((b.N-1)/len(owners))%len(channels)], Last: true, Limit: 1})
			if err != nil || len(page.Lines) != 1 {
				b.Fatalf("last line: %v, %d lines", err, len(page.Lines))
			}
		})
	}
}

// BenchmarkIRCToStanzaDrained is BenchmarkIRCToStanza with the archive's
// cost counted in full: the timer stops only once the archiver has written
// every line, not when the stanzas are out. BenchmarkIRCToStanza stops
// earlier, with up to archiveQueue lines still queued, so its archive=on
// figure understates the cost when b.N is not far above archiveQueue.
func BenchmarkIRCToStanzaDrained(b *testing.B) {
	for _, archive := range []bool{false, true} {
		name := "archive=off"
		if archive {
			name = "archive=on"
		}
		b.Run(name, func(b *testing.B) {
			c, cs, g := benchRoom(b, archive, 1)
			line := ":Bob!b@h PRIVMSG #test :a typical line of chat, about sixty bytes long"
			cs.n.Store(0)
			cs.want.Store(int64(b.N))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Send(b, line)
			}
			<-cs.done
			if g.arch != nil {
				g.arch.sync(b.Context())
			}
		})
	}
}
