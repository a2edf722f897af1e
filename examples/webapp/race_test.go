//go:build race

package main

// raceEnabled: the race detector slows SQLite several times, so the
// upload of more than 100,000 rows is skipped under it (CI runs it
// without).
const raceEnabled = true
