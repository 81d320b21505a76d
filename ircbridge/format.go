package ircbridge

import (
	"strings"

	"github.com/ergochat/irc-go/ircfmt"
)

// ircColors are the CSS colours of the 16 standard IRC colour codes
// (https://modern.ircdocs.horse/formatting.html#colors). Biboumi's table is
// off by one from colour 4 on; this one follows the IRC convention.
var ircColors = [16]string{
	"white", "black", "navy", "green", "red", "maroon", "purple", "orange",
	"yellow", "lime", "teal", "cyan", "royalblue", "fuchsia", "gray", "silver",
}

func cssColor(c ircfmt.ColorCode) string {
	if !c.IsSet || int(c.Value) >= len(ircColors) {
		return ""
	}
	return ircColors[c.Value]
}

// formatIRC converts IRC text to a plain body without control characters
// and, when the text carries formatting, to XHTML-IM spans (reference
// §6.1). Reverse video has no XHTML equivalent and is dropped.
func formatIRC(text string) (plain string, spans []Span) {
	if !hasFormatting(text) {
		return text, nil
	}
	parts := ircfmt.Split(text)
	var b strings.Builder
	styled := false
	spans = make([]Span, 0, len(parts))
	for _, p := range parts {
		content := stripControls(p.Content)
		if content == "" {
			continue
		}
		b.WriteString(content)
		sp := Span{
			Text: content, Bold: p.Bold, Italic: p.Italic, Underline: p.Underline,
			Strike: p.Strikethrough, Monospace: p.Monospace,
			Color: cssColor(p.ForegroundColor), Background: cssColor(p.BackgroundColor),
		}
		if sp.Styled() {
			styled = true
		}
		spans = append(spans, sp)
	}
	if !styled {
		return b.String(), nil
	}
	return b.String(), spans
}

// hasFormatting reports whether text has any IRC formatting or other C0
// control character (except newline and tab).
func hasFormatting(text string) bool {
	for i := 0; i < len(text); i++ {
		if c := text[i]; c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// stripControls removes the C0 controls ircfmt leaves in place (\x00,
// \x01, \x16…), keeping newline and tab.
func stripControls(s string) string {
	if !hasFormatting(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
