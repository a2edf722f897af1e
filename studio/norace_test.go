//go:build !race

package studio

const raceEnabled = false
