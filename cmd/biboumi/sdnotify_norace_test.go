//go:build !race

package main

// raceEnabled is true when the tests run with -race; the binary built for
// the process-level tests is then built with -race too.
const raceEnabled = false
