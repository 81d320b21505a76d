package servers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// XMPPServer is a running prosody or ejabberd with a client (c2s) listener
// and a XEP-0114 component listener on loopback.
type XMPPServer struct {
	Kind          string // "prosody" or "ejabberd"
	Domain        string // client domain, "localhost"
	C2SAddr       string // "127.0.0.1:port"
	ComponentAddr string // "127.0.0.1:port"
	ComponentHost string // e.g. "irc.localhost"
	ComponentPort int
	C2SPort       int
	Secret        string // component password
	Dir           string // config, data and logs

	p       *Process
	ctlArgv []string // argv prefix for prosodyctl / ejabberdctl
	cred    *syscall.Credential
	env     []string
}

// XMPPOptions configures an XMPP server. Zero values take the defaults.
type XMPPOptions struct {
	ComponentHost string // default "irc.localhost"
	Secret        string // default "secret"
	// PickPort chooses each port; default FreePort.
	PickPort func() (int, error)
}

// WithDefaults returns o with the defaults filled in.
func (o XMPPOptions) WithDefaults() XMPPOptions {
	if o.ComponentHost == "" {
		o.ComponentHost = "irc.localhost"
	}
	if o.Secret == "" {
		o.Secret = "secret"
	}
	return o
}

type xmppTemplateData struct {
	Dir           string
	Domain        string
	C2SPort       int
	ComponentPort int
	ComponentHost string
	Secret        string
	Root          bool
	Node          string
	DistPort      int
}

// StartProsody starts a prosody 0.12 on free loopback ports, with its
// configuration, data and logs in dir (which must exist). It takes a few
// hundred milliseconds. Stop or Kill it when done; removing dir is the
// caller's business.
func StartProsody(dir string, o XMPPOptions) (*XMPPServer, error) {
	o = o.WithDefaults()
	next := pickPort(o.PickPort)
	prosody, err := LookPath("prosody")
	if err != nil {
		return nil, err
	}
	prosodyctl, err := LookPath("prosodyctl")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	for range startAttempts {
		s := &XMPPServer{Kind: "prosody", Domain: "localhost", ComponentHost: o.ComponentHost, Secret: o.Secret, Dir: dir}
		if s.C2SPort, err = next(); err != nil {
			return nil, err
		}
		if s.ComponentPort, err = next(); err != nil {
			return nil, err
		}
		s.C2SAddr, s.ComponentAddr = hostPort(s.C2SPort), hostPort(s.ComponentPort)
		cfg := filepath.Join(dir, "prosody.cfg.lua")
		data := xmppTemplateData{
			Dir: dir, Domain: s.Domain, C2SPort: s.C2SPort, ComponentPort: s.ComponentPort,
			ComponentHost: s.ComponentHost, Secret: s.Secret, Root: os.Geteuid() == 0,
		}
		if err := render("prosody.cfg.lua.tmpl", cfg, data); err != nil {
			return nil, err
		}
		s.ctlArgv = []string{prosodyctl, "--config", cfg}
		s.p = newProcess(ProcessConfig{
			Name:    "prosody",
			Dir:     dir,
			Argv:    []string{prosody, "--config", cfg, "-F"},
			Ready:   []string{s.C2SAddr, s.ComponentAddr},
			Timeout: 20 * time.Second,
			Logs:    []string{filepath.Join(dir, "prosody.log")},
			// prosody keeps running when it cannot bind a port.
			FailOn: []string{"Failed to open server port", "Error loading config"},
		})
		lastErr = s.p.Start()
		if lastErr == nil {
			return s, nil
		}
		if !addrInUse(lastErr) {
			break
		}
	}
	return nil, lastErr
}

// StartEjabberd starts an ejabberd 23.01 on free loopback ports, with its
// configuration, database and logs in dir, which the ejabberd user must
// be able to reach (see EjabberdDir). It needs root (ejabberd runs as
// the ejabberd user) or to run as the ejabberd user, and takes a few
// seconds.
func StartEjabberd(dir string, o XMPPOptions) (*XMPPServer, error) {
	o = o.WithDefaults()
	next := pickPort(o.PickPort)
	ctl, err := LookPath("ejabberdctl")
	if err != nil {
		return nil, err
	}
	if _, err := LookPath("erl"); err != nil {
		return nil, err
	}
	cred, err := ejabberdCred()
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"log", "db", "contrib"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	home := ejabberdHome()
	env := []string{"HOME=" + home, "USER=ejabberd", "LOGNAME=ejabberd"}
	// One node name for the life of the spool: mnesia refuses a database
	// created by another node name.
	node := fmt.Sprintf("testenv%d_%d@localhost", os.Getpid(), nameSeq.Add(1))
	var lastErr error
	for attempt := range startAttempts {
		if attempt > 0 {
			// A failed start may have left a half-made mnesia spool.
			if err := os.RemoveAll(filepath.Join(dir, "db")); err != nil {
				return nil, err
			}
			if err := os.MkdirAll(filepath.Join(dir, "db"), 0o755); err != nil {
				return nil, err
			}
		}
		s := &XMPPServer{Kind: "ejabberd", Domain: "localhost", ComponentHost: o.ComponentHost, Secret: o.Secret, Dir: dir, cred: cred, env: env}
		if s.C2SPort, err = next(); err != nil {
			return nil, err
		}
		if s.ComponentPort, err = next(); err != nil {
			return nil, err
		}
		distPort, err := next()
		if err != nil {
			return nil, err
		}
		s.C2SAddr, s.ComponentAddr = hostPort(s.C2SPort), hostPort(s.ComponentPort)
		data := xmppTemplateData{
			Dir: dir, Domain: s.Domain, C2SPort: s.C2SPort, ComponentPort: s.ComponentPort,
			ComponentHost: s.ComponentHost, Secret: s.Secret,
			Node: node, DistPort: distPort,
		}
		for tmpl, file := range map[string]string{
			"ejabberd.yml.tmpl":    "ejabberd.yml",
			"ejabberdctl.cfg.tmpl": "ejabberdctl.cfg",
			"inetrc.tmpl":          "inetrc",
		} {
			if err := render(tmpl, filepath.Join(dir, file), data); err != nil {
				return nil, err
			}
		}
		if cred != nil {
			if err := chownR(dir, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, err
			}
		}
		s.ctlArgv = []string{ctl,
			"--config-dir", dir,
			"--config", filepath.Join(dir, "ejabberd.yml"),
			"--ctl-config", filepath.Join(dir, "ejabberdctl.cfg"),
			"--logs", filepath.Join(dir, "log"),
			"--spool", filepath.Join(dir, "db"),
		}
		s.p = newProcess(ProcessConfig{
			Name: "ejabberd",
			Dir:  dir,
			// foreground, not start: the node is then our child, in our
			// process group, and its output lands in the console log.
			Argv:       append(append([]string(nil), s.ctlArgv...), "foreground"),
			Env:        env,
			Credential: cred,
			Ready:      []string{s.C2SAddr, s.ComponentAddr},
			ReadyLog:   "is started in the node",
			Timeout:    60 * time.Second,
			Logs:       []string{filepath.Join(dir, "log", "ejabberd.log"), filepath.Join(dir, "log", "error.log")},
			FailOn:     []string{"eaddrinuse", "Failed to start ejabberd", "Invalid value of option", "Unknown option", "init terminating"},
			PidFile:    filepath.Join(dir, "ejabberd.pid"),
		})
		lastErr = s.p.Start()
		if lastErr == nil {
			return s, nil
		}
		if !addrInUse(lastErr) {
			break
		}
	}
	return nil, lastErr
}

// ejabberdCred returns the credentials of the ejabberd user. ejabberdctl
// only runs as root or as that user; we start it as that user directly
// (rather than letting it su from root) so that the node stays in our
// process group. Errors wrap ErrUnavailable.
func ejabberdCred() (*syscall.Credential, error) {
	u, err := user.Lookup("ejabberd")
	if err != nil {
		return nil, fmt.Errorf("ejabberd user: %v (is the ejabberd package installed?): %w", err, ErrUnavailable)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if os.Geteuid() != 0 && os.Geteuid() != uid {
		return nil, fmt.Errorf("ejabberd needs to run as root or as the ejabberd user (euid %d): %w", os.Geteuid(), ErrUnavailable)
	}
	if os.Geteuid() == uid {
		return nil, nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// CheckEjabberd reports, with an error wrapping ErrUnavailable, whether
// StartEjabberd cannot work here (no ejabberd user, or not running as
// root or as that user).
func CheckEjabberd() error {
	_, err := ejabberdCred()
	return err
}

// EjabberdDir makes a directory the ejabberd user can reach (a test's
// temporary directory is below a 0700 directory): a fresh 0755 directory
// in os.TempDir(), or in /tmp if some parent of os.TempDir() is not
// world-searchable. The caller removes it.
func EjabberdDir() (string, error) {
	parent := os.TempDir()
	if !worldSearchable(parent) {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "testenv-ejabberd-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// worldSearchable reports whether dir and all its parents have o+x.
func worldSearchable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

func ejabberdHome() string {
	if u, err := user.Lookup("ejabberd"); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	return "/var/lib/ejabberd"
}

func chownR(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// ErrAccountExists is wrapped by AddUser's error when the server says the
// account exists.
var ErrAccountExists = errors.New("account exists")

// AddUser creates an account user@Domain: with prosodyctl for prosody;
// for ejabberd by in-band registration (mod_register is on in the test
// config), falling back to ejabberdctl. Each ejabberdctl call boots an
// Erlang VM: 0.5 s on an idle machine, several seconds under load, while
// in-band registration takes milliseconds.
func (s *XMPPServer) AddUser(user, password string) error {
	if s.Kind == "ejabberd" {
		conflict, err := registerIBR(s.C2SAddr, s.Domain, user, password)
		if err == nil {
			return nil
		}
		if conflict {
			return fmt.Errorf("ejabberd: account %s@%s: %w: %v", user, s.Domain, ErrAccountExists, err)
		}
		if cerr := s.ctlRegister(user, password); cerr != nil {
			return fmt.Errorf("ejabberd: in-band registration of %s failed (%v), and so did ejabberdctl: %w", user, err, cerr)
		}
		return nil
	}
	return s.ctlRegister(user, password)
}

// AddUserCtl creates an account with prosodyctl / ejabberdctl register.
func (s *XMPPServer) AddUserCtl(user, password string) error {
	return s.ctlRegister(user, password)
}

func (s *XMPPServer) ctlRegister(user, password string) error {
	_, err := s.Ctl("register", user, s.Domain, password)
	return err
}

// Ctl runs prosodyctl / ejabberdctl with this server's config arguments
// and returns its combined output.
func (s *XMPPServer) Ctl(args ...string) (string, error) {
	argv := append(append([]string(nil), s.ctlArgv...), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out), nil
}

// NewUser creates a fresh account named prefix plus a unique suffix and
// returns its localpart and password. Meant for shared servers, where
// names must not collide.
func (s *XMPPServer) NewUser(prefix string) (user, password string, err error) {
	user = UniqueName(strings.ToLower(prefix))
	password = "pw-" + user
	return user, password, s.AddUser(user, password)
}

// JID returns user@Domain.
func (s *XMPPServer) JID(user string) string { return user + "@" + s.Domain }

// Dial logs user in on the server's c2s port (see DialXMPP).
func (s *XMPPServer) Dial(user, password, resource string) (*XMPPClient, error) {
	c, err := DialXMPP(s.C2SAddr, s.Domain, user, password, resource)
	if err != nil {
		return nil, fmt.Errorf("%s (%s %s): %w", s.JID(user)+"/"+resource, s.Kind, s.C2SAddr, err)
	}
	return c, nil
}

// Stop shuts the server down gracefully (SIGTERM: sessions get a
// system-shutdown stream error) and waits for it to exit.
func (s *XMPPServer) Stop() error { return s.p.Stop() }

// Kill SIGKILLs the server (a crash: connections just drop).
func (s *XMPPServer) Kill() error { return s.p.Kill() }

// Start starts a stopped or killed server again on the same ports, with
// the same accounts.
func (s *XMPPServer) Start() error {
	if err := s.p.Start(); err != nil {
		return fmt.Errorf("start %s again: %w", s.Kind, err)
	}
	return nil
}

// Restart stops the server if it runs and starts it again on the same
// ports, with the same accounts. An error of the stop (the server had to
// be killed) is not returned.
func (s *XMPPServer) Restart() error {
	_ = s.p.Stop()
	if err := s.p.Start(); err != nil {
		return fmt.Errorf("restart %s: %w", s.Kind, err)
	}
	return nil
}

// Running reports whether the server process is alive.
func (s *XMPPServer) Running() bool { return s.p.Running() }

// StartupTime is how long the last (re)start took until the server was
// ready.
func (s *XMPPServer) StartupTime() time.Duration { return s.p.StartupTime() }

// Logs returns the tail of the server's logs, for failure messages.
func (s *XMPPServer) Logs() string { return s.p.Logs() }
