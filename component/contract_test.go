package component

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"mellium.im/xmpp/stanza"

	"biboumi/ircbridge"
)

// knownFields lists, for every struct type of ircbridge/stanzas.go, the
// fields the encoder and decoder handle.
var knownFields = map[reflect.Type][]string{
	reflect.TypeFor[ircbridge.Message]():        {"From", "To", "ID", "Type", "Body", "Subject", "XHTML", "Private", "StanzaID", "OriginID", "Delay", "MUCUser", "MAMResult", "Error"},
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
	reflect.TypeFor[ircbridge.Form]():           {"Type", "Title", "Instructions", "Fields"},
	reflect.TypeFor[ircbridge.FormField]():      {"Var", "Type", "Label", "Desc", "Required", "Values", "Options"},
	reflect.TypeFor[ircbridge.FormOption]():     {"Label", "Value"},
	reflect.TypeFor[ircbridge.Ping]():           {},
	reflect.TypeFor[ircbridge.Version]():        {"Name", "Version", "OS"},
	reflect.TypeFor[ircbridge.MUCQuery]():       {"Form"},
	reflect.TypeFor[ircbridge.MUCAdmin]():       {"Items"},
	reflect.TypeFor[ircbridge.MAMQuery]():       {"QueryID", "Start", "End", "With", "BeforeID", "AfterID", "IDs", "RSM", "Form"},
	reflect.TypeFor[ircbridge.MAMResult]():      {"QueryID", "ID", "Stamp", "Message"},
	reflect.TypeFor[ircbridge.MAMFin]():         {"Complete", "RSM"},
	reflect.TypeFor[ircbridge.Command]():        {"Node", "SessionID", "Action", "Status", "Actions", "Notes", "Form"},
	reflect.TypeFor[ircbridge.Note]():           {"Type", "Text"},
	reflect.TypeFor[ircbridge.UnknownPayload](): {"Name"},
}

// TestContractFields fails when a type of ircbridge/stanzas.go gains or
// loses a field, or when a new type appears there, so that nothing is
// silently left out of the encoder and decoder. Teach encode.go (and
// decode.go if it can arrive from a client) about it, then list it above.
func TestContractFields(t *testing.T) {
	names := make(map[string]bool)
	for typ, want := range knownFields {
		names[typ.Name()] = true
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("ircbridge.%s has fields %v; component knows %v", typ.Name(), got, want)
		}
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "ircbridge", "stanzas.go"), nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, s := range g.Specs {
			ts := s.(*ast.TypeSpec)
			if _, isStruct := ts.Type.(*ast.StructType); isStruct && ts.Name.IsExported() && !names[ts.Name.Name] {
				t.Errorf("ircbridge.%s is new in stanzas.go; the component does not know it", ts.Name.Name)
			}
		}
	}
}

// TestContractPayloads checks that every payload type is written by the
// encoder, even empty.
func TestContractPayloads(t *testing.T) {
	payload := reflect.TypeFor[ircbridge.Payload]()
	for typ := range knownFields {
		ptr := reflect.PointerTo(typ)
		if !ptr.Implements(payload) || typ == reflect.TypeFor[ircbridge.UnknownPayload]() {
			continue
		}
		iq := ircbridge.IQ{ID: "x", Type: stanza.GetIQ, Payload: reflect.New(typ).Interface().(ircbridge.Payload)}
		b, err := encodeIQ(&iq)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("xmlns=")) {
			t.Errorf("an empty %s payload encodes as %s", typ.Name(), b)
		}
	}
}
