package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go runs on (it is part of the ABI, not
// the kernel's HZ).
const clockTicks = 100

// procUsage is what /proc says about a set of processes at one moment.
type procUsage struct {
	At    time.Time
	CPU   time.Duration // utime+stime, summed
	RSS   int64         // VmRSS, bytes, summed
	HWM   int64         // VmHWM (peak RSS), bytes, summed
	Procs int           // how many processes were summed
}

// readUsage sums CPU time and memory over pids; processes that are gone
// are skipped.
func readUsage(pids []int) procUsage {
	u := procUsage{At: time.Now()}
	for _, pid := range pids {
		cpu, err := procCPU(pid)
		if err != nil {
			continue
		}
		u.CPU += cpu
		u.Procs++
		rss, hwm := procMem(pid)
		u.RSS += rss
		u.HWM += hwm
	}
	return u
}

// procCPU returns utime+stime of a process (all its threads).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// pid (comm) state ppid … ; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no comm", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procMem returns VmRSS and VmHWM in bytes (0 if unknown).
func procMem(pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS", "VmHWM":
			f := strings.Fields(v)
			if len(f) >= 1 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				if k == "VmRSS" {
					rss = n * 1024
				} else {
					hwm = n * 1024
				}
			}
		}
	}
	return rss, hwm
}

// procComm returns the command names of pids, sorted and deduplicated,
// for the report.
func procComm(pids []int) []string {
	seen := map[string]bool{}
	var out []string
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		c := strings.TrimSpace(string(b))
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// tcpCounters returns system-wide TCP counters that explain slow
// connects: accept queues that overflowed (the SYN is dropped and
// retransmitted after 1 s) and retransmitted segments. Other processes
// of the machine count too.
func tcpCounters() map[string]int64 {
	out := map[string]int64{}
	read := func(path, prefix string, names ...string) {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		var keys []string
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, prefix) {
				continue
			}
			f := strings.Fields(line)[1:]
			if keys == nil {
				keys = f
				continue
			}
			for i, k := range keys {
				for _, n := range names {
					if k == n && i < len(f) {
						v, _ := strconv.ParseInt(f[i], 10, 64)
						out[n] = v
					}
				}
			}
			keys = nil
		}
	}
	read("/proc/net/netstat", "TcpExt:", "ListenOverflows", "ListenDrops")
	read("/proc/net/snmp", "Tcp:", "RetransSegs")
	return out
}

// cpuBusy returns the busy share (0-100) of all CPUs over d, from
// /proc/stat.
func cpuBusy(d time.Duration) float64 {
	read := func() (busy, total int64) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i, v := range f[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy, total
	}
	b0, t0 := read()
	time.Sleep(d)
	b1, t1 := read()
	if t1 <= t0 {
		return 0
	}
	return 100 * float64(b1-b0) / float64(t1-t0)
}

// waitQuiet waits up to max for a 2-s window in which less than pct of
// the machine's CPU time is busy, and returns the last busy share seen
// and how long it waited.
func waitQuiet(max time.Duration, pct float64) (float64, time.Duration) {
	start := time.Now()
	for {
		busy := cpuBusy(2 * time.Second)
		if busy < pct || time.Since(start) >= max {
			return busy, time.Since(start)
		}
	}
}
