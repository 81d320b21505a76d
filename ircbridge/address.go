package ircbridge

import (
	"fmt"
	"strings"

	"mellium.im/xmpp/jid"
)

// This file is the only place that knows how IRC names are written in JIDs
// (reference §2): "#chan%server@gateway", "nick%server@gateway",
// "server@gateway", and the fixed_irc_server forms without "%server".

// Kind says what an Address designates.
type Kind uint8

// The kinds of gateway JIDs.
const (
	KindGateway     Kind = iota // gateway.example.org
	KindServer                  // irc.example.org@gateway.example.org
	KindChannel                 // #chan%irc.example.org@gateway.example.org
	KindUser                    // nick%irc.example.org@gateway.example.org
	KindParticipant             // #chan%irc.example.org@gateway.example.org/Nick
)

func (k Kind) String() string {
	switch k {
	case KindGateway:
		return "gateway"
	case KindServer:
		return "server"
	case KindChannel:
		return "channel"
	case KindUser:
		return "user"
	case KindParticipant:
		return "participant"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Address is the IRC meaning of a JID on the gateway's domain. It is a
// comparable value.
type Address struct {
	Kind Kind
	// Server is the IRC server, lowercased. In fixed-server mode it is the
	// fixed server for every kind, the gateway included.
	Server string
	// Channel is the channel name with its prefix, XEP-0106-unescaped, as
	// written in the JID (so lowercased by PRECIS); set for KindChannel and
	// KindParticipant.
	Channel string
	// Nick is the IRC nick: the (unescaped) localpart for KindUser, the
	// resourcepart (case kept) for KindParticipant.
	Nick string
}

// DefaultChanTypes is the CHANTYPES value assumed until the server sends
// its ISUPPORT.
const DefaultChanTypes = "#&"

// Mapper converts between JIDs and Addresses. It is immutable and safe to
// share between goroutines.
type Mapper struct {
	// Domain is the component's domain.
	Domain jid.JID
	// FixedServer is non-empty in fixed_irc_server mode.
	FixedServer string
}

// Parse interprets j, a JID on the gateway's domain. chanTypes is the
// server's CHANTYPES ISUPPORT value (DefaultChanTypes until known). Errors
// are stanza.Error values with the jid-malformed condition.
func (m Mapper) Parse(j jid.JID, chanTypes string) (Address, error) {
	if !j.Domain().Equal(m.Domain) {
		return Address{}, errMalformed("%s is not on this gateway", j.Domain())
	}
	if chanTypes == "" {
		chanTypes = DefaultChanTypes
	}
	local, res := j.Localpart(), j.Resourcepart()
	if m.FixedServer != "" {
		if local == "" {
			return Address{Kind: KindGateway, Server: m.FixedServer}, nil
		}
		return classify(unescape(local), m.FixedServer, res, chanTypes), nil
	}
	if local == "" {
		return Address{Kind: KindGateway}, nil
	}
	name, server, ok := strings.Cut(local, "%")
	if !ok {
		return Address{Kind: KindServer, Server: strings.ToLower(local)}, nil
	}
	server = strings.ToLower(server)
	if server == "" {
		return Address{}, errMalformed("%s is not a valid channel name. A correct room jid is of the form: #<chan>%%<server>", local)
	}
	if name == "" {
		// "%server@gateway/Nick": a private message to a nick that cannot be
		// written as a localpart (reference §2).
		if res == "" {
			return Address{}, errMalformed("%s is not a valid channel name. A correct room jid is of the form: #<chan>%%<server>", local)
		}
		return Address{Kind: KindUser, Server: server, Nick: res}, nil
	}
	return classify(unescape(name), server, res, chanTypes), nil
}

func classify(name, server, res, chanTypes string) Address {
	if strings.IndexByte(chanTypes, name[0]) < 0 {
		return Address{Kind: KindUser, Server: server, Nick: name}
	}
	if res != "" {
		return Address{Kind: KindParticipant, Server: server, Channel: name, Nick: res}
	}
	return Address{Kind: KindChannel, Server: server, Channel: name}
}

// JID returns the JID of a. Channel names and user nicks are XEP-0106
// escaped; participant nicks go in the resourcepart unchanged.
func (m Mapper) JID(a Address) (jid.JID, error) {
	domain := m.Domain.Domainpart()
	suffix := ""
	if m.FixedServer == "" {
		suffix = "%" + a.Server
	}
	switch a.Kind {
	case KindGateway:
		return m.Domain.Domain(), nil
	case KindServer:
		if m.FixedServer != "" {
			return m.Domain.Domain(), nil
		}
		return jid.New(a.Server, domain, "")
	case KindChannel:
		return jid.New(m.escapeName(a.Channel)+suffix, domain, "")
	case KindParticipant:
		return jid.New(m.escapeName(a.Channel)+suffix, domain, a.Nick)
	case KindUser:
		j, err := jid.New(m.escapeName(strings.ToLower(a.Nick))+suffix, domain, "")
		if err != nil && m.FixedServer == "" {
			// A nick that cannot be a localpart (some Unicode, for
			// instance) goes in the resource: %server@gateway/Nick, which
			// Parse reads back (reference §2).
			return jid.New(suffix, domain, a.Nick)
		}
		return j, err
	}
	return jid.JID{}, fmt.Errorf("ircbridge: no JID for address kind %v", a.Kind)
}

// MustJID is JID for addresses built from names the IRC server or the
// user already gave in a valid JID; on failure it falls back to the
// gateway's domain rather than panic.
func (m Mapper) MustJID(a Address) jid.JID {
	j, err := m.JID(a)
	if err != nil {
		return m.Domain.Domain()
	}
	return j
}

// xep0106 lists the characters XEP-0106 escapes, in the order of the spec,
// with their escape sequences.
var xep0106 = [...]struct {
	c   byte
	seq string
}{
	{' ', `\20`}, {'"', `\22`}, {'&', `\26`}, {'\'', `\27`}, {'/', `\2f`},
	{':', `\3a`}, {'<', `\3c`}, {'>', `\3e`}, {'@', `\40`}, {'\\', `\5c`},
	// Not XEP-0106: "%" separates the name from the server in our JIDs, so
	// a "%" inside a channel name or nick is written \25 (Biboumi leaves
	// it, which makes "#100%" unreachable).
	{'%', `\25`},
}

// escapeName escapes a channel name or nick for a localpart: XEP-0106,
// and "%" too except in fixed-server mode, where "%" has no meaning.
func (m Mapper) escapeName(s string) string {
	if m.FixedServer != "" {
		return escapeOnly(s, `\25`)
	}
	return escape(s)
}

// escape applies XEP-0106 §4.2 to a localpart. A backslash is escaped only
// when it starts one of the escape sequences, as the XEP says.
func escape(s string) string { return escapeOnly(s, "") }

// escapeOnly is escape without the sequence skip.
func escapeOnly(s, skip string) string {
	if !strings.ContainsAny(s, ` "&'/:<>@\%`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && !startsEscape(s[i:]) {
			b.WriteByte(c)
			continue
		}
		done := false
		for _, e := range xep0106 {
			if e.c == c && e.seq != skip {
				b.WriteString(e.seq)
				done = true
				break
			}
		}
		if !done {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func startsEscape(s string) bool {
	if len(s) < 3 {
		return false
	}
	seq := strings.ToLower(s[:3])
	for _, e := range xep0106 {
		if e.seq == seq {
			return true
		}
	}
	return false
}

// unescape reverses escape (XEP-0106 §4.3). mellium's jid.Unescape is
// broken in v0.23.0 (go-libs.md §1.3), hence this one.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && len(s)-i >= 3 {
			seq := strings.ToLower(s[i : i+3])
			found := false
			for _, e := range xep0106 {
				if e.seq == seq {
					b.WriteByte(e.c)
					i += 2
					found = true
					break
				}
			}
			if found {
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
