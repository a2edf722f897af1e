package nanp_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/patient-outreach/sms/outreach/internal/nanp"
)

// valid is what phonenumbers says about +1 nsn.
func valid(t *testing.T, nsn string) bool {
	t.Helper()
	num, err := phonenumbers.Parse("+1"+nsn, "")
	if err != nil {
		t.Fatalf("parse +1%s: %v", nsn, err)
	}
	return phonenumbers.IsValidNumber(num)
}

// TestValid checks Valid against phonenumbers for every area code and
// exchange (one in 7 with -short, one in 61 under the race detector: CI
// runs it whole without), each with a random line number, and for the
// line numbers (every 9th under the race detector) of some area codes and
// exchanges where the line decides.
func TestValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	step := 1
	switch {
	case raceEnabled:
		step = 61
	case testing.Short():
		step = 7
	}
	for p := 200000; p < 1000000; p += step {
		nsn := fmt.Sprintf("%d%04d", p, rng.IntN(10000))
		if got, want := nanp.Valid([10]byte([]byte(nsn))), valid(t, nsn); got != want {
			t.Errorf("Valid(%s) = %v, phonenumbers says %v", nsn, got, want)
		}
	}
	// Barbados decides on the seventh digit (246 521 0xxx).
	for _, p := range []string{"2465210", "2465211", "2465213", "2465216", "2465219", "5235550", "5245101"} {
		for l := 0; l < 1000; l += (step + 6) / 7 {
			nsn := fmt.Sprintf("%s%03d", p, l)
			if got, want := nanp.Valid([10]byte([]byte(nsn))), valid(t, nsn); got != want {
				t.Errorf("Valid(%s) = %v, phonenumbers says %v", nsn, got, want)
			}
		}
	}
}

func TestValidRefuses(t *testing.T) {
	for _, nsn := range []string{"0406443709", "1406443709", "440644370x", "4406443/09"} {
		if nanp.Valid([10]byte([]byte(nsn))) {
			t.Errorf("Valid(%s) = true", nsn)
		}
	}
}

func TestRegion(t *testing.T) {
	for code, want := range map[string]bool{"US": true, "CA": true, "JM": true, "PR": true, "us": false, "GB": false, "": false} {
		if got := nanp.Region(code); got != want {
			t.Errorf("Region(%q) = %v, want %v", code, got, want)
		}
	}
}
