package main

// The "config" command: Biboumi's biboumi.cfg (option=value lines) to this
// gateway's TOML configuration.
//
// The file is read exactly as Biboumi 9 reads it (src/config/config.cpp):
// lines split on '\n'; an empty line or one whose first byte is '#' is
// skipped; a line without '=' is skipped; the option is everything before
// the first '=' (spaces included), the value everything after it; a later
// line for the same option replaces the earlier one (a std::map). With
// --env, every environment variable named BIBOUMI_<X> then sets option
// lower(X), as Biboumi does after reading the file.
//
// The output reproduces what Biboumi did with the file. Every departure is
// a warning on stderr ("file:line: option: message"), also written as a
// "# biboumi-migrate:" comment above the key concerned, so that the
// reviewed file explains itself. Lines that are not converted are kept as
// comments, and so are the file's own comments, in place.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"biboumi/internal/suggest"
)

const configUsage = `Usage: biboumi-migrate config [--env] BIBOUMI_CFG > biboumi.toml

Converts Biboumi's configuration file (biboumi.cfg, option=value lines)
into this gateway's TOML configuration, written on standard output. Check
the result with "biboumi --test-config FILE".

The file is read as Biboumi reads it: a comment is a line starting with "#"
in the first column, a line without "=" is ignored, the option name is what
comes before the first "=" (so "port = 5347" is an unknown option named
"port "), and when an option appears twice the last line wins. Comments are
kept, above the key that follows them.

Warnings go to standard error, one line each, naming the line and the
option: options this gateway does not have (policy_directory, Botan TLS
policy files, unknown options) and values that the conversion changed or
that this gateway reads differently. Each warning is also written as a
"# biboumi-migrate:" comment above the key concerned, and lines that are
not converted are kept as comments.

Exit status: 0 when the file was converted (even with warnings), 1 when it
cannot be read, 2 for a bad command line.

Options:
`

// cfgMaxSize bounds the file read; Biboumi's configuration is a few lines.
const cfgMaxSize = 1 << 20

// cfgPolicyMaxSize bounds one Botan policy file read for verify_certificate.
const cfgPolicyMaxSize = 1 << 20

func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	useEnv := fs.Bool("env", false, "apply the BIBOUMI_* environment variables over the file's values, as Biboumi does")
	fs.Usage = func() {} // flag reports the error; the help goes to stdout
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, configUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return exitOK
		}
		fmt.Fprintln(stderr, `Run "biboumi-migrate config --help" for usage.`)
		return exitUsage
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "biboumi-migrate config: "+format+"\n", a...)
		fmt.Fprintln(stderr, `Run "biboumi-migrate config --help" for usage.`)
		return exitUsage
	}
	switch fs.NArg() {
	case 0:
		return bad("the Biboumi configuration file is required")
	case 1:
	default:
		return bad("unexpected argument %q (options go before the file)", fs.Arg(1))
	}
	name := fs.Arg(0)
	data, err := readBiboumiCfg(name)
	if err != nil {
		fmt.Fprintln(stderr, "biboumi-migrate config:", err)
		return exitFailure
	}
	opts := cfgOptions{Name: name, FS: os.DirFS("/")}
	if dir, err := filepath.Abs(filepath.Dir(name)); err == nil {
		opts.ConfigDir = dir
	}
	if *useEnv {
		opts.Env = os.Environ()
	} else {
		opts.HintEnv = os.Environ()
	}
	res := convertBiboumiCfg(data, opts)
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, w)
	}
	if _, err := stdout.Write(res.TOML); err != nil {
		fmt.Fprintln(stderr, "biboumi-migrate config: writing the output:", err)
		return exitFailure
	}
	return exitOK
}

// readBiboumiCfg reads the file at name, refusing a directory and anything
// larger than cfgMaxSize (a device such as /dev/zero, a wrong file).
func readBiboumiCfg(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, cfgMaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > cfgMaxSize {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a Biboumi configuration file", name, cfgMaxSize)
	}
	return data, nil
}

// cfgOptions are the inputs of convertBiboumiCfg besides the file.
type cfgOptions struct {
	// Name is the file's name in warnings.
	Name string
	// Env, when not nil, is the environment (KEY=VALUE) whose BIBOUMI_*
	// variables override the file's values (--env).
	Env []string
	// HintEnv is the environment without --env: each BIBOUMI_* variable
	// naming an option gets a warning that it was not converted.
	HintEnv []string
	// FS is where Botan policy directories are looked at; a path is the
	// absolute path without its leading "/". Nil: not looked at.
	FS fs.FS
	// ConfigDir is the absolute directory of the file, Biboumi's default
	// policy_directory. Empty: unknown.
	ConfigDir string
}

// cfgResult is the converted configuration and the warnings, in order.
type cfgResult struct {
	TOML     []byte
	Warnings []string // one line each
}

// Biboumi 9.0's options (reference §3), in the order the output's notes
// about missing ones follow.
var biboumiCfgOptions = []string{
	"hostname", "password", "xmpp_server_ip", "port", "admin", "fixed_irc_server",
	"persistent_by_default", "realname_customization", "realname_from_jid",
	"webirc_password", "log_file", "log_level", "ca_file", "db_name",
	"identd_port", "policy_directory", "outgoing_bind",
}

// cfgSecret are the options whose value never appears in a warning (a
// PostgreSQL URI in db_name may hold a password).
func cfgSecret(opt string) bool {
	return opt == "password" || opt == "webirc_password" || opt == "db_name"
}

// cfgPolicyWhy says what replaces Biboumi's Botan TLS policy files.
const cfgPolicyWhy = `IRC servers' certificates are verified against ca_file (or the ` +
	`system's CA certificates), and a user can accept one server's certificate ` +
	`with the verify_cert or fingerprint setting of that server's "configure" ad-hoc command`

// cfgLine is one line of the file.
type cfgLine struct {
	num    int    // 1-based
	text   string // without its line ending
	kind   cfgLineKind
	option string // for cfgOption
	value  string
}

type cfgLineKind int

const (
	cfgBlank cfgLineKind = iota
	cfgComment
	cfgJunk // no '=': ignored by Biboumi
	cfgOption
)

// cfgEnvValue is an option set by a BIBOUMI_* environment variable.
type cfgEnvValue struct {
	name, value string
}

// cfgConverter holds the state of one conversion.
type cfgConverter struct {
	opts     cfgOptions
	out      bytes.Buffer
	warnings []string
	blank    bool // a blank line is due before the next line written
	emitted  map[string]bool
}

// convertBiboumiCfg converts the content of a biboumi.cfg. It never fails:
// whatever the input, the output is valid TOML; what could not be converted
// is in the warnings.
func convertBiboumiCfg(data []byte, opts cfgOptions) cfgResult {
	c := &cfgConverter{opts: opts, emitted: map[string]bool{}}
	if opts.Name == "" {
		c.opts.Name = "biboumi.cfg"
	}
	lines := c.split(data)

	// The line of each option that Biboumi keeps: the last one.
	last := map[string]int{}
	for i, l := range lines {
		if l.kind == cfgOption {
			last[l.option] = i
		}
	}
	env, envOrder := c.environment(opts.Env)

	c.header()
	for i, l := range lines {
		switch l.kind {
		case cfgBlank:
			c.blank = true
		case cfgComment:
			c.write(tomlComment(l.text))
		case cfgJunk:
			if t := strings.TrimLeft(l.text, " \t"); strings.HasPrefix(t, "#") {
				c.write(tomlComment(t)) // an indented comment
				continue
			}
			c.warnLine(l.num, "", `no "=" on this line: Biboumi ignores it; kept as a comment`)
			c.write(tomlComment("# " + l.text))
		case cfgOption:
			c.option(lines, i, last, env)
		}
	}

	// Options set only in the environment.
	var fromEnv []string
	for _, opt := range envOrder {
		if _, inFile := last[opt]; !inFile {
			fromEnv = append(fromEnv, opt)
		}
	}
	slices.Sort(fromEnv)
	if len(fromEnv) > 0 {
		c.blank = true
	}
	for _, opt := range fromEnv {
		ev := env[opt]
		loc := "$" + ev.name
		if !slices.Contains(biboumiCfgOptions, opt) {
			c.warnAt(loc, fmt.Sprintf("%q", opt), "not a Biboumi option; ignored")
			continue
		}
		c.convert(opt, ev.value, loc, "", []string{"not in the file: converted from the environment (as in Biboumi)"})
	}
	c.hintEnv()

	// What Biboumi did without the option, when it differs.
	for _, opt := range []string{"hostname", "password"} {
		if !c.emitted[opt] {
			c.blank = true
			c.note(c.warnAt(c.opts.Name, opt, "not set: Biboumi does not start without it; fill it in"))
			c.write(opt + ` = ""`)
			c.emitted[opt] = true
		}
	}
	if _, set := last["db_name"]; !set && env["db_name"] == nil {
		c.blank = true
		c.convert("db_name", "", c.opts.Name, "", nil)
	}
	c.policyFiles(last, lines, env)
	return cfgResult{TOML: c.out.Bytes(), Warnings: c.warnings}
}

// split cuts the file into classified lines, as Biboumi's reader does,
// except that a UTF-8 byte order mark and the carriage returns of DOS line
// endings are removed (with a warning), since Biboumi would have read them
// as part of an option name or value.
func (c *cfgConverter) split(data []byte) []cfgLine {
	text := string(data)
	if t, ok := strings.CutPrefix(text, "\ufeff"); ok {
		text = t
		c.warnLine(1, "", "the file starts with a UTF-8 byte order mark: removed (Biboumi read it as part of the first line)")
	}
	text = strings.TrimSuffix(text, "\n") // no empty line after the last newline
	if text == "" {
		return nil
	}
	var lines []cfgLine
	crWarned := false
	for i, s := range strings.Split(text, "\n") {
		l := cfgLine{num: i + 1}
		if t, ok := strings.CutSuffix(s, "\r"); ok {
			s = t
			if !crWarned {
				crWarned = true
				c.warnLine(l.num, "", `the line ends with a carriage return (DOS line endings): removed from every line (Biboumi kept it as part of the value)`)
			}
		}
		l.text = s
		switch eq := strings.IndexByte(s, '='); {
		case strings.TrimSpace(s) == "":
			l.kind = cfgBlank
		case s[0] == '#':
			l.kind = cfgComment
		case eq < 0:
			l.kind = cfgJunk
		default:
			l.kind, l.option, l.value = cfgOption, s[:eq], s[eq+1:]
		}
		lines = append(lines, l)
	}
	return lines
}

// environment returns the options set by BIBOUMI_* variables of env, as
// Biboumi reads them: the name after the prefix lowercased (ASCII), the
// value after the first '=', a later variable replacing an earlier one.
// order lists the options in the order first seen.
func (c *cfgConverter) environment(env []string) (vals map[string]*cfgEnvValue, order []string) {
	vals = map[string]*cfgEnvValue{}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		rest, isOurs := strings.CutPrefix(name, "BIBOUMI_")
		if !ok || !isOurs {
			continue
		}
		opt := asciiLower(rest)
		if vals[opt] == nil {
			order = append(order, opt)
		}
		vals[opt] = &cfgEnvValue{name: name, value: value}
	}
	return vals, order
}

// hintEnv warns about BIBOUMI_* variables that Biboumi would have read but
// that are not converted without --env.
func (c *cfgConverter) hintEnv() {
	vals, order := c.environment(c.opts.HintEnv)
	slices.Sort(order)
	for _, opt := range order {
		if slices.Contains(biboumiCfgOptions, opt) {
			c.warnAt("$"+vals[opt].name, opt, "set in the environment, which Biboumi reads over the file; not converted (use --env to convert it)")
		}
	}
}

func (c *cfgConverter) header() {
	c.write(`# This gateway's configuration, converted from Biboumi's biboumi.cfg by`)
	c.write(`# "biboumi-migrate config". Check it with "biboumi --test-config FILE".`)
	c.write(`# biboumi.example.toml describes every key, including the tables [irc],`)
	c.write(`# [component], [archive], [metrics], [policy] and [limits], which keep`)
	c.write(`# their defaults here. Comments starting with "biboumi-migrate:" say what`)
	c.write(`# the conversion changed.`)
	c.blank = true
}

// option converts the option line lines[i].
func (c *cfgConverter) option(lines []cfgLine, i int, last map[string]int, env map[string]*cfgEnvValue) {
	l := lines[i]
	opt := l.option
	if !slices.Contains(biboumiCfgOptions, opt) {
		c.unknown(l)
		return
	}
	if j := last[opt]; j != i {
		c.note(c.warnLine(l.num, opt, fmt.Sprintf("set again on line %d, and the last one wins (as in Biboumi): this line is not converted", lines[j].num)))
		if cfgSecret(opt) {
			c.write("# " + opt + "=<earlier value, not copied>")
		} else {
			c.write(tomlComment("# " + l.text))
		}
		return
	}
	if ev := env[opt]; ev != nil {
		c.note(c.warnLine(l.num, opt, fmt.Sprintf("overridden by $%s (as in Biboumi)", ev.name)))
		c.convert(opt, ev.value, "$"+ev.name, l.text, nil)
		return
	}
	c.convert(opt, l.value, c.lineLoc(l.num), l.text, nil)
}

// unknown handles a line whose option Biboumi does not know (and ignores).
func (c *cfgConverter) unknown(l cfgLine) {
	opt := l.option
	trimmed := strings.TrimSpace(opt)
	var msg string
	switch {
	case strings.HasPrefix(trimmed, "#"):
		// "  #port=1": Biboumi reads an option named "  #port".
		c.write(tomlComment(strings.TrimLeft(l.text, " \t")))
		return
	case trimmed != opt && slices.Contains(biboumiCfgOptions, trimmed):
		msg = fmt.Sprintf(`spaces around the option name: Biboumi reads an option named %q, which it does not know, and ignores the line; not converted (write %s=value)`, opt, trimmed)
	case opt == "":
		msg = `no option name before "=": Biboumi ignores the line; not converted`
	default:
		msg = "not a Biboumi option: Biboumi ignores it; not converted"
		if best := cfgClosest(opt); strings.EqualFold(best, trimmed) {
			msg = fmt.Sprintf("not a Biboumi option (names are case-sensitive: did you mean %s?): Biboumi ignores it; not converted", best)
		} else if best != "" {
			msg = fmt.Sprintf("not a Biboumi option (did you mean %s?): Biboumi ignores it; not converted", best)
		}
	}
	c.note(c.warnLine(l.num, fmt.Sprintf("%q", opt), msg))
	c.write(tomlComment("# " + l.text))
}

// convert writes the key for opt with the Biboumi value v. loc names where
// v comes from for warnings; text, when not empty, is the file line, kept
// as a comment if the key is left out; notes are warnings to add first.
func (c *cfgConverter) convert(opt, v, loc, text string, notes []string) {
	tv, warns := convertBiboumiValue(opt, v)
	for _, w := range append(notes, warns...) {
		c.note(c.warnAt(loc, opt, w))
	}
	if tv == "" {
		if text != "" {
			c.write(tomlComment("# " + text))
		}
		return
	}
	c.write(opt + " = " + tv)
	c.emitted[opt] = true
}

// convertBiboumiValue returns the TOML value of option opt for Biboumi's
// value v, or "" to leave the key out (this gateway's default applies),
// and the warnings: what Biboumi did differently, or what to check.
func convertBiboumiValue(opt, v string) (string, []string) {
	var warns []string
	warn := func(format string, a ...any) { warns = append(warns, fmt.Sprintf(format, a...)) }
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
		warn("the value is not valid UTF-8, which TOML requires: the invalid bytes were replaced with U+FFFD")
	}
	// trim removes spaces that Biboumi kept but that only made the value
	// unusable (a host name, a number).
	trim := func(s string) string {
		t := strings.TrimSpace(s)
		if t != s {
			warn("leading or trailing spaces in %q removed", s)
		}
		return t
	}
	integer := func(min, def int) string {
		s := trim(v)
		n, err := strconv.Atoi(s)
		switch {
		case s == "":
			if opt == "port" {
				warn("empty: using the default %d", def)
			}
			return ""
		case err != nil || n < min || n > 65535:
			warn("%q is not a port number (%d–65535): using the default %d", s, min, def)
			return ""
		}
		return strconv.Itoa(n)
	}

	switch opt {
	case "hostname":
		s := trim(v)
		if s == "" {
			warn("empty: Biboumi does not start without it; fill it in")
		} else if j, err := jid.Parse(s); err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
			warn("%q is not a bare domain name: this gateway refuses it", s)
		}
		return tomlQuote(s), warns
	case "password":
		if v == "" {
			warn("empty: Biboumi does not start without it; fill it in")
		}
		return tomlQuote(v), warns
	case "xmpp_server_ip":
		s := trim(v)
		if s == "" {
			warn(`empty (Biboumi could not connect with it): using the default "127.0.0.1"`)
			return "", warns
		}
		return tomlQuote(s), warns
	case "port":
		return integer(1, 5347), warns
	case "identd_port":
		return integer(0, 113), warns
	case "admin":
		var list []string
		for _, a := range strings.Split(v, ":") {
			switch j, err := jid.Parse(a); {
			case a == "":
				// Skipped, as Biboumi's split does.
			case strings.TrimSpace(a) != a:
				warn("entry %q has spaces, so Biboumi never matched it: left out", a)
			case err != nil:
				warn("entry %q is not a valid JID (%v): left out", a, err)
			case j.Resourcepart() != "":
				warn("entry %q has a resource, so Biboumi never matched it (it compares bare JIDs): left out", a)
			default:
				if j.String() != a {
					warn("entry %q is compared as %q here, while Biboumi compared it as written", a, j.String())
				}
				list = append(list, tomlQuote(a))
			}
		}
		return "[" + strings.Join(list, ", ") + "]", warns
	case "fixed_irc_server":
		return tomlQuote(trim(v)), warns
	case "persistent_by_default", "realname_customization", "realname_from_jid":
		switch v {
		case "true":
			return "true", warns
		case "false":
		case "":
			if opt == "realname_customization" {
				warn(`empty: Biboumi reads it as false (only "true" is true), not as its default true: converted to false`)
			}
		default:
			warn(`%q is not "true", so Biboumi reads it as false: converted to false`, v)
		}
		return "false", warns
	case "webirc_password":
		if strings.HasPrefix(v, ":") || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			warn(`starts with ":" or contains spaces or control characters, which break the WEBIRC command: this gateway refuses it`)
		}
		return tomlQuote(v), warns
	case "log_file", "ca_file":
		return tomlQuote(v), warns
	case "log_level":
		s := trim(v)
		if i := slices.Index([]string{"0", "1", "2", "3"}, s); i >= 0 {
			return tomlQuote([]string{"debug", "info", "warn", "error"}[i]), warns
		}
		if s == "" {
			warn(`empty: Biboumi logged at its default level 0 (debug); using this gateway's default "info"`)
		} else {
			warn(`%q is not a level (0 debug, 1 info, 2 warn, 3 error): using this gateway's default "info"`, s)
		}
		return "", warns
	case "db_name":
		if v == "" {
			warn(`empty or not set: Biboumi used $XDG_DATA_HOME/biboumi/biboumi.sqlite (or ~/.config/biboumi/biboumi.sqlite); ` +
				`written as this gateway's default, "biboumi.sqlite" in the working directory: point it at the database that "biboumi-migrate copy --to" fills`)
			return tomlQuote("biboumi.sqlite"), warns
		}
		warn(`kept as is, but it names Biboumi's database: point it at the database that "biboumi-migrate copy --to" fills`)
		return tomlQuote(v), warns
	case "outgoing_bind":
		s := trim(v)
		if s == "" {
			return `""`, warns
		}
		if _, err := netip.ParseAddr(s); err != nil {
			warn("%q is not an IP address, so Biboumi could not bind to it (it only logged that): left out", s)
			return "", warns
		}
		return tomlQuote(s), warns
	case "policy_directory":
		warn("not supported (Botan TLS policy files): %s", cfgPolicyWhy)
		return "", warns
	}
	return "", warns
}

// policyFiles warns about the Botan TLS policy files Biboumi read from its
// policy_directory, the file's directory by default, and about each
// verify_certificate that turned certificate checks off.
func (c *cfgConverter) policyFiles(last map[string]int, lines []cfgLine, env map[string]*cfgEnvValue) {
	dir, explained := c.opts.ConfigDir, false
	if i, ok := last["policy_directory"]; ok {
		dir, explained = lines[i].value, true
	}
	if ev := env["policy_directory"]; ev != nil {
		dir, explained = ev.value, true
	}
	if c.opts.FS == nil || !strings.HasPrefix(dir, "/") {
		return // unknown, or relative to Biboumi's working directory
	}
	fsDir := strings.TrimPrefix(path.Clean(dir), "/")
	if fsDir == "" {
		fsDir = "."
	}
	entries, err := fs.ReadDir(c.opts.FS, fsDir)
	if err != nil {
		return
	}
	var files []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && (n == "policy.txt" || strings.HasSuffix(n, ".policy.txt")) {
			files = append(files, n)
		}
	}
	if len(files) == 0 {
		return
	}
	msg := "Botan TLS policy files ignored: " + strings.Join(files, ", ")
	if !explained {
		msg += " (not supported: " + cfgPolicyWhy + ")"
	}
	c.warnings = append(c.warnings, oneLineWarning(path.Clean(dir)+"/: "+msg))
	for _, n := range files {
		data, err := readPolicyFile(c.opts.FS, path.Join(fsDir, n))
		if err != nil {
			continue
		}
		server := "every IRC server"
		if s, ok := strings.CutSuffix(n, ".policy.txt"); ok {
			server = s
		}
		for i, line := range strings.Split(string(data), "\n") {
			line, _, _ = strings.Cut(line, "#")
			key, val, ok := strings.Cut(line, "=")
			if !ok || strings.TrimSpace(key) != "verify_certificate" {
				continue
			}
			if val = strings.TrimSpace(val); val == "false" || val == "0" {
				c.warnings = append(c.warnings, oneLineWarning(fmt.Sprintf(
					"%s:%d: verify_certificate: Biboumi did not verify the certificate of %s; this gateway does: "+
						`its users can turn the check off with verify_cert=false, or trust one certificate with fingerprint, in the server's "configure" ad-hoc command`,
					path.Join(path.Clean(dir), n), i+1, server)))
			}
		}
	}
}

// readPolicyFile reads a Botan policy file, if it is a regular file (not
// a FIFO that would block) of at most cfgPolicyMaxSize bytes.
func readPolicyFile(fsys fs.FS, name string) ([]byte, error) {
	if fi, err := fs.Stat(fsys, name); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, cfgPolicyMaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > cfgPolicyMaxSize {
		return nil, fmt.Errorf("%s: too large", name)
	}
	return data, nil
}

// cfgClosest returns the Biboumi option that name most likely meant: the
// same but for case, or within two edits. "" if none.
func cfgClosest(name string) string {
	return suggest.Closest(name, biboumiCfgOptions)
}

// ---- output ----

func (c *cfgConverter) lineLoc(num int) string {
	return fmt.Sprintf("%s:%d", c.opts.Name, num)
}

// warnLine records a warning about line num; opt may be empty.
func (c *cfgConverter) warnLine(num int, opt, msg string) string {
	return c.warnAt(c.lineLoc(num), opt, msg)
}

// warnAt records the warning "loc: opt: msg" and returns msg.
func (c *cfgConverter) warnAt(loc, opt, msg string) string {
	w := loc + ": " + msg
	if opt != "" {
		w = loc + ": " + opt + ": " + msg
	}
	c.warnings = append(c.warnings, oneLineWarning(w))
	return msg
}

// oneLineWarning makes sure a warning is one line of valid UTF-8, whatever
// a file name held.
func oneLineWarning(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\v", `\v`, "\f", `\f`,
		"\u0085", `\u0085`, "\u2028", `\u2028`, "\u2029", `\u2029`).Replace(s)
}

// note writes msg as a "# biboumi-migrate:" comment, wrapped.
func (c *cfgConverter) note(msg string) {
	const width = 76
	line, words := "# biboumi-migrate:", 0
	for _, w := range strings.Fields(msg) {
		if words > 0 && len(line)+1+len(w) > width {
			c.write(tomlComment(line))
			line, words = "#  ", 0
		}
		line += " " + w
		words++
	}
	c.write(tomlComment(line))
}

// write appends one line to the output, after the blank line that is due.
func (c *cfgConverter) write(s string) {
	if c.blank && c.out.Len() > 0 {
		c.out.WriteByte('\n')
	}
	c.blank = false
	c.out.WriteString(s)
	c.out.WriteByte('\n')
}

// tomlComment makes s, which starts with '#', a valid TOML comment: the
// control characters TOML forbids there (all but tab) are written as \xNN
// and invalid UTF-8 as U+FFFD.
func tomlComment(s string) string {
	var b strings.Builder
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			fmt.Fprintf(&b, `\x%02x`, r)
			continue
		}
		b.WriteRune(r) // utf8.RuneError for an invalid byte: U+FFFD
	}
	return b.String()
}

// tomlQuote returns s as a TOML basic string. Invalid UTF-8 becomes U+FFFD
// (callers warn about it first).
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// asciiLower lowercases ASCII letters only, like Biboumi's utils::tolower.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
