//go:build !race

package fhirio_test

const raceEnabled = false
