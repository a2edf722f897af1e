//go:build race

package outreach

// raceEnabled: the race detector slows phonenumbers about ten times, so the
// differential test of NormalizePhone runs on a sample.
const raceEnabled = true
