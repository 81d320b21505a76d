package main

import "runtime/debug"

// defaultGCPercent is the garbage collector's target when the environment
// does not set GOGC: the heap may grow 50% over the live data between
// collections rather than Go's default 100%. A gateway's live heap is
// small (a few KiB per user) and its garbage is short-lived stanzas, so
// collections are cheap; measured with cmd/biboumi-bench at 500 users in
// one channel, 50 takes RSS per bridged user from 33.6 to 27.5 KiB for 9%
// more CPU per delivery (13.0 → 14.2 µs). See docs/operations.md, Memory.
const defaultGCPercent = 50

// tuneGC applies defaultGCPercent unless GOGC is set (the administrator's
// choice, which the runtime has already applied). It returns the target in
// force.
func tuneGC(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(defaultGCPercent)
	return defaultGCPercent
}
