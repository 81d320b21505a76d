package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"biboumi/internal/servers"

	"github.com/ergochat/irc-go/ircmsg"
)

const (
	componentHost = "irc.localhost" // the gateway's domain
	ircHost       = "127.0.0.1"     // the IRC server, as named in JIDs
	channel       = "#demo"
	aliceNick     = "alice"   // alice's nick in the room, and so on IRC
	bobNick       = "ircbob"  // the IRC user
	bobNewNick    = "bob_irc" // ircbob's nick after the nick change
	// stepTimeout bounds each wait of the scripted conversation.
	stepTimeout = 10 * time.Second
	// readyTimeout bounds the wait for the gateway to answer disco#info.
	readyTimeout = 30 * time.Second
)

var (
	errUsage       = errors.New("bad command line")
	errInterrupted = errors.New("interrupted")
)

// roomJID is the JID of an IRC channel of the demo's IRC server.
func roomJID(channel string) string { return channel + "%" + ircHost + "@" + componentHost }

// userJID is the JID of an IRC user of the demo's IRC server.
func userJID(nick string) string { return nick + "%" + ircHost + "@" + componentHost }

type options struct {
	gateway  string        // prebuilt gateway binary, or "" to build one
	duration time.Duration // how long to keep running after the script
	forever  bool          // no -duration: until SIGINT/SIGTERM
	users    []string      // extra accounts for real clients
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("biboumi-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.gateway, "gateway", "", "run this gateway `binary` instead of building ./cmd/biboumi")
	fs.DurationVar(&o.duration, "duration", 0, "keep running for this long after the scripted conversation, then exit (0: exit right away; default: until Ctrl-C)")
	users := fs.String("users", "bob,carol", "comma-separated extra XMPP `accounts` to create for real clients (passwords are printed)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: biboumi-demo [-gateway PATH] [-duration D] [-users a,b]\n\n"+
			"Starts prosody, inspircd and the gateway on loopback, plays a scripted\n"+
			"conversation between an XMPP user and an IRC user, and keeps everything\n"+
			"running for real clients until Ctrl-C.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	o.forever = true
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "duration" {
			o.forever = false
		}
	})
	if o.duration < 0 {
		return o, fmt.Errorf("%w: -duration %v is negative", errUsage, o.duration)
	}
	if o.gateway != "" {
		abs, err := filepath.Abs(o.gateway)
		if err == nil {
			o.gateway = abs
		}
		if fi, err := os.Stat(o.gateway); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return o, fmt.Errorf("%w: -gateway %s: not an executable file", errUsage, o.gateway)
		}
	}
	for _, u := range strings.Split(*users, ",") {
		u = strings.ToLower(strings.TrimSpace(u))
		if u == "" {
			continue
		}
		if u == aliceNick || strings.ContainsAny(u, "@/ \"&'<>:") {
			return o, fmt.Errorf("%w: -users: %q is not a usable account name", errUsage, u)
		}
		o.users = append(o.users, u)
	}
	return o, nil
}

// account is an XMPP account of the demo.
type account struct{ user, password string }

// demo is one run: its servers, gateway, scripted users and transcript.
type demo struct {
	ctx   context.Context
	o     options
	out   *printer
	dir   string // removed at exit
	begin time.Time

	prosody  *servers.XMPPServer
	inspircd *servers.IRCServer
	gw       *servers.Process
	gwLog    string
	accounts []account // alice first

	mu     sync.Mutex // guards alice, bob, closed
	alice  *servers.XMPPClient
	bob    *servers.IRCClient
	closed bool

	// drains counts the goroutines of startLive; they close aliceLeft
	// and aliceQuit when they see the gateway's shutdown.
	drains    sync.WaitGroup
	live      bool
	aliceLeft chan struct{}
	aliceQuit chan struct{}

	bobNick string // ircbob's current nick
	timings []string
}

// run is the whole demo; main maps its error to the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	d := &demo{ctx: ctx, o: o, out: &printer{w: stdout}, begin: time.Now(), bobNick: bobNick}
	d.dir, err = os.MkdirTemp("", "biboumi-demo-")
	if err != nil {
		return err
	}
	// Closing the scripted clients makes whatever waits on them return at
	// once when a signal arrives.
	stopClose := context.AfterFunc(ctx, d.closeClients)
	defer stopClose()
	defer func() {
		if cerr := d.shutdown(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	d.out.Printf("== biboumi demo: prosody + inspircd + the gateway, on loopback ==")
	d.out.Printf("(everything lives in %s, removed at exit)", d.dir)
	for _, s := range []struct {
		name string
		f    func() error
	}{
		{"setting up", d.setup},
		{"the scripted conversation", d.script},
	} {
		if err := s.f(); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w during %s", errInterrupted, s.name)
			}
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	// From now on a signal ends wait, and shutdown stops the gateway
	// while alice and ircbob watch.
	stopClose()
	d.startLive()
	d.instructions()
	return d.wait()
}

// step runs f, names it in any error, and records how long it took.
func (d *demo) step(name string, f func() error) error {
	start := time.Now()
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	d.timings = append(d.timings, name+" "+round(time.Since(start)).String())
	return nil
}

func round(t time.Duration) time.Duration {
	if t < time.Millisecond {
		return t.Round(10 * time.Microsecond)
	}
	if t < time.Second {
		return t.Round(time.Millisecond)
	}
	return t.Round(10 * time.Millisecond)
}

// setup builds the gateway, starts the servers, creates the accounts,
// starts the gateway and waits until it answers through prosody.
func (d *demo) setup() error {
	d.out.Printf("")
	d.out.Printf("== Setup ==")
	start := time.Now()
	var (
		wg                      sync.WaitGroup
		buildErr, xErr, iErr    error
		bin                     = d.o.gateway
		buildTime, xTime, iTime time.Duration
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		if bin != "" {
			return
		}
		t := time.Now()
		bin, buildErr = buildGateway(d.ctx, d.dir)
		buildTime = time.Since(t)
	}()
	go func() {
		defer wg.Done()
		t := time.Now()
		dir := filepath.Join(d.dir, "prosody")
		if xErr = os.Mkdir(dir, 0o755); xErr != nil {
			return
		}
		d.prosody, xErr = servers.StartProsody(dir, servers.XMPPOptions{ComponentHost: componentHost, Secret: randomString(20)})
		xTime = time.Since(t)
	}()
	go func() {
		defer wg.Done()
		t := time.Now()
		dir := filepath.Join(d.dir, "inspircd")
		if iErr = os.Mkdir(dir, 0o755); iErr != nil {
			return
		}
		d.inspircd, iErr = servers.StartInspircd(dir, servers.IRCOptions{})
		iTime = time.Since(t)
	}()
	wg.Wait()
	if err := errors.Join(buildErr, xErr, iErr); err != nil {
		if errors.Is(err, servers.ErrUnavailable) {
			err = fmt.Errorf("%w\n(install the servers with: scripts/deps.sh demo, or make demo)", err)
		}
		return err
	}
	if d.o.gateway == "" {
		d.out.Printf("[setup] built the gateway: go build -o %s ./cmd/biboumi  (%s)", bin, round(buildTime))
		d.timings = append(d.timings, "build "+round(buildTime).String())
	} else {
		d.out.Printf("[setup] gateway binary: %s", bin)
	}
	d.out.Printf("[setup] prosody: c2s on %s, component port %d for %s  (%s)", d.prosody.C2SAddr, d.prosody.ComponentPort, componentHost, round(xTime))
	d.out.Printf("[setup] inspircd: %s (server name %s)  (%s)", d.inspircd.Addr, d.inspircd.Name, round(iTime))
	d.timings = append(d.timings, "prosody "+round(xTime).String(), "inspircd "+round(iTime).String())

	if err := d.step("accounts", d.addAccounts); err != nil {
		return err
	}
	if err := d.step("gateway start", func() error { return d.startGateway(bin) }); err != nil {
		return err
	}
	d.out.Printf("[setup] done in %s", round(time.Since(start)))
	d.timings = append(d.timings, "total "+round(time.Since(start)).String())
	return nil
}

// moduleRoot finds the biboumi module: up from the working directory,
// or from this source file.
func moduleRoot() (string, error) {
	isRoot := func(dir string) bool {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil || !strings.HasPrefix(string(b), "module biboumi\n") {
			return false
		}
		_, err = os.Stat(filepath.Join(dir, "cmd", "biboumi"))
		return err == nil
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if isRoot(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if dir := filepath.Join(filepath.Dir(file), "..", ".."); isRoot(dir) {
			return filepath.Clean(dir), nil
		}
	}
	return "", errors.New("the biboumi module (go.mod) is not above the working directory: run the demo from the source tree, or give -gateway PATH")
}

// buildGateway runs go build ./cmd/biboumi into dir. $GO names the go
// command (make passes its own).
func buildGateway(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	goBin, err := exec.LookPath(goCmd)
	if err != nil {
		return "", fmt.Errorf("building the gateway: %v (or give -gateway PATH)", err)
	}
	bin := filepath.Join(dir, "biboumi")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/biboumi")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/biboumi in %s: %v\n%s", root, err, out)
	}
	return bin, nil
}

func (d *demo) addAccounts() error {
	names := append([]string{aliceNick}, d.o.users...)
	d.accounts = make([]account, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, u := range names {
		d.accounts[i] = account{u, randomString(10)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.prosody.AddUser(u, d.accounts[i].password)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var list []string
	for _, a := range d.accounts {
		list = append(list, d.prosody.JID(a.user))
	}
	d.out.Printf("[setup] XMPP accounts: %s", strings.Join(list, ", "))
	return nil
}

// startGateway writes the configuration, checks it, starts the gateway,
// logs alice in and waits until the gateway answers her disco#info
// through prosody.
func (d *demo) startGateway(bin string) error {
	gwDir := filepath.Join(d.dir, "gateway")
	if err := os.Mkdir(gwDir, 0o755); err != nil {
		return err
	}
	d.gwLog = filepath.Join(gwDir, "biboumi.log")
	cfgPath := filepath.Join(gwDir, "biboumi.toml")
	cfg := fmt.Sprintf(`# Written by biboumi-demo.
hostname = %q
password = %q
xmpp_server_ip = "127.0.0.1"
port = %d
db_name = %q
identd_port = 0
log_file = %q
log_level = "debug"

[irc]
tls_ports = []
ports = [%d]

[component]
reconnect_min = "100ms"
`, componentHost, d.prosody.Secret, d.prosody.ComponentPort, filepath.Join(gwDir, "biboumi.sqlite"), d.gwLog, d.inspircd.Port)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	if out, err := exec.CommandContext(d.ctx, bin, "--test-config", cfgPath).CombinedOutput(); err != nil {
		return fmt.Errorf("%s --test-config %s: %v\n%s", bin, cfgPath, err, out)
	}
	start := time.Now()
	gw, err := servers.StartProcess(servers.ProcessConfig{
		Name:    "biboumi",
		Dir:     gwDir,
		Argv:    []string{bin, cfgPath},
		Logs:    []string{d.gwLog},
		Timeout: 5 * time.Second,
	})
	if err != nil {
		return err
	}
	d.gw = gw
	d.out.Printf("[setup] gateway started: %s %s (SQLite database and log in %s)", filepath.Base(bin), cfgPath, gwDir)

	alice, err := d.prosody.Dial(aliceNick, d.accounts[0].password, "demo")
	if err != nil {
		return err
	}
	d.setClient(alice, nil)

	// The gateway is ready when prosody routes to it: until the
	// component has authenticated, prosody bounces the iq.
	deadline := time.Now().Add(readyTimeout)
	var last *servers.Element
	for i := 1; ; i++ {
		if exited, werr := gw.Exited(); exited {
			return fmt.Errorf("the gateway exited before answering disco#info (%v):\n%s", exitStatus(werr), gw.Logs())
		}
		id := fmt.Sprintf("probe%d", i)
		if err := alice.Sendf(`<iq type='get' id='%s' to='%s'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, id, componentHost); err != nil {
			return err
		}
		e, err := alice.Expect(servers.IsStanza("iq", "id", id), stepTimeout)
		if err != nil {
			return fmt.Errorf("waiting for prosody to answer a disco#info to %s: %w", componentHost, err)
		}
		last = e
		if e.Attr("type") == "result" {
			name := e.Find("query", "identity").Attr("name")
			d.out.Printf("[setup] %s answers disco#info through prosody: %q  (%s)", componentHost, name, round(time.Since(start)))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway did not answer disco#info through prosody within %v; last answer %s\n%s", readyTimeout, last, gw.Logs())
		}
		select {
		case <-d.ctx.Done():
			return d.ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// setClient records the scripted clients, closing them at once if a
// signal came first.
func (d *demo) setClient(alice *servers.XMPPClient, bob *servers.IRCClient) {
	d.mu.Lock()
	if alice != nil {
		d.alice = alice
	}
	if bob != nil {
		d.bob = bob
	}
	closed := d.closed
	d.mu.Unlock()
	if closed {
		d.closeClients()
	}
}

// closeClients closes the scripted clients (alice leaves her rooms,
// ircbob quits), which ends whatever waits on them.
func (d *demo) closeClients() {
	d.mu.Lock()
	d.closed = true
	alice, bob := d.alice, d.bob
	d.mu.Unlock()
	var wg sync.WaitGroup
	if alice != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = alice.Close() }()
	}
	if bob != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = bob.Close() }()
	}
	wg.Wait()
}

// randomString returns n random lowercase letters and digits, easy to
// type into a client.
func randomString(n int) string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// instructions tells how to use the running demo with real clients.
func (d *demo) instructions() {
	p := d.out
	room := roomJID(channel)
	p.Printf("")
	p.Printf("== Your turn: the gateway is running ==")
	p.Printf("Point a real XMPP client (Gajim, Dino, Profanity, …) at prosody:")
	p.Printf("  server     127.0.0.1, port %d (c2s). There is no TLS: plain-text authentication", d.prosody.C2SPort)
	p.Printf("             is allowed, on loopback only. Set the host and port by hand in your")
	p.Printf("             client's connection settings, and allow an unencrypted connection.")
	for i, a := range d.accounts {
		note := ""
		if i == 0 {
			note = "   (the scripted user, still in " + channel + ")"
		}
		p.Printf("  account    %-18s password %s%s", d.prosody.JID(a.user), a.password, note)
	}
	p.Printf("  join       %s   (with any nick; any channel works: #name%%%s@%s)", room, ircHost, componentHost)
	p.Printf("  private    chat with %s (IRC user %s)", userJID(d.bobNick), d.bobNick)
	p.Printf("  gateway    %s (its disco#info says \"Biboumi XMPP-IRC gateway\")", componentHost)
	if len(d.accounts) > 1 {
		p.Printf("  Profanity: /connect %s server 127.0.0.1 port %d tls disable", d.prosody.JID(d.accounts[1].user), d.prosody.C2SPort)
		p.Printf("             /join %s", room)
	}
	p.Printf("From IRC:")
	p.Printf("  irc %s:%d   (no TLS, no password; e.g. irssi -c 127.0.0.1 -p %d, then /join %s)", ircHost, d.inspircd.Port, d.inspircd.Port, channel)
	p.Printf("Logs (removed at exit): %s, %s, %s",
		d.gwLog, filepath.Join(d.prosody.Dir, "prosody.log"), filepath.Join(d.inspircd.Dir, "inspircd.log"))
	p.Printf("What alice and %s receive from now on is printed below.", d.bobNick)
}

// wait keeps everything running until a signal, or for -duration, or
// until the gateway or a server dies.
func (d *demo) wait() error {
	var timeout <-chan time.Time
	switch {
	case d.o.forever:
		d.out.Printf("Press Ctrl-C to stop.")
	case d.o.duration == 0:
		return nil
	default:
		d.out.Printf("Running for %v (-duration); Ctrl-C stops earlier.", d.o.duration)
		t := time.NewTimer(d.o.duration)
		defer t.Stop()
		timeout = t.C
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-d.ctx.Done():
			d.out.Printf("")
			d.out.Printf("[stop] signal received")
			return nil
		case <-timeout:
			d.out.Printf("")
			d.out.Printf("[stop] %v elapsed", d.o.duration)
			return nil
		case <-tick.C:
			if exited, err := d.gw.Exited(); exited {
				return fmt.Errorf("the gateway exited (%s):\n%s", exitStatus(err), d.gw.Logs())
			}
			if !d.prosody.Running() {
				return fmt.Errorf("prosody exited:\n%s", d.prosody.Logs())
			}
			if !d.inspircd.Running() {
				return fmt.Errorf("inspircd exited:\n%s", d.inspircd.Logs())
			}
		}
	}
}

// shutdown stops the gateway (SIGTERM, and waits for it), closes the
// scripted clients, stops the servers and removes the directory.
func (d *demo) shutdown() error {
	start := time.Now()
	var errs []error
	if d.gw != nil {
		t := time.Now()
		if err := d.gw.Stop(); err != nil {
			errs = append(errs, err)
		}
		_, werr := d.gw.Exited()
		if werr != nil {
			errs = append(errs, fmt.Errorf("the gateway's exit after SIGTERM: %v\n%s", werr, d.gw.Logs()))
		}
		d.out.Printf("[stop] gateway stopped with SIGTERM (%s)  (%s)", exitStatus(werr), round(time.Since(t)))
		if d.live {
			// Let alice and ircbob show what the shutdown looks like.
			timeout := time.After(2 * time.Second)
			for _, ch := range []chan struct{}{d.aliceLeft, d.aliceQuit} {
				select {
				case <-ch:
				case <-timeout:
				}
			}
		}
	}
	d.closeClients()
	d.drains.Wait()
	var (
		wg         sync.WaitGroup
		xErr, iErr error
		stopped    []string
		t          = time.Now()
	)
	if d.prosody != nil {
		stopped = append(stopped, "prosody")
		wg.Add(1)
		go func() { defer wg.Done(); xErr = d.prosody.Stop() }()
	}
	if d.inspircd != nil {
		stopped = append(stopped, "inspircd")
		wg.Add(1)
		go func() { defer wg.Done(); iErr = d.inspircd.Stop() }()
	}
	wg.Wait()
	errs = append(errs, xErr, iErr)
	if len(stopped) > 0 {
		d.out.Printf("[stop] %s stopped with SIGTERM  (%s)", strings.Join(stopped, " and "), round(time.Since(t)))
	}
	if err := os.RemoveAll(d.dir); err != nil {
		errs = append(errs, err)
	}
	d.out.Printf("[stop] removed %s; shutdown took %s, the demo ran %s", d.dir, round(time.Since(start)), round(time.Since(d.begin)))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// printer writes the transcript, one whole line at a time.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// ircLine re-serialises a received IRC message.
func ircLine(m ircmsg.Message) string {
	s, err := m.Line()
	if err != nil {
		return fmt.Sprintf("%s %v", m.Command, m.Params)
	}
	return strings.TrimRight(s, "\r\n")
}
