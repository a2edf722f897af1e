//go:build !race

package nanp_test

const raceEnabled = false
