package ircbridge

import (
	"encoding/xml"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Affiliation is a XEP-0045 affiliation ("none", "member", "admin", "owner").
type Affiliation string

// Role is a XEP-0045 role ("none", "visitor", "participant", "moderator").
type Role string

// XEP-0045 affiliations and roles used by the gateway.
const (
	AffNone   Affiliation = "none"
	AffMember Affiliation = "member"
	AffAdmin  Affiliation = "admin"
	AffOwner  Affiliation = "owner"

	RoleNone        Role = "none"
	RoleParticipant Role = "participant"
	RoleModerator   Role = "moderator"
)

// XEP-0045 status codes the gateway sends (XEP-0045 §15.6).
const (
	StatusNonAnonymous = 100 // the room is non-anonymous
	StatusSelf         = 110 // this presence is about yourself
	StatusNickAssigned = 210 // the service assigned or modified the nick
	StatusNickChange   = 303 // the occupant changed nick
	StatusKicked       = 307 // the occupant was kicked
	StatusShutdown     = 332 // removed because of a system shutdown or error
)

// Message is an XMPP message stanza, as plain data. The zero value of each
// optional field means "absent".
type Message struct {
	From, To jid.JID
	ID       string
	Type     stanza.MessageType
	Body     string
	// Subject is nil when there is no <subject/>; a pointer to "" is an
	// empty subject, which XEP-0045 §7.2.15 uses to say "no subject".
	Subject *string
	// XHTML is the XEP-0071 rich version of Body, as runs of styled text;
	// nil when the text has no formatting.
	XHTML []Span
	// Private adds XEP-0280 <private/> and XEP-0334 <no-copy/>, as Biboumi
	// does on every chat message it sends (reference §5.8).
	Private bool
	// StanzaID is the XEP-0359 <stanza-id/> set by the room.
	StanzaID *StanzaID
	// OriginID is the XEP-0359 <origin-id/> set by the sending client.
	OriginID string
	// Delay is the XEP-0203 delayed-delivery stamp (history, MAM).
	Delay *Delay
	// MUCUser is the XEP-0045 <x xmlns='…muc#user'/> payload (invitations).
	MUCUser *MUCUser
	// MAMResult makes this message a XEP-0313 result: the message carries
	// only <result queryid id><forwarded><delay/><message/></forwarded>,
	// and its other payload fields are ignored.
	MAMResult *MAMResult
	// Error is set on messages of type error.
	Error *stanza.Error
}

// Span is a run of text with one style, for XEP-0071 XHTML-IM. A "\n" in
// Text is a line break (<br/>).
type Span struct {
	Text                    string
	Bold, Italic, Underline bool
	Strike, Monospace       bool
	// Color and Background are CSS colour values, "" for none.
	Color, Background string
}

// Styled reports whether the span needs a <span style=…> element.
func (s Span) Styled() bool {
	return s.Bold || s.Italic || s.Underline || s.Strike || s.Monospace || s.Color != "" || s.Background != ""
}

// StanzaID is a XEP-0359 stable stanza id assigned by By.
type StanzaID struct {
	ID string
	By jid.JID
}

// Delay is a XEP-0203 delayed-delivery stamp.
type Delay struct {
	From  jid.JID
	Stamp time.Time
}

// Presence is an XMPP presence stanza, as plain data.
type Presence struct {
	From, To jid.JID
	ID       string
	// Type is "" for available.
	Type   stanza.PresenceType
	Show   string
	Status string
	// MUC is the XEP-0045 <x xmlns='http://jabber.org/protocol/muc'/>:
	// present on join requests, and echoed on join errors.
	MUC *MUCJoin
	// MUCUser carries occupant information (items and status codes).
	MUCUser *MUCUser
	Error   *stanza.Error
}

// MUCJoin is the content of a join request (XEP-0045 §7.2).
type MUCJoin struct {
	Password string
	// History is nil when the request has no <history/> element.
	History *HistoryRequest
}

// HistoryRequest is XEP-0045 §7.2.14 <history/>. Absent integer attributes
// are -1; an absent since is the zero time.
type HistoryRequest struct {
	MaxChars   int
	MaxStanzas int
	Seconds    int
	Since      time.Time
}

// MUCUser is the XEP-0045 <x xmlns='http://jabber.org/protocol/muc#user'/>.
type MUCUser struct {
	Items  []MUCItem
	Status []int
	Invite *Invite
}

// MUCItem is a XEP-0045 <item/>; empty fields are omitted on the wire.
type MUCItem struct {
	Affiliation Affiliation
	Role        Role
	JID         jid.JID
	Nick        string
	Actor       *Actor
	Reason      string
}

// Actor is the <actor/> of a kick or role change.
type Actor struct {
	Nick string
	JID  jid.JID
}

// Invite is a XEP-0045 mediated invitation.
type Invite struct {
	From, To jid.JID
	Reason   string
}

// IQ is an XMPP iq stanza with one typed payload.
type IQ struct {
	From, To jid.JID
	ID       string
	Type     stanza.IQType
	// Payload is nil for an empty result.
	Payload Payload
	Error   *stanza.Error
}

// Result returns an empty result answering iq (from and to swapped).
func (iq IQ) Result(p Payload) IQ {
	return IQ{From: iq.To, To: iq.From, ID: iq.ID, Type: stanza.ResultIQ, Payload: p}
}

// Fail returns an error reply to iq carrying e and, as RFC 6120 §8.3.1
// allows, no payload.
func (iq IQ) Fail(e stanza.Error) IQ {
	return IQ{From: iq.To, To: iq.From, ID: iq.ID, Type: stanza.ErrorIQ, Error: &e}
}

// Payload is the child element of an IQ. The set is closed: the component
// decodes each known namespace into one of these types and anything else
// into UnknownPayload.
type Payload interface{ isPayload() }

// DiscoInfo is a XEP-0030 disco#info query or answer.
type DiscoInfo struct {
	Node       string
	Identities []Identity
	Features   []string
	// Form is the XEP-0128 extended information, if any.
	Form *Form
}

// Identity is a XEP-0030 identity.
type Identity struct {
	Category, Type, Name string
}

// DiscoItems is a XEP-0030 disco#items query or answer.
type DiscoItems struct {
	Node  string
	Items []DiscoItem
	RSM   *RSM
}

// DiscoItem is one XEP-0030 item.
type DiscoItem struct {
	JID  jid.JID
	Node string
	Name string
}

// RSM is a XEP-0059 result set: the request fields (Max, After, Before,
// Index) or the answer fields (First, FirstIndex, Last, Count).
type RSM struct {
	Max        int // -1 when absent
	After      string
	Before     *string // "" is "the last page"; nil is absent
	Index      int     // -1 when absent
	First      string
	FirstIndex int // -1 when absent
	Last       string
	Count      int // -1 when absent
}

// Form is a XEP-0004 data form.
type Form struct {
	Type         string // form, submit, result, cancel
	Title        string
	Instructions string
	Fields       []FormField
}

// Field returns the field named v, or nil.
func (f *Form) Field(v string) *FormField {
	if f == nil {
		return nil
	}
	for i := range f.Fields {
		if f.Fields[i].Var == v {
			return &f.Fields[i]
		}
	}
	return nil
}

// FormField is one XEP-0004 field.
type FormField struct {
	Var, Type, Label string
	Desc             string
	Required         bool
	Values           []string
	Options          []FormOption // list-single and list-multi choices
}

// FormOption is a choice of a list field.
type FormOption struct {
	Label, Value string
}

// Ping is a XEP-0199 ping.
type Ping struct{}

// Version is a XEP-0092 software version query (empty) or answer.
type Version struct {
	Name, Version, OS string
}

// MUCQuery is a XEP-0045 muc#owner query: an empty get asks for the room
// configuration form, a set carries the submitted form.
type MUCQuery struct {
	Form *Form
}

// MUCAdmin is a XEP-0045 muc#admin query.
type MUCAdmin struct {
	Items []MUCItem
}

// MAMQuery is a XEP-0313 (urn:xmpp:mam:2) archive query, with the
// urn:xmpp:mam:2#extended before-id, after-id and ids fields. On an iq get
// it asks for the query form (XEP-0313 §6.1); the answer is a MAMQuery
// with Form set.
type MAMQuery struct {
	QueryID           string
	Start, End        time.Time // zero: open
	With              string
	BeforeID, AfterID string
	IDs               []string
	RSM               *RSM
	// Form is the query form advertised in answer to an iq get.
	Form *Form
}

// MAMResult is a XEP-0313 <result/>: one archived message, forwarded
// (XEP-0297) with its XEP-0203 delay.
type MAMResult struct {
	QueryID string
	ID      string // the archive id
	Stamp   time.Time
	// Message is the archived message; its To is left empty.
	Message Message
}

// MAMFin is the XEP-0313 <fin/> answering a query.
type MAMFin struct {
	Complete bool
	RSM      *RSM
}

// Command is a XEP-0050 ad-hoc command request or answer.
type Command struct {
	Node      string
	SessionID string
	// Action is execute, next, prev, complete or cancel on requests ("" is
	// execute).
	Action string
	// Status is executing, completed or canceled on answers.
	Status string
	// Actions lists the allowed next actions on answers, the first being
	// the default one (<actions execute='…'>).
	Actions []string
	Notes   []Note
	Form    *Form
}

// Note is a XEP-0050 <note/>.
type Note struct {
	Type string // info, warn, error
	Text string
}

// NewRSM returns an RSM with every optional integer absent.
func NewRSM() *RSM {
	return &RSM{Max: -1, Index: -1, FirstIndex: -1, Count: -1}
}

// UnknownPayload is any IQ child the component does not decode.
type UnknownPayload struct {
	Name xml.Name
}

func (*DiscoInfo) isPayload()      {}
func (*DiscoItems) isPayload()     {}
func (*Ping) isPayload()           {}
func (*Version) isPayload()        {}
func (*MUCAdmin) isPayload()       {}
func (*MUCQuery) isPayload()       {}
func (*MAMQuery) isPayload()       {}
func (*MAMFin) isPayload()         {}
func (*Command) isPayload()        {}
func (*UnknownPayload) isPayload() {}
