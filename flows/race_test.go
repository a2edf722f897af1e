//go:build race

package flows

// raceEnabled: the race detector slows this package's single-goroutine
// property and memory tests about ten times; they run a smaller sample
// under it, and in full without it.
const raceEnabled = true
