//go:build race

package csvio_test

// raceEnabled: the race detector slows the 1,000,000-row pipeline test
// too much, so it is skipped under it (CI runs it without).
const raceEnabled = true
