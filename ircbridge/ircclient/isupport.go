package ircclient

import (
	"maps"
	"strconv"
	"strings"
)

// Casemapping names from ISUPPORT CASEMAPPING.
const (
	CaseMappingASCII         = "ascii"
	CaseMappingRFC1459       = "rfc1459"
	CaseMappingStrictRFC1459 = "strict-rfc1459"
)

const (
	defaultChanTypes   = "#&"
	defaultPrefixModes = "ov"
	defaultPrefixChars = "@+"
	defaultCaseMapping = CaseMappingRFC1459
	// maxISupportTokens bounds the memory a server can make us keep.
	maxISupportTokens = 256
)

// ISupport is an immutable snapshot of the server's RPL_ISUPPORT (005)
// tokens, with the defaults of RFC 1459 servers for the ones the server did
// not send. A *ISupport may be shared between goroutines; a new 005 produces
// a new snapshot instead of modifying this one.
type ISupport struct {
	tokens      map[string]string
	chanTypes   string
	prefixModes string
	prefixChars string
	chanModes   [4]string
	caseMapping string
	network     string
	nickLen     int
	lineLen     int
}

// DefaultISupport returns the snapshot in force before the server sends any
// 005: CHANTYPES=#&, PREFIX=(ov)@+, CASEMAPPING=rfc1459.
func DefaultISupport() *ISupport {
	return newISupport(nil)
}

func newISupport(tokens map[string]string) *ISupport {
	is := &ISupport{
		tokens:      tokens,
		chanTypes:   defaultChanTypes,
		prefixModes: defaultPrefixModes,
		prefixChars: defaultPrefixChars,
		caseMapping: defaultCaseMapping,
	}
	if v, ok := tokens["CHANTYPES"]; ok {
		is.chanTypes = v // an empty value means: no channels at all
	}
	if v, ok := tokens["PREFIX"]; ok {
		if modes, chars, ok := parsePrefix(v); ok {
			is.prefixModes, is.prefixChars = modes, chars
		}
	}
	if v, ok := tokens["CHANMODES"]; ok {
		parts := strings.Split(v, ",")
		for i := 0; i < len(parts) && i < len(is.chanModes); i++ {
			is.chanModes[i] = parts[i]
		}
	}
	if v := tokens["CASEMAPPING"]; v != "" {
		is.caseMapping = strings.ToLower(v)
	}
	is.network = tokens["NETWORK"]
	is.nickLen, _ = strconv.Atoi(tokens["NICKLEN"])
	is.lineLen, _ = strconv.Atoi(tokens["LINELEN"])
	return is
}

// parsePrefix splits "(qaohv)~&@%+" into its modes and prefixes. The empty
// value is valid and means no prefixes.
func parsePrefix(v string) (modes, chars string, ok bool) {
	if v == "" {
		return "", "", true
	}
	if v[0] != '(' {
		return "", "", false
	}
	end := strings.IndexByte(v, ')')
	if end < 0 {
		return "", "", false
	}
	modes, chars = v[1:end], v[end+1:]
	if len(modes) != len(chars) {
		return "", "", false
	}
	return modes, chars, true
}

// apply returns a new snapshot with the tokens of one 005 line (the
// parameters between the target nick and the trailing text). "-TOKEN"
// removes a token, restoring its default.
func (is *ISupport) apply(params []string) *ISupport {
	tokens := maps.Clone(is.tokens)
	if tokens == nil {
		tokens = make(map[string]string)
	}
	for _, p := range params {
		if p == "" {
			continue
		}
		if p[0] == '-' {
			delete(tokens, strings.ToUpper(p[1:]))
			continue
		}
		name, value, _ := strings.Cut(p, "=")
		name = strings.ToUpper(name)
		if _, known := tokens[name]; !known && len(tokens) >= maxISupportTokens {
			continue // a server flooding us with tokens gets no more memory
		}
		// Copies: the strings of the line would keep all of it (tags
		// included) alive as long as the snapshot.
		tokens[strings.Clone(name)] = strings.Clone(unescapeISupport(value))
	}
	return newISupport(tokens)
}

// unescapeISupport decodes the \xHH escapes of ISUPPORT values.
func unescapeISupport(v string) string {
	if !strings.Contains(v, `\x`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+3 < len(v) && v[i+1] == 'x' {
			if n, err := strconv.ParseUint(v[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// Token returns the raw value of an ISUPPORT token and whether the server
// sent it (name is case-insensitive).
func (is *ISupport) Token(name string) (string, bool) {
	v, ok := is.tokens[strings.ToUpper(name)]
	return v, ok
}

// ChanTypes returns the channel prefixes (CHANTYPES, default "#&").
func (is *ISupport) ChanTypes() string { return is.chanTypes }

// PrefixModes returns the membership modes in order of rank, highest first
// (from PREFIX, default "ov").
func (is *ISupport) PrefixModes() string { return is.prefixModes }

// PrefixChars returns the membership prefixes matching PrefixModes
// position by position (default "@+").
func (is *ISupport) PrefixChars() string { return is.prefixChars }

// ChanModes returns the A, B, C and D lists of CHANMODES (empty when the
// server did not send it).
func (is *ISupport) ChanModes() [4]string { return is.chanModes }

// CaseMapping returns the lower-cased CASEMAPPING (default "rfc1459").
func (is *ISupport) CaseMapping() string { return is.caseMapping }

// Network returns NETWORK, or "".
func (is *ISupport) Network() string { return is.network }

// NickLen returns NICKLEN, or 0 when unknown.
func (is *ISupport) NickLen() int { return is.nickLen }

// LineLen returns LINELEN, or 0 when unknown (then 512 applies).
func (is *ISupport) LineLen() int { return is.lineLen }

// IsChannel reports whether name starts with one of the CHANTYPES.
func (is *ISupport) IsChannel(name string) bool {
	return name != "" && strings.IndexByte(is.chanTypes, name[0]) >= 0
}

// PrefixMode returns the membership mode of a prefix character ('@' → 'o').
func (is *ISupport) PrefixMode(prefix byte) (mode byte, ok bool) {
	if i := strings.IndexByte(is.prefixChars, prefix); i >= 0 {
		return is.prefixModes[i], true
	}
	return 0, false
}

// ModePrefix returns the prefix character of a membership mode ('o' → '@').
func (is *ISupport) ModePrefix(mode byte) (prefix byte, ok bool) {
	if i := strings.IndexByte(is.prefixModes, mode); i >= 0 {
		return is.prefixChars[i], true
	}
	return 0, false
}

// Fold returns the case-folded form of a nick or channel name under the
// server's CASEMAPPING, for comparisons and map keys: "ascii" folds A-Z,
// "rfc1459" also folds []\~ to {}|^, "strict-rfc1459" folds []\ but not ~.
// Other mappings (rfc7613, precis, utf8…) fold with Unicode lower-casing,
// the closest general rule.
func (is *ISupport) Fold(name string) string {
	return Fold(is.caseMapping, name)
}

// Fold case-folds name under the named casemapping; see ISupport.Fold.
func Fold(caseMapping, name string) string {
	var upper byte // highest byte mapped beyond A-Z: ']' or '^'
	switch caseMapping {
	case CaseMappingASCII:
		upper = 'Z'
	case CaseMappingStrictRFC1459:
		upper = ']'
	case CaseMappingRFC1459, "":
		upper = '^'
	default:
		return strings.ToLower(name)
	}
	i := 0
	for ; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= upper {
			break
		}
	}
	if i == len(name) {
		return name
	}
	b := []byte(name)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= upper {
			b[i] = c + 32 // A-Z → a-z, [\]^ → {|}~
		}
	}
	return string(b)
}
