package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	if got := tuneGC(func(string) string { return "" }); got != defaultGCPercent {
		t.Fatalf("without GOGC: %d, want %d", got, defaultGCPercent)
	}
	if now := debug.SetGCPercent(100); now != defaultGCPercent {
		t.Fatalf("GC percent in force %d, want %d", now, defaultGCPercent)
	}
	// With GOGC set, the runtime's value (here 100) is left alone.
	if got := tuneGC(func(k string) string { return map[string]string{"GOGC": "100"}[k] }); got != 100 {
		t.Fatalf("with GOGC=100: %d", got)
	}
	if now := debug.SetGCPercent(100); now != 100 {
		t.Fatalf("GC percent in force %d, want 100", now)
	}
}
