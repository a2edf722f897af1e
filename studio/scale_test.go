package studio

import "testing"

// fullScale reports whether the differential tests run on their whole
// corpus: not with -short, and not under the race detector, which slows
// them about ten times; they then run on a sample (or, under the race
// detector, not at all: skipRace), and CI runs them in full without it
// (see README).
func fullScale() bool { return !testing.Short() && !raceEnabled }

// skipRace skips a differential test under the race detector: CI runs
// them in full in a second step without it, and their concurrency (the
// runner, the fake, the Machine) is raced by the other tests.
func skipRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("differential test: run without -race (see README)")
	}
}

// FullScale and SkipRace are fullScale and skipRace for the external
// tests.
var (
	FullScale = fullScale
	SkipRace  = skipRace
)
