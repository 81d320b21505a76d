package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

const stream = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>` +
	`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>` +
	"\n  " +
	`<message from='#bench0%127.0.0.1@irc.localhost/ircb0' to='bu1@localhost/u1' type='groupchat' title="a > b"><body>i2x 0 7 123</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>` +
	`<!-- a comment with <tags> --><presence from='#bench12%127.0.0.1@irc.localhost/u1'><x xmlns='http://jabber.org/protocol/muc#user'><item role='participant'/><status code='110'/></x></presence>` +
	`<iq type='result' id='a&apos;b'/>` +
	`<message><body><![CDATA[<not a tag>]]></body></message>` +
	`</stream:stream>`

func splitAll(t *testing.T, r io.Reader) []string {
	t.Helper()
	sp := newSplitter(r)
	sp.buf = make([]byte, 16) // force growth and compaction
	var out []string
	for {
		kind, b, err := sp.next()
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		switch kind {
		case kindHeader:
			out = append(out, "HEADER")
		case kindStreamEnd:
			return append(out, "END")
		default:
			out = append(out, string(b))
		}
	}
}

func TestSplitter(t *testing.T) {
	want := []string{
		"HEADER",
		`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
		`<message from='#bench0%127.0.0.1@irc.localhost/ircb0' to='bu1@localhost/u1' type='groupchat' title="a > b"><body>i2x 0 7 123</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`,
		`<presence from='#bench12%127.0.0.1@irc.localhost/u1'><x xmlns='http://jabber.org/protocol/muc#user'><item role='participant'/><status code='110'/></x></presence>`,
		`<iq type='result' id='a&apos;b'/>`,
		`<message><body><![CDATA[<not a tag>]]></body></message>`,
		"END",
	}
	for name, r := range map[string]io.Reader{
		"whole":        strings.NewReader(stream),
		"one byte":     iotest.OneByteReader(strings.NewReader(stream)),
		"half reads":   iotest.HalfReader(strings.NewReader(stream)),
		"data and EOF": iotest.DataErrReader(strings.NewReader(stream)),
	} {
		t.Run(name, func(t *testing.T) {
			if got := splitAll(t, r); !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestSplitterRestartAndEOF(t *testing.T) {
	sp := newSplitter(strings.NewReader(`<stream:stream><success/><stream:stream id='2'><a/>`))
	if k, _, err := sp.next(); err != nil || k != kindHeader {
		t.Fatalf("header: %v %v", k, err)
	}
	if _, b, err := sp.next(); err != nil || string(b) != "<success/>" {
		t.Fatalf("success: %q %v", b, err)
	}
	sp.restart()
	if k, b, err := sp.next(); err != nil || k != kindHeader || attr(b, "id") != "2" {
		t.Fatalf("second header: %v %q %v", k, b, err)
	}
	if _, b, err := sp.next(); err != nil || string(b) != "<a/>" {
		t.Fatalf("a: %q %v", b, err)
	}
	if _, _, err := sp.next(); err != io.EOF {
		t.Fatalf("end: %v, want EOF", err)
	}
}

func TestStanzaHelpers(t *testing.T) {
	msg := []byte(`<message from='#bench3%127.0.0.1@irc.localhost/u2' id="x&amp;y" type='groupchat'><bodyx>no</bodyx><body xml:lang='en'>x2i 2 15 9876</body></message>`)
	if got := attr(msg, "from"); got != "#bench3%127.0.0.1@irc.localhost/u2" {
		t.Errorf("from = %q", got)
	}
	if got := attr(msg, "id"); got != "x&y" {
		t.Errorf("id = %q", got)
	}
	if got := attr(msg, "to"); got != "" {
		t.Errorf("to = %q", got)
	}
	// Only the first tag counts.
	if got := attr([]byte(`<a><b to='x'/></a>`), "to"); got != "" {
		t.Errorf("attr of a child: %q", got)
	}
	if got := string(body(msg)); got != "x2i 2 15 9876" {
		t.Errorf("body = %q", got)
	}
	if b := body([]byte(`<message><body/></message>`)); b != nil {
		t.Errorf("empty body = %q", b)
	}
	if got := lastInt(body(msg)); got != 9876 {
		t.Errorf("lastInt = %d", got)
	}
	if got := fieldInt(body(msg), 1); got != 2 {
		t.Errorf("fieldInt 1 = %d", got)
	}
	if got := fieldInt(body(msg), 2); got != 15 {
		t.Errorf("fieldInt 2 = %d", got)
	}
	if got := fieldInt([]byte("x2i a 1"), 1); got != -1 {
		t.Errorf("fieldInt of a word = %d", got)
	}
	if got := lastInt([]byte("fan 1 12x")); got != -1 {
		t.Errorf("lastInt of a word = %d", got)
	}
	for from, want := range map[string]int{
		"#bench3%127.0.0.1@irc.localhost/u2": 3,
		"#bench12%x@y":                       12,
		"#bench%x@y":                         -1,
		"#other3%x@y":                        -1,
		"#bench3":                            -1,
	} {
		if got := roomIndex(from); got != want {
			t.Errorf("roomIndex(%q) = %d, want %d", from, got, want)
		}
	}
	if !hasStatus([]byte(`<presence><x><status code="110"/></x></presence>`), "110") || hasStatus([]byte(`<presence><x><status code='100'/></x></presence>`), "110") {
		t.Error("hasStatus")
	}
	if escape(`a<'&">`) != "a&lt;&apos;&amp;&quot;&gt;" || unescape("a&lt;&apos;&amp;&quot;&gt;") != `a<'&">` {
		t.Error("escape/unescape")
	}
}

func TestParseForm(t *testing.T) {
	res := []byte(`<iq type='result'><command xmlns='http://jabber.org/protocol/commands' sessionid='s1' node='configure' status='executing'>` +
		`<x xmlns='jabber:x:data' type='form'><title>t</title><field var='ports' type='text-multi'><value>6667</value></field>` +
		`<field var='tls_ports' type='text-multi'><value>6697</value><value>6670</value></field><field var='verify_cert' type='boolean'><value>true</value></field></x></command></iq>`)
	fields, err := parseForm(res)
	if err != nil {
		t.Fatal(err)
	}
	want := []formField{{"ports", "text-multi", []string{"6667"}}, {"tls_ports", "text-multi", []string{"6697", "6670"}}, {"verify_cert", "boolean", []string{"true"}}}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("got %+v", fields)
	}
	if _, err := parseForm([]byte(`<iq type='result'/>`)); err == nil {
		t.Error("no form: no error")
	}
}

func TestSummarize(t *testing.T) {
	var ns []int64
	for i := 1; i <= 100; i++ {
		ns = append(ns, int64(i)*int64(time.Millisecond))
	}
	l := summarize(ns)
	if l.Count != 100 || l.P50Ms != 50 || l.P99Ms != 99 || l.MaxMs != 100 || l.P90Ms != 90 {
		t.Errorf("%+v", l)
	}
	if l := summarize(nil); l.Count != 0 {
		t.Errorf("%+v", l)
	}
	if p := percentile([]int64{7}, 99); p != 7 {
		t.Errorf("one sample: %d", p)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.sizes, []size{{100, 5}, {500, 1}}) || len(o.targets) != 1 || o.targets[0] != (target{"ours", "ours", "disk"}) {
		t.Errorf("defaults: %+v %+v", o.sizes, o.targets)
	}
	o, err = parseFlags([]string{"-users", "20", "-channels", "2", "-target", "both,biboumi-tmpfs", "-db", "disk"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	wantT := []target{{"ours", "ours", "disk"}, {"biboumi", "biboumi", "disk"}, {"biboumi-tmpfs", "biboumi", "tmpfs"}}
	if !reflect.DeepEqual(o.sizes, []size{{20, 2}}) || !reflect.DeepEqual(o.targets, wantT) {
		t.Errorf("got %+v %+v", o.sizes, o.targets)
	}
	for _, bad := range [][]string{
		{"-target", "prosody"}, {"-target", "ours-ssd"}, {"-sizes", "10"}, {"-sizes", "0x1"},
		{"-xmpp", "openfire"}, {"-irc", "unreal"}, {"-lines", "0"}, {"-db", "ram"}, {"extra"},
		{"-ours-config", "a = 1\nb = 2"}, {"-join-rate", "-1"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestLogWarnings(t *testing.T) {
	f := filepath.Join(t.TempDir(), "log")
	data := `time=1 level=INFO msg=starting
time=2 level=WARN msg="stanza not sent" part=gateway err="component: outgoing queue full"
time=3 level=WARN msg="stanza not sent" part=gateway err="component: outgoing queue full"
time=4 level=ERROR msg=boom
[WARNING]: src/network/tcp_socket_handler.cpp:123:	Connection closed.
[INFO]: src/irc/irc_client.cpp:429:	No handler for command 254
`
	if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	top, n := logWarnings(f, 0)
	want := []string{"2× WARN stanza not sent (component: outgoing queue full)", "1× ERROR boom", "1× WARNING Connection closed."}
	if n != 4 || !reflect.DeepEqual(top, want) {
		t.Errorf("got %d %q", n, top)
	}
	if _, n := logWarnings(f, int64(strings.Index(data, "time=3"))); n != 1 {
		t.Errorf("cut: %d warnings, want 1", n)
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"-users", "20", "-ours-config", "component.queue_size = 1000000", "-json", ""})
	want := `go run ./cmd/biboumi-bench -users 20 -ours-config 'component.queue_size = 1000000' -json ''`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestProcStat(t *testing.T) {
	u := readUsage([]int{os.Getpid(), 1 << 30})
	if u.Procs != 1 || u.RSS <= 0 || u.HWM < u.RSS {
		t.Errorf("%+v", u)
	}
	if c := tcpCounters(); len(c) == 0 {
		t.Log("no TCP counters in /proc (not Linux?)")
	}
}
