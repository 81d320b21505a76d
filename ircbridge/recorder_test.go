package ircbridge

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder is a Sender that records every stanza for the test to expect.
type recorder struct {
	ch chan any
}

func newRecorder() *recorder { return &recorder{ch: make(chan any, 1000)} }

func (r *recorder) SendMessage(_ context.Context, m Message) error   { r.ch <- m; return nil }
func (r *recorder) SendPresence(_ context.Context, p Presence) error { r.ch <- p; return nil }
func (r *recorder) SendIQ(_ context.Context, iq IQ) error            { r.ch <- iq; return nil }

var _ Sender = (*recorder)(nil)

func describe(v any) string {
	switch v := v.(type) {
	case Message:
		s := fmt.Sprintf("message type=%q from=%s to=%s id=%q body=%q", v.Type, v.From, v.To, v.ID, v.Body)
		if v.Subject != nil {
			s += fmt.Sprintf(" subject=%q", *v.Subject)
		}
		if v.Error != nil {
			s += fmt.Sprintf(" error=%s/%s %q", v.Error.Type, v.Error.Condition, ErrorText(*v.Error))
		}
		return s
	case Presence:
		s := fmt.Sprintf("presence type=%q from=%s to=%s status=%q", v.Type, v.From, v.To, v.Status)
		if v.MUCUser != nil {
			s += fmt.Sprintf(" codes=%v", v.MUCUser.Status)
			for _, it := range v.MUCUser.Items {
				s += fmt.Sprintf(" item(aff=%s role=%s nick=%s jid=%s)", it.Affiliation, it.Role, it.Nick, it.JID)
			}
		}
		if v.Error != nil {
			s += fmt.Sprintf(" error=%s/%s %q", v.Error.Type, v.Error.Condition, ErrorText(*v.Error))
		}
		return s
	case IQ:
		s := fmt.Sprintf("iq type=%q from=%s to=%s id=%q payload=%T", v.Type, v.From, v.To, v.ID, v.Payload)
		if v.Error != nil {
			s += fmt.Sprintf(" error=%s/%s", v.Error.Type, v.Error.Condition)
		}
		return s
	}
	return fmt.Sprintf("%T", v)
}

// expect returns the next stanza whose description contains every one of
// the substrings, skipping others; it fails after a deadline.
func (r *recorder) expect(t *testing.T, subs ...string) any {
	t.Helper()
	var seen []string
	deadline := time.After(5 * time.Second)
	for {
		select {
		case v := <-r.ch:
			d := describe(v)
			ok := true
			for _, s := range subs {
				if !strings.Contains(d, s) {
					ok = false
					break
				}
			}
			if ok {
				return v
			}
			seen = append(seen, d)
		case <-deadline:
			t.Fatalf("no stanza with %q; seen:\n%s", subs, strings.Join(seen, "\n"))
			return nil
		}
	}
}

// expectNone fails if a stanza matching subs arrives within d.
func (r *recorder) expectNone(t *testing.T, d time.Duration, subs ...string) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case v := <-r.ch:
			desc := describe(v)
			ok := true
			for _, s := range subs {
				if !strings.Contains(desc, s) {
					ok = false
				}
			}
			if ok {
				t.Fatalf("unexpected stanza: %s", desc)
			}
		case <-deadline:
			return
		}
	}
}
