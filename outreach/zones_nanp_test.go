package outreach

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// referenceZones is PhoneZones without its fast path: phonenumbers'
// parse, then its zones of the number.
func referenceZones(e164 string) []string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return nil
	}
	tzs, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil {
		return nil
	}
	return knownZones(tzs)
}

// TestPhoneZonesFastPath: for every area code and exchange of +1 (the
// 800,000 prefixes, each with a random line), and for strings near that
// form, PhoneZones gives exactly what phonenumbers' parse and lookup give.
// With -short and under the race detector, a sample of the prefixes.
func TestPhoneZonesFastPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	check := func(s string) {
		t.Helper()
		if got, want := PhoneZones(s), referenceZones(s); !slices.Equal(got, want) {
			t.Fatalf("PhoneZones(%q) = %q; phonenumbers gives %q", s, got, want)
		}
	}
	step := 1
	if testing.Short() || raceEnabled {
		step = 97 // a sample of the prefixes (CI runs them all without -race)
	}
	fast := 0
	for prefix := 200_000; prefix < 1_000_000; prefix += step {
		s := fmt.Sprintf("+1%06d%04d", prefix, rng.IntN(10_000))
		if nanpForm(s) {
			fast++
		}
		check(s)
	}
	if fast == 0 {
		t.Fatal("no number took the fast path")
	}
	for _, s := range []string{
		"+11234567890", "+10234567890", "+1440644370", "+144064437091", "+1440644370x", "+2440644370",
		"+14406443709", "+18003569377", "+18089412275", "+16045550100", "+12425550100", "+447911123456", "", "+",
	} {
		check(s)
	}
}
