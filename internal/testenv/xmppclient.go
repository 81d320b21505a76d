package testenv

import (
	"fmt"
	"testing"

	"biboumi/internal/servers"
)

// XMPPClient is a c2s connection (no TLS, SASL PLAIN, resource bind,
// initial presence sent): a person on XMPP in tests. A goroutine decodes
// the top-level stanzas; Expect consumes them. Its methods without a
// testing.TB (JID, Recent) are those of the servers.XMPPClient it wraps.
type XMPPClient struct {
	*servers.XMPPClient
}

// DialXMPP logs user@srv.Domain in on srv's c2s port with SASL PLAIN over
// plain TCP, binds resource, sends initial presence and waits for the
// server to reflect it (so the resource is available when DialXMPP
// returns). The client is closed by t.Cleanup.
func DialXMPP(t testing.TB, srv *XMPPServer, user, password, resource string) *XMPPClient {
	t.Helper()
	c, err := servers.DialXMPP(srv.C2SAddr, srv.Domain, user, password, resource)
	if err != nil {
		t.Fatalf("testenv: %s: %v", srv.Kind, err)
	}
	w := &XMPPClient{c}
	t.Cleanup(w.Close)
	return w
}

// dialXMPP logs in without a test, for tests of failures.
func dialXMPP(addr, domain, user, password, resource string) (*XMPPClient, error) {
	c, err := servers.DialXMPP(addr, domain, user, password, resource)
	if err != nil {
		return nil, err
	}
	return &XMPPClient{c}, nil
}

// SendRaw writes raw XML (normally one stanza) to the stream. Stanzas
// without a namespace are in jabber:client.
func (c *XMPPClient) SendRaw(t testing.TB, xml string) {
	t.Helper()
	if err := c.XMPPClient.SendRaw(xml); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Sendf formats and sends raw XML. Escape the arguments (see Escape).
func (c *XMPPClient) Sendf(t testing.TB, format string, args ...any) {
	t.Helper()
	c.SendRaw(t, fmt.Sprintf(format, args...))
}

// SendMessage sends a <message> with a body; typ may be "" (normal),
// "chat" or "groupchat".
func (c *XMPPClient) SendMessage(t testing.TB, to, typ, body string) {
	t.Helper()
	c.SendRaw(t, servers.MessageXML(to, typ, "", body))
}

// Expect returns the next top-level stanza that match accepts, skipping
// the others. After ExpectTimeout, or if the stream ends, the test fails
// naming what and showing the recent stanzas.
func (c *XMPPClient) Expect(t testing.TB, match func(*Element) bool, what string) *Element {
	t.Helper()
	e, err := c.XMPPClient.Expect(match, ExpectTimeout)
	if err != nil {
		t.Fatalf("testenv: expecting %s: %v", what, err)
	}
	return e
}

// ExpectClosed waits until the stream or connection ends, skipping any
// stanzas, and fails after ExpectTimeout.
func (c *XMPPClient) ExpectClosed(t testing.TB) {
	t.Helper()
	if err := c.XMPPClient.ExpectClosed(ExpectTimeout); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Close ends the stream and the connection. It may be called more than
// once.
func (c *XMPPClient) Close() { _ = c.XMPPClient.Close() }
