package ircbridge

import (
	"runtime"

	"mellium.im/xmpp/stanza"
)

// commonFeatures are advertised on the gateway, server and channel JIDs
// (reference §5.9). Gajim's "Join" button depends on the MUC feature.
var commonFeatures = [...]string{
	NSDiscoInfo, NSMUC, NSCommands, NSPing, NSMAM, NSVersion, NSMUCStableID,
}

func features(extra ...string) []string {
	f := make([]string, 0, len(commonFeatures)+len(extra))
	f = append(f, commonFeatures[:]...)
	return append(f, extra...)
}

// answerStateless answers the iqs that need no user state: disco#info,
// ping and version on the gateway and server JIDs. ok is false when the iq
// must go to the user's session.
func (g *Gateway) answerStateless(iq IQ) (reply IQ, ok bool) {
	if iq.Type != stanza.GetIQ {
		return IQ{}, false
	}
	cfg := g.cfg.Load()
	addr, err := g.mapper().Parse(iq.To, "")
	if err != nil {
		return iq.Fail(err.(stanza.Error)), true
	}
	if p, ok := iq.Payload.(*DiscoItems); ok && p.Node == NSCommands {
		switch addr.Kind {
		case KindGateway, KindServer, KindChannel:
			return iq.Result(&DiscoItems{Node: NSCommands, Items: g.commandItems(iq.To.Bare(), addr.Kind, iq.From)}), true
		}
		return iq.Fail(newError(stanza.Cancel, stanza.FeatureNotImplemented, "")), true
	}
	if addr.Kind != KindGateway && addr.Kind != KindServer {
		return IQ{}, false
	}
	switch p := iq.Payload.(type) {
	case *DiscoInfo:
		if p.Node != "" {
			return iq.Fail(newError(stanza.Cancel, stanza.ItemNotFound, "")), true
		}
		name := "Biboumi XMPP-IRC gateway"
		if addr.Kind == KindServer {
			name = "IRC server " + addr.Server + " over Biboumi"
		}
		return iq.Result(&DiscoInfo{
			Identities: []Identity{{Category: "conference", Type: "irc", Name: name}},
			Features:   features(),
		}), true
	case *Version:
		return iq.Result(&Version{Name: SoftwareName, Version: cfg.Version, OS: runtime.GOOS}), true
	case *Ping:
		if addr.Kind == KindGateway {
			return iq.Result(nil), true
		}
	}
	return IQ{}, false
}
