package component

import (
	"reflect"
	"slices"
	"testing"

	"biboumi/ircbridge"
)

// TestContractFields fails when a type of ircbridge/stanzas.go gains or
// loses a field, so that a new field is never silently left out of the
// encoder and decoder. Teach encode.go (and decode.go if it can arrive from
// a client) about the field, then list it here.
func TestContractFields(t *testing.T) {
	known := map[reflect.Type][]string{
		reflect.TypeFor[ircbridge.Message]():        {"From", "To", "ID", "Type", "Body", "Subject", "XHTML", "Private", "StanzaID", "OriginID", "Delay", "MUCUser", "Error"},
		reflect.TypeFor[ircbridge.Span]():           {"Text", "Bold", "Italic", "Underline", "Strike", "Monospace", "Color", "Background"},
		reflect.TypeFor[ircbridge.StanzaID]():       {"ID", "By"},
		reflect.TypeFor[ircbridge.Delay]():          {"From", "Stamp"},
		reflect.TypeFor[ircbridge.Presence]():       {"From", "To", "ID", "Type", "Show", "Status", "MUC", "MUCUser", "Error"},
		reflect.TypeFor[ircbridge.MUCJoin]():        {"Password", "History"},
		reflect.TypeFor[ircbridge.HistoryRequest](): {"MaxChars", "MaxStanzas", "Seconds", "Since"},
		reflect.TypeFor[ircbridge.MUCUser]():        {"Items", "Status", "Invite"},
		reflect.TypeFor[ircbridge.MUCItem]():        {"Affiliation", "Role", "JID", "Nick", "Actor", "Reason"},
		reflect.TypeFor[ircbridge.Actor]():          {"Nick", "JID"},
		reflect.TypeFor[ircbridge.Invite]():         {"From", "To", "Reason"},
		reflect.TypeFor[ircbridge.IQ]():             {"From", "To", "ID", "Type", "Payload", "Error"},
		reflect.TypeFor[ircbridge.DiscoInfo]():      {"Node", "Identities", "Features", "Form"},
		reflect.TypeFor[ircbridge.Identity]():       {"Category", "Type", "Name"},
		reflect.TypeFor[ircbridge.DiscoItems]():     {"Node", "Items", "RSM"},
		reflect.TypeFor[ircbridge.DiscoItem]():      {"JID", "Node", "Name"},
		reflect.TypeFor[ircbridge.RSM]():            {"Max", "After", "Before", "Index", "First", "FirstIndex", "Last", "Count"},
		reflect.TypeFor[ircbridge.Form]():           {"Type", "Title", "Fields"},
		reflect.TypeFor[ircbridge.FormField]():      {"Var", "Type", "Label", "Values"},
		reflect.TypeFor[ircbridge.Ping]():           {},
		reflect.TypeFor[ircbridge.Version]():        {"Name", "Version", "OS"},
		reflect.TypeFor[ircbridge.MUCAdmin]():       {"Items"},
		reflect.TypeFor[ircbridge.UnknownPayload](): {"Name"},
	}
	for typ, want := range known {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("ircbridge.%s has fields %v; component knows %v", typ.Name(), got, want)
		}
	}
}
