package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"biboumi/store"
)

// line returns a log line of alice in #chan on irc.libera.chat.
func line(i int) *store.LogLine {
	return &store.LogLine{
		Owner: alice, Server: "irc.libera.chat", Channel: "#chan",
		Time: base.Add(time.Duration(i) * time.Second),
		Nick: fmt.Sprintf("nick%d", i%3), Body: fmt.Sprintf("line %d", i),
	}
}

// fill appends n lines made by line(0..n-1) and returns them. It appends
// in batches of 200, so that each call stays well within a backend's
// per-query timeout even under the race detector on a loaded machine.
func fill(t *testing.T, s store.Store, n int) []store.LogLine {
	t.Helper()
	lines := make([]*store.LogLine, n)
	for i := range lines {
		lines[i] = line(i)
	}
	for batch := range slices.Chunk(lines, 200) {
		if err := s.AppendLogs(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]store.LogLine, n)
	for i, l := range lines {
		out[i] = *l
	}
	return out
}

func checkLines(t *testing.T, what string, got, want []store.LogLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d lines %s, want %d %s", what, len(got), bodies(got), len(want), bodies(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.ID != w.ID || !g.Owner.Equal(w.Owner) || g.Server != w.Server ||
			g.Channel != w.Channel || !g.Time.Equal(w.Time) || g.Time.Location() != time.UTC ||
			g.Nick != w.Nick || g.Body != w.Body {
			t.Fatalf("%s: line %d: got %+v, want %+v", what, i, g, w)
		}
	}
}

func bodies(lines []store.LogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Body)
	}
	return out
}

func testAppendLog(t *testing.T, s store.Store) {
	ctx := t.Context()
	l1 := line(1)
	l1.Owner = withResource(alice, "laptop")
	if err := s.AppendLog(ctx, l1); err != nil {
		t.Fatal(err)
	}
	if l1.Seq == 0 {
		t.Fatal("Seq not set")
	}
	if len(l1.ID) != 36 {
		t.Fatalf("generated ID %q is not a UUID", l1.ID)
	}
	if !l1.Owner.Equal(alice) {
		t.Fatalf("Owner not made bare: %v", l1.Owner)
	}
	l2 := line(2)
	l2.ID = "given-id-1"
	l2.Nick = "" // a room message
	if err := s.AppendLog(ctx, l2); err != nil {
		t.Fatal(err)
	}
	if l2.ID != "given-id-1" || l2.Seq <= l1.Seq {
		t.Fatalf("second line: ID %q Seq %d (first Seq %d)", l2.ID, l2.Seq, l1.Seq)
	}
	l3 := line(3)
	l3.Time = time.Time{}
	before := time.Now().Add(-time.Second)
	if err := s.AppendLog(ctx, l3); err != nil {
		t.Fatal(err)
	}
	if l3.Time.Before(before) || l3.Time.After(time.Now().Add(time.Second)) {
		t.Fatalf("zero Time filled with %v, want now", l3.Time)
	}
	page, err := s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan"})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "list", page.Lines, []store.LogLine{*l1, *l2, *l3})
	if !page.Complete {
		t.Fatal("page of everything is not complete")
	}
}

func testAppendLogIdempotent(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := line(1)
	if err := s.AppendLog(ctx, l); err != nil {
		t.Fatal(err)
	}
	// The same line again (a retry): no error, same Seq, nothing added.
	again := line(1)
	again.ID = l.ID
	if err := s.AppendLog(ctx, again); err != nil {
		t.Fatalf("re-append of the same line: %v", err)
	}
	if again.Seq != l.Seq {
		t.Fatalf("re-append Seq = %d, want %d", again.Seq, l.Seq)
	}
	// The same ID with other content is a conflict.
	other := line(2)
	other.ID = l.ID
	if err := s.AppendLog(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same ID, other body: err = %v, want ErrConflict", err)
	}
	otherOwner := line(1)
	otherOwner.ID, otherOwner.Owner = l.ID, bob
	if err := s.AppendLog(ctx, otherOwner); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same ID, other owner: err = %v, want ErrConflict", err)
	}
	page, err := s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan"})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "list", page.Lines, []store.LogLine{*l})
}

func testAppendLogs(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.AppendLogs(ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	lines := fill(t, s, 250)
	ids := map[string]bool{}
	for i, l := range lines {
		if i > 0 && l.Seq <= lines[i-1].Seq {
			t.Fatalf("Seq not increasing in batch order at %d: %d after %d", i, l.Seq, lines[i-1].Seq)
		}
		if ids[l.ID] {
			t.Fatalf("duplicate generated ID %s", l.ID)
		}
		ids[l.ID] = true
	}
	// Given IDs are kept; a batch that repeats a line of itself stores it
	// once.
	a, b := line(300), line(301)
	a.ID, b.ID = "imported-a", "imported-b"
	dup := *a
	batch := []*store.LogLine{a, b, &dup}
	if err := s.AppendLogs(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if a.ID != "imported-a" || b.ID != "imported-b" || dup.Seq != a.Seq || b.Seq <= a.Seq || a.Seq <= lines[249].Seq {
		t.Fatalf("batch with given IDs: a=%+v b=%+v dup=%+v", a, b, dup)
	}
	page, err := s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", Last: true, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "last 2", page.Lines, []store.LogLine{*a, *b})
}

func testAppendLogsAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := line(1)
	if err := s.AppendLog(ctx, first); err != nil {
		t.Fatal(err)
	}
	bad := line(3)
	bad.ID = first.ID // conflicts: other content
	batch := []*store.LogLine{line(2), bad, line(4)}
	if err := s.AppendLogs(ctx, batch); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	for _, l := range batch {
		if l.Seq != 0 {
			t.Fatalf("failed batch set Seq %d", l.Seq)
		}
	}
	page, err := s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan"})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "after failed batch", page.Lines, []store.LogLine{*first})
}

func testTimesRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	paris := time.FixedZone("CET", 3600)
	times := []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 999999000, time.UTC),      // sub-second
		time.Date(2024, 1, 2, 3, 4, 5, 1000, paris),              // 1 µs, other zone
		time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC),            // just past int32 seconds
		time.Date(2106, 2, 7, 6, 28, 16, 500000000, time.UTC),    // past uint32 seconds
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), // far future
		time.Date(1969, 12, 31, 23, 59, 59, 500000000, time.UTC), // before the epoch
	}
	var want []store.LogLine
	for i, tm := range times {
		l := line(i)
		l.Time = tm
		if err := s.AppendLog(ctx, l); err != nil {
			t.Fatal(err)
		}
		if !l.Time.Equal(tm) || l.Time.Location() != time.UTC {
			t.Fatalf("AppendLog changed time %v to %v", tm, l.Time)
		}
		want = append(want, *l)
	}
	// Nanoseconds are truncated to microseconds.
	l := line(99)
	l.Time = time.Date(2030, 1, 1, 0, 0, 0, 1999, time.UTC)
	if err := s.AppendLog(ctx, l); err != nil {
		t.Fatal(err)
	}
	if !l.Time.Equal(time.Date(2030, 1, 1, 0, 0, 0, 1000, time.UTC)) {
		t.Fatalf("ns time stored as %v, want truncated to µs", l.Time)
	}
	want = append(want, *l)
	page, err := s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan"})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "times", page.Lines, want)
}

func testListLast(t *testing.T, s store.Store) {
	ctx := t.Context()
	lines := fill(t, s, 120)
	q := store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", Last: true, Limit: 50}
	page, err := s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "last 50", page.Lines, lines[70:])
	if page.Complete {
		t.Fatal("last 50 of 120 is complete")
	}
	q.Limit = 120
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "last 120", page.Lines, lines)
	if !page.Complete {
		t.Fatal("last 120 of 120 is not complete")
	}
	// Join history with a since bound: the newest lines after a time.
	q = store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", Last: true, Limit: 20, Start: lines[110].Time}
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "last 20 since", page.Lines, lines[110:])
	if !page.Complete {
		t.Fatal("all lines since a time are not complete")
	}
}

func testListForwardPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	lines := fill(t, s, 25)
	q := store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", Limit: 10}
	var got []store.LogLine
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		page, err := s.ListLogs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Lines...)
		if page.Complete {
			if len(page.Lines) != 5 {
				t.Fatalf("last page has %d lines, want 5", len(page.Lines))
			}
			break
		}
		q.AfterID = page.Lines[len(page.Lines)-1].ID
	}
	checkLines(t, "forward", got, lines)

	// After the very last line: empty and complete.
	q.AfterID = lines[24].ID
	page, err := s.ListLogs(ctx, q)
	if err != nil || len(page.Lines) != 0 || !page.Complete {
		t.Fatalf("after last: %+v, %v", page, err)
	}
	// Exactly a page left: complete, since nothing follows.
	q.AfterID = lines[14].ID
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "after 15th", page.Lines, lines[15:])
	if !page.Complete {
		t.Fatal("page reaching the end is not complete")
	}
	// Between two ids.
	page, err = s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan",
		AfterID: lines[3].ID, BeforeID: lines[7].ID})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "between", page.Lines, lines[4:7])
}

func testListBackwardPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	lines := fill(t, s, 25)
	q := store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", Limit: 10, Last: true}
	var got []store.LogLine
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		page, err := s.ListLogs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(slices.Clone(page.Lines), got...)
		if page.Complete {
			break
		}
		q.Last = false
		q.BeforeID = page.Lines[0].ID
	}
	checkLines(t, "backward", got, lines)

	// Before the first line: empty and complete.
	page, err := s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", BeforeID: lines[0].ID})
	if err != nil || len(page.Lines) != 0 || !page.Complete {
		t.Fatalf("before first: %+v, %v", page, err)
	}
	// BeforeID alone pages backward: the newest lines before it.
	page, err = s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", BeforeID: lines[20].ID, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "before 21st", page.Lines, lines[17:20])
	if page.Complete {
		t.Fatal("page with older lines left is complete")
	}
}

func testListTimeRange(t *testing.T, s store.Store) {
	ctx := t.Context()
	lines := fill(t, s, 30) // one per second from base
	q := store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan",
		Start: lines[10].Time, End: lines[19].Time} // inclusive
	page, err := s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "range", page.Lines, lines[10:20])
	if !page.Complete {
		t.Fatal("whole range is not complete")
	}
	// Sub-second bounds: a start 1 µs after a line excludes it; an end 1 µs
	// before a line excludes it.
	q.Start = lines[10].Time.Add(time.Microsecond)
	q.End = lines[19].Time.Add(-time.Nanosecond)
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "sub-second range", page.Lines, lines[11:19])
	q.Start = lines[10].Time.Add(time.Nanosecond)
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "start 1 ns after a line", page.Lines, lines[11:19])

	// Open ends.
	page, err = s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", Start: lines[25].Time})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "start only", page.Lines, lines[25:])
	page, err = s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", End: lines[2].Time})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "end only", page.Lines, lines[:3])

	// Range plus paging: the range's completeness, not the archive's.
	q = store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan",
		Start: lines[10].Time, End: lines[19].Time, Limit: 4, AfterID: lines[13].ID}
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "range page", page.Lines, lines[14:18])
	if page.Complete {
		t.Fatal("range page with lines left is complete")
	}
	q.AfterID = lines[15].ID
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "range last page", page.Lines, lines[16:20])
	if !page.Complete {
		t.Fatal("last page of the range is not complete though the archive goes on")
	}
	// An id outside the time range is still a valid bound (it is in the
	// archive).
	q.AfterID = lines[2].ID
	q.Limit = 100
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "bound outside range", page.Lines, lines[10:20])

	// Empty range.
	page, err = s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan",
		Start: lines[29].Time.Add(time.Hour)})
	if err != nil || len(page.Lines) != 0 || !page.Complete {
		t.Fatalf("range after everything: %+v, %v", page, err)
	}
}

func testListIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	lines := fill(t, s, 30)
	// Bob's line, with an ID of its own, must not leak into Alice's page.
	other := line(40)
	other.Owner = bob
	if err := s.AppendLog(ctx, other); err != nil {
		t.Fatal(err)
	}
	q := store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan",
		// Out of order, repeated, unknown and someone else's: archive
		// order, each once, only Alice's.
		IDs: []string{lines[20].ID, lines[3].ID, "no-such-id", lines[3].ID, other.ID, lines[11].ID}}
	page, err := s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "ids", page.Lines, []store.LogLine{lines[3], lines[11], lines[20]})
	if !page.Complete {
		t.Fatal("every requested line returned, yet not complete")
	}

	// With the other filters and paging.
	q.Start, q.End = lines[5].Time, lines[25].Time
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "ids within a time range", page.Lines, []store.LogLine{lines[11], lines[20]})
	q.Start, q.End = time.Time{}, time.Time{}
	q.Limit = 2
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "first page of ids", page.Lines, []store.LogLine{lines[3], lines[11]})
	if page.Complete {
		t.Fatal("first page of three ids is complete")
	}
	q.AfterID = lines[11].ID
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "second page of ids", page.Lines, []store.LogLine{lines[20]})
	if !page.Complete {
		t.Fatal("last page of ids is not complete")
	}
	q = store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", Last: true, Limit: 1,
		IDs: []string{lines[3].ID, lines[20].ID}}
	page, err = s.ListLogs(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "last of ids", page.Lines, []store.LogLine{lines[20]})

	// Only unknown IDs: an empty, complete page, not an error.
	q = store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", IDs: []string{"x", other.ID}}
	page, err = s.ListLogs(ctx, q)
	if err != nil || len(page.Lines) != 0 || !page.Complete {
		t.Fatalf("unknown ids: %d lines, complete %v, err %v", len(page.Lines), page.Complete, err)
	}
	// Too many IDs is an error, not a huge statement.
	q.IDs = make([]string, store.MaxLogLimit+1)
	for i := range q.IDs {
		q.IDs[i] = fmt.Sprint("id-", i)
	}
	if _, err := s.ListLogs(ctx, q); err == nil {
		t.Fatalf("%d ids accepted", len(q.IDs))
	}
}

func testListEmpty(t *testing.T, s store.Store) {
	for _, q := range []store.LogQuery{
		{Owner: alice, Server: "irc.libera.chat", Channel: "#chan"},
		{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", Last: true, Limit: 50},
	} {
		page, err := s.ListLogs(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Lines) != 0 || !page.Complete {
			t.Fatalf("empty archive: %+v", page)
		}
	}
}

func testListUnknownID(t *testing.T, s store.Store) {
	ctx := t.Context()
	lines := fill(t, s, 3)
	bobs := line(0)
	bobs.Owner = bob
	other := line(0)
	other.Channel = "#other"
	if err := s.AppendLogs(ctx, []*store.LogLine{bobs, other}); err != nil {
		t.Fatal(err)
	}
	q := store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan"}
	for _, id := range []string{"no-such-id", bobs.ID, other.ID} {
		for _, after := range []bool{true, false} {
			q := q
			if after {
				q.AfterID = id
			} else {
				q.BeforeID = id
			}
			if _, err := s.ListLogs(ctx, q); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("id %q (after=%v): err = %v, want ErrNotFound", id, after, err)
			}
		}
	}
	// A known id works.
	q.AfterID = lines[0].ID
	if _, err := s.ListLogs(ctx, q); err != nil {
		t.Fatal(err)
	}
}

func testListLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	lines := fill(t, s, store.MaxLogLimit+5)
	q := store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan"}
	for _, tc := range []struct {
		limit, want int
	}{
		{0, store.DefaultLogLimit},
		{-3, store.DefaultLogLimit},
		{1, 1},
		{store.MaxLogLimit + 1000, store.MaxLogLimit},
	} {
		q.Limit = tc.limit
		page, err := s.ListLogs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		checkLines(t, fmt.Sprintf("limit %d", tc.limit), page.Lines, lines[:tc.want])
		if page.Complete {
			t.Fatalf("limit %d: complete", tc.limit)
		}
		q.Last = true
		page, err = s.ListLogs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		checkLines(t, fmt.Sprintf("last, limit %d", tc.limit), page.Lines, lines[len(lines)-tc.want:])
		q.Last = false
	}
}

func testListIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	var want = map[string][]store.LogLine{}
	keys := []struct {
		owner           jid.JID
		server, channel string
	}{
		{alice, "irc.libera.chat", "#chan"},
		{bob, "irc.libera.chat", "#chan"},
		{alice, "irc.oftc.net", "#chan"},
		{alice, "irc.libera.chat", "#chan2"},
	}
	var batch []*store.LogLine
	for i := range 20 {
		k := keys[i%len(keys)]
		l := line(i)
		l.Owner, l.Server, l.Channel = k.owner, k.server, k.channel
		batch = append(batch, l)
	}
	if err := s.AppendLogs(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, l := range batch {
		k := l.Owner.String() + " " + l.Server + " " + l.Channel
		want[k] = append(want[k], *l)
	}
	for _, k := range keys {
		for _, last := range []bool{false, true} {
			// A full JID as owner selects the bare JID's archive.
			page, err := s.ListLogs(ctx, store.LogQuery{Owner: withResource(k.owner, "r"), Server: k.server, Channel: k.channel, Last: last})
			if err != nil {
				t.Fatal(err)
			}
			checkLines(t, fmt.Sprintf("%v last=%v", k, last), page.Lines, want[k.owner.String()+" "+k.server+" "+k.channel])
		}
	}
}

func testPurgeLogs(t *testing.T, s store.Store) {
	ctx := t.Context()
	lines := fill(t, s, 2500) // more than one purge batch
	bobs := line(0)
	bobs.Owner = bob
	if err := s.AppendLog(ctx, bobs); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeLogs(ctx, lines[2100].Time) // strictly older
	if err != nil {
		t.Fatal(err)
	}
	if n != 2101 {
		t.Fatalf("purged %d lines, want 2101", n)
	}
	page, err := s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", Limit: store.MaxLogLimit})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "after purge", page.Lines, lines[2100:])
	page, err = s.ListLogs(ctx, store.LogQuery{Owner: bob, Server: "irc.libera.chat", Channel: "#chan"})
	if err != nil || len(page.Lines) != 0 {
		t.Fatalf("bob's old line survived: %+v, %v", page, err)
	}
	if n, err := s.PurgeLogs(ctx, lines[2100].Time); err != nil || n != 0 {
		t.Fatalf("second purge: %d, %v", n, err)
	}
	// Seq keeps growing after a purge of everything.
	if n, err := s.PurgeLogs(ctx, base.Add(time.Hour*24)); err != nil || n != 400 {
		t.Fatalf("purge all: %d, %v", n, err)
	}
	l := line(1)
	if err := s.AppendLog(ctx, l); err != nil {
		t.Fatal(err)
	}
	if l.Seq <= lines[len(lines)-1].Seq {
		t.Fatalf("seq reused after purge: %d <= %d", l.Seq, lines[len(lines)-1].Seq)
	}
}

func testConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, perWriter = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				l := line(w*perWriter + i)
				if err := s.AppendLog(ctx, l); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range perWriter {
				if _, err := s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", Last: true, Limit: 50}); err != nil {
					errs <- err
					return
				}
				if _, err := s.GlobalOptions(ctx, alice); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	page, err := s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan", Limit: store.MaxLogLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Lines) != writers*perWriter {
		t.Fatalf("%d lines archived, want %d", len(page.Lines), writers*perWriter)
	}
}

func testCancelledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.AppendLog(ctx, line(1)); err == nil {
		t.Error("AppendLog with a cancelled context succeeded")
	}
	if _, err := s.ListLogs(ctx, store.LogQuery{Owner: alice, Server: "irc.libera.chat", Channel: "#chan"}); err == nil {
		t.Error("ListLogs with a cancelled context succeeded")
	}
	if _, err := s.GlobalOptions(ctx, alice); err == nil {
		t.Error("GlobalOptions with a cancelled context succeeded")
	}
}
