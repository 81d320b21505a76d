package main

// The systemd notification protocol (sd_notify(3)), for Type=notify units:
// a datagram of newline-separated VAR=value assignments sent to the unix
// socket named by $NOTIFY_SOCKET. A handful of lines instead of a
// dependency.

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// notifier sends state changes to the service manager. A nil *notifier,
// or one made without $NOTIFY_SOCKET, ignores every call, so the program
// behaves the same outside systemd.
type notifier struct {
	addr *net.UnixAddr
}

// newNotifier returns a notifier for $NOTIFY_SOCKET, or nil when it is
// not set. A leading "@" (an abstract socket) is understood by package net.
func newNotifier() *notifier {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	return &notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}
}

// send sends the assignments in one datagram. Errors are returned for the
// caller to log; the service manager going away is not fatal to us.
func (n *notifier) send(assignments ...string) error {
	if n == nil {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(assignments, "\n") + "\n")); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// status returns a STATUS= assignment, kept on one line.
func status(text string) string {
	return "STATUS=" + strings.NewReplacer("\n", " ", "\r", " ").Replace(text)
}

// reloading returns the assignments that announce a reload: systemd (253
// and later) wants the CLOCK_MONOTONIC time with RELOADING=1.
func reloading() []string {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	usec := ts.Nano() / 1000
	return []string{"RELOADING=1", "MONOTONIC_USEC=" + strconv.FormatInt(usec, 10)}
}

// watchdogInterval returns how often to send WATCHDOG=1: half of
// $WATCHDOG_USEC, when it is set and $WATCHDOG_PID is unset or ours; else
// 0, no watchdog. getenv is os.Getenv outside tests.
func watchdogInterval(getenv func(string) string, pid int) time.Duration {
	usec, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}
