//go:build race

package fhirio_test

// raceEnabled: the race detector slows TestNDJSONMemoryFlat's reading
// (one goroutine) about ten times: it reads a smaller file under it.
const raceEnabled = true
