package ircbridge

import (
	"sync"
	"time"

	"biboumi/ircbridge/ircclient"
)

// A session has no goroutine of its own while it has nothing to do: what
// arrives for it (stanzas from the Gateway, IRC events from its
// connections, timer ticks, admin requests) goes into its mailbox, and a
// worker goroutine is started to drain the mailbox when it was empty; the
// worker exits once the mailbox is empty again. At most one worker runs at
// a time, so the session's state has one owner at any moment, as with a
// dedicated goroutine, but an idle user costs no goroutine stack (a user
// in a quiet channel is idle almost all the time). The mailbox keeps
// arrival order.

// ircBacklog is how many IRC events may wait in a mailbox. A connection
// with more to deliver waits (it stops reading its socket), which slows
// that one IRC server down rather than growing memory.
const ircBacklog = 64

// mailItem is one thing for the worker: an event, an IRC event, or one of
// the internal requests below.
type mailItem struct {
	ev      event
	irc     ircclient.Event
	control *evDisconnect
	kind    mailKind
	tick    uint32 // mailTick: the timerGen of the timer that fired
}

type mailKind uint8

const (
	mailEvent    mailKind = iota // ev, from the Gateway
	mailIRC                      // irc, from a connection
	mailControl                  // control, from an admin command
	mailTick                     // the timer of pending requests fired
	mailShutdown                 // the gateway is shutting down
	mailStop                     // the gateway's context ended: close everything now
)

// mailbox is the queue of a session. Its fields are guarded by mu; the
// worker owns the session's other fields.
type mailbox struct {
	mu     sync.Mutex
	items  []mailItem
	head   int // items[head:] are waiting
	events int // mailEvent items waiting
	ircs   int // mailIRC items waiting
	// ircSpace, when not nil, is closed when ircs drops below ircBacklog:
	// it wakes every connection waiting for room (each checks again).
	ircSpace chan struct{}
	running  bool // a worker is draining
	retired  bool // the session left the registry: nothing more is accepted
}

// put appends it and starts a worker if none is running. It reports false
// when the session is retired.
func (s *Session) put(it mailItem) bool {
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	return s.putLocked(it)
}

func (s *Session) putLocked(it mailItem) bool {
	mb := &s.mb
	if mb.retired {
		return false
	}
	mb.items = append(mb.items, it)
	switch it.kind {
	case mailEvent:
		mb.events++
	case mailIRC:
		mb.ircs++
	}
	if !mb.running {
		mb.running = true
		go s.work()
	}
	return true
}

// postEvent queues a stanza event unless the session's queue is full
// (Config.QueueSize) or the session is retired. The caller holds the
// Gateway's lock.
func (s *Session) postEvent(ev event) bool {
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	if s.mb.events >= s.g.cfg.Load().QueueSize {
		return false
	}
	return s.putLocked(mailItem{kind: mailEvent, ev: ev})
}

// ircHandler is the Handler of the session's IRC connections: it queues
// ev, waiting while ircBacklog events are already waiting. It gives up
// when the session's context ends.
func (s *Session) ircHandler(ev ircclient.Event) {
	s.mb.mu.Lock()
	for s.mb.ircs >= ircBacklog && !s.mb.retired {
		if s.mb.ircSpace == nil {
			s.mb.ircSpace = make(chan struct{})
		}
		space := s.mb.ircSpace
		s.mb.mu.Unlock()
		select {
		case <-space:
		case <-s.ctx.Done():
			return
		}
		s.mb.mu.Lock()
	}
	s.putLocked(mailItem{kind: mailIRC, irc: ev})
	s.mb.mu.Unlock()
}

// take returns the next item; ok is false when the mailbox is empty.
func (s *Session) take() (it mailItem, ok bool) {
	mb := &s.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.head == len(mb.items) {
		return it, false
	}
	it = mb.items[mb.head]
	mb.items[mb.head] = mailItem{}
	mb.head++
	if mb.head == len(mb.items) {
		// Empty: release the array, so an idle session holds none.
		mb.items, mb.head = nil, 0
	}
	switch it.kind {
	case mailEvent:
		mb.events--
	case mailIRC:
		mb.ircs--
		if mb.ircSpace != nil {
			// A broadcast, not one token: with two connections waiting,
			// a single wake-up could be used up by the first while the
			// second waited forever.
			close(mb.ircSpace)
			mb.ircSpace = nil
		}
	}
	return it, true
}

// work is the worker goroutine: it handles items until the mailbox is
// empty, then arms the timer if requests are pending, or retires the
// session if it has nothing left at all. The Gateway counts a session in
// its WaitGroup from its creation to the return of its last worker.
func (s *Session) work() {
	for {
		it, ok := s.take()
		if !ok {
			switch s.idleOrExit() {
			case workerRetired:
				// Only the worker that retired the session ends its
				// count: a worker that merely released the mailbox may
				// see it retired later by the next one.
				s.g.wg.Done()
				return
			case workerExit:
				return
			}
			continue
		}
		if s.ctx.Err() != nil && it.kind != mailStop {
			continue // stopping: what is left is dropped
		}
		s.cfg = s.g.cfg.Load()
		switch it.kind {
		case mailEvent:
			s.safely(func() { s.handleEvent(it.ev) })
		case mailIRC:
			s.safely(func() { s.handleIRC(it.irc) })
		case mailControl:
			s.safely(func() { s.disconnect(it.control.servers, it.control.msg, it.control.drop) })
		case mailTick:
			s.onTick(it.tick)
		case mailShutdown:
			s.safely(s.handleShutdown)
		case mailStop:
			s.stop()
		}
	}
}

// workerNext is what a worker does once it found the mailbox empty.
type workerNext uint8

const (
	workerContinue workerNext = iota // an item arrived meanwhile
	workerExit                       // the session waits for input
	workerRetired                    // this worker retired the session
)

// idleOrExit runs when the mailbox is empty and says what the worker does
// next.
func (s *Session) idleOrExit() workerNext {
	if s.ctx.Err() == nil {
		// At shutdown, open commands and requests do not hold the
		// session: only its connections, until they close.
		idle := s.stopping || s.pending.empty() && len(s.adhoc) == 0 && !s.reconnectingAny()
		if !idle {
			s.armTimer()
		} else {
			s.stopTimer()
		}
		if !idle || len(s.servers) > 0 || len(s.retiring) > 0 {
			if s.release() {
				return workerExit
			}
			return workerContinue
		}
	}
	if len(s.servers) > 0 || len(s.retiring) > 0 {
		// The gateway's context ended before mailStop reached this
		// mailbox: close the connections now, as mailStop would, so that
		// Shutdown does not return before their goroutines end.
		s.stop()
	}
	// Nothing left: leave the registry, unless something arrived.
	s.stopTimer()
	if s.g.retire(s) {
		return workerRetired
	}
	return workerContinue
}

// retireLocked marks the session retired if its mailbox is empty; the
// caller holds the Gateway's lock and removes it from the registry.
func (s *Session) retireLocked() bool {
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	if s.mb.head < len(s.mb.items) {
		return false
	}
	s.mb.retired, s.mb.running = true, false
	return true
}

// release ends this worker unless an item arrived: it reports whether the
// worker must return.
func (s *Session) release() bool {
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	if s.mb.head < len(s.mb.items) {
		return false
	}
	s.mb.running = false
	return true
}

// onTick handles a tick of the timer numbered gen: pending requests
// expire, ad-hoc sessions time out, reconnections start.
func (s *Session) onTick(gen uint32) {
	if gen == s.timerGen {
		s.timer = nil // single-shot: idleOrExit arms it again if needed
	} // else a stopped timer's late tick: the armed one stays
	s.safely(func() {
		now := time.Now()
		s.expirePending(now)
		s.expireAdhoc(now)
		s.reconnectDue(now)
	})
}

// armTimer makes sure a tick comes while requests are pending (answers
// expire, ad-hoc sessions time out, reconnections are due).
func (s *Session) armTimer() {
	if s.timer != nil {
		return
	}
	s.timerGen++
	gen := s.timerGen
	s.timer = time.AfterFunc(min(time.Second, s.cfg.ReconnectMin), func() {
		s.put(mailItem{kind: mailTick, tick: gen})
	})
}

// stopTimer is called by the worker; a tick already queued is harmless.
func (s *Session) stopTimer() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// stop closes every connection at once (the gateway's context ended) and
// waits for their goroutines.
func (s *Session) stop() {
	s.stopTimer()
	s.closeAll()
	clear(s.servers)
	clear(s.retiring)
}
