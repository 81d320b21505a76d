package sqlstore

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"biboumi/store"
)

// importBatch returns a batch of n lines with source ids after+1…after+n.
func importBatch(after int64, n int) *store.LogBatch {
	b := &store.LogBatch{After: after, Last: after + int64(n), Rows: int64(n)}
	for i := range n {
		id := after + int64(i) + 1
		b.Lines = append(b.Lines, store.SourceLine{SrcID: id, Line: store.LogLine{
			ID:      fmt.Sprintf("import-%04d", id),
			Owner:   jid.MustParse("alice@example.org"),
			Server:  "irc.example.org",
			Channel: "#chan",
			Time:    time.Unix(1_600_000_000+id, 123_000).UTC(),
			Nick:    "n",
			Body:    fmt.Sprintf("line %d", id),
		}})
	}
	return b
}

func TestImportLogs(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := openTest(t, e.driver, e.dsn(t))
			defer s.Close()
			const src = "test:source"

			p, err := s.CopyProgress(ctx, src)
			if err != nil || p != (store.CopyProgress{Source: src}) {
				t.Fatalf("fresh progress %+v, %v", p, err)
			}
			// Lines go in in batch order, whatever their IDs.
			b1 := importBatch(0, 250)
			slices.Reverse(b1.Lines)
			b1.Skipped = []store.CopyIssue{{Table: "t", SrcID: 251, Reason: "bad"}}
			b1.Last, b1.Rows = 251, 251
			res, err := s.ImportLogs(ctx, src, b1)
			if err != nil {
				t.Fatal(err)
			}
			want := store.CopyProgress{Source: src, LastSrcID: 251, Rows: 251, Imported: 250, Skipped: 1}
			if res.Imported != 250 || len(res.Conflicts) != 0 || res.Progress != want {
				t.Fatalf("first batch: %+v", res)
			}
			if p, _ := s.CopyProgress(ctx, src); p != want {
				t.Errorf("recorded %+v, want %+v", p, want)
			}
			page, err := s.ListLogs(ctx, store.LogQuery{Owner: jid.MustParse("alice@example.org"), Server: "irc.example.org",
				Channel: "#chan", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Lines) != 250 || page.Lines[0].ID != "import-0250" || page.Lines[249].ID != "import-0001" ||
				!page.Lines[0].Time.Equal(b1.Lines[0].Line.Time) {
				t.Errorf("archive order or content: %d lines, first %+v", len(page.Lines), page.Lines[0])
			}

			// The same batch again (a retry whose commit went through) is a
			// no-op; a batch that does not start at the progress is refused.
			if res, err := s.ImportLogs(ctx, src, b1); err != nil || res.Imported != 0 || res.Progress != want {
				t.Errorf("retried batch: %+v, %v", res, err)
			}
			if _, err := s.ImportLogs(ctx, src, importBatch(100, 5)); !errors.Is(err, store.ErrConflict) {
				t.Errorf("batch after 100 with progress at 251: %v, want ErrConflict", err)
			}

			// From the start again: everything is present; one line whose ID
			// is taken by other content is a conflict.
			if err := s.ResetCopyProgress(ctx, src); err != nil {
				t.Fatal(err)
			}
			b2 := importBatch(0, 260)
			b2.Lines[7].Line.Body = "changed"
			res, err = s.ImportLogs(ctx, src, b2)
			if err != nil {
				t.Fatal(err)
			}
			want = store.CopyProgress{Source: src, LastSrcID: 260, Rows: 260, Imported: 10, Present: 249, Conflicts: 1}
			if res.Imported != 10 || !slices.Equal(res.Conflicts, []string{"import-0008"}) || res.Progress != want {
				t.Errorf("rescan: %+v", res)
			}
			n, err := s.CountCopiedLogs(ctx, b2.Lines)
			if err != nil || n != 259 {
				t.Errorf("CountCopiedLogs = %d, %v; want 259", n, err)
			}
			if n, err := s.CountCopiedLogs(ctx, nil); n != 0 || err != nil {
				t.Errorf("CountCopiedLogs(nil) = %d, %v", n, err)
			}
			if _, err := s.ImportLogs(ctx, src, &store.LogBatch{After: 260, Last: 261, Rows: 1,
				Lines: []store.SourceLine{{SrcID: 261}}}); err == nil {
				t.Error("a line without ID or owner was accepted")
			}
		})
	}
}
