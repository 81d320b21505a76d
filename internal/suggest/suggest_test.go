package suggest

import (
	"strings"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"kitten", "sitting", 3},
		{"hostname", "hostnmae", 2},
		{"port", "port", 0},
		{"ca_file", "cafile", 1},
	} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Distance(c.b, c.a); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (not symmetric)", c.b, c.a, got, c.want)
		}
	}
}

func TestClosest(t *testing.T) {
	known := []string{"hostname", "password", "port", "ca_file", "log_level"}
	for _, c := range []struct{ name, want string }{
		{"hostname", "hostname"},
		{" HostName ", "hostname"},    // case and space
		{"hostnmae", "hostname"},      // two edits
		{"pasword", "password"},       // one edit
		{"cafile", "ca_file"},         // one edit
		{"prot", "port"},              // two edits (a swap)
		{"loglevel", "log_level"},     // one edit
		{"identity", ""},              // too far from all
		{"", ""},                      // nothing typed: "port" is four edits away
		{strings.Repeat("p", 65), ""}, // too long to be a typo
	} {
		if got := Closest(c.name, known); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.name, got, c.want)
		}
	}
	if got := Closest("Port", []string{"Port"}); got != "Port" {
		t.Errorf("Closest keeps the known spelling: got %q", got)
	}
}
