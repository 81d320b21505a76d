package ircbridge

// This file builds and parses the three "configure" data forms of Biboumi
// (biboumi-reference §5.11): the global form (gateway JID), the IRC server
// form (server JID, or gateway JID in fixed mode) and the IRC channel form
// (channel JID, ad-hoc "configure" and muc#owner). The functions are pure:
// they neither read nor write the store.
//
// Deliberate differences from Biboumi 9 (§8):
//
//   - A field missing from a submission keeps its current value. Biboumi
//     clears the stored row first, so a form submitted without
//     throttle_limit stored 0 (every message throttled).
//   - Every value is validated; the first invalid field is reported as a
//     *FormError and nothing changes.
//   - Passwords (pass, sasl_password) are never echoed back: the form shows
//     them empty, an empty submitted value keeps the stored password and a
//     value of exactly " " clears it.
//   - The server form's max_history_length is labelled "Max history length"
//     (Biboumi labels it "Throttle limit").
//   - A submitted value equal to the one the form displayed keeps the current
//     stored value, so an untouched field does not turn an inherited value
//     into an explicit one (the global persistent Tristate, the server
//     address shown as the server name, and, with parseChannelFormWithServer,
//     the channel encodings shown from the server).
//   - tls_ports, verify_cert, fingerprint and sasl_password are always present
//     (Biboumi has them only in Botan builds).

import (
	"encoding/hex"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/htmlindex"

	"biboumi/store"
)

// FormSettings holds what the forms depend on in the gateway configuration.
type FormSettings struct {
	// FixedServer is fixed_irc_server mode: the server form has no address
	// field, and a submitted address is ignored.
	FixedServer bool
	// RealnameCustomization is realname_customization: without it the
	// server form has no username and realname fields, and submitted ones
	// are ignored.
	RealnameCustomization bool
	// PersistentByDefault is persistent_by_default: the value of the global
	// persistent option when the user never set it.
	PersistentByDefault bool
}

// FormError is returned for an invalid submission; it names the field.
type FormError struct{ Var, Reason string }

// Error returns "<var>: <reason>".
func (e *FormError) Error() string { return e.Var + ": " + e.Reason }

// Field descriptions and labels shared by several forms.
const (
	// passwordNote ends the desc of the text-private fields.
	passwordNote = "Leave empty to keep the current password; send a single space to clear it"
	// passwordClear is the submitted value that clears a stored password.
	passwordClear = " "

	maxNickLen     = 64
	maxAddressLen  = 253
	maxIRCLineLen  = 510 // an IRC line without its CR LF
	maxTextOption  = 400 // username, realname
	maxPasswordLen = 400
)

// errNotSubmission is returned (not as a *FormError) when there is nothing
// to parse.
var errNotSubmission = errors.New("no submitted form")

// Form building.

func cfText(v, label, desc, value string) FormField {
	f := FormField{Var: v, Type: "text-single", Label: label, Desc: desc}
	if value != "" {
		f.Values = []string{value}
	}
	return f
}

func cfBool(v, label, desc string, value bool) FormField {
	return FormField{Var: v, Type: "boolean", Label: label, Desc: desc, Values: []string{strconv.FormatBool(value)}}
}

func cfPorts(v, label, desc string, ports []int) FormField {
	f := FormField{Var: v, Type: "text-multi", Label: label, Desc: desc}
	for _, p := range ports {
		f.Values = append(f.Values, strconv.Itoa(p))
	}
	return f
}

// globalForm returns the form of the gateway's configure command.
func globalForm(o store.GlobalOptions, fs FormSettings) *Form {
	return &Form{
		Type:         "form",
		Title:        "Configure some global default settings.",
		Instructions: "Edit the form, to configure your global settings for the component.",
		Fields: []FormField{
			cfText("max_history_length", "Max history length",
				"The maximum number of lines in the history that the server sends when joining a channel",
				strconv.Itoa(o.MaxHistoryLength)),
			cfBool("record_history", "Record history",
				"Whether to save the messages into the database, or not", o.RecordHistory),
			cfBool("persistent", "Make all channels persistent",
				"If true, all channels will be persistent", o.Persistent.Or(fs.PersistentByDefault)),
		},
	}
}

// serverAddress is the address the server form displays.
func serverAddress(o store.ServerOptions) string {
	if o.Address == "" {
		return o.Server
	}
	return o.Address
}

// serverForm returns the form of an IRC server's configure command. The
// passwords are never shown.
func serverForm(o store.ServerOptions, fs FormSettings) *Form {
	f := &Form{
		Type:         "form",
		Title:        "Configure the IRC server " + o.Server,
		Instructions: "Edit the form, to configure the settings of the IRC server " + o.Server,
	}
	if !fs.FixedServer {
		f.Fields = append(f.Fields, cfText("address", "Address",
			"The address (hostname or IP) to connect to.", serverAddress(o)))
	}
	f.Fields = append(f.Fields,
		cfPorts("ports", "Ports", "List of ports to try, without TLS. Defaults: 6667.", o.Ports),
		cfPorts("tls_ports", "TLS ports", "List of ports to try, with TLS. Defaults: 6697, 6670.", o.TLSPorts),
		cfBool("verify_cert", "Verify certificate",
			"Whether or not to abort the connection if the server’s TLS certificate is invalid", o.VerifyCert),
		cfText("fingerprint", "SHA-1 fingerprint of the TLS certificate to trust.", "", o.Fingerprint),
		FormField{Var: "sasl_password", Type: "text-private", Label: "SASL Password",
			Desc: "Use it to authenticate with your nick. " + passwordNote + "."},
		FormField{Var: "sasl_mechanism", Type: "list-single", Label: "SASL mechanism",
			Desc:    "PLAIN uses the SASL password; EXTERNAL presents a client certificate the gateway made for you (see get-irc-connection-info for its fingerprint, to register with the network's services).",
			Values:  []string{saslMechanismShown(o.SASLMechanism)},
			Options: []FormOption{{Label: "PLAIN (password)", Value: "PLAIN"}, {Label: "EXTERNAL (client certificate)", Value: "EXTERNAL"}}},
		cfText("nick", "Nickname",
			"If set, will override the nickname provided in the initial presence sent to join the first server channel", o.Nick),
		FormField{Var: "pass", Type: "text-private", Label: "Server password",
			Desc: "Will be used in a PASS command when connecting. " + passwordNote + "."},
		FormField{Var: "after_connect_commands", Type: "text-multi", Label: "After-connection IRC commands",
			Desc:   "Custom IRC commands sent after the connection is established with the server.",
			Values: slices.Clone(o.AfterConnectCommands)},
	)
	if fs.RealnameCustomization {
		f.Fields = append(f.Fields,
			cfText("username", "Username", "", o.Username),
			cfText("realname", "Realname", "", o.Realname))
	}
	f.Fields = append(f.Fields,
		cfText("throttle_limit", "Throttle limit", "", strconv.Itoa(o.ThrottleLimit)),
		cfText("max_history_length", "Max history length", "", strconv.Itoa(o.MaxHistoryLength)),
		cfText("encoding_out", "Out encoding", "The encoding used when sending messages to the IRC server.", o.EncodingOut),
		cfText("encoding_in", "In encoding", "The encoding used to decode message received from the IRC server.", o.EncodingIn),
	)
	return f
}

// channelEncodings returns the encodings the channel form displays: the
// channel's, or the server's when the channel has none.
func channelEncodings(o store.ChannelOptions, server store.ServerOptions) (out, in string) {
	out, in = o.EncodingOut, o.EncodingIn
	if out == "" {
		out = server.EncodingOut
	}
	if in == "" {
		in = server.EncodingIn
	}
	return out, in
}

// channelForm returns the form of an IRC channel's configure command and
// muc#owner configuration. The encoding fields show the server's value when
// the channel has none.
func channelForm(o store.ChannelOptions, server store.ServerOptions) *Form {
	out, in := channelEncodings(o, server)
	rh := FormField{Var: "record_history", Type: "list-single", Label: "Record history for this channel",
		Desc: "If unset, the value is the one configured globally", Values: []string{o.RecordHistory.String()}}
	for _, v := range []string{"unset", "true", "false"} {
		rh.Options = append(rh.Options, FormOption{Label: v, Value: v})
	}
	return &Form{
		Type:         "form",
		Title:        "Configure the IRC channel " + o.Channel + " on server " + o.Server,
		Instructions: "Edit the form, to configure the settings of the IRC channel " + o.Channel,
		Fields: []FormField{
			rh,
			cfText("encoding_out", "Out encoding",
				"The encoding used when sending messages to the IRC server. Defaults to the server's “out encoding” if unset for the channel", out),
			cfText("encoding_in", "In encoding",
				"The encoding used to decode message received from the IRC server. Defaults to the server's “in encoding” if unset for the channel", in),
			cfBool("persistent", "Persistent",
				"If set to true, when all XMPP clients have left this channel, biboumi will stay idle in it, without sending a PART command.",
				o.Persistent),
		},
	}
}

// Form parsing.

// cfFields calls fn for each submitted field, in submission order. The
// FORM_TYPE field and repeated vars (after the first) are skipped. It
// returns errNotSubmission for a nil or cancelled form.
func cfFields(f *Form, fn func(fld *FormField) error) error {
	if f == nil || f.Type == "cancel" {
		return errNotSubmission
	}
	seen := make(map[string]bool, len(f.Fields))
	for i := range f.Fields {
		fld := &f.Fields[i]
		if fld.Var == "FORM_TYPE" || seen[fld.Var] {
			continue
		}
		seen[fld.Var] = true
		if err := fn(fld); err != nil {
			return err
		}
	}
	return nil
}

// cfValue returns the first value of a field, or "" when it has none.
func cfValue(fld *FormField) string {
	if len(fld.Values) == 0 {
		return ""
	}
	return fld.Values[0]
}

func cfErr(v, reason string) *FormError { return &FormError{Var: v, Reason: reason} }

// cfCheckText rejects values that would break or inject an IRC line.
func cfCheckText(v, s string, max int) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return cfErr(v, "must not contain CR, LF or NUL")
	}
	if len(s) > max {
		return cfErr(v, "too long (at most "+strconv.Itoa(max)+" bytes)")
	}
	return nil
}

// cfBoolValue parses an XEP-0004 boolean; empty means def.
func cfBoolValue(fld *FormField, def bool) (bool, error) {
	s := strings.TrimSpace(cfValue(fld))
	switch strings.ToLower(s) {
	case "":
		return def, nil
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, cfErr(fld.Var, "not a boolean: "+strconv.Quote(s))
}

// cfInt parses an integer; empty means def. A negative value is rejected
// unless negOK.
func cfInt(fld *FormField, def int, negOK bool) (int, error) {
	s := strings.TrimSpace(cfValue(fld))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, cfErr(fld.Var, "not an integer: "+strconv.Quote(s))
	}
	if n < 0 && !negOK {
		return 0, cfErr(fld.Var, "must not be negative")
	}
	return n, nil
}

// cfPortList parses a port list: every value is split on white space, ','
// and ';', empty items are ignored and duplicates removed, keeping the
// order. No value gives an empty list.
func cfPortList(fld *FormField) ([]int, error) {
	ports := []int{}
	for _, v := range fld.Values {
		items := strings.FieldsFunc(v, func(r rune) bool {
			return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\r' || r == '\n'
		})
		for _, it := range items {
			p, err := strconv.Atoi(it)
			if err != nil || p < 1 || p > 65535 {
				return nil, cfErr(fld.Var, "not a port number (1–65535): "+strconv.Quote(it))
			}
			if !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		}
	}
	return ports, nil
}

// cfEncoding validates a charset name (WHATWG/IANA labels); empty is the
// default.
func cfEncoding(fld *FormField) (string, error) {
	s := strings.TrimSpace(cfValue(fld))
	if s == "" {
		return "", nil
	}
	enc, err := htmlindex.Get(s)
	if err != nil {
		return "", cfErr(fld.Var, "unknown encoding: "+strconv.Quote(s))
	}
	if name, _ := htmlindex.Name(enc); name == "replacement" {
		return "", cfErr(fld.Var, "unusable encoding: "+strconv.Quote(s))
	}
	return s, nil
}

// cfAddress validates a host name or IP address; IPv6 brackets are removed.
func cfAddress(fld *FormField) (string, error) {
	s := strings.TrimSpace(cfValue(fld))
	if s == "" {
		return "", nil
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if ip := net.ParseIP(s[1 : len(s)-1]); ip != nil {
			return s[1 : len(s)-1], nil
		}
	}
	if len(s) > maxAddressLen {
		return "", cfErr(fld.Var, "too long")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("/@%[]", r) {
			return "", cfErr(fld.Var, "not a host name or IP address: "+strconv.Quote(s))
		}
	}
	if strings.Contains(s, ":") && net.ParseIP(s) == nil {
		return "", cfErr(fld.Var, "not a host name or IP address (no port here): "+strconv.Quote(s))
	}
	return s, nil
}

// cfNick validates an IRC nickname; empty means none.
func cfNick(fld *FormField) (string, error) {
	s := strings.TrimSpace(cfValue(fld))
	switch {
	case s == "":
		return "", nil
	case len(s) > maxNickLen:
		return "", cfErr(fld.Var, "too long (at most "+strconv.Itoa(maxNickLen)+" bytes)")
	case s[0] == ':' || s[0] == '#':
		return "", cfErr(fld.Var, "must not start with ':' or '#'")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return "", cfErr(fld.Var, "must not contain spaces or control characters")
		}
	}
	return s, nil
}

// cfPassword returns the new password: empty keeps cur, exactly " " clears.
func cfPassword(fld *FormField, cur string) (string, error) {
	s := cfValue(fld)
	switch s {
	case "":
		return cur, nil
	case passwordClear:
		return "", nil
	}
	if err := cfCheckText(fld.Var, s, maxPasswordLen); err != nil {
		return "", err
	}
	return s, nil
}

// cfCommands parses after_connect_commands: one raw IRC line per value,
// blank values dropped.
func cfCommands(fld *FormField) ([]string, error) {
	var cmds []string
	for _, v := range fld.Values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if err := cfCheckText(fld.Var, v, maxIRCLineLen); err != nil {
			return nil, err
		}
		cmds = append(cmds, v)
	}
	return cmds, nil
}

// normalizeFingerprint accepts a SHA-1 or SHA-256 hex fingerprint, with or
// without ':' separators, in any case, and returns it in uppercase
// colon-separated form ("AB:CD:…"). Empty stays empty.
func normalizeFingerprint(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil {
		return "", errors.New("not a hexadecimal fingerprint")
	}
	if len(b) != 20 && len(b) != 32 {
		return "", errors.New("not a SHA-1 or SHA-256 fingerprint (20 or 32 bytes)")
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return sb.String(), nil
}

// parseGlobalForm applies a submitted global form to cur. Missing fields keep
// their value. On error it returns cur unchanged and, for an invalid value, a
// *FormError.
func parseGlobalForm(f *Form, cur store.GlobalOptions, fs FormSettings) (store.GlobalOptions, error) {
	n := cur
	err := cfFields(f, func(fld *FormField) error {
		var err error
		switch fld.Var {
		case "max_history_length":
			n.MaxHistoryLength, err = cfInt(fld, store.DefaultMaxHistoryLength, false)
		case "record_history":
			n.RecordHistory, err = cfBoolValue(fld, true)
		case "persistent":
			if strings.TrimSpace(cfValue(fld)) == "" {
				n.Persistent = store.Unset
				return nil
			}
			var v bool
			if v, err = cfBoolValue(fld, false); err == nil && v != cur.Persistent.Or(fs.PersistentByDefault) {
				// Only a changed value becomes explicit: an untouched field
				// keeps following persistent_by_default.
				n.Persistent = store.TristateOf(v)
			}
		}
		return err
	})
	if err != nil {
		return cur, err
	}
	return n, nil
}

// parseServerForm applies a submitted server form to cur. Missing fields keep
// their value; so do the passwords when submitted empty (" " clears them).
// In fixed mode a submitted address is ignored, and so are username and
// realname without realname customization. On error it returns cur
// unchanged and, for an invalid value, a *FormError.
func parseServerForm(f *Form, cur store.ServerOptions, fs FormSettings) (store.ServerOptions, error) {
	n := cur
	err := cfFields(f, func(fld *FormField) error {
		var err error
		switch fld.Var {
		case "address":
			if fs.FixedServer {
				return nil
			}
			var a string
			if a, err = cfAddress(fld); err == nil {
				switch {
				case a == serverAddress(cur):
					a = cur.Address // untouched
				case strings.EqualFold(a, cur.Server):
					a = "" // the server name is the default
				}
				n.Address = a
			}
		case "ports":
			n.Ports, err = cfPortList(fld)
		case "tls_ports":
			n.TLSPorts, err = cfPortList(fld)
		case "verify_cert":
			n.VerifyCert, err = cfBoolValue(fld, true)
		case "fingerprint":
			var fp string
			if fp, err = normalizeFingerprint(cfValue(fld)); err != nil {
				return cfErr(fld.Var, err.Error())
			}
			n.Fingerprint = fp
		case "sasl_password":
			n.SASLPassword, err = cfPassword(fld, cur.SASLPassword)
		case "sasl_mechanism":
			switch v := strings.ToUpper(strings.TrimSpace(cfValue(fld))); v {
			case "", "PLAIN":
				n.SASLMechanism = ""
			case "EXTERNAL":
				n.SASLMechanism = v
			default:
				return cfErr(fld.Var, "must be PLAIN or EXTERNAL")
			}
		case "pass":
			n.Pass, err = cfPassword(fld, cur.Pass)
		case "nick":
			n.Nick, err = cfNick(fld)
		case "after_connect_commands":
			n.AfterConnectCommands, err = cfCommands(fld)
		case "username":
			if !fs.RealnameCustomization {
				return nil
			}
			u := strings.ReplaceAll(strings.TrimSpace(cfValue(fld)), " ", "_")
			if err = cfCheckText(fld.Var, u, maxTextOption); err == nil {
				n.Username = u
			}
		case "realname":
			if !fs.RealnameCustomization {
				return nil
			}
			r := strings.TrimSpace(cfValue(fld))
			if err = cfCheckText(fld.Var, r, maxTextOption); err == nil {
				n.Realname = r
			}
		case "throttle_limit":
			n.ThrottleLimit, err = cfInt(fld, store.DefaultThrottleLimit, true)
		case "max_history_length":
			n.MaxHistoryLength, err = cfInt(fld, store.DefaultMaxHistoryLength, false)
		case "encoding_out":
			n.EncodingOut, err = cfEncoding(fld)
		case "encoding_in":
			n.EncodingIn, err = cfEncoding(fld)
		}
		return err
	})
	if err != nil {
		return cur, err
	}
	return n, nil
}

// parseChannelForm applies a submitted channel form to cur. Missing fields
// keep their value. The submitted encodings are stored as they are: when the
// form showed the server's encodings, use parseChannelFormWithServer to keep
// inheriting them. On error it returns cur unchanged and, for an invalid
// value, a *FormError.
func parseChannelForm(f *Form, cur store.ChannelOptions) (store.ChannelOptions, error) {
	return parseChannel(f, cur, nil)
}

// parseChannelFormWithServer is parseChannelForm for a form built by
// channelForm(cur, server): an encoding submitted unchanged keeps the
// channel's current value, so a channel without its own encoding keeps
// following the server's.
func parseChannelFormWithServer(f *Form, cur store.ChannelOptions, server store.ServerOptions) (store.ChannelOptions, error) {
	return parseChannel(f, cur, &server)
}

func parseChannel(f *Form, cur store.ChannelOptions, server *store.ServerOptions) (store.ChannelOptions, error) {
	n := cur
	var shownOut, shownIn string
	if server != nil {
		shownOut, shownIn = channelEncodings(cur, *server)
	}
	err := cfFields(f, func(fld *FormField) error {
		var err error
		switch fld.Var {
		case "record_history":
			switch s := strings.ToLower(strings.TrimSpace(cfValue(fld))); s {
			case "", "unset":
				n.RecordHistory = store.Unset
			case "true", "1":
				n.RecordHistory = store.True
			case "false", "0":
				n.RecordHistory = store.False
			default:
				return cfErr(fld.Var, "not one of unset, true, false: "+strconv.Quote(s))
			}
		case "encoding_out":
			var e string
			if e, err = cfEncoding(fld); err == nil {
				if server != nil && e == shownOut {
					e = cur.EncodingOut
				}
				n.EncodingOut = e
			}
		case "encoding_in":
			var e string
			if e, err = cfEncoding(fld); err == nil {
				if server != nil && e == shownIn {
					e = cur.EncodingIn
				}
				n.EncodingIn = e
			}
		case "persistent":
			n.Persistent, err = cfBoolValue(fld, false)
		}
		return err
	})
	if err != nil {
		return cur, err
	}
	return n, nil
}

// saslMechanismShown is the value the form shows for a stored mechanism.
func saslMechanismShown(m string) string {
	if m == "" {
		return "PLAIN"
	}
	return m
}
