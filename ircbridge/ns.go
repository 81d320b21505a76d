package ircbridge

// XML namespaces and disco features the gateway speaks. They are listed
// here, not in the component package, because disco answers are built from
// the gateway's state.
const (
	NSDiscoInfo     = "http://jabber.org/protocol/disco#info"
	NSDiscoItems    = "http://jabber.org/protocol/disco#items"
	NSMUC           = "http://jabber.org/protocol/muc"
	NSMUCUser       = "http://jabber.org/protocol/muc#user"
	NSMUCAdmin      = "http://jabber.org/protocol/muc#admin"
	NSMUCOwner      = "http://jabber.org/protocol/muc#owner"
	NSMUCStableID   = "http://jabber.org/protocol/muc#stable_id"
	NSMUCSelfPing   = "http://jabber.org/protocol/muc#self-ping-optimization"
	NSMUCRoomInfo   = "http://jabber.org/protocol/muc#roominfo"
	NSMUCTraffic    = "http://jabber.org/protocol/muc#traffic"
	NSCommands      = "http://jabber.org/protocol/commands"
	NSPing          = "urn:xmpp:ping"
	NSVersion       = "jabber:iq:version"
	NSMAM           = "urn:xmpp:mam:2"
	NSSID           = "urn:xmpp:sid:0"
	NSDelay         = "urn:xmpp:delay"
	NSCarbons       = "urn:xmpp:carbons:2"
	NSHints         = "urn:xmpp:hints"
	NSDataForms     = "jabber:x:data"
	NSRSM           = "http://jabber.org/protocol/rsm"
	NSXHTMLIM       = "http://jabber.org/protocol/xhtml-im"
	NSXHTML         = "http://www.w3.org/1999/xhtml"
	FeatureNonAnon  = "muc_nonanonymous"
	FeatureMUCPerst = "muc_persistent"
)
