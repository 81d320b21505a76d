package ircbridge

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// This file holds the ad-hoc commands that are not configuration forms
// (reference §5.11).

func (s *Session) cmdPing(as *adhocSession, c *Command) (*Command, error) {
	return completed("info", "Pong"), nil
}

func (s *Session) cmdHello(as *adhocSession, c *Command) (*Command, error) {
	if as.step == 0 {
		return executing(&Form{Type: "form", Title: "Configure your name.", Instructions: "Please provide your name.",
			Fields: []FormField{{Var: "name", Type: "text-single", Label: "Your name", Required: true}}}, true), nil
	}
	name, _ := formValue(c.Form, "name")
	if strings.TrimSpace(name) == "" {
		return nil, newError(stanza.Modify, stanza.BadRequest, "name: a value is required")
	}
	return completed("info", "Hello "+name+"!"), nil
}

// cmdPurgeArchive is the admin command that deletes the archived lines
// older than a given age, for every user, at once (the same purge as the
// periodic one of [archive] retention).
func (s *Session) cmdPurgeArchive(as *adhocSession, c *Command) (*Command, error) {
	if s.g.store == nil {
		return nil, errNoStore
	}
	if as.step == 0 {
		def := "365d"
		if s.cfg.Retention > 0 {
			def = formatDays(s.cfg.Retention)
		}
		return executing(&Form{Type: "form", Title: "Purge the archives",
			Instructions: "Lines older than this are deleted from every user's archive.",
			Fields:       []FormField{{Var: "older_than", Type: "text-single", Label: "Older than (e.g. 365d, 12h)", Required: true, Values: []string{def}}},
		}, true), nil
	}
	v, _ := formValue(c.Form, "older_than")
	keep, err := parseAge(v)
	if err != nil {
		return nil, newError(stanza.Modify, stanza.NotAcceptable, "older_than: "+err.Error())
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Minute)
	defer cancel()
	n, err := s.g.PurgeArchive(ctx, keep)
	if err != nil {
		s.log.Error("purging the archive", "err", err)
		return nil, newError(stanza.Wait, stanza.InternalServerError, "The archive could not be purged")
	}
	s.log.Info("archive purged by an admin", "admin", as.owner.String(), "lines", n, "older_than", v)
	return completed("info", fmt.Sprintf("%d lines older than %s were deleted.", n, v)), nil
}

// parseAge reads a positive duration: Go's syntax, or a number of days
// ("365d").
// maxAgeDays is the largest age in days a time.Duration holds (292 years).
const maxAgeDays = int(math.MaxInt64 / int64(24*time.Hour))

func parseAge(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		if n > maxAgeDays {
			// time.Duration would wrap around to a small age.
			return 0, fmt.Errorf("%q is more than %d days", v, maxAgeDays)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration such as 365d or 12h", v)
	}
	return d, nil
}

func formatDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

func (s *Session) cmdReload(as *adhocSession, c *Command) (*Command, error) {
	select {
	case s.g.reloads <- struct{}{}:
	default: // a reload is already pending
	}
	return completed("info", "Configuration reloaded."), nil
}

// cmdConnectionInfo describes the user's connection to a server.
func (s *Session) cmdConnectionInfo(as *adhocSession, c *Command) (*Command, error) {
	server := as.target.Server
	srv := s.servers[server]
	if srv == nil || !srv.registered {
		return completed("info", "You are not connected to the IRC server "+server), nil
	}
	var b strings.Builder
	tls, since := srv.conn.Encrypted()
	port := ""
	if a := srv.conn.RemoteAddr(); a != nil {
		if i := strings.LastIndexByte(a.String(), ':'); i >= 0 {
			port = a.String()[i+1:]
		}
	}
	fmt.Fprintf(&b, "Connected to IRC server %s on port %s", server, port)
	if tls {
		b.WriteString(" (using TLS)")
	}
	fmt.Fprintf(&b, " since %s (%d seconds ago).", since.UTC().Format("2006-01-02 15:04:05"), int(time.Since(since).Seconds()))
	if s.effectiveServerOptions(server).SASLMechanism == "EXTERNAL" {
		if cert, err := s.clientCert(); err == nil {
			fmt.Fprintf(&b, "\nClient certificate (SASL EXTERNAL), SHA-256 fingerprint: %s", certFingerprint(cert))
		}
	}
	rooms := make([]*room, 0, len(srv.rooms))
	for _, r := range srv.rooms {
		rooms = append(rooms, r)
	}
	sort.Slice(rooms, func(i, j int) bool { return rooms[i].name < rooms[j].name })
	for _, r := range rooms {
		res := r.resourceList()
		fmt.Fprintf(&b, "\n%s from %d resource%s:", r.name, len(res), pluralS(len(res)))
		for _, j := range res {
			b.WriteString(" " + j.Resourcepart())
		}
	}
	return completed("info", b.String()), nil
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// cmdDisconnectUser is the admin command that quits every IRC connection
// of the chosen users.
func (s *Session) cmdDisconnectUser(as *adhocSession, c *Command) (*Command, error) {
	if as.step == 0 {
		users := s.g.users()
		opts := make([]FormOption, len(users))
		for i, u := range users {
			opts[i] = FormOption{Value: u.String()}
		}
		return executing(&Form{Type: "form", Title: "Disconnect a user from the gateway",
			Instructions: "Choose a user JID and a quit message",
			Fields: []FormField{
				{Var: "jids", Type: "list-multi", Label: "The JIDs to disconnect", Required: true, Options: opts},
				{Var: "quit-message", Type: "text-single", Label: "Quit message", Values: []string{"Disconnected by admin"}},
			}}, true), nil
	}
	msg, _ := formValue(c.Form, "quit-message")
	if msg == "" {
		msg = "Disconnected by admin"
	}
	n := 0
	if f := c.Form.Field("jids"); f != nil {
		for _, v := range f.Values {
			j, err := jid.Parse(v)
			if err != nil {
				return nil, newError(stanza.Modify, stanza.BadRequest, "jids: "+v+" is not a JID")
			}
			if j.Bare().Equal(s.owner) {
				// Our own session: this goroutine is the one that would
				// receive the request.
				if len(s.servers) > 0 {
					s.disconnect(nil, msg, false)
					n++
				}
				continue
			}
			if s.g.disconnect(j.Bare(), nil, msg, false) {
				n++
			}
		}
	}
	switch n {
	case 0:
		return completed("info", "No user were disconnected."), nil
	case 1:
		return completed("info", "1 user has been disconnected."), nil
	}
	return completed("info", strconv.Itoa(n)+" users have been disconnected."), nil
}

// cmdDisconnectFromServer closes some IRC connections of a user: admins
// choose the user, others act on themselves.
func (s *Session) cmdDisconnectFromServer(as *adhocSession, c *Command) (*Command, error) {
	isAdmin := s.cfg.IsAdmin(as.owner)
	if as.step == 0 && isAdmin {
		users := s.g.users()
		opts := make([]FormOption, len(users))
		for i, u := range users {
			opts[i] = FormOption{Value: u.String()}
		}
		return executing(&Form{Type: "form", Title: "Disconnect a user from selected IRC servers",
			Instructions: "Choose a user JID",
			Fields:       []FormField{{Var: "jid", Type: "list-single", Label: "The JID to disconnect", Required: true, Options: opts}},
		}, false), nil
	}
	if as.step == 0 || as.step == 1 && isAdmin {
		target := s.owner
		if isAdmin {
			v, _ := formValue(c.Form, "jid")
			j, err := jid.Parse(v)
			if err != nil {
				return nil, newError(stanza.Modify, stanza.BadRequest, "jid: a valid JID is required")
			}
			target = j.Bare()
		}
		servers := s.g.serversOf(target)
		if len(servers) == 0 {
			return completed("info", "User "+target.String()+" is not connected to any IRC server."), nil
		}
		as.vals["jid"] = []string{target.String()}
		opts := make([]FormOption, len(servers))
		for i, srv := range servers {
			opts[i] = FormOption{Value: srv}
		}
		return executing(&Form{Type: "form", Title: "Disconnect a user from selected IRC servers",
			Instructions: "Choose the IRC servers to disconnect from",
			Fields: []FormField{
				{Var: "irc-servers", Type: "list-multi", Label: "IRC servers to disconnect from", Required: true, Options: opts},
				{Var: "quit-message", Type: "text-single", Label: "Quit message", Values: []string{"Killed by admin"}},
			}}, true), nil
	}
	target, err := jid.Parse(as.vals["jid"][0])
	if err != nil {
		return nil, errBadSession
	}
	if !isAdmin && !target.Equal(s.owner) {
		return nil, newError(stanza.Auth, stanza.Forbidden, "")
	}
	msg, _ := formValue(c.Form, "quit-message")
	if msg == "" {
		msg = "Killed by admin"
	}
	var servers []string
	if f := c.Form.Field("irc-servers"); f != nil {
		servers = f.Values
	}
	if len(servers) == 0 {
		return nil, newError(stanza.Modify, stanza.BadRequest, "irc-servers: choose at least one server")
	}
	if target.Equal(s.owner) {
		s.disconnect(servers, msg, true)
	} else {
		s.g.disconnect(target, servers, msg, true)
	}
	return completed("info", fmt.Sprintf("%s was disconnected from %d IRC server%s.", target, len(servers), pluralS(len(servers)))), nil
}

// disconnect ends the user's connections to servers (nil: all). With drop,
// the sockets are closed without a QUIT and the user's rooms are told at
// once; otherwise QUIT msg is sent and the servers' answers do the rest.
func (s *Session) disconnect(servers []string, msg string, drop bool) {
	for name, srv := range s.servers {
		if servers != nil && !contains(servers, name) {
			continue
		}
		for _, r := range srv.rooms {
			s.forgetKept(r) // the user leaves these channels for good
		}
		if !drop {
			s.quit(srv, msg)
			continue
		}
		for _, r := range srv.rooms {
			for _, res := range r.resourceList() {
				s.sendSelfUnavailable(r, res, Presence{Status: msg, MUCUser: &MUCUser{Status: []int{StatusShutdown}}})
			}
			r.resources = jidSet{}
		}
		srv.rooms = map[string]*room{}
		srv.resources = jidSet{}
		srv.conn.Close()
		delete(s.servers, name)
		if !srv.waiting { // else its Closed event was handled already
			s.retiring[srv.conn] = srv
		}
	}
	s.publishServers()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
