package ircbridge

import (
	"time"

	"biboumi/ircbridge/ircclient"

	"golang.org/x/time/rate"

	"mellium.im/xmpp/jid"
)

// ircServer is a session's state for one IRC connection. It is owned by the
// session goroutine.
type ircServer struct {
	name string // the server as addressed in JIDs, lowercased
	// endpoint is where the user's settings send the connection (address
	// and ports): occupant hints are shared only between sessions that
	// reach the same one, since any user may point a name elsewhere.
	endpoint   string
	conn       *ircclient.Conn
	registered bool
	nick       string // our current nick (the requested one until 001)
	isupport   *ircclient.ISupport
	rooms      map[string]*room // by casefolded channel name
	// resources are the full JIDs of the user's clients that use this
	// connection (joined or joining one of its rooms): they receive the
	// gateway messages about it.
	resources jidSet
	motd      []string
	motdSize  int // bytes in motd
	// afterConnect are raw lines sent after 001, before the joins.
	afterConnect []string
	// limiter throttles the lines sent for the user (nil: unthrottled).
	limiter *rate.Limiter
	// reconnecting is set from an unexpected disconnection until every
	// room is joined again; waiting while no attempt is in progress.
	reconnecting, waiting bool
	attempt               int
	retryAt               time.Time
	// outbox holds what the user sent to rooms while reconnecting.
	outbox []queuedLine
	// list caches the channel list (LIST replies).
	list channelList
	// partners are the casefolded nicks the user sent private messages to:
	// their notices are delivered as private messages (reference §5.8).
	partners map[string]bool
	// occ interns the occupant lists of the rooms (shared by the gateway).
	occ *occupantTable
}

func newIRCServer(occ *occupantTable, name, nick string) *ircServer {
	return &ircServer{
		occ:   occ,
		name:  name,
		nick:  nick,
		rooms: make(map[string]*room),
	}
}

func (srv *ircServer) chanTypes() string {
	if srv.isupport == nil || srv.isupport.ChanTypes() == "" {
		return DefaultChanTypes
	}
	return srv.isupport.ChanTypes()
}

// fold casefolds an IRC name with the server's CASEMAPPING.
func (srv *ircServer) fold(name string) string {
	if srv.isupport == nil {
		return ircclient.Fold("rfc1459", name)
	}
	return srv.isupport.Fold(name)
}

func (srv *ircServer) isChannel(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(srv.chanTypes()); i++ {
		if name[0] == srv.chanTypes()[i] {
			return true
		}
	}
	return false
}

func (srv *ircServer) isMe(nick string) bool {
	return nick != "" && srv.fold(nick) == srv.fold(srv.nick)
}

func (srv *ircServer) room(channel string) *room {
	return srv.rooms[srv.fold(channel)]
}

// resourceList returns the resources in a stable order.
func (srv *ircServer) resourceList() []jid.JID {
	return srv.resources.list()
}

// dropResource forgets res on this server if it is in none of its rooms.
func (srv *ircServer) dropResource(res jid.JID) {
	k := res.String()
	for _, r := range srv.rooms {
		if r.resources.has(k) {
			return
		}
		if r.leaving.has(k) {
			return
		}
	}
	srv.resources.remove(k)
}
