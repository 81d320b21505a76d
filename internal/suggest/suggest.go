// Package suggest finds the option name a user most likely meant, for
// "unknown key, did you mean …" messages.
package suggest

import "strings"

// maxEdits is how far a name may be from a known one to be suggested.
const maxEdits = 2

// Closest returns the element of known that name most likely meant: the
// same but for case and surrounding space, or else the nearest within two
// edits (the first one on a tie). It returns "" if there is none.
func Closest(name string, known []string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if len(name) > 64 {
		return "" // not a mistyped option name; keep it cheap
	}
	best, bestDist := "", maxEdits+1
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := Distance(name, strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// Distance is the Levenshtein distance between a and b, in bytes.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
