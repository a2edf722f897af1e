//go:build race

package main

// raceEnabled: the race detector slows SQLite several times, so the
// 10,000-recipient simulation is skipped under it (CI runs it without).
const raceEnabled = true
