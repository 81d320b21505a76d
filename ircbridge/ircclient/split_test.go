package ircclient

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		text   string
		budget int
		want   []string
	}{
		{"empty", "", 10, nil},
		{"fits", "hello", 10, []string{"hello"}},
		{"exactly", "0123456789", 10, []string{"0123456789"}},
		{"lines", "a\nb\r\nc", 10, []string{"a", "b", "c"}},
		{"empty lines dropped", "a\n\n\r\nb\n", 10, []string{"a", "b"}},
		{"CR and NUL removed", "a\rb\x00c", 10, []string{"abc"}},
		{"hard cut", "0123456789abcdefghij", 8, []string{"01234567", "89abcdef", "ghij"}},
		{"cut after a space", "hello world again", 12, []string{"hello world ", "again"}},
		{"space too early: hard cut", "a bcdefghijklmnop", 8, []string{"a bcdefg", "hijklmno", "p"}},
		{"UTF-8 boundary", "ééééé", 5, []string{"éé", "éé", "é"}},
		{"4-byte runes", "😀😀😀", 5, []string{"😀", "😀", "😀"}},
		{"rune longer than budget", "😀a", 2, []string{"😀", "a"}},
		{"budget <= 0 counts as 1", "ab", 0, []string{"a", "b"}},
		{"invalid UTF-8 bytes kept", "\xff\xfe\xfd", 2, []string{"\xff\xfe", "\xfd"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SplitText(tc.text, tc.budget); !slices.Equal(got, tc.want) {
				t.Errorf("SplitText(%q, %d) = %q, want %q", tc.text, tc.budget, got, tc.want)
			}
		})
	}
}

// checkSplit verifies SplitText's properties for one input: no chunk is
// empty or over budget (unless a single character is), chunks cut only at
// character boundaries, and the chunks of each line give the line back, so
// nothing is lost or duplicated.
func checkSplit(t *testing.T, text string, budget int) {
	t.Helper()
	chunks := SplitText(text, budget)
	var wantLines []string
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.NewReplacer("\r", "", "\x00", "").Replace(line)
		if line != "" {
			wantLines = append(wantLines, line)
		}
	}
	i := 0
	for _, line := range wantLines {
		var b strings.Builder
		for b.Len() < len(line) {
			if i >= len(chunks) {
				t.Fatalf("SplitText(%q, %d) = %q: line %q incomplete", text, budget, chunks, line)
			}
			b.WriteString(chunks[i])
			i++
		}
		if b.String() != line {
			t.Fatalf("SplitText(%q, %d) = %q: line %q became %q", text, budget, chunks, line, b.String())
		}
	}
	if i != len(chunks) {
		t.Fatalf("SplitText(%q, %d) = %q: extra chunks", text, budget, chunks)
	}
	for _, c := range chunks {
		if c == "" || strings.ContainsAny(c, "\r\n\x00") {
			t.Fatalf("SplitText(%q, %d): bad chunk %q", text, budget, c)
		}
		if len(c) > max(budget, 1) && utf8.RuneCountInString(c) != 1 {
			t.Fatalf("SplitText(%q, %d): chunk %q over budget", text, budget, c)
		}
		if utf8.ValidString(text) && !utf8.ValidString(c) {
			t.Fatalf("SplitText(%q, %d): chunk %q cut inside a character", text, budget, c)
		}
	}
}

func TestSplitTextProperties(t *testing.T) {
	t.Parallel()
	alphabet := []string{"a", "b", " ", " ", "\n", "\r", "é", "€", "😀", "\x00", "\xff", "z"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var b strings.Builder
		for range r.IntN(80) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		checkSplit(t, b.String(), r.IntN(20)-2)
	}
}

func FuzzSplitText(f *testing.F) {
	f.Add("hello world", 5)
	f.Add("a\nb\r\n\nc", 1)
	f.Add("ééé 😀😀 long line with words", 7)
	f.Add("\xff\xfe invalid", 2)
	f.Add(strings.Repeat("word ", 200), LineBudget("nick", "", "", "PRIVMSG", "#chan"))
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, text string, budget int) {
		if budget > 1<<20 || budget < -1<<20 {
			return
		}
		checkSplit(t, text, budget)
	})
}

func TestLineBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		nick, user, host, command, target string
		want                              int
	}{
		// ":nick!user@host PRIVMSG #c :" + "\r\n" = 28 + 2
		{"nick", "user", "host", "PRIVMSG", "#c", 512 - 30},
		// unknown user and host: 10 and 63 bytes
		{"nick", "", "", "PRIVMSG", "#chan", 512 - (1 + 4 + 1 + 10 + 1 + 63 + 1 + 7 + 1 + 5 + 2 + 2)},
		{"n", "", "h", "NOTICE", "someone", 512 - (1 + 1 + 1 + 10 + 1 + 1 + 1 + 6 + 1 + 7 + 2 + 2)},
	}
	for _, tc := range tests {
		got := LineBudget(tc.nick, tc.user, tc.host, tc.command, tc.target)
		if got != tc.want {
			t.Errorf("LineBudget(%q, %q, %q, %q, %q) = %d, want %d", tc.nick, tc.user, tc.host, tc.command, tc.target, got, tc.want)
		}
		if tc.user != "" && tc.host != "" {
			line := ":" + tc.nick + "!" + tc.user + "@" + tc.host + " " + tc.command + " " + tc.target + " :" + strings.Repeat("x", got) + "\r\n"
			if len(line) != 512 {
				t.Errorf("a relayed line at the budget is %d bytes", len(line))
			}
		}
	}
}
