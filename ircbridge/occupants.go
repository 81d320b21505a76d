package ircbridge

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"weak"
)

// This file keeps the occupant lists of rooms. Every user sees every
// channel it is in through its own IRC connection, so a channel of N
// bridged users has N occupant lists of N entries each: that is what a
// gateway's memory grows with (Biboumi keeps them all). Here each session
// still has its own view, changed only by the lines of its own connection,
// but views are immutable values interned by content: the users whose
// connections have seen the same lines share one copy of the list.

// occupant is someone in an IRC channel, ourselves included. An occupant
// is immutable once its room's list is sealed (it may be shared with other
// sessions): a change makes a new occupant.
type occupant struct {
	fold  string // the casefolded nick: the key
	nick  string
	user  string // user@host part, when known
	host  string
	modes string // prefix modes held, e.g. "ov"
	sum   setSum // set when sealed
}

// with returns a copy of o with other prefix modes.
func (o *occupant) withModes(modes string) *occupant {
	n := *o
	n.modes, n.sum = modes, setSum{}
	return &n
}

// setSum identifies the content of an occupant set: the XOR of a keyed
// 128-bit hash of each occupant (an incremental set hash: adding or
// removing an occupant is one XOR). Equal sets have equal sums; different
// sets collide with probability 2^-128. The hash is SHA-256 under a key
// drawn at start-up, so nobody on IRC can choose nicks that collide.
// (A fast non-cryptographic hash does not do: runtime/maphash hashes the
// 16-byte blocks of its input separately and XORs them, so sets that swap
// fields between occupants get equal sums — found by TestOccupantsRandom.)
type setSum [2]uint64

func (a setSum) xor(b setSum) setSum { return setSum{a[0] ^ b[0], a[1] ^ b[1]} }

// occupantSet is an immutable occupant list sorted by fold.
type occupantSet struct {
	list []*occupant
	sum  setSum
}

// find returns the index of fold in the set and whether it is there.
func (s *occupantSet) find(fold string) (int, bool) {
	return slices.BinarySearchFunc(s.list, fold, func(o *occupant, f string) int { return strings.Compare(o.fold, f) })
}

func (s *occupantSet) get(fold string) *occupant {
	if s == nil {
		return nil
	}
	if i, ok := s.find(fold); ok {
		return s.list[i]
	}
	return nil
}

// occupantShards spreads the table's lock.
const occupantShards = 32

// occupantTable interns occupant sets by content for the whole gateway, and
// remembers the latest set of each channel. It holds sets weakly: a set no
// session uses any more is collected. Safe for concurrent use.
type occupantTable struct {
	key    [32]byte
	shards [occupantShards]occupantShard

	headMu    sync.Mutex
	heads     map[string]weak.Pointer[occupantSet]
	headSweep int // sweep dead heads when the map grows past this
}

type occupantShard struct {
	mu    sync.Mutex
	sets  map[setSum]weak.Pointer[occupantSet]
	sweep int // sweep dead entries when the map grows past this
}

// minSweep is the size under which a map is never swept.
const minSweep = 64

func newOccupantTable() *occupantTable {
	t := &occupantTable{}
	rand.Read(t.key[:])
	return t
}

// sumOf computes o's sum from its fields.
func (t *occupantTable) sumOf(o *occupant) setSum {
	h := sha256.New()
	h.Write(t.key[:])
	var n [4]byte
	for _, f := range [...]string{o.fold, o.nick, o.user, o.host, o.modes} {
		// The length keeps field boundaries apart ("ab"+"c" ≠ "a"+"bc").
		binary.LittleEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return setSum{binary.LittleEndian.Uint64(d[0:]), binary.LittleEndian.Uint64(d[8:])}
}

// lookup returns the live set with this content, or nil.
func (t *occupantTable) lookup(sum setSum, n int) *occupantSet {
	sh := &t.shards[sum[0]%occupantShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s := sh.sets[sum].Value(); s != nil && len(s.list) == n {
		return s
	}
	return nil
}

// intern returns the live set with s's content, registering s if there is
// none.
func (t *occupantTable) intern(s *occupantSet) *occupantSet {
	sh := &t.shards[s.sum[0]%occupantShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old := sh.sets[s.sum].Value(); old != nil && len(old.list) == len(s.list) {
		return old
	}
	if sh.sets == nil {
		sh.sets = make(map[setSum]weak.Pointer[occupantSet])
	}
	sh.sets[s.sum] = weak.Make(s)
	if len(sh.sets) > max(sh.sweep, minSweep) {
		for k, v := range sh.sets {
			if v.Value() == nil {
				delete(sh.sets, k)
			}
		}
		sh.sweep = 2 * len(sh.sets)
	}
	return s
}

// head returns the latest set seen of a channel (key: see headKey), or nil.
func (t *occupantTable) head(key string) *occupantSet {
	t.headMu.Lock()
	defer t.headMu.Unlock()
	return t.heads[key].Value()
}

func (t *occupantTable) setHead(key string, s *occupantSet) {
	t.headMu.Lock()
	defer t.headMu.Unlock()
	if t.heads == nil {
		t.heads = make(map[string]weak.Pointer[occupantSet])
	}
	t.heads[key] = weak.Make(s)
	if len(t.heads) > max(t.headSweep, minSweep) {
		for k, v := range t.heads {
			if v.Value() == nil {
				delete(t.heads, k)
			}
		}
		t.headSweep = 2 * len(t.heads)
	}
}

// headKey names a channel in the table: the IRC server's endpoint and the
// casefolded channel.
func headKey(server, foldedChannel string) string { return server + "\x00" + foldedChannel }

// occupants is one room's occupant list as one session sees it. While the
// room is joining, the list is private and mutable (the NAMES reply builds
// it); once joined it is sealed into an interned occupantSet, and each
// change replaces the set by the interned one with the new content. It is
// owned by the session goroutine.
type occupants struct {
	tab  *occupantTable
	head string               // the channel's key in tab
	set  *occupantSet         // sealed; nil while building
	own  map[string]*occupant // while building, by fold
	hint *occupantSet         // while building: the channel's latest set, for user@host
}

func newOccupants(tab *occupantTable, head string) occupants {
	return occupants{tab: tab, head: head, own: make(map[string]*occupant)}
}

func (l *occupants) sealed() bool { return l.set != nil }

func (l *occupants) get(fold string) *occupant {
	if !l.sealed() {
		return l.own[fold]
	}
	return l.set.get(fold)
}

func (l *occupants) len() int {
	if !l.sealed() {
		return len(l.own)
	}
	return len(l.set.list)
}

// all returns the occupants, in no particular order.
func (l *occupants) all() []*occupant {
	if !l.sealed() {
		out := make([]*occupant, 0, len(l.own))
		for _, o := range l.own {
			out = append(out, o)
		}
		return out
	}
	return slices.Clone(l.set.list)
}

// put adds o, replacing the occupant with the same fold. o must not be
// changed afterwards.
func (l *occupants) put(o *occupant) {
	if !l.sealed() {
		l.own[o.fold] = o
		return
	}
	o.sum = l.tab.sumOf(o)
	i, found := l.set.find(o.fold)
	sum, n := l.set.sum.xor(o.sum), len(l.set.list)+1
	if found {
		sum, n = sum.xor(l.set.list[i].sum), n-1
	}
	if s := l.tab.lookup(sum, n); s != nil {
		l.set = s
		return
	}
	list := make([]*occupant, 0, n)
	list = append(list, l.set.list[:i]...)
	list = append(list, o)
	if found {
		i++
	}
	list = append(list, l.set.list[i:]...)
	l.replace(&occupantSet{list: list, sum: sum})
}

// remove takes the occupant with this fold out and returns it (nil when
// absent).
func (l *occupants) remove(fold string) *occupant {
	if !l.sealed() {
		o := l.own[fold]
		delete(l.own, fold)
		return o
	}
	i, found := l.set.find(fold)
	if !found {
		return nil
	}
	o := l.set.list[i]
	sum, n := l.set.sum.xor(o.sum), len(l.set.list)-1
	if s := l.tab.lookup(sum, n); s != nil {
		l.set = s
		return o
	}
	list := make([]*occupant, 0, n)
	list = append(list, l.set.list[:i]...)
	list = append(list, l.set.list[i+1:]...)
	l.replace(&occupantSet{list: list, sum: sum})
	return o
}

// replace interns a new set and makes it the channel's latest.
func (l *occupants) replace(s *occupantSet) {
	l.set = l.tab.intern(s)
	l.tab.setHead(l.head, l.set)
}

// knownHost returns the user@host of fold/nick in the channel's latest set
// when this list does not know it (a NAMES reply without
// userhost-in-names): someone else's connection saw the JOIN.
func (l *occupants) knownHost(fold, nick string) (user, host string) {
	if l.hint == nil && !l.sealed() {
		l.hint = l.tab.head(l.head)
	}
	if o := l.hint.get(fold); o != nil && o.nick == nick {
		return o.user, o.host
	}
	return "", ""
}

// seal ends the building: the list becomes an interned set.
func (l *occupants) seal() {
	if l.sealed() {
		return
	}
	list := make([]*occupant, 0, len(l.own))
	var sum setSum
	for _, o := range l.own {
		o.sum = l.tab.sumOf(o)
		sum = sum.xor(o.sum)
		list = append(list, o)
	}
	slices.SortFunc(list, func(a, b *occupant) int { return strings.Compare(a.fold, b.fold) })
	l.own, l.hint = nil, nil
	if s := l.tab.lookup(sum, len(list)); s != nil {
		l.set = s
		return
	}
	l.replace(&occupantSet{list: list, sum: sum})
}

// reset empties the list and makes it private again (a rejoin).
func (l *occupants) reset() {
	l.set, l.hint = nil, nil
	l.own = make(map[string]*occupant)
}
