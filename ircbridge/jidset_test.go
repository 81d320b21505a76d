package ircbridge

import (
	"testing"

	"mellium.im/xmpp/jid"
)

func TestJIDSet(t *testing.T) {
	var s jidSet
	a, b, c := jid.MustParse("a@x/1"), jid.MustParse("a@x/2"), jid.MustParse("a@x/0")
	for _, j := range []jid.JID{a, b, c, a} {
		s.add(j)
	}
	if s.len() != 3 || !s.has("a@x/2") || s.has("a@x") {
		t.Fatalf("len %d, has a@x/2 %v, has a@x %v", s.len(), s.has("a@x/2"), s.has("a@x"))
	}
	l := s.list()
	if len(l) != 3 || !l[0].Equal(c) || !l[1].Equal(a) || !l[2].Equal(b) {
		t.Fatalf("list %v: want sorted", l)
	}
	if !s.remove("a@x/1") || s.remove("a@x/1") || s.has("a@x/1") || s.len() != 2 {
		t.Fatal("remove")
	}
	s.remove("a@x/0")
	s.remove("a@x/2")
	if s.len() != 0 || s.entries != nil {
		t.Fatal("an empty set keeps its array")
	}
}
