//go:build race

package flows

// raceEnabled: the race detector slows the property test of random event
// sequences (one goroutine per flow) about ten times: it runs a sample
// under it, and in full without it (CI's step without -race).
const raceEnabled = true
