package ircbridge

import (
	"fmt"
	"testing"
	"time"

	"biboumi/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// fillArchive writes n lines of alice's #test archive, a second apart.
func fillArchive(t *testing.T, st store.Store, n int) []*store.LogLine {
	t.Helper()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lines := make([]*store.LogLine, n)
	for i := range lines {
		nick := "Bob"
		if i%10 == 9 {
			nick = "" // a room message
		}
		lines[i] = &store.LogLine{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Owner: jid.MustParse("alice@localhost"),
			Server: "127.0.0.1", Channel: "#test", Time: base.Add(time.Duration(i) * time.Second), Nick: nick, Body: fmt.Sprintf("line %d", i)}
	}
	if err := st.AppendLogs(t.Context(), lines); err != nil {
		t.Fatal(err)
	}
	return lines
}

func (h *harness) mam(id string, q *MAMQuery) (results []Message, fin IQ) {
	h.t.Helper()
	h.g.HandleIQ(h.t.Context(), IQ{From: alicePhone, To: jid.MustParse(h.room()), ID: id, Type: stanza.SetIQ, Payload: q})
	for {
		switch v := h.rec.expect(h.t, "to=alice@localhost/phone").(type) {
		case Message:
			if v.MAMResult == nil {
				h.t.Fatalf("unexpected message %s", describe(v))
			}
			results = append(results, v)
		case IQ:
			if v.ID != id {
				h.t.Fatalf("unexpected iq %s", describe(v))
			}
			return results, v
		}
	}
}

func ids(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.MAMResult.ID
	}
	return out
}

func TestMAMPaging(t *testing.T) {
	h := newHarness(t, true)
	lines := fillArchive(t, h.st, 250)

	// Default: the first page of 100, oldest first, not complete.
	res, fin := h.mam("q1", &MAMQuery{QueryID: "a"})
	if len(res) != 100 || res[0].MAMResult.ID != lines[0].ID || fin.Type != stanza.ResultIQ {
		t.Fatalf("first page: %d results, fin %s", len(res), describe(fin))
	}
	f := fin.Payload.(*MAMFin)
	if f.Complete || f.RSM.First != lines[0].ID || f.RSM.Last != lines[99].ID {
		t.Errorf("fin %+v %+v", f, f.RSM)
	}
	r0 := res[0].MAMResult
	if r0.QueryID != "a" || !r0.Stamp.Equal(lines[0].Time) || r0.Message.Body != "line 0" || r0.Message.From.String() != h.room()+"/Bob" {
		t.Errorf("result %+v", r0)
	}
	if m := res[9].MAMResult.Message; m.From.String() != h.room() {
		t.Errorf("room message from %s, want the bare room", m.From)
	}

	// Forward with after, max 200 capped at 100; the last page is complete.
	rsm := NewRSM()
	rsm.After, rsm.Max = lines[199].ID, 200
	res, fin = h.mam("q2", &MAMQuery{RSM: rsm})
	if len(res) != 50 || !fin.Payload.(*MAMFin).Complete {
		t.Errorf("after: %d results, complete=%v", len(res), fin.Payload.(*MAMFin).Complete)
	}

	// Backward: <before/> is the last page.
	rsm = NewRSM()
	empty := ""
	rsm.Before, rsm.Max = &empty, 10
	res, _ = h.mam("q3", &MAMQuery{RSM: rsm})
	if got := ids(res); len(got) != 10 || got[9] != lines[249].ID || got[0] != lines[240].ID {
		t.Errorf("last page %v", got)
	}
	// before=<id>
	before := lines[5].ID
	rsm = NewRSM()
	rsm.Before, rsm.Max = &before, 10
	res, fin = h.mam("q4", &MAMQuery{RSM: rsm})
	if len(res) != 5 || !fin.Payload.(*MAMFin).Complete {
		t.Errorf("before: %d results, complete=%v", len(res), fin.Payload.(*MAMFin).Complete)
	}

	// Time range, inclusive.
	res, _ = h.mam("q5", &MAMQuery{Start: lines[10].Time, End: lines[12].Time})
	if got := ids(res); len(got) != 3 || got[0] != lines[10].ID {
		t.Errorf("range %v", got)
	}

	// Unknown id → item-not-found; max=0 → nothing, not complete.
	rsm = NewRSM()
	rsm.After = "no-such-id"
	res, fin = h.mam("q6", &MAMQuery{RSM: rsm})
	if len(res) != 0 || fin.Type != stanza.ErrorIQ || fin.Error.Condition != stanza.ItemNotFound {
		t.Errorf("unknown id: %d results, %s", len(res), describe(fin))
	}
	rsm = NewRSM()
	rsm.Max = 0
	res, fin = h.mam("q7", &MAMQuery{RSM: rsm})
	if len(res) != 0 || fin.Payload.(*MAMFin).Complete {
		t.Errorf("max=0: %d results, %s", len(res), describe(fin))
	}

	// Another user's archive is not ours.
	h.g.HandleIQ(t.Context(), IQ{From: jid.MustParse("eve@localhost/x"), To: jid.MustParse(h.room()), ID: "q8", Type: stanza.SetIQ, Payload: &MAMQuery{}})
	fin = h.rec.expect(t, "iq", `id="q8"`).(IQ)
	if f := fin.Payload.(*MAMFin); f.RSM.First != "" || !f.Complete {
		t.Errorf("eve sees alice's archive: %+v", f.RSM)
	}
}
