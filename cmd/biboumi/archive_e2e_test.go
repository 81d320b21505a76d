package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"biboumi/internal/pgtest"
	"biboumi/internal/testenv"
)

// TestArchive checks the archive through real servers: stanza-ids on live
// messages, the history on join, MAM paging, and an archive that outlives
// the gateway (reference §5.7, §5.10, §5.12; issue 4). Each subtest runs
// its own servers and gateway.
//
// PostgreSQL: pgtest starts one private cluster per test binary and gives
// each subtest its own schema. pgtest.Main cannot be combined with the
// package's testenv.RunMain (both run m.Run, and pgtest has no exported
// stop), so TestMain is unchanged: the cluster gets SIGINT when the test
// binary exits (Pdeathsig) and a later run removes its directory.
func TestArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real servers")
	}
	t.Run("history_and_mam/prosody+inspircd+sqlite", func(t *testing.T) {
		t.Parallel()
		testHistoryAndMAM(t, setup{xmpp: "prosody", irc: "inspircd"})
	})
	t.Run("history_and_mam/ejabberd+ngircd+postgresql", func(t *testing.T) {
		t.Parallel()
		testHistoryAndMAM(t, setup{xmpp: "ejabberd", irc: "ngircd", dbName: postgresDBName(t)})
	})
	t.Run("restart/prosody+ngircd+postgresql", func(t *testing.T) {
		t.Parallel()
		testArchiveRestart(t, setup{xmpp: "prosody", irc: "ngircd", dbName: postgresDBName(t)})
	})
	t.Run("restart/ejabberd+inspircd+sqlite", func(t *testing.T) {
		t.Parallel()
		testArchiveRestart(t, setup{xmpp: "ejabberd", irc: "inspircd"})
	})
}

// postgresDBName returns a db_name for a fresh schema of the test
// PostgreSQL server (skipping the test without PostgreSQL).
func postgresDBName(t *testing.T) string {
	t.Helper()
	dsn := pgtest.DSN(t)
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		t.Skipf("db_name must be a PostgreSQL URL; the test server's DSN is not: %q", dsn)
	}
	return dsn
}

// archived is one line the test expects in the archive.
type archived struct {
	nick, body string
	id         string // the stanza-id of the live message
}

// talk has alice (joined to channel) and the IRC client say one line
// each, alternately, and returns them with the stanza-ids of the live
// messages, checking that each carries one from the room.
func talk(t *testing.T, w *world, c *testenv.IRCClient, channel, prefix string, rounds int) []archived {
	t.Helper()
	room := w.room(channel)
	var lines []archived
	stanzaID := func(e *testenv.Element) string {
		t.Helper()
		sid := e.ChildNS(nsSID, "stanza-id")
		if sid == nil || sid.Attr("by") != room || sid.Attr("id") == "" {
			t.Errorf("live message without <stanza-id xmlns='%s' by='%s' id='…'/>: %s", nsSID, room, e)
			return ""
		}
		return sid.Attr("id")
	}
	for i := range rounds {
		body := prefix + " from xmpp " + string(rune('1'+i))
		w.alice.Sendf(t, `<message to='%s' type='groupchat' id='%s'><body>%s</body></message>`, room, "out"+prefix+string(rune('1'+i)), body)
		c.Expect(t, ircFrom("Alice", "PRIVMSG", channel, body), "Alice's message")
		e := w.alice.Expect(t, and(groupchatFrom(room+"/Alice"), bodyIs(body)), "the reflection")
		lines = append(lines, archived{"Alice", body, stanzaID(e)})

		body = prefix + " from irc " + string(rune('1'+i))
		c.Privmsg(t, channel, body)
		e = w.alice.Expect(t, and(groupchatFrom(room+"/"+c.Nick), bodyIs(body)), c.Nick+"'s message")
		lines = append(lines, archived{c.Nick, body, stanzaID(e)})
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if l.id != "" && seen[l.id] {
			t.Errorf("stanza-id %q used twice", l.id)
		}
		seen[l.id] = true
	}
	return lines
}

// leave sends an unavailable presence and waits for the self-presence.
func leave(t *testing.T, c *testenv.XMPPClient, room, nick string) {
	t.Helper()
	c.Sendf(t, `<presence type='unavailable' to='%s/%s'/>`, room, nick)
	c.Expect(t, and(testenv.IsStanza("presence", "type", "unavailable", "from", room+"/"+nick), func(e *testenv.Element) bool {
		return hasStatus(e, "110")
	}), "the unavailable self-presence")
}

// checkHistory checks the history a join replayed: the lines, oldest
// first, each delayed, between the self-presence and the subject.
func checkHistory(t *testing.T, j joined, room string, want []archived) {
	t.Helper()
	var hist []*testenv.Element
	for _, e := range j.afterSelf() {
		if e.Name() == "message" && e.Child("delay") != nil {
			hist = append(hist, e)
		}
	}
	for _, e := range j.stanzas {
		if e.Name() == "message" && e.Child("delay") != nil && !containsElem(hist, e) {
			t.Errorf("history message outside self-presence…subject: %s", e)
		}
	}
	if len(hist) != len(want) {
		t.Errorf("%d history messages, want %d: %v", len(hist), len(want), hist)
	}
	for i := range min(len(hist), len(want)) {
		e, l := hist[i], want[i]
		if e.Attr("type") != "groupchat" || e.Attr("from") != room+"/"+l.nick || e.ChildText("body") != l.body {
			t.Errorf("history message %d is %s, want %q from %s/%s", i+1, e, l.body, room, l.nick)
		}
		d := e.ChildNS(nsDelay, "delay")
		if d == nil {
			t.Errorf("history message %d without <delay xmlns='%s'/>: %s", i+1, nsDelay, e)
			continue
		}
		if d.Attr("from") != room {
			t.Errorf("history delay from %q, want %s: %s", d.Attr("from"), room, e)
		}
		checkStamp(t, d.Attr("stamp"), e)
	}
}

func containsElem(es []*testenv.Element, e *testenv.Element) bool {
	for _, x := range es {
		if x == e {
			return true
		}
	}
	return false
}

// checkStamp checks an XEP-0082 timestamp of the last minute.
func checkStamp(t *testing.T, stamp string, e *testenv.Element) {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, stamp)
	if err != nil {
		t.Errorf("stamp %q: %v: %s", stamp, err, e)
		return
	}
	if age := time.Since(ts); age < -2*time.Second || age > time.Minute {
		t.Errorf("stamp %s is %v old: %s", stamp, age, e)
	}
}

// mamPage sends a MAM query with RSM and returns the results and the iq
// that ends it.
func mamPage(t *testing.T, c *testenv.XMPPClient, room, id, queryID, rsm string) (results []*testenv.Element, end *testenv.Element) {
	t.Helper()
	return mamQuery(t, c, room, id, queryID, fmt.Sprintf(`<set xmlns='%s'>%s</set>`, nsRSM, rsm))
}

// mamQuery sends a MAM query whose content is query (a form, an RSM set)
// and returns the results and the iq that ends it.
func mamQuery(t *testing.T, c *testenv.XMPPClient, room, id, queryID, query string) (results []*testenv.Element, end *testenv.Element) {
	t.Helper()
	c.Sendf(t, `<iq type='set' id='%s' to='%s'><query xmlns='%s' queryid='%s'>%s</query></iq>`,
		id, room, nsMAM, queryID, query)
	all := collectUntil(t, c, testenv.IsStanza("iq", "id", id), "the end of MAM query "+id)
	for _, e := range all[:len(all)-1] {
		if r := e.ChildNS(nsMAM, "result"); r != nil && r.Attr("queryid") == queryID {
			results = append(results, e)
		}
	}
	return results, all[len(all)-1]
}

// checkMAMResults checks result messages against the archived lines.
func checkMAMResults(t *testing.T, results []*testenv.Element, room string, want []archived) {
	t.Helper()
	if len(results) != len(want) {
		t.Errorf("%d results, want %d: %v", len(results), len(want), results)
	}
	for i := range min(len(results), len(want)) {
		e, l := results[i], want[i]
		if e.Attr("from") != room {
			t.Errorf("result %d from %q, want the room: %s", i+1, e.Attr("from"), e)
		}
		r := e.ChildNS(nsMAM, "result")
		if r.Attr("id") != l.id {
			t.Errorf("result %d has id %q, want the live stanza-id %q: %s", i+1, r.Attr("id"), l.id, e)
		}
		fwd := r.ChildNS(nsForward, "forwarded")
		d := fwd.ChildNS(nsDelay, "delay")
		m := fwd.ChildNS("jabber:client", "message")
		if d == nil || m == nil {
			t.Errorf("result %d: want <forwarded xmlns='%s'> with a <delay xmlns='%s'/> and a <message xmlns='jabber:client'/>: %s", i+1, nsForward, nsDelay, e)
			continue
		}
		checkStamp(t, d.Attr("stamp"), e)
		if m.Attr("from") != room+"/"+l.nick || m.Attr("type") != "groupchat" || m.ChildText("body") != l.body {
			t.Errorf("result %d forwards %s, want a groupchat %q from %s/%s", i+1, m, l.body, room, l.nick)
		}
	}
}

// checkFin checks the iq ending a MAM page.
func checkFin(t *testing.T, end *testenv.Element, room string, complete bool, first, last string) {
	t.Helper()
	if end.Attr("type") != "result" || end.Attr("from") != room {
		t.Errorf("MAM query ended with %s, want a result from the room", end)
		return
	}
	fin := end.ChildNS(nsMAM, "fin")
	if fin == nil {
		t.Errorf("no <fin xmlns='%s'/>: %s", nsMAM, end)
		return
	}
	if got := fin.Attr("complete") == "true"; got != complete {
		t.Errorf("fin complete=%q, want complete=%v: %s", fin.Attr("complete"), complete, end)
	}
	set := fin.ChildNS(nsRSM, "set")
	if set.ChildText("first") != first || set.ChildText("last") != last {
		t.Errorf("fin <set/> first %q last %q, want %q and %q: %s", set.ChildText("first"), set.ChildText("last"), first, last, end)
	}
}

// 13. Live stanza-ids, the history on a rejoin, MAM paging.
func testHistoryAndMAM(t *testing.T, s setup) {
	s.nicks = []string{"bob"}
	w := s.start(t)
	alice, bob := w.alice, w.irc[0]
	bob.Join(t, "#arch")
	room := w.room("#arch")
	j := join(t, alice, room, "Alice", "")
	for _, e := range j.stanzas {
		if e.Child("delay") != nil {
			t.Errorf("history on the first join to a new archive: %s", e)
		}
	}
	bob.Expect(t, ircFrom("Alice", "JOIN", "#arch"), "Alice's JOIN")
	lines := talk(t, w, bob, "#arch", "a", 2)

	// A live stanza-id can be used at once: a client catching up from
	// the last id it saw gets what followed it.
	res, end := mamPage(t, alice, room, "sync", "q0", "<max>10</max><after>"+testenv.Escape(lines[1].id)+"</after>")
	checkMAMResults(t, res, room, lines[2:])
	checkFin(t, end, room, true, lines[2].id, lines[3].id)

	leave(t, alice, room, "Alice")
	bob.Expect(t, ircFrom("Alice", "PART", "#arch"), "Alice's PART")
	j = join(t, alice, room, "Alice", "")
	checkHistory(t, j, room, lines)

	// MAM: two pages of two, then an unknown id.
	res, end = mamPage(t, alice, room, "mam1", "q1", "<max>2</max>")
	checkMAMResults(t, res, room, lines[:2])
	checkFin(t, end, room, false, lines[0].id, lines[1].id)

	after := end.ChildNS(nsMAM, "fin").ChildNS(nsRSM, "set").ChildText("last")
	res, end = mamPage(t, alice, room, "mam2", "q2", "<max>2</max><after>"+testenv.Escape(after)+"</after>")
	checkMAMResults(t, res, room, lines[2:])
	checkFin(t, end, room, true, lines[2].id, lines[3].id)

	_, end = mamPage(t, alice, room, "mam3", "q3", "<max>2</max><after>no-such-id</after>")
	checkError(t, end, "cancel", "item-not-found")

	// The ids filter (urn:xmpp:mam:2#extended): the lines asked for, in
	// archive order; an id not in the archive is ignored.
	res, end = mamQuery(t, alice, room, "mam4", "q4", fmt.Sprintf(
		`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>%s</value></field>`+
			`<field var='ids'><value>%s</value><value>no-such-id</value><value>%s</value></field></x>`,
		nsMAM, testenv.Escape(lines[3].id), testenv.Escape(lines[0].id)))
	checkMAMResults(t, res, room, []archived{lines[0], lines[3]})
	checkFin(t, end, room, true, lines[0].id, lines[3].id)
}

// 14. The archive outlives the gateway.
func testArchiveRestart(t *testing.T, s setup) {
	s.nicks = []string{"bob"}
	w := s.start(t)
	alice, bob := w.alice, w.irc[0]
	bob.Join(t, "#keep")
	room := w.room("#keep")
	join(t, alice, room, "Alice", "")
	bob.Expect(t, ircFrom("Alice", "JOIN", "#keep"), "Alice's JOIN")
	lines := talk(t, w, bob, "#keep", "k", 1)

	if code := w.g.shutdown(t); code != 0 {
		t.Fatalf("gateway exit status %d", code)
	}
	// The shutdown told Alice she is out of the room (status 332).
	gone := alice.Expect(t, testenv.IsStanza("presence", "type", "unavailable", "from", room+"/Alice"), "the unavailable self-presence at shutdown")
	if !hasStatus(gone, "110") || !hasStatus(gone, "332") {
		t.Errorf("shutdown self-presence: status %v, want 110 and 332: %s", statusCodes(gone), gone)
	}
	w.restartGateway(t)

	res, end := mamPage(t, alice, room, "mam1", "q1", "<max>10</max>")
	checkMAMResults(t, res, room, lines)
	checkFin(t, end, room, true, lines[0].id, lines[len(lines)-1].id)

	// And the history of a new join comes from the same archive.
	j := join(t, alice, room, "Alice", "")
	checkHistory(t, j, room, lines)
}
