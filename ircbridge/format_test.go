package ircbridge

import (
	"reflect"
	"strings"
	"testing"
)

func TestFormatIRC(t *testing.T) {
	for i, tc := range []struct {
		in    string
		plain string
		spans []Span
	}{
		{"plain text", "plain text", nil},
		{"a\x02bold\x02 b", "abold b", []Span{{Text: "a"}, {Text: "bold", Bold: true}, {Text: " b"}}},
		{"\x0304red\x03 and \x1ditalic\x0f.", "red and italic.", []Span{
			{Text: "red", Color: "red"}, {Text: " and "}, {Text: "italic", Italic: true}, {Text: "."}}},
		{"\x0301,08on yellow", "on yellow", []Span{{Text: "on yellow", Color: "black", Background: "yellow"}}},
		{"\x1funder\x1f\x00\x01nul", "undernul", []Span{{Text: "under", Underline: true}, {Text: "nul"}}},
		{"\x02\x02", "", nil},
		{"\x16reverse only", "reverse only", nil},
	} {
		plain, spans := formatIRC(tc.in)
		if plain != tc.plain || !reflect.DeepEqual(spans, tc.spans) {
			t.Errorf("%d: formatIRC(%q) = %q, %+v; want %q, %+v", i, tc.in, plain, spans, tc.plain, tc.spans)
		}
	}
}

func FuzzFormatIRC(f *testing.F) {
	for _, s := range []string{"a\x02b", "\x0312,4x", "\x03,", "\x00\x01ACTION x\x01", "é\x1d\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain, spans := formatIRC(s)
		if hasFormatting(plain) {
			t.Errorf("plain %q has control characters", plain)
		}
		var b strings.Builder
		for _, sp := range spans {
			b.WriteString(sp.Text)
		}
		if spans != nil && b.String() != plain {
			t.Errorf("spans %q differ from plain %q", b.String(), plain)
		}
	})
}
