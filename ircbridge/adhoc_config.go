package ircbridge

import (
	"errors"

	"mellium.im/xmpp/stanza"
)

// This file runs the three configure commands and the muc#owner room
// configuration, which share the forms of forms.go (reference §5.11).

var errNoStore = newError(stanza.Cancel, stanza.ServiceUnavailable, "This gateway has no database to keep settings in")

func (s *Session) formSettings() FormSettings {
	return FormSettings{
		FixedServer:           s.cfg.FixedServer != "",
		RealnameCustomization: s.cfg.RealnameCustomization,
		PersistentByDefault:   s.cfg.PersistentByDefault,
	}
}

// formFailure turns a parse error into the iq error naming the field.
func formFailure(err error) error {
	var fe *FormError
	if errors.As(err, &fe) {
		return newError(stanza.Modify, stanza.NotAcceptable, fe.Error())
	}
	return newError(stanza.Modify, stanza.BadRequest, err.Error())
}

func (s *Session) storeFailure(what string, err error) error {
	s.log.Error("storing settings", "what", what, "err", err)
	return newError(stanza.Wait, stanza.InternalServerError, "The settings could not be saved; nothing was changed")
}

func (s *Session) cmdGlobalConfigure(as *adhocSession, c *Command) (*Command, error) {
	st := s.g.store
	if st == nil {
		return nil, errNoStore
	}
	cur := s.globalOptions()
	if as.step == 0 {
		return executing(globalForm(cur, s.formSettings()), true), nil
	}
	o, err := parseGlobalForm(c.Form, cur, s.formSettings())
	if err != nil {
		return nil, formFailure(err)
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	if err := st.StoreGlobalOptions(ctx, o); err != nil {
		return nil, s.storeFailure("global", err)
	}
	s.global = &o
	return completed("info", "Configuration successfully applied."), nil
}

func (s *Session) cmdServerConfigure(as *adhocSession, c *Command) (*Command, error) {
	st := s.g.store
	if st == nil {
		return nil, errNoStore
	}
	server := as.target.Server
	cur := s.serverOptions(server)
	if as.step == 0 {
		return executing(serverForm(cur, s.formSettings()), true), nil
	}
	o, err := parseServerForm(c.Form, cur, s.formSettings())
	if err != nil {
		return nil, formFailure(err)
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	if err := st.StoreServerOptions(ctx, o); err != nil {
		return nil, s.storeFailure("server", err)
	}
	if srv := s.servers[server]; srv != nil {
		srv.applyThrottle(o.ThrottleLimit) // the rest applies at the next connection
	}
	return completed("info", "Configuration successfully applied."), nil
}

func (s *Session) cmdChannelConfigure(as *adhocSession, c *Command) (*Command, error) {
	f, err := s.channelConfig(as.target, c.Form, as.step == 0)
	if err != nil {
		return nil, err
	}
	if f != nil {
		return executing(f, true), nil
	}
	return completed("info", "Configuration successfully applied."), nil
}

// channelConfig returns the channel form (when ask), or stores a submitted
// one and applies it to the joined room.
func (s *Session) channelConfig(addr Address, submitted *Form, ask bool) (*Form, error) {
	st := s.g.store
	if st == nil {
		return nil, errNoStore
	}
	cur := s.channelOptions(addr.Server, addr.Channel)
	srvOpts := s.serverOptions(addr.Server)
	if ask {
		return channelForm(cur, srvOpts), nil
	}
	// An encoding shown as inherited from the server stays inherited.
	o, err := parseChannelFormWithServer(submitted, cur, srvOpts)
	if err != nil {
		return nil, formFailure(err)
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	if err := st.StoreChannelOptions(ctx, o); err != nil {
		return nil, s.storeFailure("channel", err)
	}
	if srv := s.servers[addr.Server]; srv != nil {
		if r := srv.room(addr.Channel); r != nil {
			r.opts = o
			s.applyCharset(srv, r)
		}
	}
	return nil, nil
}

// mucOwner serves the channel form through XEP-0045 muc#owner.
func (s *Session) mucOwner(iq IQ, addr Address, q *MUCQuery) IQ {
	if addr.Kind != KindChannel {
		return iq.Fail(newError(stanza.Cancel, stanza.FeatureNotImplemented, ""))
	}
	if iq.Type == stanza.GetIQ {
		f, err := s.channelConfig(addr, nil, true)
		if err != nil {
			return iq.Fail(err.(stanza.Error))
		}
		return iq.Result(&MUCQuery{Form: f})
	}
	if q.Form == nil {
		return iq.Fail(newError(stanza.Cancel, stanza.NotAllowed, "IRC channels cannot be destroyed"))
	}
	if q.Form.Type == "cancel" {
		return iq.Result(nil)
	}
	if _, err := s.channelConfig(addr, q.Form, false); err != nil {
		return iq.Fail(err.(stanza.Error))
	}
	return iq.Result(nil)
}
