//go:build race

package nanp_test

// raceEnabled: under the race detector phonenumbers runs about ten times
// slower, so TestValid samples the prefixes (CI runs it whole without).
const raceEnabled = true
