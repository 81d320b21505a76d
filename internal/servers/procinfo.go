package servers

import (
	"os"
	"strconv"
)

// Pid returns the pid of the process that Start launched (the leader of
// its process group), or 0 if it is not running.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	select {
	case <-p.done:
		return 0
	default:
	}
	return p.cmd.Process.Pid
}

// GroupPids returns the pids of the live processes of the process's
// group: the process itself and whatever it started that stayed in its
// group (ejabberd's Erlang VM runs under ejabberdctl, for example). It
// returns nil if the process is not running. Resource accounting (CPU
// time, memory from /proc) should sum over these.
func (p *Process) GroupPids() []int {
	pgid := p.Pid()
	if pgid == 0 {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []int{pgid}
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if processGroup(pid) == pgid && !isZombie(pid) {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		pids = []int{pgid}
	}
	return pids
}

// Process returns the server's process, for its pid and logs.
func (s *XMPPServer) Process() *Process { return s.p }

// Process returns the server's process, for its pid and logs.
func (s *IRCServer) Process() *Process { return s.p }
