//go:build race

package studio

// raceEnabled: the race detector slows the differential tests about ten
// times, so they run on a sample (see fullScale).
const raceEnabled = true
