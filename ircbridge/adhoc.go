package ircbridge

import (
	"errors"
	"sort"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// This file is the XEP-0050 ad-hoc command machinery: the command table,
// command lists, and multi-step sessions bound to the full JID that opened
// them (reference §5.11). The commands themselves are in adhoc_*.go.

// adhocLifetime is how long an unfinished command session is kept.
const adhocLifetime = time.Hour

// Command statuses and actions (XEP-0050 §4).
const (
	statusExecuting = "executing"
	statusCompleted = "completed"
	statusCanceled  = "canceled"

	actionExecute  = "execute"
	actionNext     = "next"
	actionComplete = "complete"
	actionCancel   = "cancel"
)

// commandDef is one ad-hoc command.
type commandDef struct {
	node, name string
	admin      bool
	// on says on which JIDs the command exists: KindGateway, KindServer or
	// KindChannel, in normal and in fixed mode.
	on func(k Kind, fixed bool) bool
	// step runs one step. It returns the answer (status executing with a
	// form, or completed with notes), or a stanza error.
	step func(s *Session, as *adhocSession, c *Command) (*Command, error)
}

func onGateway(k Kind, _ bool) bool       { return k == KindGateway }
func onServer(k Kind, fixed bool) bool    { return k == KindServer && !fixed }
func onChannel(k Kind, _ bool) bool       { return k == KindChannel }
func onGatewayNormal(k Kind, f bool) bool { return k == KindGateway && !f }
func onGatewayFixed(k Kind, f bool) bool  { return k == KindGateway && f }
func onServerOrFixedGateway(k Kind, f bool) bool {
	return k == KindServer && !f || k == KindGateway && f
}

// commands is the command table, in alphabetical node order per target.
func commands() []commandDef {
	return []commandDef{
		{node: "configure", name: "Configure a few settings", on: onGatewayNormal, step: (*Session).cmdGlobalConfigure},
		{node: "configure", name: "Configure a few settings for that IRC server", on: onServer, step: (*Session).cmdServerConfigure},
		{node: "configure", name: "Configure a few settings for that IRC channel", on: onChannel, step: (*Session).cmdChannelConfigure},
		{node: "disconnect-from-irc-server", name: "Disconnect from the selected IRC servers", on: onGateway, step: (*Session).cmdDisconnectFromServer},
		{node: "disconnect-user", name: "Disconnect selected users from the gateway", admin: true, on: onGateway, step: (*Session).cmdDisconnectUser},
		{node: "get-irc-connection-info", name: "Returns various information about your connection to this IRC server.", on: onServerOrFixedGateway, step: (*Session).cmdConnectionInfo},
		{node: "global-configure", name: "Configure a few settings", on: onGatewayFixed, step: (*Session).cmdGlobalConfigure},
		{node: "hello", name: "Receive a custom greeting", on: onGateway, step: (*Session).cmdHello},
		{node: "ping", name: "Do a ping", on: onGateway, step: (*Session).cmdPing},
		{node: "purge-archive", name: "Purge old lines from every archive", admin: true, on: onGateway, step: (*Session).cmdPurgeArchive},
		{node: "reload", name: "Reload biboumi’s configuration", admin: true, on: onGateway, step: (*Session).cmdReload},
		{node: "server-configure", name: "Configure a few settings for that IRC server", on: onGatewayFixed, step: (*Session).cmdServerConfigure},
	}
}

// findCommand returns the command named node on a target of kind k.
func findCommand(node string, k Kind, fixed bool) *commandDef {
	for _, c := range commands() {
		if c.node == node && c.on(k, fixed) {
			return &c
		}
	}
	return nil
}

// commandItems lists the commands of a target for requester, alphabetical.
func (g *Gateway) commandItems(target jid.JID, k Kind, requester jid.JID) []DiscoItem {
	cfg := g.cfg.Load()
	fixed := cfg.FixedServer != ""
	var items []DiscoItem
	for _, c := range commands() {
		if !c.on(k, fixed) || c.admin && !cfg.IsAdmin(requester) {
			continue
		}
		items = append(items, DiscoItem{JID: target, Node: c.node, Name: c.name})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Node < items[j].Node })
	return items
}

// adhocSession is one run of a multi-step command. It is owned by the
// session goroutine, and bound to the full JID that started it.
type adhocSession struct {
	id      string
	node    string
	owner   jid.JID // the full JID that started it
	target  Address
	step    int
	vals    map[string][]string // what earlier steps chose
	expires time.Time
}

func adhocKey(id string, from jid.JID) string { return id + "\x00" + from.String() }

var errBadSession = newError(stanza.Modify, stanza.BadRequest, "Unknown or expired command session")

// handleCommand runs a XEP-0050 request.
func (s *Session) handleCommand(iq IQ, addr Address, c *Command) IQ {
	if iq.Type != stanza.SetIQ {
		return iq.Fail(newError(stanza.Modify, stanza.BadRequest, ""))
	}
	fixed := s.cfg.FixedServer != ""
	def := findCommand(c.Node, addr.Kind, fixed)
	if def == nil {
		return iq.Fail(newError(stanza.Cancel, stanza.ItemNotFound, "Unknown command"))
	}
	if def.admin && !s.cfg.IsAdmin(iq.From) {
		return iq.Fail(newError(stanza.Cancel, stanza.Forbidden, "This command is for administrators only"))
	}
	s.expireAdhoc(time.Now())
	action := c.Action
	if action == "" {
		action = actionExecute
	}
	var as *adhocSession
	if c.SessionID == "" {
		if action != actionExecute {
			return iq.Fail(errBadSession)
		}
		if len(s.adhoc) >= s.cfg.Limits.AdhocSessions {
			return iq.Fail(newError(stanza.Wait, stanza.ResourceConstraint, "Too many open command sessions"))
		}
		as = &adhocSession{id: newID(), node: def.node, owner: iq.From, target: addr, vals: map[string][]string{}}
	} else {
		as = s.adhoc[adhocKey(c.SessionID, iq.From)]
		if as == nil || as.node != def.node || as.target != addr {
			return iq.Fail(errBadSession)
		}
		delete(s.adhoc, adhocKey(as.id, iq.From))
	}
	if action == actionCancel {
		return iq.Result(&Command{Node: def.node, SessionID: as.id, Status: statusCanceled})
	}
	if c.SessionID != "" && c.Form == nil && action != actionExecute {
		return iq.Fail(newError(stanza.Modify, stanza.BadRequest, "This step needs a submitted form"))
	}
	if c.Form != nil && c.Form.Type == "cancel" {
		return iq.Result(&Command{Node: def.node, SessionID: as.id, Status: statusCanceled})
	}
	reply, err := def.step(s, as, c)
	if err != nil {
		var se stanza.Error
		if !errors.As(err, &se) {
			se = newError(stanza.Modify, stanza.BadRequest, err.Error())
		}
		return iq.Fail(se)
	}
	reply.Node, reply.SessionID = def.node, as.id
	if reply.Status == statusExecuting {
		as.step++
		as.expires = time.Now().Add(adhocLifetime)
		s.adhoc[adhocKey(as.id, iq.From)] = as
	}
	return iq.Result(reply)
}

func (s *Session) expireAdhoc(now time.Time) {
	for k, as := range s.adhoc {
		if now.After(as.expires) {
			delete(s.adhoc, k)
		}
	}
}

// completed is a finished command with one note.
func completed(noteType, text string) *Command {
	return &Command{Status: statusCompleted, Notes: []Note{{Type: noteType, Text: text}}}
}

// executing asks for a form; last says whether this is the final step.
func executing(f *Form, last bool) *Command {
	actions := []string{actionNext}
	if last {
		actions = []string{actionComplete}
	}
	return &Command{Status: statusExecuting, Form: f, Actions: actions}
}

// formValue returns the first value of a submitted field, and whether the
// field was there.
func formValue(f *Form, v string) (string, bool) {
	fld := f.Field(v)
	if fld == nil {
		return "", false
	}
	if len(fld.Values) == 0 {
		return "", true
	}
	return fld.Values[0], true
}
