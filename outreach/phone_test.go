package outreach_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/patient-outreach/sms/outreach"
)

var phoneReasons = []error{
	outreach.ErrPhoneEmpty,
	outreach.ErrPhoneLetters,
	outreach.ErrPhoneScientific,
	outreach.ErrPhoneExtension,
	outreach.ErrPhoneTooShort,
	outreach.ErrPhoneTooLong,
	outreach.ErrPhoneInvalid,
}

func TestNormalizePhoneAccepts(t *testing.T) {
	tests := []struct {
		raw, region, want string
	}{
		{"(440) 644-3709", "US", "+14406443709"},
		{"440.644.3709", "US", "+14406443709"},
		{"440-644-3709", "US", "+14406443709"},
		{"440 644 3709", "US", "+14406443709"},
		{"4406443709", "US", "+14406443709"},
		{"+1 440 644 3709", "US", "+14406443709"},
		{"+1 (440) 644-3709", "US", "+14406443709"},
		{"1-440-644-3709", "US", "+14406443709"},
		{"14406443709", "US", "+14406443709"},
		{"+14406443709", "US", "+14406443709"},
		{"tel:+14406443709", "US", "+14406443709"},
		{"TEL:+1-440-644-3709", "US", "+14406443709"},
		{"  440-644-3709\t", "US", "+14406443709"},
		{"\u00a0440\u00a0644\u00a03709\u00a0", "US", "+14406443709"},
		{"\ufeff440-644-3709", "US", "+14406443709"},
		{"440-644-3709", "us", "+14406443709"},
		{"+14406443709", "", "+14406443709"},
		{"(208) 555-0100", "US", "+12085550100"},
		{"+1 416 555 0123", "US", "+14165550123"}, // Toronto
		{"+44 20 7946 0958", "US", "+442079460958"},
		{"020 7946 0958", "GB", "+442079460958"},
		{"+33 1 23 45 67 89", "US", "+33123456789"},
		{"+49 30 1234567", "US", "+49301234567"},
		{"+91 98765 43210", "US", "+919876543210"},
		{"+61 2 9374 4000", "US", "+61293744000"},
		{"011 44 20 7946 0958", "US", "+442079460958"}, // US international dialling prefix
	}
	for _, tt := range tests {
		got, err := outreach.NormalizePhone(tt.raw, tt.region)
		if err != nil || got != tt.want {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q", tt.raw, tt.region, got, err, tt.want)
		}
	}
}

func TestNormalizePhoneRejects(t *testing.T) {
	tests := []struct {
		raw, region string
		want        error
	}{
		{"", "US", outreach.ErrPhoneEmpty},
		{"   ", "US", outreach.ErrPhoneEmpty},
		{"\u00a0\t\u00a0", "US", outreach.ErrPhoneEmpty},
		{"---", "US", outreach.ErrPhoneEmpty},
		{"()", "US", outreach.ErrPhoneEmpty},
		{"tel:", "US", outreach.ErrPhoneEmpty},

		{"1-800-FLOWERS", "US", outreach.ErrPhoneLetters},
		{"1-800-356-9377 ext 12", "US", outreach.ErrPhoneLetters},
		{"440-644-3709 x12", "US", outreach.ErrPhoneLetters},
		{"tel:+14406443709;ext=12", "US", outreach.ErrPhoneLetters},
		{"N/A", "US", outreach.ErrPhoneLetters},
		{"440-644-3709 (cell)", "US", outreach.ErrPhoneLetters},
		{"440-644-37O9", "US", outreach.ErrPhoneLetters}, // letter O for zero

		{"4.40644E+09", "US", outreach.ErrPhoneScientific},
		{"4.40644e+09", "US", outreach.ErrPhoneScientific},
		{"4.40644e9", "US", outreach.ErrPhoneScientific},
		{"4,40644E+09", "US", outreach.ErrPhoneScientific},
		{"1.44064E+10", "US", outreach.ErrPhoneScientific},
		{" 4E9 ", "US", outreach.ErrPhoneScientific},

		{"440-644-3709 #12", "US", outreach.ErrPhoneExtension},
		{"440-644-3709,,12", "US", outreach.ErrPhoneExtension},
		{"4406443709;4406443710", "US", outreach.ErrPhoneExtension},

		{"555-1234", "US", outreach.ErrPhoneTooShort},
		{"644-3709", "US", outreach.ErrPhoneTooShort},
		{"440-644-370", "US", outreach.ErrPhoneTooShort},
		{"5", "US", outreach.ErrPhoneTooShort},
		{"911", "US", outreach.ErrPhoneTooShort},
		{"+1", "US", outreach.ErrPhoneTooShort},

		{"44064437091", "US", outreach.ErrPhoneTooLong},
		{"+1 440 644 37091", "US", outreach.ErrPhoneTooLong},
		{"1440644370912", "US", outreach.ErrPhoneTooLong},
		{"123456789012345678901234", "US", outreach.ErrPhoneTooLong},
		{strings.Repeat("4", 300), "US", outreach.ErrPhoneTooLong},

		{"(123) 456-7890", "US", outreach.ErrPhoneInvalid}, // no area code starts with 1
		{"+999 123 4567", "US", outreach.ErrPhoneInvalid},  // no such country code
		{"440-644-3709", "", outreach.ErrPhoneInvalid},     // no region, no country code
		{"440-644-3709", "XX", outreach.ErrPhoneInvalid},
	}
	for _, tt := range tests {
		got, err := outreach.NormalizePhone(tt.raw, tt.region)
		if got != "" || !errors.Is(err, tt.want) {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want error %v", tt.raw, tt.region, got, err, tt.want)
			continue
		}
		checkPhoneError(t, tt.raw, err)
	}
}

// checkPhoneError checks that err is a *PhoneError matching exactly one
// reason, and that its message holds no digit (so never the number).
func checkPhoneError(t *testing.T, raw string, err error) {
	t.Helper()
	var pe *outreach.PhoneError
	if !errors.As(err, &pe) {
		t.Errorf("NormalizePhone(%q): error %v (%T) is not a *PhoneError", raw, err, err)
		return
	}
	n := 0
	for _, reason := range phoneReasons {
		if errors.Is(err, reason) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("NormalizePhone(%q): error %v matches %d reasons, want 1", raw, err, n)
	}
	if msg := err.Error(); strings.ContainsAny(msg, "0123456789") {
		t.Errorf("NormalizePhone(%q): error message %q contains digits", raw, msg)
	}
}

func TestPhoneErrorMessages(t *testing.T) {
	// Each message says why and what to do.
	tests := []struct {
		reason error
		want   string
	}{
		{outreach.ErrPhoneEmpty, "empty"},
		{outreach.ErrPhoneLetters, "letters"},
		{outreach.ErrPhoneScientific, "format the phone column as Text"},
		{outreach.ErrPhoneExtension, "extension"},
		{outreach.ErrPhoneTooShort, "missing area code"},
		{outreach.ErrPhoneTooLong, "extra digits"},
		{outreach.ErrPhoneInvalid, "country code"},
	}
	for _, tt := range tests {
		err := &outreach.PhoneError{Reason: tt.reason}
		if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, tt.reason.Error()+": ") {
			t.Errorf("PhoneError{%v}.Error() = %q; want the reason and %q", tt.reason, msg, tt.want)
		}
		if !errors.Is(err, tt.reason) || errors.Unwrap(err) != tt.reason {
			t.Errorf("PhoneError{%v} does not match its reason", tt.reason)
		}
	}
	var zero outreach.PhoneError
	if zero.Error() == "" {
		t.Error("zero PhoneError has an empty message")
	}
}

// nanpFormats writes a 10-digit NANP number in the ways people type it.
var nanpFormats = []func(a, e, s string) string{
	func(a, e, s string) string { return "(" + a + ") " + e + "-" + s },
	func(a, e, s string) string { return a + "." + e + "." + s },
	func(a, e, s string) string { return a + "-" + e + "-" + s },
	func(a, e, s string) string { return "+1 " + a + " " + e + " " + s },
	func(a, e, s string) string { return "1" + a + e + s },
	func(a, e, s string) string { return "tel:+1" + a + e + s },
	func(a, e, s string) string { return " 1-" + a + "-" + e + "-" + s + "\u00a0" },
	func(a, e, s string) string { return a + e + s },
}

// TestNormalizePhoneAgreesWithPhonenumbers checks, for generated NANP
// numbers in the usual formats, that NormalizePhone accepts exactly what
// phonenumbers finds valid, with the same E.164 form.
func TestNormalizePhoneAgreesWithPhonenumbers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 2000
	if testing.Short() {
		n = 300
	}
	valid := 0
	for range n {
		// NXX-NXX-XXXX, N in 2-9, plus some area codes starting with 0 or 1.
		a := fmt.Sprintf("%d%02d", 2+rng.IntN(8), rng.IntN(100))
		if rng.IntN(20) == 0 {
			a = fmt.Sprintf("%03d", rng.IntN(200))
		}
		e := fmt.Sprintf("%d%02d", 2+rng.IntN(8), rng.IntN(100))
		s := fmt.Sprintf("%04d", rng.IntN(10000))
		raw := nanpFormats[rng.IntN(len(nanpFormats))](a, e, s)

		want := ""
		if num, err := phonenumbers.Parse(raw, "US"); err == nil && phonenumbers.IsValidNumber(num) {
			want = phonenumbers.Format(num, phonenumbers.E164)
			valid++
		}
		got, err := outreach.NormalizePhone(raw, "US")
		switch {
		case want != "" && (got != want || err != nil):
			t.Errorf("NormalizePhone(%q) = %q, %v; phonenumbers says %q", raw, got, err, want)
		case want == "" && err == nil:
			t.Errorf("NormalizePhone(%q) = %q; phonenumbers says invalid", raw, got)
		case want == "" && !errors.Is(err, outreach.ErrPhoneInvalid) && !errors.Is(err, outreach.ErrPhoneTooShort) && !errors.Is(err, outreach.ErrPhoneTooLong):
			t.Errorf("NormalizePhone(%q): unexpected reason %v", raw, err)
		}
		if want != "" && want != "+1"+a+e+s {
			t.Errorf("phonenumbers read %q as %q", raw, want)
		}
	}
	// The test means something only if many generated numbers are valid
	// (about half are; with -short, 144 of 300).
	if valid < n/3 {
		t.Errorf("only %d of %d generated numbers are valid", valid, n)
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{
		"(440) 644-3709", "+1 440 644 3709", "tel:+14406443709", "4.40644E+09",
		"1-800-FLOWERS", "555-1234", "+44 20 7946 0958", "440-644-3709 #12",
		"", "\u00a0", "+", "011 44 20 7946 0958", "tel:;phone-context=+1",
	} {
		f.Add(s, uint8(0))
	}
	regions := []string{"US", "GB", "", "DE", "IN", "xx"}
	f.Fuzz(func(t *testing.T, raw string, r uint8) {
		region := regions[int(r)%len(regions)]
		got, err := outreach.NormalizePhone(raw, region)
		if err != nil {
			if got != "" {
				t.Errorf("NormalizePhone(%q, %q) = %q with error %v", raw, region, got, err)
			}
			var pe *outreach.PhoneError
			if !errors.As(err, &pe) || !slices.ContainsFunc(phoneReasons, func(e error) bool { return errors.Is(err, e) }) {
				t.Errorf("NormalizePhone(%q, %q): error %v is not a *PhoneError with a known reason", raw, region, err)
			}
			return
		}
		if !strings.HasPrefix(got, "+") {
			t.Errorf("NormalizePhone(%q, %q) = %q, not E.164", raw, region, got)
		}
		again, err := outreach.NormalizePhone(got, region)
		if again != got || err != nil {
			t.Errorf("NormalizePhone(%q, %q) = %q, but NormalizePhone(%q) = %q, %v", raw, region, got, got, again, err)
		}
	})
}

func TestMaskPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+14406443709", "***3709"},
		{"(440) 644-3709", "***3709"},
		{"+442079460958", "***0958"},
		{"555-1234", "***1234"},
		{"12345", "***"},
		{"1234", "***"},
		{"+1", "***"},
		{"not a number", "***"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := outreach.MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestPhoneZones(t *testing.T) {
	tests := []struct {
		phone string
		want  []string
	}{
		{"+14406443709", []string{"America/New_York"}},
		{"+12085550100", []string{"America/Boise", "America/Los_Angeles"}},
		{"+16025550100", []string{"America/Phoenix"}},
		{"+18085550100", []string{"Pacific/Honolulu"}},
		{"+442079460958", []string{"Europe/London"}},
		{"+919876543210", []string{"Asia/Calcutta"}},
		{"", nil},
		{"not a number", nil},
		{"4406443709", nil}, // not E.164
	}
	for _, tt := range tests {
		if got := outreach.PhoneZones(tt.phone); !slices.Equal(got, tt.want) {
			t.Errorf("PhoneZones(%q) = %q; want %q", tt.phone, got, tt.want)
		}
	}
	// A toll-free number has no zone of its own: phonenumbers lists many.
	if got := outreach.PhoneZones("+18003569377"); len(got) <= outreach.MaxZones || slices.Contains(got, "Etc/Unknown") {
		t.Errorf("PhoneZones(toll-free) = %q; want more than %d zones", got, outreach.MaxZones)
	}
}

func BenchmarkNormalizePhone(b *testing.B) {
	for _, raw := range []string{"(440) 644-3709", "+14406443709", "+44 20 7946 0958", "555-1234", "1-800-FLOWERS"} {
		b.Run(raw, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				outreach.NormalizePhone(raw, "US")
			}
		})
	}
	for _, mix := range []struct {
		name   string
		inputs []string
	}{
		{"nanp", phoneMix(1000, 0)},
		{"mix", phoneMix(1000, 10)},
	} {
		b.Run(mix.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				outreach.NormalizePhone(mix.inputs[i], "US")
				i = (i + 1) % len(mix.inputs)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "numbers/s")
		})
	}
}

// phoneMix returns n phone numbers as a US patient list holds them: North
// American numbers in the usual formats, and, for other percent of them,
// international numbers and mistakes.
func phoneMix(n, other int) []string {
	rng := rand.New(rand.NewPCG(5, 6))
	areas := []string{"440", "216", "212", "415", "312", "713", "305", "617", "206", "404", "416", "604", "800", "888", "787", "876"}
	others := []string{"+44 20 7946 0958", "+33 1 23 45 67 89", "+52 55 1234 5678", "555-1234", "N/A", "440-644-3709 x12", "4.40644E+09", "440-644-370", ""}
	mix := make([]string, n)
	for i := range mix {
		if rng.IntN(100) < other {
			mix[i] = others[rng.IntN(len(others))]
			continue
		}
		a := areas[rng.IntN(len(areas))]
		e := fmt.Sprintf("%d%02d", 2+rng.IntN(8), rng.IntN(100))
		l := fmt.Sprintf("%04d", rng.IntN(10000))
		mix[i] = nanpFormats[rng.IntN(len(nanpFormats))](a, e, l)
	}
	return mix
}

func ExampleNormalizePhone() {
	for _, raw := range []string{"(440) 644-3709", "tel:+14406443709", "+44 20 7946 0958", "1-800-FLOWERS", "4.40644E+09", "555-1234"} {
		p, err := outreach.NormalizePhone(raw, "US")
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(p, outreach.MaskPhone(p))
	}
	// Output:
	// +14406443709 ***3709
	// +14406443709 ***3709
	// +442079460958 ***0958
	// outreach: phone number contains letters: write the number in digits only, without names, notes or extensions
	// outreach: phone number is in scientific notation: format the phone column as Text in the spreadsheet and type the numbers again
	// outreach: phone number is too short: check for missing digits or a missing area code
}

func TestIsE164(t *testing.T) {
	for s, want := range map[string]bool{
		"+15005550006": true, "+44": true, "+123456789012345": true,
		"": false, "+": false, "+1": false, "15005550006": false, "+05005550006": false,
		"+1234567890123456": false, "+1 500 555 0006": false, "+1500555000a": false,
	} {
		if got := outreach.IsE164(s); got != want {
			t.Errorf("IsE164(%q) = %v, want %v", s, got, want)
		}
	}
}
