// Command biboumi-bench is a load generator that measures the gateway
// side by side with Biboumi 9.0, on loopback, in bounded time.
//
// It starts a throwaway XMPP server (ejabberd by default, or prosody) and,
// for every measurement, a fresh IRC server (ngircd by default, or
// inspircd) and the gateway under test: ours, built from this module with
// go build, or Debian's biboumi 9.0. N XMPP users log in through real c2s
// connections and join M channels through the gateway, where a raw IRC
// client waits in every channel. It then measures, per phase:
//
//   - login and join: time until all N users have their self-presence
//     (status 110) in all M rooms;
//   - steady chat: XMPP→IRC and IRC→XMPP latency percentiles while every
//     user sends a message every few seconds and every IRC client a line
//     a second;
//   - fan-out: F lines written at once by an IRC client into a channel of
//     N users; deliveries per second until all N×F arrived, and the
//     gateway's CPU time per delivery;
//   - the gateway's memory (RSS before and after the users join, per
//     user, peak), and the CPU time of the gateway, the XMPP server, the
//     IRC server and the load generator in every phase, so that the
//     report names the bottleneck.
//
// It prints a table (phase, figure, one column per gateway, ratio
// ours/Biboumi), writes every figure and the environment to a JSON file,
// and echoes the command line. See docs/benchmarks.md.
//
// Usage:
//
//	go run ./cmd/biboumi-bench [-users N -channels M | -sizes 100x5,500x1]
//	    [-lines F] [-duration D] [-xmpp ejabberd|prosody] [-irc ngircd|inspircd]
//	    [-target ours|biboumi|both|LIST] [-db disk|tmpfs] [-json FILE]
//
// It must run from the biboumi module (for go build ./cmd/biboumi and the
// server templates), as root or as the ejabberd user for ejabberd.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"biboumi/internal/servers"
)

var errUsage = errors.New("bad command line")

type size struct{ Users, Channels int }

func (s size) String() string { return fmt.Sprintf("%dx%d", s.Users, s.Channels) }

// target is one gateway configuration under test.
type target struct {
	Name string // as given: ours, biboumi, biboumi-tmpfs, …
	Kind string // ours or biboumi
	DB   string // disk or tmpfs
}

type options struct {
	sizes        []size
	lines        int
	duration     time.Duration
	msgInterval  time.Duration
	ircInterval  time.Duration
	steadyLoad   int
	xmpp, irc    string
	targets      []target
	db           string
	jsonPath     string
	gateway      string
	biboumi      string
	logLevel     string
	joinTimeout  time.Duration
	fanTimeout   time.Duration
	drainTimeout time.Duration
	timeout      time.Duration
	loginConc    int
	keep         bool
	oursConfig   []string // extra top-level TOML lines for ours
	joinRate     float64
	pprofDir     string
	stallTimeout time.Duration
	waitQuiet    time.Duration
	quietCPU     float64
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("biboumi-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	users := fs.Int("users", 0, "`N` XMPP users (with -channels: one size instead of -sizes)")
	channels := fs.Int("channels", 0, "`M` channels, every user joins all of them")
	sizes := fs.String("sizes", "100x5,500x1", "comma-separated `NxM` sizes to measure, each against every target")
	fs.IntVar(&o.lines, "lines", 100, "`F` lines written at once by the IRC client in the fan-out phase")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "length of the steady chat phase")
	fs.DurationVar(&o.msgInterval, "interval", 0, "time between two messages of one user in the steady phase (0: 5s, longer if N users would offer more than -steady-load deliveries/s)")
	fs.DurationVar(&o.ircInterval, "irc-interval", time.Second, "time between two lines of each channel's IRC client in the steady phase")
	fs.IntVar(&o.steadyLoad, "steady-load", 500, "deliveries per second that the users' messages may offer at most when -interval is 0")
	fs.StringVar(&o.xmpp, "xmpp", "ejabberd", "XMPP server: ejabberd or prosody")
	fs.StringVar(&o.irc, "irc", "ngircd", "IRC server: ngircd or inspircd")
	tgs := fs.String("target", "ours", "gateways to measure: ours, biboumi, both (= ours,biboumi), or a comma-separated list where a name may end in -disk or -tmpfs (database placement), e.g. ours,biboumi,biboumi-tmpfs")
	fs.StringVar(&o.db, "db", "disk", "where the gateways' SQLite databases live unless the target says: disk (the run's temp dir) or tmpfs (/dev/shm)")
	fs.StringVar(&o.jsonPath, "json", "biboumi-bench.json", "write the results as JSON to this `file` (\"\": none)")
	fs.StringVar(&o.gateway, "gateway", "", "our gateway `binary` (default: go build ./cmd/biboumi into the run's temp dir)")
	fs.StringVar(&o.biboumi, "biboumi", "biboumi", "Biboumi 9.0 `binary` (apt-get install biboumi)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level of both gateways: debug, info, warn or error")
	fs.Float64Var(&o.joinRate, "join-rate", 25, "users that start joining per second (each joins its M rooms at once); 0: all users at once")
	fs.DurationVar(&o.joinTimeout, "join-timeout", 90*time.Second, "deadline of the join phase")
	fs.DurationVar(&o.fanTimeout, "fanout-timeout", 90*time.Second, "deadline of the fan-out phase")
	fs.DurationVar(&o.stallTimeout, "stall-timeout", 10*time.Second, "the fan-out phase ends early when no delivery arrived and the gateway was idle for this long")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 15*time.Second, "how long the steady phase waits for messages still on the way")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "the whole run is abandoned (exit 1) after this long")
	fs.IntVar(&o.loginConc, "login-concurrency", 32, "logins (and ad-hoc commands) in flight at once")
	fs.Func("ours-config", "a TOML `line` added at the top level of our gateway's generated configuration, e.g. 'component.queue_size = 1000000' (repeatable; recorded in the report)", func(v string) error {
		if strings.ContainsAny(v, "\n\r") {
			return errors.New("one line per -ours-config")
		}
		o.oursConfig = append(o.oursConfig, v)
		return nil
	})
	fs.StringVar(&o.pprofDir, "pprof", "", "build our gateway with a profiling hook (go build -overlay; the source is not changed) and save heap, goroutine and CPU profiles (steady, fan-out) of every run of ours into this `dir`")
	fs.DurationVar(&o.waitQuiet, "wait-quiet", time.Minute, "before each measurement, wait up to this long for the machine to be quiet (see -quiet-cpu); 0: do not wait")
	fs.Float64Var(&o.quietCPU, "quiet-cpu", 25, "the machine is quiet when less than this `percent` of all its CPU time is busy over 2 s")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir (configs, logs, databases) and print its path")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: biboumi-bench [flags]\n\n"+
			"Load generator: N XMPP users in M IRC channels through the gateway,\n"+
			"ours and/or Biboumi 9.0, on loopback. See docs/benchmarks.md.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	bad := func(format string, args ...any) (options, error) {
		return o, fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
	}
	if *users > 0 || *channels > 0 {
		n, m := *users, *channels
		if n <= 0 {
			n = 100
		}
		if m <= 0 {
			m = 1
		}
		o.sizes = []size{{n, m}}
	} else {
		for _, s := range strings.Split(*sizes, ",") {
			a, b, ok := strings.Cut(strings.TrimSpace(s), "x")
			n, err1 := strconv.Atoi(a)
			m, err2 := strconv.Atoi(b)
			if !ok || err1 != nil || err2 != nil || n <= 0 || m <= 0 {
				return bad("-sizes: %q is not NxM", s)
			}
			o.sizes = append(o.sizes, size{n, m})
		}
	}
	for _, s := range o.sizes {
		if s.Users > 5000 || s.Channels > 50 {
			return bad("size %v: at most 5000 users and 50 channels", s)
		}
	}
	if o.lines <= 0 || o.lines > 5000 {
		return bad("-lines %d: 1 to 5000", o.lines)
	}
	if o.joinRate < 0 {
		return bad("-join-rate must not be negative")
	}
	if o.duration <= 0 || o.ircInterval <= 0 || o.steadyLoad <= 0 || o.msgInterval < 0 || o.loginConc <= 0 {
		return bad("-duration, -irc-interval, -steady-load and -login-concurrency must be positive")
	}
	if o.xmpp != "ejabberd" && o.xmpp != "prosody" {
		return bad("-xmpp %q: ejabberd or prosody", o.xmpp)
	}
	if o.irc != "ngircd" && o.irc != "inspircd" {
		return bad("-irc %q: ngircd or inspircd", o.irc)
	}
	if o.db != "disk" && o.db != "tmpfs" {
		return bad("-db %q: disk or tmpfs", o.db)
	}
	if _, ok := map[string]bool{"debug": true, "info": true, "warn": true, "error": true}[o.logLevel]; !ok {
		return bad("-log-level %q: debug, info, warn or error", o.logLevel)
	}
	seen := map[string]bool{}
	var names []string
	for _, name := range strings.Split(*tgs, ",") {
		if strings.TrimSpace(name) == "both" {
			names = append(names, "ours", "biboumi")
		} else {
			names = append(names, name)
		}
	}
	for _, name := range names {
		name = strings.TrimSpace(name)
		kind, db, _ := strings.Cut(name, "-")
		if kind != "ours" && kind != "biboumi" {
			return bad("-target: %q: ours or biboumi, optionally with -disk or -tmpfs", name)
		}
		if db == "" {
			db = o.db
		} else if db != "disk" && db != "tmpfs" {
			return bad("-target: %q: the suffix is -disk or -tmpfs", name)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		o.targets = append(o.targets, target{Name: name, Kind: kind, DB: db})
	}
	return o, nil
}

// bench is the whole invocation: the XMPP server and accounts shared by
// every measurement, and the results.
type bench struct {
	o          options
	out, errw  io.Writer
	dir        string // 0755 temp dir (ejabberd must reach it)
	shmDir     string // on /dev/shm, for -tmpfs targets
	root       string // the biboumi module
	oursBin    string
	biboumiBin string
	xs         *servers.XMPPServer
	probe      *xclient
	env        environment
	results    []*runResult
	started    time.Time

	logMu sync.Mutex
}

const accountPassword = "bench-password"

func accountName(i int) string { return "bu" + strconv.Itoa(i) }

func (b *bench) logf(format string, args ...any) {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	fmt.Fprintf(b.errw, "%6.1fs "+format+"\n", append([]any{time.Since(b.started).Seconds()}, args...)...)
}

func (b *bench) tmpfsDir() (string, error) {
	if b.shmDir != "" {
		return b.shmDir, nil
	}
	d, err := os.MkdirTemp("/dev/shm", "biboumi-bench-db-")
	if err != nil {
		return "", fmt.Errorf("tmpfs database dir: %w", err)
	}
	b.shmDir = d
	return d, nil
}

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

func mainErr(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "biboumi-bench:", err)
		return 2
	}
	b := &bench{o: o, out: stdout, errw: stderr, started: time.Now()}
	b.env.Command = commandLine(args)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(stderr, "biboumi-bench: %v: stopping (the servers die with this process)\n", s)
		b.removeDirs()
		os.Exit(130)
	}()
	watchdog := time.AfterFunc(o.timeout, func() {
		fmt.Fprintf(stderr, "biboumi-bench: FAILED: the whole run took more than -timeout %v\n", o.timeout)
		b.removeDirs()
		os.Exit(1)
	})
	defer watchdog.Stop()

	err = b.runAll()
	if err != nil {
		fmt.Fprintln(stderr, "biboumi-bench: FAILED:", err)
	}
	failed := err != nil
	for _, r := range b.results {
		if r.Error != "" {
			failed = true
		}
	}
	if len(b.results) > 0 {
		b.report()
	}
	if failed {
		return 1
	}
	return 0
}

// commandLine quotes args for a shell.
func commandLine(args []string) string {
	parts := []string{"go run ./cmd/biboumi-bench"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$\\*?;&|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func (b *bench) removeDirs() {
	if b.o.keep {
		return
	}
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
	if b.shmDir != "" {
		_ = os.RemoveAll(b.shmDir)
	}
}

// runAll sets up what every measurement shares, then runs each size
// against each target.
func (b *bench) runAll() (err error) {
	o := b.o
	parent := os.TempDir()
	b.dir, err = os.MkdirTemp(parent, "biboumi-bench-")
	if err != nil {
		return err
	}
	if err := os.Chmod(b.dir, 0o755); err != nil {
		return err
	}
	// templates points BIBOUMI_TESTDATA into b.dir: put it back after, so
	// that another run in the same process (tests) finds the real one.
	testdata, hadTestdata := os.LookupEnv("BIBOUMI_TESTDATA")
	defer func() {
		if hadTestdata {
			os.Setenv("BIBOUMI_TESTDATA", testdata)
		} else {
			os.Unsetenv("BIBOUMI_TESTDATA")
		}
		if o.keep {
			b.logf("kept %s", b.dir)
		}
		b.removeDirs()
	}()
	b.logf("biboumi-bench: %s (temp dir %s)", b.env.Command, b.dir)

	if b.root, err = moduleRoot(); err != nil && (o.gateway == "" || o.pprofDir != "") {
		return err
	}
	if o.pprofDir != "" {
		if o.gateway != "" {
			return fmt.Errorf("%w: -pprof builds the gateway: it does not go with -gateway", errUsage)
		}
		if o.pprofDir, err = filepath.Abs(o.pprofDir); err != nil {
			return err
		}
		if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
			return err
		}
		b.o.pprofDir = o.pprofDir
	}
	if err := b.templates(); err != nil {
		return err
	}
	needOurs, needBiboumi := false, false
	for _, t := range o.targets {
		needOurs = needOurs || t.Kind == "ours"
		needBiboumi = needBiboumi || t.Kind == "biboumi"
	}
	if needBiboumi {
		if b.biboumiBin, err = servers.LookPath(o.biboumi); err != nil {
			return fmt.Errorf("%w (apt-get install biboumi)", err)
		}
	}

	// Build ours and start the XMPP server at the same time.
	var wg sync.WaitGroup
	var buildErr error
	if needOurs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			if o.pprofDir != "" {
				b.oursBin = filepath.Join(b.dir, "biboumi-go-pprof")
				buildErr = b.buildOursProfiled(b.oursBin)
			} else {
				b.oursBin, buildErr = b.buildOurs()
			}
			if buildErr == nil {
				b.logf("gateway binary: %s (%v)", b.oursBin, time.Since(t).Round(time.Millisecond))
			}
		}()
	}
	t := time.Now()
	xdir := filepath.Join(b.dir, o.xmpp)
	if err := os.MkdirAll(xdir, 0o755); err != nil {
		return err
	}
	xo := servers.XMPPOptions{ComponentHost: componentHost, Secret: randomHex(12)}
	var xerr error
	if o.xmpp == "ejabberd" {
		b.xs, xerr = servers.StartEjabberd(xdir, xo)
	} else {
		b.xs, xerr = servers.StartProsody(xdir, xo)
	}
	wg.Wait()
	if b.xs != nil {
		defer func() { _ = b.xs.Stop() }()
	}
	if err := errors.Join(xerr, buildErr); err != nil {
		return err
	}
	b.logf("%s: c2s %s, component port %d (%v)", o.xmpp, b.xs.C2SAddr, b.xs.ComponentPort, time.Since(t).Round(time.Millisecond))

	maxN := 0
	for _, s := range o.sizes {
		maxN = max(maxN, s.Users)
	}
	t = time.Now()
	if err := do(maxN, 16, func(i int) error {
		return registerXMPP(b.xs.C2SAddr, b.xs.Domain, accountName(i), accountPassword)
	}); err != nil {
		return fmt.Errorf("creating accounts: %w", err)
	}
	if err := registerXMPP(b.xs.C2SAddr, b.xs.Domain, "benchprobe", accountPassword); err != nil {
		return fmt.Errorf("creating accounts: %w", err)
	}
	b.logf("accounts: %d created (%v)", maxN+1, time.Since(t).Round(time.Millisecond))
	if b.probe, err = dialXMPP(b.xs.C2SAddr, b.xs.Domain, "benchprobe", accountPassword, "probe"); err != nil {
		return err
	}
	b.probe.start()
	defer b.probe.close()

	b.env.collect(b)
	for _, sz := range o.sizes {
		for _, tg := range o.targets {
			b.results = append(b.results, b.runOne(sz, tg))
		}
	}
	return nil
}

// runOne measures one size against one target.
func (b *bench) runOne(sz size, tg target) *runResult {
	res := &runResult{Target: tg.Name, Gateway: tg.Kind, DB: tg.DB, Users: sz.Users, Channels: sz.Channels, Lines: b.o.lines,
		StartedAt: time.Now().UTC().Format(time.RFC3339), LoadAvgBefore: loadAvg()}
	r := &run{b: b, sz: sz, tg: tg, res: res, dir: filepath.Join(b.dir, tg.Name+"-"+sz.String())}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		res.Error = err.Error()
		return res
	}
	if b.o.waitQuiet > 0 {
		busy, waited := waitQuiet(b.o.waitQuiet, b.o.quietCPU)
		res.MachineBusyBefore = busy
		if waited > time.Second {
			r.logf("waited %v for the machine to be quiet (other processes' CPU: %.0f%%)", waited.Round(time.Second), busy)
		}
		res.LoadAvgBefore = loadAvg()
		res.add("run", "machine CPU busy just before (other processes)", "%", busy, "")
	}
	t := time.Now()
	r.logf("start (load average %s)", res.LoadAvgBefore)
	if err := r.execute(); err != nil {
		res.Error = err.Error()
		r.logf("FAILED: %v", err)
		if r.gw != nil {
			r.logf("gateway log tail:\n%s", tail(r.gwLog, 1500))
		}
	}
	res.WallS = time.Since(t).Seconds()
	r.logProfiles()
	if r.gwLog != "" {
		var n int
		res.GatewayLog, n = logWarnings(r.gwLog, r.logCut)
		res.add("run", "gateway log warnings and errors", "", float64(n), "lower")
		for _, l := range res.GatewayLog {
			r.logf("gateway log: %s", l)
		}
	}
	r.logf("done in %v", time.Since(t).Round(100*time.Millisecond))
	return res
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// templates makes the server config templates the servers package
// renders: testdata/integration, with the load-test variants of
// testdata/bench laid over it, in the temp dir (BIBOUMI_TESTDATA).
func (b *bench) templates() error {
	base, err := servers.TemplateDir()
	if err != nil {
		return err
	}
	dst := filepath.Join(b.dir, "templates")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	srcs := []string{base}
	if b.root != "" {
		srcs = append(srcs, filepath.Join(b.root, "testdata", "bench"))
	}
	for _, src := range srcs {
		files, err := filepath.Glob(filepath.Join(src, "*.tmpl"))
		if err != nil {
			return err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), data, 0o644); err != nil {
				return err
			}
		}
	}
	return os.Setenv("BIBOUMI_TESTDATA", dst)
}

// moduleRoot finds the biboumi module above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module biboumi\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the biboumi module (go.mod) is not above the working directory: run from the source tree, or give -gateway")
		}
		dir = parent
	}
}

// buildOurs runs go build ./cmd/biboumi into the temp dir ($GO names the
// go command), or returns -gateway.
func (b *bench) buildOurs() (string, error) {
	if b.o.gateway != "" {
		return filepath.Abs(b.o.gateway)
	}
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	bin := filepath.Join(b.dir, "biboumi-go")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./cmd/biboumi")
	cmd.Dir = b.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/biboumi: %v\n%s", err, out)
	}
	return bin, nil
}

func randomHex(n int) string {
	p := make([]byte, n)
	_, _ = rand.Read(p)
	return hex.EncodeToString(p)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// environment is recorded with the results.
type environment struct {
	Command    string            `json:"command"`
	Date       string            `json:"date"`
	Hostname   string            `json:"hostname"`
	CPUs       int               `json:"cpus"`
	CPUModel   string            `json:"cpu_model"`
	MemTotal   string            `json:"mem_total"`
	Kernel     string            `json:"kernel"`
	Go         string            `json:"go"`
	OursCommit string            `json:"ours_commit"`
	Versions   map[string]string `json:"versions"`
	LoadAvg    string            `json:"load_average_at_start"`
	TmpFS      string            `json:"temp_dir"`
}

func (e *environment) collect(b *bench) {
	e.Date = time.Now().UTC().Format(time.RFC3339)
	e.Hostname, _ = os.Hostname()
	e.CPUs = runtime.NumCPU()
	e.Go = runtime.Version()
	e.LoadAvg = loadAvg()
	e.TmpFS = b.dir
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				e.MemTotal = strings.TrimSpace(v)
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(data))
	}
	if b.root != "" {
		if out, err := exec.Command("git", "-C", b.root, "describe", "--always", "--dirty").Output(); err == nil {
			e.OursCommit = strings.TrimSpace(string(out))
		}
	}
	e.Versions = map[string]string{}
	for _, pkg := range []string{b.o.xmpp, b.o.irc, "biboumi"} {
		if out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", pkg).Output(); err == nil {
			e.Versions[pkg] = strings.TrimSpace(string(out))
		}
	}
}
