package ircclient

import (
	"strings"
	"unicode/utf8"
)

// Worst-case lengths of the parts of our own source prefix that we do not
// know, as Biboumi assumes: USERLEN 10 and a 63-byte host name.
const (
	worstUserLen = 10
	worstHostLen = 63
)

// LineBudget returns how many bytes of trailing text fit in the line the
// server relays to other clients, ":nick!user@host COMMAND target :TEXT\r\n",
// within the 512-byte limit. An empty user or host counts as its worst-case
// length (10 and 63 bytes), because the server may show a longer one than we
// know. The result may be zero or negative for absurdly long names.
func LineBudget(nick, user, host, command, target string) int {
	userLen, hostLen := len(user), len(host)
	if userLen == 0 {
		userLen = worstUserLen
	}
	if hostLen == 0 {
		hostLen = worstHostLen
	}
	// ':' nick '!' user '@' host ' ' command ' ' target ' :' text "\r\n"
	overhead := 1 + len(nick) + 1 + userLen + 1 + hostLen + 1 + len(command) + 1 + len(target) + 2 + 2
	return maxLineBytes - overhead
}

// SplitText splits a message body into IRC-sized texts, each to be sent as
// its own PRIVMSG or NOTICE.
//
// The body is split on "\n"; CR and NUL, which IRC cannot carry, are removed.
// Empty lines are dropped, because IRC cannot send an empty PRIVMSG (Biboumi
// sends them and the server rejects them with 412). Each line is then cut
// into chunks of at most budget bytes: after the last space when that space
// lies in the second half of the chunk, so that words stay whole, else at
// the last UTF-8 character boundary. The space stays at the end of its chunk,
// so concatenating the chunks of a line gives the line back, byte for byte.
// A chunk is longer than budget only when a single character is (budget < 4);
// invalid UTF-8 bytes count as one-byte characters and are kept.
func SplitText(text string, budget int) []string {
	budget = max(budget, 1)
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		line = removeBytes(line, "\r\x00")
		for line != "" {
			n := cutPoint(line, budget)
			out = append(out, line[:n])
			line = line[n:]
		}
	}
	return out
}

// cutPoint returns the length of the next chunk of s (> 0).
func cutPoint(s string, budget int) int {
	if len(s) <= budget {
		return len(s)
	}
	end, afterSpace := 0, 0
	for end < len(s) {
		_, size := utf8.DecodeRuneInString(s[end:])
		if end+size > budget {
			break
		}
		end += size
		if s[end-1] == ' ' {
			afterSpace = end
		}
	}
	if end == 0 {
		_, size := utf8.DecodeRuneInString(s)
		return size // a single character longer than budget
	}
	if afterSpace > 0 && afterSpace >= budget/2 {
		return afterSpace
	}
	return end
}

// removeBytes returns s without the bytes of set (ASCII), leaving every
// other byte as it is, even in invalid UTF-8.
func removeBytes(s, set string) string {
	if !strings.ContainsAny(s, set) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			b = append(b, s[i])
		}
	}
	return string(b)
}
