package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"biboumi/store"
)

// Benchmarks, per engine:
//
//	go test -run '^$' -bench . -benchmem ./store/sqlstore/
//
// PostgreSQL runs in pgtest's private cluster, which has fsync off unless
// BIBOUMI_TEST_PG_FSYNC=on. SQLite runs with synchronous=NORMAL in WAL
// mode, which does not fsync on commit either.

// benchOwners × benchChannels archives share the pre-filled lines.
const (
	benchOwners   = 10
	benchChannels = 10
	benchPrefill  = 100_000
)

var benchJIDs = func() []jid.JID {
	out := make([]jid.JID, benchOwners)
	for i := range out {
		out[i] = jid.MustParse(fmt.Sprintf("user%d@example.org", i))
	}
	return out
}()

func benchLine(i int) *store.LogLine {
	return &store.LogLine{
		Owner:   benchJIDs[i%benchOwners],
		Server:  "irc.libera.chat",
		Channel: fmt.Sprintf("#channel%d", (i/benchOwners)%benchChannels),
		Time:    time.Unix(1_700_000_000, 0).Add(time.Duration(i) * time.Second),
		Nick:    fmt.Sprintf("nick%d", i%37),
		Body:    "a typical IRC line of moderate length, with a few words in it",
	}
}

func benchStore(b *testing.B, e engine) *Store {
	b.Helper()
	s, err := Open(context.Background(), e.driver, e.dsn(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkAppendLog(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			s := benchStore(b, e)
			ctx := b.Context()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := s.AppendLog(ctx, benchLine(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendLogs100(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			s := benchStore(b, e)
			ctx := b.Context()
			batch := make([]*store.LogLine, 100)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for j := range batch {
					batch[j] = benchLine(n)
					n++
				}
				if err := s.AppendLogs(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/line")
		})
	}
}

// BenchmarkLast50 measures the join-history query (the newest 50 lines of
// one archive, oldest first) on an archive of benchPrefill lines.
func BenchmarkLast50(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			s := benchStore(b, e)
			ctx := b.Context()
			start := time.Now()
			batch := make([]*store.LogLine, 0, 1000)
			for i := range benchPrefill {
				batch = append(batch, benchLine(i))
				if len(batch) == cap(batch) {
					if err := s.AppendLogs(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			b.Logf("%s: pre-filled %d lines in %v", e.name, benchPrefill, time.Since(start).Round(time.Millisecond))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				page, err := s.ListLogs(ctx, store.LogQuery{
					Owner:   benchJIDs[i%benchOwners],
					Server:  "irc.libera.chat",
					Channel: fmt.Sprintf("#channel%d", (i/benchOwners)%benchChannels),
					Last:    true,
					Limit:   50,
				})
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Lines) != 50 {
					b.Fatalf("%d lines", len(page.Lines))
				}
			}
		})
	}
}
