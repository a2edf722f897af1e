package studio

import "testing"

// fullScale reports whether the differential tests run on their whole
// corpus: not with -short, and not under the race detector, which slows
// them about ten times; they then run on a sample, and CI runs them in
// full without it (see README).
func fullScale() bool { return !testing.Short() && !raceEnabled }

// FullScale is fullScale for the external tests.
var FullScale = fullScale
