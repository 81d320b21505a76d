package ircbridge

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// occView is one session's list in these tests, with the reference model
// it must always match.
type occView struct {
	l     occupants
	model map[string]occupant // by fold
}

func newOccView(tab *occupantTable) *occView {
	return &occView{l: newOccupants(tab, headKey("irc.test", "#chan")), model: map[string]occupant{}}
}

func mkOcc(nick, user, host, modes string) *occupant {
	return &occupant{fold: strings.ToLower(nick), nick: nick, user: user, host: host, modes: modes}
}

func (v *occView) put(o *occupant) {
	v.model[o.fold] = *o
	v.l.put(o)
}

func (v *occView) remove(fold string) {
	got := v.l.remove(fold)
	want, ok := v.model[fold]
	delete(v.model, fold)
	if (got != nil) != ok || got != nil && got.nick != want.nick {
		panic("remove returned " + strconv.Quote(fold) + " wrongly")
	}
}

func (v *occView) check(t *testing.T) {
	t.Helper()
	if v.l.len() != len(v.model) {
		t.Fatalf("len %d, model %d", v.l.len(), len(v.model))
	}
	for fold, want := range v.model {
		got := v.l.get(fold)
		if got == nil || got.nick != want.nick || got.user != want.user || got.host != want.host || got.modes != want.modes {
			t.Fatalf("%s: got %+v, want %+v", fold, got, want)
		}
	}
	if v.l.sealed() {
		var sum setSum
		for _, o := range v.l.set.list {
			if o.sum != v.l.tab.sumOf(o) {
				t.Fatalf("%+v: stale sum", o)
			}
			sum = sum.xor(o.sum)
		}
		if sum != v.l.set.sum {
			t.Fatal("set sum is not the XOR of its occupants")
		}
	}
	if v.l.sealed() && !slices.IsSortedFunc(v.l.set.list, func(a, b *occupant) int { return strings.Compare(a.fold, b.fold) }) {
		t.Fatal("sealed set not sorted")
	}
}

func TestOccupantsSharedWhenViewsAgree(t *testing.T) {
	tab := newOccupantTable()
	a, b := newOccView(tab), newOccView(tab)
	for _, v := range []*occView{a, b} {
		v.put(mkOcc("Alice", "", "", ""))
		v.put(mkOcc("Bob", "b", "h", "o"))
		v.l.seal()
	}
	if a.l.set != b.l.set {
		t.Fatal("two views sealed with the same content do not share their set")
	}
	// The same lines, seen by each connection in turn, keep them shared.
	a.put(mkOcc("Carol", "c", "h", ""))
	if a.l.set == b.l.set {
		t.Fatal("a's change leaked into b")
	}
	if b.l.get("carol") != nil {
		t.Fatal("b sees Carol before its connection said so")
	}
	b.put(mkOcc("Carol", "c", "h", ""))
	if a.l.set != b.l.set {
		t.Fatal("b did not adopt a's set after the same JOIN")
	}
	a.remove("bob")
	a.put(mkOcc("Dave", "d", "h", "v"))
	b.remove("bob")
	b.put(mkOcc("Dave", "d", "h", "v"))
	if a.l.set != b.l.set {
		t.Fatal("not shared after PART and JOIN")
	}
	// Different views stay different (a mode only one side saw).
	b.put(mkOcc("Dave", "d", "h", "vo"))
	if a.l.set == b.l.set || a.l.get("dave").modes != "v" {
		t.Fatal("views that differ were merged")
	}
	a.check(t)
	b.check(t)
}

func TestOccupantsKnownHostFromAnotherView(t *testing.T) {
	tab := newOccupantTable()
	a := newOccView(tab)
	a.put(mkOcc("Alice", "a", "h", ""))
	a.l.seal()
	a.put(mkOcc("Bob", "bob", "example.net", "")) // a saw Bob's JOIN
	// b joins later: the NAMES reply has no user@host.
	b := newOccView(tab)
	if u, h := b.l.knownHost("bob", "Bob"); u != "bob" || h != "example.net" {
		t.Fatalf("knownHost = %q %q", u, h)
	}
	if u, _ := b.l.knownHost("carol", "Carol"); u != "" {
		t.Fatal("host of an unknown nick")
	}
	// Same fold, other nick (a case change nobody has seen): not trusted.
	if u, _ := b.l.knownHost("bob", "BOB"); u != "" {
		t.Fatal("host of another nick")
	}
	b.put(mkOcc("Alice", "a", "h", ""))
	b.put(mkOcc("Bob", "bob", "example.net", ""))
	b.l.seal()
	if a.l.set != b.l.set {
		t.Fatal("b's completed list is not a's")
	}
}

// TestOccupantsRandom applies random changes to several views in different
// orders and checks each against its own model after every step, and that
// views with equal content share one set.
func TestOccupantsRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tab := newOccupantTable()
	nicks := []string{"a", "B", "c", "D", "e", "f", "G", "h"}
	const views = 4
	vs := make([]*occView, views)
	for i := range vs {
		vs[i] = newOccView(tab)
	}
	type op struct {
		remove bool
		o      occupant
	}
	randomOp := func() op {
		n := nicks[rng.IntN(len(nicks))]
		if rng.IntN(3) == 0 {
			return op{remove: true, o: occupant{fold: strings.ToLower(n)}}
		}
		modes := []string{"", "v", "o", "ov"}[rng.IntN(4)]
		host := []string{"", "h1", "h2"}[rng.IntN(3)]
		return op{o: *mkOcc(n, "u", host, modes)}
	}
	var script []op
	for step := 0; step < 3000; step++ {
		if step == 10 {
			for _, v := range vs {
				v.l.seal()
			}
		}
		if rng.IntN(4) == 0 || len(script) == 0 {
			script = append(script, randomOp())
		}
		// Views replay lines of a common script in different orders;
		// view 3 sometimes goes its own way.
		v := vs[rng.IntN(views)]
		o := script[rng.IntN(len(script))]
		if v == vs[3] && rng.IntN(5) == 0 {
			o = randomOp()
		}
		if o.remove {
			v.remove(o.o.fold)
		} else {
			c := o.o
			v.put(&c)
		}
		v.check(t)
	}
	for i := range vs {
		for j := range vs {
			if vs[i].l.sealed() && vs[j].l.sealed() && maps(vs[i].model, vs[j].model) && vs[i].l.set != vs[j].l.set {
				t.Fatalf("views %d and %d are equal but not shared", i, j)
			}
		}
	}
}

func maps(a, b map[string]occupant) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.nick != w.nick || v.user != w.user || v.host != w.host || v.modes != w.modes {
			return false
		}
	}
	return true
}

// TestOccupantsCollected checks that the table does not keep sets alive
// nor grow with channels and sets nobody uses any more.
func TestOccupantsCollected(t *testing.T) {
	tab := newOccupantTable()
	sizes := func() (sets, heads int) {
		for i := range tab.shards {
			tab.shards[i].mu.Lock()
			sets += len(tab.shards[i].sets)
			tab.shards[i].mu.Unlock()
		}
		tab.headMu.Lock()
		defer tab.headMu.Unlock()
		return sets, len(tab.heads)
	}
	maxSets, maxHeads := 0, 0
	for i := 0; i < 20000; i++ {
		v := newOccView(tab)
		v.l.head = headKey("irc.test", "#c"+strconv.Itoa(i))
		v.put(mkOcc("n"+strconv.Itoa(i), "", "", ""))
		v.l.seal()
		if i%500 == 0 {
			runtime.GC()
		}
		s, h := sizes()
		maxSets, maxHeads = max(maxSets, s), max(maxHeads, h)
	}
	// At most 500 are alive between collections; sweeping at twice the
	// live count bounds the maps at a small multiple of that.
	if maxSets > 4*500+occupantShards*minSweep || maxHeads > 4*500+minSweep {
		t.Fatalf("the table grew to %d sets and %d heads for at most 500 live", maxSets, maxHeads)
	}
}
