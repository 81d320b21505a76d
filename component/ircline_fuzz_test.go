package component

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ergochat/irc-go/ircmsg"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"biboumi/ircbridge"
	"biboumi/ircbridge/fakeirc"
)

// FuzzIRCLineToStanza is the "chat parity" fuzz test of the IRC → XMPP
// path, from the socket to the bytes the component writes: a Gateway has
// alice@localhost/phone joined to #test on an in-process fake IRC server;
// each input is written by the server as a raw line (any bytes: invalid
// UTF-8, NUL, CR, LF, control codes, tags, huge parameters, malformed
// prefixes…), followed by a sync line (a PRIVMSG to #test with a unique
// token), and the test waits for the sync stanza.
//
// The Gateway's Sender (lineSender) renders every stanza with the
// component's own encoder, as Link.Send* does, and checks in the
// session's goroutine that
//   - the bytes are one well-formed XML 1.0 element (encoding/xml rejects
//     the characters XML forbids);
//   - every string of the stanza value is valid UTF-8;
//   - the component's decoder reads the bytes back to the same body,
//     subject, status, nicks, reasons and addresses, minus what the encoder
//     documents it drops (sanitizeRef);
//   - the gateway's stanza is acceptable to its own strict decoder;
//   - an XHTML-IM version says what the plain body says;
//   - no IRC colour code is left in a human-readable field (the session
//     strips formatting; the encoder would only drop the \x03 and leave
//     the digits).
//
// No session may panic: sessions recover panics and log them
// ("panic in session"), so the Gateway logs to a handler that records
// them. The lines the gateway writes back to IRC (PONG, QUIT, CTCP…) must
// be valid IRC lines of at most 512 bytes.
//
// An input that ends the IRC connection (ERROR, an over-long line…) or
// takes alice out of #test (KICK, PART…) is detected, and the fixture is
// rebuilt. So that one input's effects do not leak into the next ones
// for long, the fixture is also rebuilt every fuzzFixtureReuse inputs
// while fuzzing, and for every input of the seed corpus.
//
// Known bugs (see knownIRCBug) are logged, not failed, unless
// BIBOUMI_FUZZ_STRICT is set.
func FuzzIRCLineToStanza(f *testing.F) {
	for _, s := range ircLineSeeds {
		f.Add([]byte(s))
	}
	srv := fakeirc.NewServer(f)
	var fx *ircFixture
	runs := 0
	f.Cleanup(func() {
		if fx != nil {
			fx.close()
		}
	})
	// While fuzzing, a fixture serves several inputs (throughput); over
	// the seed corpus (go test), each input gets a fresh one, so that
	// "go test -run=FuzzIRCLineToStanza/<input>" reproduces exactly.
	reuse := 1
	if fl := flag.Lookup("test.fuzz"); fl != nil && fl.Value.String() != "" {
		reuse = fuzzFixtureReuse
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if fx != nil && (fx.broken() || runs%reuse == 0) {
			old := fx
			fx = nil
			old.close()
			// What came late (after its sync) belongs to the last input.
			old.report(t, old.last)
		}
		runs++
		if fx == nil {
			fx = newIRCFixture(t, srv)
		}
		fx.snd.reset()
		fx.last = bytes.Clone(line) // the fuzzer reuses line's memory
		fx.seq++
		token := "fuzzsync" + strconv.Itoa(fx.seq)
		// One write: the input, then the sync line. The input may itself
		// hold CR and LF, and so be several lines.
		var b bytes.Buffer
		b.Write(line)
		b.WriteString("\r\n:Syncer!s@sync.host PRIVMSG #test :" + token)
		if err := fx.c.Write(b.String()); err != nil {
			fx.setBroken("write: " + err.Error())
		}
		fx.wait(token)
		fx.report(t, line)
	})
}

// fuzzFixtureReuse is how many inputs one fixture serves at most.
const fuzzFixtureReuse = 16

// ircLineSeeds are typical and hostile lines from an IRC server.
var ircLineSeeds = []string{
	":Bob!b@host PRIVMSG #test :hello",
	":Bob!b@host PRIVMSG #test :\x02bold\x02 \x0304,12colour\x03 \x1ditalic\x1d \x1funder\x1f \x16rev\x16 \x1estrike\x1e \x11mono\x11 \x0freset",
	":Bob!b@host PRIVMSG #test :\x0399,99x\x03\x04ff0000hex\x04 \x03,5odd",
	":Bob!b@host PRIVMSG #test :\x01ACTION waves\x01",
	":Bob!b@host PRIVMSG #test :\x01ACTION \x0304red\x03 wave",
	":Bob!b@host PRIVMSG Alice :\x01VERSION\x01",
	":Bob!b@host PRIVMSG Alice :\x01PING 12345\x01",
	":Bob!b@host PRIVMSG Alice :\x01CLIENTINFO\x01",
	":Bob!b@host PRIVMSG Alice :private \x02hello\x02",
	":Bob!b@host NOTICE #test :a \x0304notice",
	":Bob!b@host NOTICE Alice :private notice",
	":Bob!b@host NOTICE Alice :\x01VERSION irssi\x01",
	":irc.test NOTICE Alice :*** Looking up your hostname",
	":irc.test NOTICE * :*** \x0304Checking ident",
	":Bob!b@host MODE #test +o Alice",
	":Bob!b@host MODE #test -o+v-v Alice Carol Carol",
	":Bob!b@host MODE #test +b-k+l *!*@bad key 10",
	":Bob!b@host MODE #test +ooooo",
	":Alice MODE Alice :+iw",
	":Carol!c@host JOIN #test\r\n:Bob!b@host KICK #test Carol :bye \x0304red",
	":Bob!b@host KICK #test Alice :\x02you\x02",
	":Bob!b@host KICK #test",
	":Bob!b@host NICK Robert",
	":Bob!b@host NICK :",
	":Alice!a@127.0.0.1 NICK Alicia",
	":Dave!d@host JOIN #test",
	":Dave!d@host JOIN :#test",
	":Dave!d@host JOIN #test account :Real \x02Name",
	":Dave!d@host PART #test :\x0304part\x03 reason",
	":Alice!a@127.0.0.1 PART #test :bye",
	":Erin!e@host JOIN #test\r\n:Erin!e@host QUIT :\x02quit\x02 \x0312reason",
	":Alice!a@127.0.0.1 QUIT :me",
	":Bob!b@host TOPIC #test :new \x0304topic\x03 \x01",
	":Bob!b@host TOPIC #test",
	":irc.test 332 Alice #test :the \x1dtopic\x1d",
	":irc.test 333 Alice #test Bob 1700000000",
	":irc.test 353 Alice = #test :@Bob +Carol Dave ~Owner &Admin %Half",
	":irc.test 353 Alice = #test :@ + ~",
	":irc.test 366 Alice #test :End of /NAMES list.",
	":irc.test 433 Alice Bob :Nickname is already in use",
	":irc.test 433 * Alice :in use",
	":irc.test 475 Alice #test :Cannot join channel (+k)",
	":irc.test 473 Alice #other :Cannot join channel (+i)",
	":irc.test 401 Alice nobody :No such nick",
	":irc.test 482 Alice #test :You're not channel operator",
	":irc.test 438 Alice Bob :Nick change too fast",
	":irc.test 005 Alice CHANTYPES=& PREFIX=(qaohv)~&@%+ CASEMAPPING=ascii :are supported",
	":irc.test 005 Alice CHANTYPES= PREFIX= CHANMODES=,,, :are supported",
	":irc.test 002 Alice :Your host is \x02irc.test\x02",
	":irc.test 372 Alice :- motd \x0304line",
	":irc.test 375 Alice :- motd start",
	":irc.test 376 Alice :End of MOTD",
	":irc.test 322 Alice #c 3 :topic \x02x",
	":irc.test 323 Alice :End of LIST",
	":irc.test 367 Alice #test *!*@bad Bob 1700000000",
	":irc.test 367 Alice #test *!*@bad Bob 99999999999999999999",
	":irc.test 368 Alice #test :End of ban list",
	":irc.test 396 Alice host.cloak :is now your displayed host",
	":irc.test 341 Alice Bob #test",
	":irc.test 999 Alice a b :c",
	":irc.test 000",
	":Bob!b@host INVITE Alice #other",
	":Bob!b@host INVITE Alice #100%",
	":Bob!b@host INVITE Alice #\x02bold",
	":Alice!a@127.0.0.1 JOIN #forced",
	":Alice!a@127.0.0.1 JOIN #\x02x",
	":Alice!a@127.0.0.1 JOIN",
	"MODE",
	":irc.test 438",
	":irc.test 263 Alice",
	":Alice!a@127.0.0.1 NICK :\n:Bob!b@h KICK #test",
	":Bob!b@host PRIVMSG #test :caf\xe9 cr\xe8me",
	":caf\xe9!b@host PRIVMSG Alice :\xe9t\xe9",
	":Bob!b@host PRIVMSG #test :\xef\xbf\xbe\xef\xbf\xbf U+FFFE U+FFFF \xed\xa0\x80 surrogate",
	"@time=2024-01-01T00:00:00.000Z;msgid=x :Bob!b@host PRIVMSG #test :tagged",
	"@a=\xff;b=\\s\\:\\\\ :Bob!b@host PRIVMSG #test :bad tag",
	"@ :Bob PRIVMSG #test :empty tags",
	":Bob!b@host PRIVMSG #test :nul\x00inside",
	":Bob!b@host PRIVMSG #test :cr\rinside",
	":Bob!b@host PRIVMSG #test :tab\tand\x7fdel",
	":Bob!b@host PRIVMSG #test :" + strings.Repeat("x", 600),
	":Bob!b@host PRIVMSG #test :" + strings.Repeat("\xe9", 8000),
	":Bob!b@host PRIVMSG #test :" + strings.Repeat("y", 9000),
	":Bob PRIVMSG #test :no user and host",
	":!@ PRIVMSG #test :empty nuh",
	": PRIVMSG #test :empty source",
	"::: PRIVMSG #test :colons",
	":a!b!c@d@e PRIVMSG #test :odd nuh",
	":\U0001F600!u@h PRIVMSG Alice :emoji nick",
	":\U0001F600!u@h PRIVMSG #test :emoji nick in room",
	":Bob!b@host PRIVMSG #test :\x01",
	":Bob!b@host PRIVMSG #test :\x0f",
	":Bob!b@host PRIVMSG Alice :\x01\x01",
	"PING :irc.test",
	"PING",
	"ERROR :Closing Link: (Banned)",
	"ERROR",
	"",
	" ",
	":Bob!b@host JOIN #test\r\n:Bob!b@host PART #test",
	":Bob!b@host PRIVMSG #test :line\nsecond line",
}

// ircFixture is one Gateway with alice joined to #test on the fake server.
type ircFixture struct {
	g      *ircbridge.Gateway
	c      *fakeirc.Client
	snd    *lineSender
	panics *panicRecorder
	closed chan struct{} // closed by the drainer when the socket ends
	dead   chan struct{} // closed when the drainer returned
	seq    int
	last   []byte // the last input written

	mu     sync.Mutex
	reason string // why the fixture is broken, "" if it is not
}

func newIRCFixture(t *testing.T, srv *fakeirc.Server) *ircFixture {
	t.Helper()
	fx := &ircFixture{
		snd:    newLineSender(),
		panics: &panicRecorder{},
		closed: make(chan struct{}),
		dead:   make(chan struct{}),
	}
	fx.g = ircbridge.New(ircbridge.Config{
		Domain:       jid.MustParse("irc.localhost"),
		TLSPorts:     []int{},
		Ports:        []int{srv.Port()},
		Version:      "fuzz",
		ReconnectMin: time.Hour, // a lost connection makes us rebuild instead
		Logger:       slog.New(fx.panics),
	}, fx.snd, nil)
	fx.g.HandlePresence(t.Context(), ircbridge.Presence{
		From: jid.MustParse("alice@localhost/phone"),
		To:   jid.MustParse("#test%127.0.0.1@irc.localhost/Alice"),
		MUC:  &ircbridge.MUCJoin{},
	})
	fx.c = srv.Accept(t)
	fx.c.Register(t, "Alice")
	fx.c.Expect(t, "JOIN")
	fx.c.Send(t, ":Alice!a@127.0.0.1 JOIN #test")
	fx.c.Send(t, ":irc.test 353 Alice = #test :Alice @Bob")
	fx.c.Send(t, ":irc.test 366 Alice #test :End of /NAMES list.")
	select {
	case <-fx.snd.subject:
	case <-time.After(fakeirc.Timeout):
		fx.close()
		t.Fatal("fixture: no subject after the join")
	}
	go fx.drain()
	return fx
}

// drain reads what the gateway writes to IRC until the socket ends, and
// checks each line.
func (fx *ircFixture) drain() {
	defer close(fx.dead)
	defer close(fx.closed)
	for {
		line, err := fx.c.Next(time.Hour)
		if err != nil {
			return
		}
		if len(line)+2 > 512 {
			fx.snd.problem("the gateway wrote an IRC line of %d bytes: %.100q…", len(line)+2, line)
		}
		if _, err := ircmsg.ParseLine(line); err != nil {
			fx.snd.problem("the gateway wrote an invalid IRC line %q: %v", line, err)
		}
	}
}

func (fx *ircFixture) setBroken(why string) {
	fx.mu.Lock()
	if fx.reason == "" {
		fx.reason = why
	}
	fx.mu.Unlock()
}

func (fx *ircFixture) broken() bool {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	return fx.reason != ""
}

// syncTimeout bounds the wait for the sync stanza when nothing explains
// its absence.
const syncTimeout = 5 * time.Second

// wait waits for the sync stanza carrying token, or for a sign that it
// will never come (alice left #test, the connection ended).
func (fx *ircFixture) wait(token string) {
	timer := time.NewTimer(syncTimeout)
	defer timer.Stop()
	var closed <-chan struct{} = fx.closed
	for {
		select {
		case got := <-fx.snd.syncs:
			if got == token {
				return
			}
		case <-fx.snd.left:
			fx.setBroken("alice left #test")
			return
		case <-closed:
			// The sync may still be on its way: wait a little more.
			fx.setBroken("IRC connection closed")
			closed = nil
			timer.Reset(200 * time.Millisecond)
		case <-timer.C:
			if closed != nil {
				fx.snd.problem("the sync line %q got no stanza within %v, and the connection and the room are still up", token, syncTimeout)
			}
			fx.setBroken("no sync")
			return
		}
	}
}

// close ends the fixture: the gateway is shut down at once (no graceful
// QUIT) and the socket closed.
func (fx *ircFixture) close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fx.g.Shutdown(ctx)
	fx.c.Close()
	<-fx.dead
}

// report fails t with what the fixture saw wrong since the last reset.
func (fx *ircFixture) report(t *testing.T, line []byte) {
	t.Helper()
	var msgs []string
	for _, p := range fx.panics.take() {
		if id := knownPanic(p); id != "" {
			knownIRCBug(t, id, "input %q: %.300s", line, p)
			continue
		}
		msgs = append(msgs, p)
	}
	problems, known := fx.snd.take()
	for _, k := range known {
		knownIRCBug(t, k.id, "input %q: %s", line, k.text)
	}
	msgs = append(msgs, problems...)
	if len(msgs) > 0 {
		t.Fatalf("input %q:\n%s", line, strings.Join(msgs, "\n"))
	}
}

// knownPanics classify the recovered panics that are known bugs: the
// function that panicked and the panic value.
var knownPanics = []struct{ id, fn, value string }{
	// "MODE" without parameters: m.Params[1:] on an empty slice.
	{"mode-no-params-panic", "(*Session).onMode(", "slice bounds out of range [1:0]"},
	// 263, 416 or 438 without parameters after the nick: text(len(args)-1).
	{"numeric-last-arg-panic", "(*Session).onNumeric.func1(", "index out of range [-1]"},
	// A JOIN of ours to a channel that has no room JID (":me JOIN #\x02x"):
	// forcedJoin gives up and onJoin uses the nil room.
	{"forced-join-nil-room", "(*Session).onJoin(", "nil pointer dereference"},
}

func knownPanic(record string) string {
	for _, k := range knownPanics {
		if strings.Contains(record, k.value) && firstFrame(record, k.fn) {
			return k.id
		}
	}
	return ""
}

// firstFrame reports whether fn is the first biboumi function after the
// runtime's panic frames in the stack of record.
func firstFrame(record, fn string) bool {
	_, stack, ok := strings.Cut(record, "panic(")
	if !ok {
		return false
	}
	i := strings.Index(stack, "biboumi/")
	return i >= 0 && strings.HasPrefix(stack[i:], "biboumi/ircbridge."+fn)
}

// knownIRCBug reports a failure that is a known, reported bug: logged,
// so that the suite stays usable while it is open, or an error when
// BIBOUMI_FUZZ_STRICT is set. Remove the classification once it is fixed.
// (Used by hostile_test.go too.)
func knownIRCBug(t *testing.T, id, format string, args ...any) {
	t.Helper()
	if os.Getenv("BIBOUMI_FUZZ_STRICT") != "" {
		t.Errorf("known bug "+id+": "+format, args...)
		return
	}
	t.Logf("known bug "+id+": "+format, args...)
}

// panicRecorder is a slog.Handler that keeps the records about panics.
type panicRecorder struct {
	mu     sync.Mutex
	panics []string
}

func (h *panicRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h *panicRecorder) Handle(_ context.Context, r slog.Record) error {
	isPanic := strings.Contains(r.Message, "panic")
	var desc strings.Builder
	desc.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "panic" {
			isPanic = true
		}
		fmt.Fprintf(&desc, " %s=%v", a.Key, a.Value)
		return true
	})
	if isPanic {
		h.mu.Lock()
		h.panics = append(h.panics, desc.String())
		h.mu.Unlock()
	}
	return nil
}

func (h *panicRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *panicRecorder) WithGroup(string) slog.Handler      { return h }

func (h *panicRecorder) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.panics
	h.panics = nil
	return p
}

// knownProblem is a check failure classified as a known bug.
type knownProblem struct{ id, text string }

// lineSender is the Gateway's Sender: it encodes each stanza as the Link
// would and checks the result (see FuzzIRCLineToStanza).
type lineSender struct {
	syncs   chan string   // bodies of sync messages
	left    chan struct{} // alice got her own unavailable presence
	subject chan struct{} // a subject arrived (the join is complete)

	mu       sync.Mutex
	problems []string
	known    []knownProblem
	self     jid.JID // the user's occupant JID in #test, from the last self-presence
}

var _ ircbridge.Sender = (*lineSender)(nil)

func newLineSender() *lineSender {
	return &lineSender{
		syncs:   make(chan string, 64),
		left:    make(chan struct{}, 1),
		subject: make(chan struct{}, 1),
	}
}

// ircFuzzTrace, when set (while debugging), sees every rendered stanza.
var ircFuzzTrace func(b []byte)

func (s *lineSender) trace(b []byte) {
	if ircFuzzTrace != nil {
		ircFuzzTrace(b)
	}
}

func (s *lineSender) problem(format string, args ...any) {
	s.mu.Lock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *lineSender) knownBug(id, format string, args ...any) {
	s.mu.Lock()
	s.known = append(s.known, knownProblem{id, fmt.Sprintf(format, args...)})
	s.mu.Unlock()
}

func (s *lineSender) take() ([]string, []knownProblem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, k := s.problems, s.known
	s.problems, s.known = nil, nil
	return p, k
}

func (s *lineSender) reset() {
	s.take()
	for {
		select {
		case <-s.syncs:
			continue
		case <-s.left:
			continue
		default:
		}
		return
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (s *lineSender) SendMessage(_ context.Context, m ircbridge.Message) error {
	b := encodeMessage(&m)
	s.trace(b)
	s.checkCommon(&m, b, "message")
	if el, h, ok := s.reread(b, "message"); ok {
		m2, bad := decodeMessage(el, &h, 1<<30)
		switch {
		case bad != nil:
			s.problem("the gateway sent a message its own decoder refuses (%v): %q", bad, b)
		default:
			s.compare(b, "body", m.Body, m2.Body)
			s.compare(b, "id", m.ID, m2.ID)
			if (m.Subject == nil) != (m2.Subject == nil) {
				s.problem("subject lost or added: %q", b)
			} else if m.Subject != nil {
				s.compare(b, "subject", *m.Subject, *m2.Subject)
			}
			s.compareJID(b, "from", m.From, m2.From)
			s.compareJID(b, "to", m.To, m2.To)
		}
	}
	if len(m.XHTML) > 0 {
		var sb strings.Builder
		for _, sp := range m.XHTML {
			sb.WriteString(sp.Text)
		}
		if sb.String() != m.Body {
			s.problem("the XHTML-IM text %q is not the body %q", sb.String(), m.Body)
		}
	}
	s.checkFormatting(&m, "body", m.Body)
	if m.Subject != nil {
		s.checkFormatting(&m, "subject", *m.Subject)
	}
	if m.Error != nil {
		s.checkFormatting(&m, "error text", ircbridge.ErrorText(*m.Error))
	}
	if m.Type == stanza.ChatMessage && m.From.Localpart() == "" && m.From.Resourcepart() == "" {
		// In normal mode gateway messages come from server@gateway: a
		// chat from the bare gateway is an IRC nick that MustJID could
		// not write as a localpart, and the user's reply goes nowhere.
		s.knownBug("nick-not-localpart", "chat message %q from the gateway's own JID: %q", m.Body, b)
	}
	if (m.Type == stanza.ChatMessage || m.Type == stanza.GroupChatMessage) && m.Body == "" && m.Subject == nil &&
		m.MUCUser == nil && m.Error == nil && m.MAMResult == nil {
		// A PRIVMSG made only of formatting codes: the client gets a
		// message without a body.
		s.knownBug("empty-message", "%s message without body, subject or payload: %q", m.Type, b)
	}
	if m.Subject != nil && m.Body == "" {
		signal(s.subject)
	}
	if strings.HasPrefix(m.Body, "fuzzsync") {
		select {
		case s.syncs <- m.Body:
		default:
		}
	}
	return nil
}

func (s *lineSender) SendPresence(_ context.Context, p ircbridge.Presence) error {
	b := encodePresence(&p)
	s.trace(b)
	s.checkCommon(&p, b, "presence")
	if el, h, ok := s.reread(b, "presence"); ok {
		p2, bad := decodePresence(el, &h, 1<<30)
		switch {
		case bad != nil:
			s.problem("the gateway sent a presence its own decoder refuses (%v): %q", bad, b)
		default:
			s.compare(b, "status", p.Status, p2.Status)
			s.compareJID(b, "from", p.From, p2.From)
			s.compareJID(b, "to", p.To, p2.To)
			if (p.MUCUser == nil) != (p2.MUCUser == nil) {
				s.problem("muc#user lost or added: %q", b)
			} else if p.MUCUser != nil {
				if len(p.MUCUser.Items) != len(p2.MUCUser.Items) || !reflect.DeepEqual(p.MUCUser.Status, p2.MUCUser.Status) {
					s.problem("muc#user items or codes changed: %q", b)
				} else {
					for i, it := range p.MUCUser.Items {
						s.compare(b, "item nick", it.Nick, p2.MUCUser.Items[i].Nick)
						s.compare(b, "item reason", it.Reason, p2.MUCUser.Items[i].Reason)
						if it.Actor != nil && p2.MUCUser.Items[i].Actor != nil {
							s.compare(b, "actor nick", it.Actor.Nick, p2.MUCUser.Items[i].Actor.Nick)
						}
					}
				}
			}
		}
	}
	s.checkFormatting(&p, "status", p.Status)
	if p.MUCUser != nil {
		for _, it := range p.MUCUser.Items {
			s.checkFormatting(&p, "item reason", it.Reason)
		}
	}
	if p.Error != nil {
		s.checkFormatting(&p, "error text", ircbridge.ErrorText(*p.Error))
	}
	self := p.MUCUser != nil && containsInt(p.MUCUser.Status, ircbridge.StatusSelf)
	s.mu.Lock()
	switch {
	case self && p.Type == "":
		s.self = p.From
	case self:
		s.self = jid.JID{}
	case p.Type == stanza.UnavailablePresence && !isZeroJID(s.self) && p.From.Equal(s.self):
		// XEP-0045 §7.14 (and Biboumi): the user's own exit carries 110,
		// or the client keeps showing itself in the room.
		s.known = append(s.known, knownProblem{"self-unavailable-without-110",
			fmt.Sprintf("unavailable presence from the user's own occupant JID without status 110: %q", b)})
	}
	s.mu.Unlock()
	if p.Type == stanza.UnavailablePresence && self && !containsInt(p.MUCUser.Status, ircbridge.StatusNickChange) {
		signal(s.left)
	}
	if p.Type == stanza.ErrorPresence && strings.HasPrefix(p.From.String(), "#test%") {
		signal(s.left)
	}
	return nil
}

func (s *lineSender) SendIQ(_ context.Context, iq ircbridge.IQ) error {
	b, err := encodeIQ(&iq)
	if err != nil {
		s.problem("the gateway sent an iq the encoder refuses (%v): %#v", err, iq)
		return err
	}
	s.trace(b)
	s.checkCommon(&iq, b, "iq")
	if el, h, ok := s.reread(b, "iq"); ok {
		iq2, bad := decodeIQ(el, &h)
		switch {
		case bad != nil:
			s.problem("the gateway sent an iq its own decoder refuses (%v): %q", bad, b)
		default:
			s.compare(b, "id", iq.ID, iq2.ID)
			s.compareJID(b, "from", iq.From, iq2.From)
			s.compareJID(b, "to", iq.To, iq2.To)
		}
	}
	return nil
}

// checkCommon checks what holds for every stanza: well-formed bytes,
// valid UTF-8 in every string of the value, and gateway addresses that
// the gateway itself accepts (a reply to any other one would bounce).
func (s *lineSender) checkCommon(v any, b []byte, kind string) {
	if err := wellFormed(b); err != nil {
		s.problem("%s not well-formed: %v", kind, err)
	}
	walkStrings(reflect.ValueOf(v), kind, func(path, str string) {
		if !utf8.ValidString(str) {
			s.problem("%s is not valid UTF-8: %q", path, str)
		}
	})
	walkJIDs(reflect.ValueOf(v), kind, func(path string, j jid.JID) {
		if j.Domainpart() != ircFuzzMapper.Domain.Domainpart() {
			return
		}
		if _, err := ircFuzzMapper.Parse(j, ircbridge.DefaultChanTypes); err != nil {
			s.knownBug("unparseable-gateway-jid", "%s %q is refused by Mapper.Parse (%v): %q", path, j, err, b)
		}
	})
}

// ircFuzzMapper is the address mapping of the fixture's gateway.
var ircFuzzMapper = ircbridge.Mapper{Domain: jid.MustParse("irc.localhost")}

// walkJIDs calls fn with every non-zero JID reachable from v.
func walkJIDs(v reflect.Value, path string, fn func(path string, j jid.JID)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkJIDs(v.Elem(), path, fn)
		}
	case reflect.Struct:
		switch v.Type() {
		case jidType:
			if j := v.Interface().(jid.JID); !isZeroJID(j) {
				fn(path, j)
			}
			return
		case timeType:
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				walkJIDs(v.Field(i), path+"."+f.Name, fn)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkJIDs(v.Index(i), path+"["+strconv.Itoa(i)+"]", fn)
		}
	}
}

// reread decodes b with the component's own reader.
func (s *lineSender) reread(b []byte, kind string) (*element, header, bool) {
	in := append(append([]byte(nil), b...), "</stream:stream>"...)
	rd := newStreamReader(bufio.NewReader(bytes.NewReader(in)), limits{
		softDepth: 1 << 20, hardDepth: 1 << 20, softBytes: 1 << 30, hardBytes: 1 << 40,
	})
	el, _, err := rd.next()
	if err != nil {
		s.problem("%s: the component cannot read back %q: %v", kind, b, err)
		return nil, header{}, false
	}
	if el.name.Local != kind {
		s.problem("%s read back as <%s/>: %q", kind, el.name.Local, b)
		return nil, header{}, false
	}
	return el, decodeHeader(el), true
}

func (s *lineSender) compare(b []byte, field, sent, got string) {
	if want := sanitizeRef(sent); got != want {
		s.problem("%s %q reads back as %q, want %q, in %q", field, sent, got, want, b)
	}
}

func (s *lineSender) compareJID(b []byte, field string, sent, got jid.JID) {
	if !sent.Equal(got) {
		s.problem("%s %q reads back as %q in %q", field, sent, got, b)
	}
}

// checkFormatting reports an IRC colour code left in a human-readable
// field: the encoder drops the \x03 (or \x04) and the user sees the
// colour digits.
func (s *lineSender) checkFormatting(v any, field, text string) {
	for i := 0; i < len(text)-1; i++ {
		c, next := text[i], text[i+1]
		if c == 0x03 && (next >= '0' && next <= '9' || next == ',') || c == 0x04 && isHexDigit(next) {
			s.knownBug("irc-format-"+strings.ReplaceAll(field, " ", "-"),
				"IRC colour code left in the %s %q of %s", field, text, describeStanza(v))
			return
		}
	}
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func describeStanza(v any) string {
	switch v := v.(type) {
	case *ircbridge.Message:
		return fmt.Sprintf("message type=%q from=%s", v.Type, v.From)
	case *ircbridge.Presence:
		return fmt.Sprintf("presence type=%q from=%s", v.Type, v.From)
	}
	return fmt.Sprintf("%T", v)
}

var (
	jidType  = reflect.TypeFor[jid.JID]()
	timeType = reflect.TypeFor[time.Time]()
)

// walkStrings calls fn with every string reachable from v through
// exported fields, pointers, interfaces, slices and maps (a JID counts as
// its string form).
func walkStrings(v reflect.Value, path string, fn func(path, s string)) {
	switch v.Kind() {
	case reflect.String:
		fn(path, v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, fn)
		}
	case reflect.Struct:
		switch v.Type() {
		case jidType:
			if v.CanInterface() {
				fn(path, v.Interface().(jid.JID).String())
			}
			return
		case timeType:
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				walkStrings(v.Field(i), path+"."+f.Name, fn)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), path+"["+strconv.Itoa(i)+"]", fn)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			walkStrings(it.Key(), path+"{key}", fn)
			walkStrings(it.Value(), path+"{"+it.Key().String()+"}", fn)
		}
	}
}
