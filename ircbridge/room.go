package ircbridge

import (
	"sort"

	"biboumi/store"

	"mellium.im/xmpp/jid"
)

type roomState uint8

const (
	roomJoining roomState = iota // JOIN sent (or queued until 001), NAMES not complete
	roomJoined                   // 366 received: occupants known
)

// room is a session's state for one IRC channel. It is owned by the
// session goroutine.
type room struct {
	srv  *ircServer
	name string  // the IRC channel name, in the server's case once echoed
	jid  jid.JID // the bare room JID
	// archName is the channel as written in the JID (lowercased): the key
	// of its archive and options, as in Biboumi's database.
	archName string
	opts     store.ChannelOptions
	// history holds the <history/> request of each joining resource until
	// the join completes (nil when none).
	history map[string]*HistoryRequest
	state   roomState
	key     string // channel key from the join <password/>
	// resources are the user's clients in the room; leaving are those
	// that left while the PART echo is awaited.
	resources jidSet
	leaving   jidSet
	occupants occupants
	topic     string
	topicBy   string
	// rejoin is set while the room is joined again after a reconnection.
	rejoin bool
	// kept is set while the room is recorded as a kept channel (the
	// user's global persistent option; see persistent.go).
	kept bool
	// echoes are our lines waiting for their echo-message echo.
	echoes []pendingEcho
}

func newRoom(srv *ircServer, name string, j jid.JID, opts store.ChannelOptions) *room {
	return &room{
		srv:       srv,
		name:      name,
		jid:       j,
		archName:  opts.Channel,
		opts:      opts,
		occupants: newOccupants(srv.occ, headKey(srv.endpoint, srv.fold(name))),
	}
}

func (r *room) occupant(nick string) *occupant {
	return r.occupants.get(r.srv.fold(nick))
}

// newOccupant builds an occupant of r (not added yet).
func (r *room) newOccupant(nick, user, host, modes string) *occupant {
	return &occupant{fold: r.srv.fold(nick), nick: nick, user: user, host: host, modes: modes}
}

// addOccupant adds o, or replaces the occupant with the same nick. o must
// be new (see occupant).
func (r *room) addOccupant(o *occupant) { r.occupants.put(o) }

func (r *room) removeOccupant(nick string) *occupant {
	return r.occupants.remove(r.srv.fold(nick))
}

// setHistory keeps the <history/> request of a joining resource.
func (r *room) setHistory(res jid.JID, h *HistoryRequest) {
	if r.history == nil {
		r.history = make(map[string]*HistoryRequest)
	}
	r.history[res.String()] = h
}

func (r *room) resourceList() []jid.JID { return r.resources.list() }

// occupantList returns the occupants sorted by nick, for stable output.
func (r *room) occupantList() []*occupant {
	out := r.occupants.all()
	sort.Slice(out, func(i, j int) bool { return out[i].nick < out[j].nick })
	return out
}

// occupantJID is the in-room JID of nick (room/Nick). A nick that is not a
// valid resourcepart falls back to the bare room, which keeps the stanza
// routable.
func (r *room) occupantJID(nick string) jid.JID { return r.buildJID(nick) }

// hasOccupantJID reports whether nick is a valid resourcepart, so that
// its occupant can be shown: an IRC server may send nicks with control
// characters, which no JID can hold.
func (r *room) hasOccupantJID(nick string) bool {
	_, err := r.jid.WithResource(nick)
	return err == nil
}

func (r *room) buildJID(nick string) jid.JID {
	j, err := r.jid.WithResource(nick)
	if err != nil {
		return r.jid
	}
	return j
}
