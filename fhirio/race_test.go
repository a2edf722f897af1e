//go:build race

package fhirio_test

// raceEnabled: the race detector slows decoding several times, so the
// memory test of a large NDJSON file is left to runs without it.
const raceEnabled = true
