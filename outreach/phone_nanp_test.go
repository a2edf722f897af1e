package outreach

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// referencePhone is NormalizePhone without its fast path: the rules it
// keeps around phonenumbers, and phonenumbers.
func referencePhone(raw, defaultRegion string) (string, error) {
	s, digits, err := cleanPhone(raw)
	if err != nil {
		return "", err
	}
	return parsePhone(s, strings.ToUpper(defaultRegion), digits)
}

// samePhone returns a description of how NormalizePhone(raw, region)
// differs from referencePhone, or "" when they agree: the same number,
// or errors of the same reason and message.
func samePhone(raw, region string) string {
	got, gotErr := NormalizePhone(raw, region)
	want, wantErr := referencePhone(raw, region)
	if got == want && (gotErr == nil) == (wantErr == nil) &&
		(gotErr == nil || errors.Is(gotErr, errors.Unwrap(wantErr)) && gotErr.Error() == wantErr.Error()) {
		return ""
	}
	return fmt.Sprintf("NormalizePhone(%q, %q) = %q, %v; phonenumbers gives %q, %v", raw, region, got, gotErr, want, wantErr)
}

// fastPath reports whether NormalizePhone takes its fast path for raw.
func fastPath(raw, region string) bool {
	s, _, err := cleanPhone(raw)
	if err != nil {
		return false
	}
	_, _, ok := nanpNationalNumber(s, strings.ToUpper(region))
	return ok
}

// Area codes and exchanges the generator draws from, besides random ones.
var (
	tollFree       = []string{"800", "833", "844", "855", "866", "877", "888", "822", "880"}
	canadianNPAs   = []string{"204", "226", "236", "249", "250", "263", "289", "306", "343", "354", "365", "367", "368", "382", "403", "416", "418", "428", "431", "437", "438", "450", "468", "474", "506", "514", "519", "548", "579", "581", "584", "587", "600", "604", "613", "622", "633", "639", "647", "672", "683", "705", "709", "742", "753", "778", "780", "782", "807", "819", "825", "867", "873", "879", "902", "905"}
	caribbeanNPAs  = []string{"242", "246", "264", "268", "284", "340", "345", "441", "473", "649", "658", "664", "670", "671", "684", "721", "758", "767", "784", "787", "809", "829", "849", "868", "869", "876", "939"}
	specialNPAs    = []string{"500", "521", "522", "523", "524", "525", "533", "544", "555", "566", "577", "588", "900", "456", "710", "700", "976", "950", "958", "959"}
	nanpRegions    = []string{"US", "US", "US", "US", "CA", "us", "ca", "JM", "BS", "BB", "PR", "DO", "AG", "SX", "TC", "MS", "VI", "GU", "AS", "KY"}
	otherRegions   = []string{"", "GB", "XX", "MX", "FR", "DE", "IN", "001", "ZZ", "uk"}
	strayChars     = []string{"#", ",", ";", "/", "*", "~", "+", "\t", "\u00a0", "[", "]", "_", "'", "\"", ":", "!", "\u2013", "\uff10", "\u0663", "\u200b", "x", " ", "-", ".", "(", ")", "0", "1"}
	extensionForms = []string{" ext 2", " x2", " ext. 2", " #2", "#12", " #123#", ",,12", ";12", " , 12", " - 503#", " ext:12", " extension 7", "#", " #", " x"}
)

// digitsN returns n random digits.
func digitsN(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}

func pick(rng *rand.Rand, ss []string) string { return ss[rng.IntN(len(ss))] }

// randomNANP returns a random phone number input, mostly North American
// numbers in the ways people write them, and a default region.
func randomNANP(rng *rand.Rand) (raw, region string) {
	var a string
	switch rng.IntN(20) {
	case 0, 1:
		a = pick(rng, tollFree)
	case 2, 3:
		a = pick(rng, canadianNPAs)
	case 4, 5:
		a = pick(rng, caribbeanNPAs)
	case 6:
		a = pick(rng, specialNPAs)
	case 7:
		a = fmt.Sprintf("%d11", 2+rng.IntN(8)) // N11
	case 8:
		a = fmt.Sprintf("%d%02d", rng.IntN(2), rng.IntN(100)) // starts with 0 or 1
	case 9:
		a = digitsN(rng, 3)
	default:
		a = fmt.Sprintf("%d%02d", 2+rng.IntN(8), rng.IntN(100))
	}
	var e, l string
	switch rng.IntN(12) {
	case 0:
		e, l = "555", fmt.Sprintf("01%02d", rng.IntN(100))
	case 1:
		e, l = "555", digitsN(rng, 4)
	case 2:
		e, l = fmt.Sprintf("%d11", 2+rng.IntN(8)), digitsN(rng, 4)
	case 3:
		e, l = digitsN(rng, 3), digitsN(rng, 4) // exchanges starting with 0 or 1 too
	default:
		e, l = fmt.Sprintf("%d%02d", 2+rng.IntN(8), rng.IntN(100)), digitsN(rng, 4)
	}
	switch rng.IntN(25) { // wrong lengths
	case 0:
		l = l[:rng.IntN(4)]
	case 1:
		l += digitsN(rng, 1+rng.IntN(3))
	case 2:
		e = e[:rng.IntN(3)]
	}
	raw = nanpFormat(rng, a, e, l)
	switch rng.IntN(20) {
	case 0:
		raw += pick(rng, extensionForms)
	case 1:
		raw += pick(rng, []string{"#", " #", " # ", "  #"}) + digitsN(rng, 1+rng.IntN(11))
	case 2, 3:
		i := rng.IntN(len(raw) + 1)
		raw = raw[:i] + pick(rng, strayChars) + raw[i:]
	case 4:
		raw = pick(rng, strayChars) + raw
	case 5:
		raw = strings.Repeat(" ", rng.IntN(3)) + raw + pick(rng, []string{" ", "\t", "\u00a0", ")", "-", ".", "\ufeff"})
	}
	if rng.IntN(10) == 0 {
		region = pick(rng, otherRegions)
	} else {
		region = pick(rng, nanpRegions)
	}
	return raw, region
}

// nanpFormat writes area code, exchange and line in one of the ways people
// type numbers.
func nanpFormat(rng *rand.Rand, a, e, l string) string {
	switch rng.IntN(22) {
	case 0:
		return "(" + a + ") " + e + "-" + l
	case 1:
		return a + "." + e + "." + l
	case 2:
		return a + "-" + e + "-" + l
	case 3:
		return a + " " + e + " " + l
	case 4:
		return a + e + l
	case 5:
		return "+1" + a + e + l
	case 6:
		return "1-" + a + "-" + e + "-" + l
	case 7:
		return "+1 (" + a + ") " + e + " " + l
	case 8:
		return "+1 " + a + " " + e + " " + l
	case 9:
		return "1" + a + e + l
	case 10:
		return "1 (" + a + ") " + e + "-" + l
	case 11:
		return "tel:+1-" + a + "-" + e + "-" + l
	case 12:
		return "+1." + a + "." + e + "." + l
	case 13:
		return "(" + a + ")" + e + "-" + l
	case 14:
		return "011 1 " + a + " " + e + " " + l
	case 15:
		return "+" + a + e + l // a + without the 1
	case 16:
		return "++1" + a + e + l
	case 17:
		return "(+1) " + a + "-" + e + "-" + l
	case 18:
		return "+" + digitsN(rng, 1+rng.IntN(3)) + " " + a + " " + e + " " + l // other country codes
	case 19:
		return "0" + a + e + l
	case 20:
		return " ( " + a + " ) - " + e + " . " + l + " "
	default:
		return a + "/" + e + "-" + l
	}
}

// TestNormalizePhoneFastPath checks, over ten million generated inputs
// (200,000 with -short, 20,000 under the race detector: CI runs it in
// full without it), that NormalizePhone gives what
// phonenumbers gives: the same E.164 number, or an error of the same
// reason and message. Every input on the fast path is compared, and one
// in sixteen of the others.
func TestNormalizePhoneFastPath(t *testing.T) {
	n := 10_000_000
	switch {
	case raceEnabled:
		n = 20_000
	case testing.Short():
		n = 200_000
	}
	workers := min(runtime.GOMAXPROCS(0), 8)
	var (
		mu       sync.Mutex
		failures []string
		fast     int
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			// Each worker has its own stream: the inputs do not depend on
			// the scheduling, only on the number of workers.
			rng := rand.New(rand.NewPCG(20261206, uint64(w)))
			var bad []string
			f := 0
			for i := w; i < n; i += workers {
				raw, region := randomNANP(rng)
				onFast := fastPath(raw, region)
				if onFast {
					f++
				}
				// Off the fast path NormalizePhone runs the reference
				// code itself, so only a sample of those inputs is
				// compared: they would double the time for nothing.
				if !onFast && (i/workers)%16 != 0 {
					continue
				}
				if d := samePhone(raw, region); d != "" && len(bad) < 20 {
					bad = append(bad, d)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			failures = append(failures, bad...)
			fast += f
		})
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d inputs, %d (%.0f%%) on the fast path", n, fast, 100*float64(fast)/float64(n))
	// The test means something only if many inputs take the fast path.
	if fast < n/3 {
		t.Errorf("only %d of %d inputs took the fast path", fast, n)
	}
}

// TestNormalizePhoneFastPathCases checks the fast path on hand-picked
// inputs, and that it takes them.
func TestNormalizePhoneFastPathCases(t *testing.T) {
	fast := []struct{ raw, region string }{
		{"(440) 644-3709", "US"}, {"440.644.3709", "US"}, {"440-644-3709", "us"},
		{"+14406443709", ""}, {"+14406443709", "GB"}, {"1-440-644-3709", "CA"},
		{"+1 (440) 644 3709", "XX"}, {"(416) 555-0123", "CA"}, {"876-555-0123", "JM"},
		{"(800) 356-9377", "US"}, {"1 888 555 0100", "PR"},
		{"(911) 456-7890", "US"}, {"(440) 911-3709", "US"}, {"(440) 155-3709", "US"},
		{"(246) 521-0123", "BB"}, {"(246) 521-1123", "BB"}, {"(555) 555-0123", "US"},
		{"(440) 044-3709", "US"}, {"(522) 355-0123", "US"}, {"(900) 255-0123", "DO"},
		{"440-644-3709 #12", "US"}, {"+1 440 644 3709#2", ""},
		{"(911) 456-7890 # 123456789", "US"}, {"1 440 644 3709 #1", "CA"},
	}
	for _, tt := range fast {
		if !fastPath(tt.raw, tt.region) {
			t.Errorf("NormalizePhone(%q, %q) does not take the fast path", tt.raw, tt.region)
		}
		if d := samePhone(tt.raw, tt.region); d != "" {
			t.Error(d)
		}
	}
	slow := []struct{ raw, region string }{
		{"440-644-3709 #", "US"}, {"440-644-3709 #12#", "US"}, {"440-644-3709 #1234567890", "US"},
		{"440-644-3709#12 #3", "US"}, {"440-644-3709 #-12", "US"}, {"#4406443709", "US"},
		{"440-644-3709,,12", "US"}, {"440-644-3709;12", "US"}, {"(440) 644-3709", "GB"},
		{"4406443709", ""}, {"+44 20 7946 0958", "US"}, {"011 1 440 644 3709", "US"},
		{"(140) 644-3709", "US"}, {"(123) 456-7890", "US"},
		{"(123) 456-7890 #12", "US"}, {"+1 140 644 3709", "US"}, {"644-3709", "US"},
		{"(+1) 440 644 3709", "US"}, {"++14406443709", "US"}, {"440/644-3709", "US"},
		{"４４０６４４３７０９", "US"}, {"14406443709", "GB"}, {"44064437091", "US"},
	}
	for _, tt := range slow {
		if fastPath(tt.raw, tt.region) {
			t.Errorf("NormalizePhone(%q, %q) takes the fast path", tt.raw, tt.region)
		}
		if d := samePhone(tt.raw, tt.region); d != "" {
			t.Error(d)
		}
	}
}

func FuzzNANP(f *testing.F) {
	for _, s := range []string{
		"(440) 644-3709", "440.644.3709", "440-644-3709", "+14406443709",
		"1-440-644-3709", "+1 (440) 644 3709", "440-644-3709 ext 2", "440-644-3709 x2",
		"440-644-3709 ext. 2", "440-644-3709 #2", "(800) 356-9377", "(416) 555-0123",
		"(876) 555-0123", "(246) 521-0123", "(123) 456-7890", "(211) 555-0100",
		"555-0100", "44064437091", "1440644370", "tel:+1-440-644-3709", "+1 440 644 37091",
		"011 1 440 644 3709", "(+1) 440 644 3709", "440/644-3709", "4.40644E+09", "",
	} {
		f.Add(s, uint8(0))
	}
	regions := append(append([]string{}, nanpRegions...), otherRegions...)
	f.Fuzz(func(t *testing.T, raw string, r uint8) {
		region := regions[int(r)%len(regions)]
		if d := samePhone(raw, region); d != "" {
			t.Error(d)
		}
	})
}
