package ircbridge

import (
	"strings"

	"biboumi/ircbridge/ircclient"
)

// roleOf maps the prefix modes an occupant holds to its XEP-0045 role and
// affiliation (reference §5.5): the most significant mode wins.
func roleOf(modes string) (Role, Affiliation) {
	switch {
	case strings.ContainsAny(modes, "qa"):
		return RoleModerator, AffOwner
	case strings.ContainsRune(modes, 'o'):
		return RoleModerator, AffAdmin
	case strings.ContainsRune(modes, 'h'):
		return RoleModerator, AffMember
	case strings.ContainsRune(modes, 'v'):
		return RoleParticipant, AffMember
	}
	return RoleParticipant, AffNone
}

// parseNamesEntry splits a RPL_NAMREPLY entry ("@+nick" with
// multi-prefix, "nick!user@host" with userhost-in-names) into an occupant.
func parseNamesEntry(is *ircclient.ISupport, entry string) *occupant {
	o := &occupant{}
	for entry != "" {
		mode, ok := prefixMode(is, entry[0])
		if !ok {
			break
		}
		o.modes += string(mode)
		entry = entry[1:]
	}
	nick, uh, _ := strings.Cut(entry, "!")
	o.nick = nick
	if uh != "" {
		o.user, o.host, _ = strings.Cut(uh, "@")
	}
	return o
}

func prefixMode(is *ircclient.ISupport, c byte) (byte, bool) {
	if is != nil {
		return is.PrefixMode(c)
	}
	switch c {
	case '@':
		return 'o', true
	case '+':
		return 'v', true
	}
	return 0, false
}
