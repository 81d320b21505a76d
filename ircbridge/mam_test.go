package ircbridge

import (
	"fmt"
	"slices"
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

// TestMAMIDs checks the XEP-0313 ids filter: the requested lines of the
// requester's own archive, in archive order, unknown ids ignored.
func TestMAMIDs(t *testing.T) {
	h := newHarness(t, true)
	lines := fillArchive(t, h.st, 30)

	// The form advertises the field.
	h.g.HandleIQ(t.Context(), IQ{From: alicePhone, To: jid.MustParse(h.room()), ID: "f", Type: stanza.GetIQ, Payload: &MAMQuery{}})
	form := h.rec.expect(t, "iq", `id="f"`).(IQ).Payload.(*MAMQuery).Form
	if !slices.ContainsFunc(form.Fields, func(f FormField) bool { return f.Var == "ids" && f.Type == "text-multi" }) {
		t.Errorf("the query form has no ids field: %+v", form.Fields)
	}

	res, fin := h.mam("q1", &MAMQuery{QueryID: "a", IDs: []string{lines[17].ID, "no-such-id", lines[2].ID}})
	if got, want := ids(res), []string{lines[2].ID, lines[17].ID}; !slices.Equal(got, want) {
		t.Errorf("ids filter: %v, want %v", got, want)
	}
	if fin.Type != stanza.ResultIQ || !fin.Payload.(*MAMFin).Complete {
		t.Errorf("fin %s", describe(fin))
	}
	if len(res) == 2 && res[1].MAMResult.Message.Body != "line 17" {
		t.Errorf("result body %q", res[1].MAMResult.Message.Body)
	}

	// Eve asks for Alice's lines by id: nothing.
	h.g.HandleIQ(t.Context(), IQ{From: jid.MustParse("eve@localhost/x"), To: jid.MustParse(h.room()), ID: "q2", Type: stanza.SetIQ,
		Payload: &MAMQuery{IDs: []string{lines[2].ID}}})
	if f := h.rec.expect(t, "iq", `id="q2"`).(IQ).Payload.(*MAMFin); f.RSM.First != "" || !f.Complete {
		t.Errorf("eve got alice's line by id: %+v", f.RSM)
	}

	// Too many ids: a clear error, not a huge query.
	many := make([]string, store.MaxLogLimit+1)
	for i := range many {
		many[i] = fmt.Sprint("id-", i)
	}
	res, fin = h.mam("q3", &MAMQuery{IDs: many})
	if len(res) != 0 || fin.Type != stanza.ErrorIQ || fin.Error.Condition != stanza.PolicyViolation {
		t.Errorf("too many ids: %d results, %s", len(res), describe(fin))
	}
}
