//go:build !race

package outreach

const raceEnabled = false
