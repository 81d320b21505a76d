package ircbridge

import (
	"github.com/ergochat/irc-go/ircmsg"
	"mellium.im/xmpp/stanza"
)

// This file answers disco#items on a server JID with the IRC channel list,
// paged with XEP-0059 (reference §5.9).

// listPageSize is the page of a channel list request without <max/>.
const listPageSize = 100

// listMaxPage bounds a page whatever <max/> asks: one stanza must stay
// well under the XMPP server's stanza size limit.
const listMaxPage = 500

// channelList is a server's LIST reply, cached per connection.
type channelList struct {
	names    []string // channel names, in the server's order
	complete bool     // 323 arrived
	running  bool     // LIST sent, 323 not yet
	waiters  []IQ     // requests waiting for enough items
}

// listChannels handles a disco#items request on a server JID.
func (s *Session) listChannels(iq IQ, addr Address, q *DiscoItems) IQ {
	srv := s.servers[addr.Server]
	if srv == nil || !srv.registered {
		return iq.Fail(notConnected(addr.Server))
	}
	l := &srv.list
	rsm := q.RSM
	fresh := rsm == nil || rsm.After == "" && rsm.Before == nil
	if !l.running && (fresh || len(l.names) == 0) {
		*l = channelList{running: true}
		s.ircSend(srv, ircmsg.MakeMessage(nil, "", "LIST"))
	}
	if reply, ok := s.listPage(srv, iq, l.complete); ok {
		return reply
	}
	l.waiters = append(l.waiters, iq)
	return IQ{} // answered as the list arrives
}

// listPage builds the answer to iq from what the list holds. ok is false
// when more items are needed and the list is still coming.
func (s *Session) listPage(srv *ircServer, iq IQ, complete bool) (IQ, bool) {
	q := iq.Payload.(*DiscoItems)
	names := srv.list.names
	max, start, end := listPageSize, 0, 0
	var rsm *RSM
	if q.RSM != nil {
		rsm = q.RSM
		if rsm.Max >= 0 {
			max = min(rsm.Max, listMaxPage)
		}
	}
	switch {
	case rsm != nil && rsm.Before != nil:
		if !complete {
			return IQ{}, false // a backward page needs the whole list
		}
		end = len(names)
		if *rsm.Before != "" {
			if i := s.listIndex(srv, *rsm.Before); i >= 0 {
				end = i
			}
		}
		start = end - max
		if start < 0 {
			start = 0
		}
	default:
		if rsm != nil && rsm.After != "" {
			i := s.listIndex(srv, rsm.After)
			if i < 0 && !complete {
				return IQ{}, false
			}
			start = i + 1 // an unknown "after" restarts at the beginning
		}
		end = start + max
		if end > len(names) {
			if !complete {
				return IQ{}, false
			}
			end = len(names)
		}
	}
	if start > end {
		start = end
	}
	items := make([]DiscoItem, 0, end-start)
	for _, n := range names[start:end] {
		j, err := s.mapper().JID(Address{Kind: KindChannel, Server: srv.name, Channel: n})
		if err != nil {
			continue
		}
		items = append(items, DiscoItem{JID: j})
	}
	set := NewRSM()
	if len(items) > 0 {
		set.First, set.FirstIndex, set.Last = items[0].JID.String(), start, items[len(items)-1].JID.String()
	}
	if complete {
		set.Count = len(names)
	}
	return iq.Result(&DiscoItems{Items: items, RSM: set}), true
}

// listIndex finds a channel given as an item JID in the list.
func (s *Session) listIndex(srv *ircServer, item string) int {
	for i, n := range srv.list.names {
		if j, err := s.mapper().JID(Address{Kind: KindChannel, Server: srv.name, Channel: n}); err == nil && j.String() == item {
			return i
		}
	}
	return -1
}

// onListItem records a 322 RPL_LIST entry and answers the requests that
// now have enough items.
func (s *Session) onListItem(srv *ircServer, channel string) {
	if !srv.list.running {
		return
	}
	srv.list.names = append(srv.list.names, channel)
	s.answerListWaiters(srv, false)
}

// onListEnd handles 323 RPL_LISTEND.
func (s *Session) onListEnd(srv *ircServer) {
	srv.list.running, srv.list.complete = false, true
	s.answerListWaiters(srv, true)
}

// onListError fails the waiting requests (263, 416, 402 while listing).
func (s *Session) onListError(srv *ircServer, text string) bool {
	if !srv.list.running {
		return false
	}
	for _, iq := range srv.list.waiters {
		s.send(iq.Fail(newError(stanza.Wait, stanza.ServiceUnavailable, text)))
	}
	srv.list = channelList{}
	return true
}

func (s *Session) answerListWaiters(srv *ircServer, complete bool) {
	kept := srv.list.waiters[:0]
	for _, iq := range srv.list.waiters {
		if reply, ok := s.listPage(srv, iq, complete); ok {
			s.send(reply)
			continue
		}
		kept = append(kept, iq)
	}
	srv.list.waiters = kept
}
