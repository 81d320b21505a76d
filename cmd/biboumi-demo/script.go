package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"biboumi/internal/servers"

	"github.com/ergochat/irc-go/ircmsg"
)

const nsMUC = "http://jabber.org/protocol/muc"

// Transcript lines. What a side sends is "[xmpp alice → target] text" (or
// "[irc ircbob → target] raw line"), what it receives "[… ←] …"; raw XML
// follows on an indented line.

func (d *demo) xmppSent(target, summary, raw string) {
	d.out.Printf("[xmpp alice → %s] %s", target, summary)
	d.out.Printf("      %s", raw)
}

func (d *demo) xmppGot(summary string, e *servers.Element) {
	d.out.Printf("[xmpp alice ←] %s", summary)
	d.out.Printf("      %s", e)
}

func (d *demo) ircSent(target, line string) {
	d.out.Printf("[irc %s → %s] %s", d.bobNick, target, line)
}

func (d *demo) ircGot(m ircmsg.Message) {
	d.out.Printf("[irc %s ←] %s", d.bobNick, ircLine(m))
}

// aliceExpects waits for alice to receive a stanza.
func (d *demo) aliceExpects(what string, match func(*servers.Element) bool) (*servers.Element, error) {
	e, err := d.alice.Expect(match, stepTimeout)
	if err != nil {
		return nil, fmt.Errorf("waiting for alice (XMPP) to receive %s: %w", what, err)
	}
	return e, nil
}

// bobExpects waits for ircbob to receive a line.
func (d *demo) bobExpects(what string, match func(ircmsg.Message) bool) (ircmsg.Message, error) {
	m, err := d.bob.Expect(match, stepTimeout)
	if err != nil {
		return m, fmt.Errorf("waiting for %s (IRC) to receive %s: %w", d.bobNick, what, err)
	}
	return m, nil
}

func hasStatus(e *servers.Element, code string) bool {
	for _, s := range e.ChildNS(nsMUC+"#user", "x").ChildrenNamed("status") {
		if s.Attr("code") == code {
			return true
		}
	}
	return false
}

func all(ms ...func(*servers.Element) bool) func(*servers.Element) bool {
	return func(e *servers.Element) bool {
		for _, m := range ms {
			if !m(e) {
				return false
			}
		}
		return true
	}
}

func bodyIs(body string) func(*servers.Element) bool {
	return func(e *servers.Element) bool { return e.ChildText("body") == body }
}

func privmsg(target, text, fromNick string) func(ircmsg.Message) bool {
	return func(m ircmsg.Message) bool {
		return servers.IsCommand("PRIVMSG", target, text)(m) && m.Nick() == fromNick
	}
}

// script plays the conversation, printing it.
func (d *demo) script() error {
	start := time.Now()
	room := roomJID(channel)
	aliceInRoom := room + "/" + aliceNick
	d.out.Printf("")
	d.out.Printf("== The scripted conversation ==")
	d.out.Printf("alice is %s on XMPP; %s is a plain IRC client on inspircd.", d.alice.JID(), bobNick)
	steps := []struct {
		title string
		f     func() error
	}{
		{bobNick + " connects to inspircd and joins " + channel, func() error {
			bob, err := servers.DialIRC(d.inspircd.Addr, bobNick)
			if err != nil {
				return err
			}
			bob.QuitMessage = "the demo is over"
			d.setClient(nil, bob)
			d.out.Printf("[irc %s] connected to %s and registered (NICK %s, USER …)", bobNick, d.inspircd.Addr, bobNick)
			d.ircSent("server", "JOIN "+channel)
			if err := bob.Join(channel, stepTimeout); err != nil {
				return err
			}
			d.out.Printf("[irc %s ←] (366: end of the NAMES list of %s, joined)", bobNick, channel)
			return nil
		}},
		{"alice joins " + room + " as " + aliceNick, func() error {
			raw := fmt.Sprintf("<presence to='%s'><x xmlns='%s'/></presence>", servers.Escape(aliceInRoom), nsMUC)
			d.xmppSent(channel, "join as "+aliceNick, raw)
			if err := d.alice.SendRaw(raw); err != nil {
				return err
			}
			// The occupants' presences come first, then alice's own
			// (status 110).
			self, err := d.aliceExpects("her self-presence in the room (status 110)", func(e *servers.Element) bool {
				if e.Name() != "presence" || !strings.HasPrefix(e.Attr("from"), room+"/") {
					return false
				}
				if e.Attr("type") == "error" || hasStatus(e, "110") {
					return true
				}
				item := e.Find("x", "item")
				d.xmppGot(fmt.Sprintf("occupant %s (role %s)", strings.TrimPrefix(e.Attr("from"), room+"/"), item.Attr("role")), e)
				return false
			})
			if err != nil {
				return err
			}
			if self.Attr("type") == "error" {
				return fmt.Errorf("the join failed: %s", self)
			}
			d.xmppGot("self-presence: alice is in the room", self)
			m, err := d.bobExpects("alice's JOIN", func(m ircmsg.Message) bool {
				return servers.IsCommand("JOIN", channel)(m) && m.Nick() == aliceNick
			})
			if err != nil {
				return err
			}
			d.ircGot(m)
			return nil
		}},
		{"alice says hello in the room (XMPP → IRC)", func() error {
			text := "hello ircbob, this is alice on XMPP"
			raw := servers.MessageXML(room, "groupchat", "demo-1", text)
			d.xmppSent(channel, text, raw)
			if err := d.alice.SendRaw(raw); err != nil {
				return err
			}
			m, err := d.bobExpects("alice's message in "+channel, privmsg(channel, text, aliceNick))
			if err != nil {
				return err
			}
			d.ircGot(m)
			e, err := d.aliceExpects("the reflection of her message", all(servers.IsStanza("message", "type", "groupchat", "id", "demo-1", "from", aliceInRoom), bodyIs(text)))
			if err != nil {
				return err
			}
			d.xmppGot("her message, reflected by the room", e)
			return nil
		}},
		{"ircbob answers in the room (IRC → XMPP)", func() error {
			text := "hi alice, ircbob here on IRC"
			line := "PRIVMSG " + channel + " :" + text
			d.ircSent(channel, line)
			if err := d.bob.Send(line); err != nil {
				return err
			}
			e, err := d.aliceExpects(bobNick+"'s message in the room", all(servers.IsStanza("message", "type", "groupchat", "from", room+"/"+bobNick), bodyIs(text)))
			if err != nil {
				return err
			}
			d.xmppGot(bobNick+" in "+channel+": "+text, e)
			return nil
		}},
		{"alice sends ircbob a private message (XMPP → IRC)", func() error {
			text := "psst, a private message from XMPP"
			raw := servers.MessageXML(userJID(bobNick), "chat", "demo-2", text)
			d.xmppSent(bobNick, text, raw)
			if err := d.alice.SendRaw(raw); err != nil {
				return err
			}
			m, err := d.bobExpects("alice's private message", privmsg(bobNick, text, aliceNick))
			if err != nil {
				return err
			}
			d.ircGot(m)
			return nil
		}},
		{"ircbob answers privately (IRC → XMPP)", func() error {
			text := "got it, a private answer from IRC"
			line := "PRIVMSG " + aliceNick + " :" + text
			d.ircSent(aliceNick, line)
			if err := d.bob.Send(line); err != nil {
				return err
			}
			from := userJID(bobNick)
			e, err := d.aliceExpects(bobNick+"'s private message", all(servers.IsStanza("message", "type", "chat"), bodyIs(text), func(e *servers.Element) bool {
				f := e.Attr("from")
				return f == from || strings.HasPrefix(f, from+"/")
			}))
			if err != nil {
				return err
			}
			d.xmppGot("private message from "+e.Attr("from")+": "+text, e)
			return nil
		}},
		{"ircbob changes nick to " + bobNewNick, func() error {
			line := "NICK " + bobNewNick
			d.ircSent("server", line)
			if err := d.bob.Send(line); err != nil {
				return err
			}
			m, err := d.bobExpects("the server's confirmation of the NICK", func(m ircmsg.Message) bool {
				return m.Command == "NICK" && m.Nick() == bobNick
			})
			if err != nil {
				return err
			}
			d.ircGot(m)
			d.bobNick = bobNewNick
			e, err := d.aliceExpects(bobNick+"'s nick change (unavailable presence with status 303)", all(servers.IsStanza("presence", "type", "unavailable", "from", room+"/"+bobNick), func(e *servers.Element) bool {
				return hasStatus(e, "303")
			}))
			if err != nil {
				return err
			}
			d.xmppGot(fmt.Sprintf("%s is now known as %s (status 303)", bobNick, e.Find("x", "item").Attr("nick")), e)
			e, err = d.aliceExpects(bobNewNick+"'s presence", all(servers.IsStanza("presence", "type", "", "from", room+"/"+bobNewNick)))
			if err != nil {
				return err
			}
			d.xmppGot(bobNewNick+" is in the room", e)
			return nil
		}},
	}
	var took []string
	for i, s := range steps {
		d.out.Printf("")
		d.out.Printf("-- %d. %s", i+1, s.title)
		t := time.Now()
		if err := s.f(); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.title, err)
		}
		took = append(took, fmt.Sprintf("%d: %s", i+1, round(time.Since(t))))
	}
	d.out.Printf("")
	d.out.Printf("[done] the conversation took %s (steps %s)", round(time.Since(start)), strings.Join(took, ", "))
	d.out.Printf("[done] setup: %s", strings.Join(d.timings, ", "))
	return nil
}

// startLive prints, until the clients are closed, what alice and ircbob
// receive: the real clients' messages, and the gateway's shutdown.
func (d *demo) startLive() {
	// What the script did not wait for (the room's subject, modes, …)
	// is not news.
	for {
		if _, err := d.alice.Expect(func(*servers.Element) bool { return true }, 50*time.Millisecond); err != nil {
			break
		}
	}
	for {
		if _, err := d.bob.Expect(func(ircmsg.Message) bool { return true }, time.Millisecond); err != nil {
			break
		}
	}
	d.live = true
	d.aliceLeft, d.aliceQuit = make(chan struct{}), make(chan struct{})
	var leftOnce, quitOnce sync.Once
	aliceInRoom := roomJID(channel) + "/" + aliceNick
	d.drains.Add(2)
	go func() {
		defer d.drains.Done()
		for {
			e, err := d.alice.Expect(func(*servers.Element) bool { return true }, time.Hour)
			if errors.Is(err, servers.ErrTimeout) {
				continue
			}
			if err != nil {
				return
			}
			switch {
			case e.Name() == "message" && e.Child("body") != nil:
				d.out.Printf("[xmpp alice ←] %s message from %s: %s", orNormal(e.Attr("type")), e.Attr("from"), e.ChildText("body"))
			case e.Name() == "message" && e.Child("subject") != nil:
				d.out.Printf("[xmpp alice ←] subject of %s: %s", e.Attr("from"), e.ChildText("subject"))
			case e.Name() == "presence":
				typ := e.Attr("type")
				if typ == "" {
					typ = "available"
				}
				d.out.Printf("[xmpp alice ←] presence %s from %s%s", typ, e.Attr("from"), statusText(e))
				if typ == "unavailable" && e.Attr("from") == aliceInRoom {
					leftOnce.Do(func() { close(d.aliceLeft) })
				}
			}
		}
	}()
	go func() {
		defer d.drains.Done()
		for {
			m, err := d.bob.Expect(func(ircmsg.Message) bool { return true }, time.Hour)
			if errors.Is(err, servers.ErrTimeout) {
				continue
			}
			if err != nil {
				return
			}
			switch m.Command {
			case "PRIVMSG", "NOTICE", "JOIN", "PART", "QUIT", "NICK", "KICK", "TOPIC", "ERROR":
				d.out.Printf("[irc %s ←] %s", d.bobNick, ircLine(m))
			}
			if m.Command == "QUIT" && m.Nick() == aliceNick {
				quitOnce.Do(func() { close(d.aliceQuit) })
			}
		}
	}()
}

func orNormal(typ string) string {
	if typ == "" {
		return "normal"
	}
	return typ
}

func statusText(e *servers.Element) string {
	if s := e.ChildText("status"); s != "" {
		return " (" + s + ")"
	}
	return ""
}
