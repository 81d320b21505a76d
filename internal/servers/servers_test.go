package servers_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"biboumi/internal/servers"
	"biboumi/internal/testenv"

	"github.com/ergochat/irc-go/ircmsg"
)

// The servers themselves are exercised through internal/testenv's tests;
// these check the error-returning API.

func TestProcess(t *testing.T) {
	dir := t.TempDir()
	p, err := servers.StartProcess(servers.ProcessConfig{Name: "sleeper", Dir: dir, Argv: []string{"sh", "-c", "echo started; exec sleep 30"}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Running() {
		t.Fatal("not running after start")
	}
	if exited, _ := p.Exited(); exited {
		t.Fatal("Exited while running")
	}
	start := time.Now()
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %v", d)
	}
	exited, werr := p.Exited()
	if !exited || werr == nil || !strings.Contains(werr.Error(), "terminated") {
		t.Errorf("after Stop: Exited() = %v, %v; want true and killed by SIGTERM", exited, werr)
	}
	if p.Running() {
		t.Error("running after Stop")
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if !strings.Contains(p.Logs(), "started") {
		t.Errorf("Logs() lacks the console output:\n%s", p.Logs())
	}

	// A process that dies during start-up, and one whose log says it
	// failed, are reported with their logs.
	port, err := servers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	_, err = servers.StartProcess(servers.ProcessConfig{Name: "dies", Dir: dir, Argv: []string{"sh", "-c", "echo dying; exit 3"},
		Ready: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}})
	if err == nil || !strings.Contains(err.Error(), "dies exited during start-up: exit status 3") || !strings.Contains(err.Error(), "dying") {
		t.Errorf("dying process: %v", err)
	}
	start = time.Now()
	_, err = servers.StartProcess(servers.ProcessConfig{Name: "fails", Dir: dir, Argv: []string{"sh", "-c", "echo boom; exec sleep 30"},
		Ready: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}, FailOn: []string{"boom"}})
	if err == nil || !strings.Contains(err.Error(), `fails failed to start: log says "boom"`) {
		t.Errorf("failing process: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failing process took %v to be reported", d)
	}
	_, err = servers.StartProcess(servers.ProcessConfig{Name: "slow", Dir: dir, Argv: []string{"sleep", "30"},
		Ready: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}, Timeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "slow not ready after 200ms (waiting for a listener of its own on [127.0.0.1:"+strconv.Itoa(port)+"])") {
		t.Errorf("slow process: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	if _, err := servers.LookPath("no-such-binary-servers"); !errors.Is(err, servers.ErrUnavailable) {
		t.Errorf("LookPath of a missing binary: %v", err)
	}
	if m := servers.Missing("sh", "no-such-binary-servers"); len(m) != 1 || m[0] != "no-such-binary-servers" {
		t.Errorf("Missing = %q", m)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := servers.LookPath("prosody"); err == nil {
		t.Skip("prosody is in an sbin directory")
	}
	_, err := servers.StartProsody(t.TempDir(), servers.XMPPOptions{})
	if !errors.Is(err, servers.ErrUnavailable) {
		t.Errorf("StartProsody without prosody: %v, want ErrUnavailable", err)
	}
}

func TestTemplateDir(t *testing.T) {
	dir, err := servers.TemplateDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "prosody.cfg.lua.tmpl")); err != nil {
		t.Error(err)
	}
	// From outside the module, the source location is the fallback.
	t.Chdir(t.TempDir())
	if d2, err := servers.TemplateDir(); err != nil || d2 != dir {
		t.Errorf("outside the module: %q, %v; want %q", d2, err, dir)
	}
}

func TestIRCClientErrors(t *testing.T) {
	testenv.Require(t, "ngircd")
	srv, err := servers.StartNgircd(t.TempDir(), servers.IRCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()
	c, err := servers.DialIRC(srv.Addr, "erin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := servers.DialIRC(srv.Addr, "erin"); err == nil || !strings.Contains(err.Error(), "433") {
		t.Errorf("second erin: %v", err)
	}
	never := func(ircmsg.Message) bool { return false }
	start := time.Now()
	if _, err := c.Expect(never, 100*time.Millisecond); !errors.Is(err, servers.ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("Expect(never) = %v after %v", err, time.Since(start))
	}
	if err := c.Join("#x", 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Send("PRIVMSG #x :a\r\nQUIT"); err == nil {
		t.Error("Send accepted a line with CRLF")
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if _, err := c.Expect(never, time.Second); !errors.Is(err, servers.ErrClosed) {
		t.Errorf("Expect after Close = %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Error(err)
	}
}

func TestXMPPClientErrors(t *testing.T) {
	testenv.Require(t, "prosody", "prosodyctl")
	srv, err := servers.StartProsody(t.TempDir(), servers.XMPPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()
	if err := srv.AddUser("frank", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Dial("frank", "wrong", "r"); err == nil || !strings.Contains(err.Error(), "SASL") {
		t.Errorf("wrong password: %v", err)
	}
	c, err := srv.Dial("frank", "pw", "r")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.JID().String(); got != "frank@localhost/r" {
		t.Errorf("JID = %s", got)
	}
	never := func(*servers.Element) bool { return false }
	if _, err := c.Expect(never, 100*time.Millisecond); !errors.Is(err, servers.ErrTimeout) {
		t.Errorf("Expect(never) = %v", err)
	}
	if err := c.SendMessage("frank@localhost/r", "chat", "to <myself>"); err != nil {
		t.Fatal(err)
	}
	e, err := c.Expect(servers.IsStanza("message", "type", "chat"), 0)
	if err != nil || e.ChildText("body") != "to <myself>" {
		t.Errorf("own message: %s, %v", e, err)
	}
	if err := srv.Stop(); err != nil {
		t.Error(err)
	}
	if err := c.ExpectClosed(5 * time.Second); err != nil {
		t.Error(err)
	}
	if _, err := c.Expect(never, time.Second); !errors.Is(err, servers.ErrClosed) {
		t.Errorf("Expect after the server stopped = %v", err)
	}
	_ = c.Close()
}
