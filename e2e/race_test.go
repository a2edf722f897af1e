//go:build race

package e2e_test

// raceEnabled: the tests that start worker and web processes (the test
// binary run again, itself built with -race) are about ten times slower
// under the race detector, beyond CI's budget: they skip themselves
// (skipProcesses), and CI runs them in a step without -race.
const raceEnabled = true
