//go:build !race

package csvio_test

const raceEnabled = false
