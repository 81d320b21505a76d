package ircbridge

import (
	"slices"
	"strings"

	"mellium.im/xmpp/jid"
)

// jidSet is a small set of full JIDs (a user's clients in a room or on a
// server), sorted by their string form. A user has a handful of clients:
// a slice costs a few dozen bytes where a map costs half a KiB. The zero
// value is empty and ready to use.
type jidSet struct {
	entries []jidEntry
}

type jidEntry struct {
	key string // j.String()
	j   jid.JID
}

func (s *jidSet) find(key string) (int, bool) {
	return slices.BinarySearchFunc(s.entries, key, func(e jidEntry, k string) int { return strings.Compare(e.key, k) })
}

// has reports whether the JID whose string form is key is in the set.
func (s *jidSet) has(key string) bool {
	_, ok := s.find(key)
	return ok
}

// add puts j in the set.
func (s *jidSet) add(j jid.JID) {
	key := j.String()
	i, ok := s.find(key)
	if ok {
		s.entries[i].j = j
		return
	}
	s.entries = slices.Insert(s.entries, i, jidEntry{key: key, j: j})
}

// remove takes the JID whose string form is key out; it reports whether it
// was there.
func (s *jidSet) remove(key string) bool {
	i, ok := s.find(key)
	if ok {
		s.entries = slices.Delete(s.entries, i, i+1)
		if len(s.entries) == 0 {
			s.entries = nil
		}
	}
	return ok
}

func (s *jidSet) len() int { return len(s.entries) }

// list returns the JIDs in order, in a new slice.
func (s *jidSet) list() []jid.JID {
	out := make([]jid.JID, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.j
	}
	return out
}
