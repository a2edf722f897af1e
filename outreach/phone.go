package outreach

import (
	"errors"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/patient-outreach/sms/outreach/internal/nanp"
)

// Reasons a phone number is refused by [NormalizePhone]. A [*PhoneError]
// matches exactly one of them with [errors.Is].
var (
	// ErrPhoneEmpty: the input is empty, blank, or holds no digit at all.
	ErrPhoneEmpty = errors.New("outreach: phone number is empty")
	// ErrPhoneLetters: the input contains letters, as vanity numbers
	// (1-800-FLOWERS), notes ("call after 5") and extensions ("x12") do.
	ErrPhoneLetters = errors.New("outreach: phone number contains letters")
	// ErrPhoneScientific: the input is in scientific notation (4.40644E+09),
	// as Excel shows long numbers in a column formatted as General; the
	// digits it hides are lost.
	ErrPhoneScientific = errors.New("outreach: phone number is in scientific notation")
	// ErrPhoneExtension: the number is followed by an extension written
	// without letters ("#12", ",,12", ";12"), or by a second number. A text
	// message cannot reach an extension.
	ErrPhoneExtension = errors.New("outreach: phone number has an extension")
	// ErrPhoneTooShort: digits are missing, often the area code.
	ErrPhoneTooShort = errors.New("outreach: phone number is too short")
	// ErrPhoneTooLong: there are too many digits.
	ErrPhoneTooLong = errors.New("outreach: phone number is too long")
	// ErrPhoneInvalid: the digits do not form a valid number of its country.
	ErrPhoneInvalid = errors.New("outreach: phone number is not valid")
)

// phoneAdvice says what to do about each reason.
var phoneAdvice = map[error]string{
	ErrPhoneEmpty:      "fill in the number with its area code",
	ErrPhoneLetters:    "write the number in digits only, without names, notes or extensions",
	ErrPhoneScientific: "format the phone column as Text in the spreadsheet and type the numbers again",
	ErrPhoneExtension:  "a text message cannot reach an extension; give one mobile number per cell",
	ErrPhoneTooShort:   "check for missing digits or a missing area code",
	ErrPhoneTooLong:    "check for extra digits, or for two numbers in one cell",
	ErrPhoneInvalid:    "check the area code and the digits, and write international numbers with + and the country code",
}

// PhoneError reports why [NormalizePhone] refused a number. Its message
// says why and what to do; it never contains the number itself, so that it
// can be logged. Use [errors.Is] with one of the ErrPhone sentinels to tell
// the reasons apart.
type PhoneError struct {
	// Reason is one of ErrPhoneEmpty, ErrPhoneLetters, ErrPhoneScientific,
	// ErrPhoneExtension, ErrPhoneTooShort, ErrPhoneTooLong or ErrPhoneInvalid.
	Reason error
}

// Error says why the number was refused and what to do about it.
func (e *PhoneError) Error() string {
	if e.Reason == nil {
		return ErrPhoneInvalid.Error()
	}
	if advice, ok := phoneAdvice[e.Reason]; ok {
		return e.Reason.Error() + ": " + advice
	}
	return e.Reason.Error()
}

// Unwrap returns the reason.
func (e *PhoneError) Unwrap() error { return e.Reason }

// Is reports whether target is the reason.
func (e *PhoneError) Is(target error) bool { return target == e.Reason }

func phoneErr(reason error) error { return &PhoneError{Reason: reason} }

// NormalizePhone returns raw in E.164 form ("+14406443709"), or a
// [*PhoneError] saying why it cannot.
//
// defaultRegion is the ISO 3166 country ("US", "GB", ...) of numbers
// written without a leading + and country code; with an empty region only
// international numbers are accepted. Surrounding spaces (non-breaking ones
// too) and a "tel:" prefix are ignored, and the usual punctuation is
// accepted: "(440) 644-3709", "440.644.3709", "+1 440 644 3709",
// "14406443709".
//
// A number is accepted exactly when github.com/nyaruka/phonenumbers parses
// it and finds it valid (IsValidNumber), with three further rules: input
// containing letters is refused (a vanity number such as 1-800-FLOWERS in a
// patient list is a data-entry error), Excel scientific notation such as
// 4.40644E+09 is recognised and reported as such, and a number followed by
// an extension is refused.
//
// North American numbers in the usual formats take a fast path that does
// not parse them: tables generated from phonenumbers' metadata (package
// outreach/internal/nanp) give the same result, as a differential test
// checks. Everything else goes to phonenumbers.
func NormalizePhone(raw, defaultRegion string) (string, error) {
	s, digits, err := cleanPhone(raw)
	if err != nil {
		return "", err
	}
	region := strings.ToUpper(defaultRegion)
	if nsn, ext, ok := nanpNationalNumber(s, region); ok {
		// The fast path for North American numbers: the same result as
		// parsePhone, without parsing.
		if ext {
			return "", phoneErr(ErrPhoneExtension)
		}
		if !nanp.Valid(nsn) {
			return "", phoneErr(ErrPhoneInvalid)
		}
		if len(s) == 12 && s[0] == '+' {
			return s, nil // already in E.164: "+1" and the ten digits
		}
		var e164 [12]byte
		e164[0], e164[1] = '+', '1'
		copy(e164[2:], nsn[:])
		return string(e164[:]), nil
	}
	return parsePhone(s, region, digits)
}

// cleanPhone applies the rules NormalizePhone keeps before phonenumbers
// sees raw: it trims raw and its "tel:" prefix, and refuses empty input,
// scientific notation and letters. It returns what is left and the number
// of digits in it.
func cleanPhone(raw string) (s string, digits int, err error) {
	s = strings.TrimFunc(raw, isPhoneSpace)
	if s == "" {
		return "", 0, phoneErr(ErrPhoneEmpty)
	}
	if isScientific(s) {
		return "", 0, phoneErr(ErrPhoneScientific)
	}
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") {
		s = strings.TrimLeftFunc(s[4:], isPhoneSpace)
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			return "", 0, phoneErr(ErrPhoneLetters)
		case unicode.IsDigit(r):
			digits++
		}
	}
	if digits == 0 {
		return "", 0, phoneErr(ErrPhoneEmpty)
	}
	return s, digits, nil
}

// parsePhone normalises s, cleaned by cleanPhone, with phonenumbers.
// region is the upper-case default region; digits the number of digits
// in s.
func parsePhone(s, region string, digits int) (string, error) {
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		switch {
		case errors.Is(err, phonenumbers.ErrTooShortNSN),
			errors.Is(err, phonenumbers.ErrTooShortAfterIDD),
			errors.Is(err, phonenumbers.ErrNotANumber) && digits < 3:
			return "", phoneErr(ErrPhoneTooShort)
		case errors.Is(err, phonenumbers.ErrNumTooLong):
			return "", phoneErr(ErrPhoneTooLong)
		}
		return "", phoneErr(ErrPhoneInvalid)
	}
	if num.GetExtension() != "" {
		return "", phoneErr(ErrPhoneExtension)
	}
	if phonenumbers.IsValidNumber(num) {
		return phonenumbers.Format(num, phonenumbers.E164), nil
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		// Local only: a subscriber number without its area code (555-1234).
		return "", phoneErr(ErrPhoneTooShort)
	case phonenumbers.TOO_LONG:
		return "", phoneErr(ErrPhoneTooLong)
	}
	return "", phoneErr(ErrPhoneInvalid)
}

// nanpNationalNumber returns the ten-digit national number of s when s
// is a North American number written so that phonenumbers is known to
// read it as country code 1 and that national number (see
// [nanp.Region]). s must be made of ASCII digits, spaces, dashes, dots and
// parentheses, and be one of
//
//   - ten digits, the first 2-9, with a NANP default region: "(440) 644-3709"
//   - 1 and such ten digits, with a NANP default region: "1-440-644-3709"
//   - + first, then 1 and such ten digits, with any region: "+1 440 644 3709"
//
// ext reports that such a number is followed by an extension written
// "#12" or " # 12" (1 to 9 digits), which phonenumbers parses as an
// extension. (Extensions written with letters, "x12" or "ext. 12", never
// get here: cleanPhone refuses letters.)
//
// ok is false for anything else, which is left to phonenumbers: other
// characters (such as the ",,12" or ";12" of other extensions), other
// lengths, other country codes, area codes starting with 0 or 1.
func nanpNationalNumber(s, region string) (nsn [10]byte, ext, ok bool) {
	if len(s) > 64 {
		return nsn, false, false
	}
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		e := strings.TrimLeft(s[i+1:], " ")
		if len(e) < 1 || len(e) > 9 || countDigits(e) != len(e) {
			return nsn, false, false
		}
		s, ext = s[:i], true
	}
	plus := s != "" && s[0] == '+'
	if plus {
		s = s[1:]
	}
	var digits [11]byte
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		case '0' <= c && c <= '9' && n < len(digits):
			digits[n] = c
			n++
		default:
			return nsn, false, false
		}
	}
	switch {
	case n == 11 && digits[0] == '1' && (plus || nanp.Region(region)):
		copy(nsn[:], digits[1:])
	case n == 10 && !plus && nanp.Region(region):
		copy(nsn[:], digits[:])
	default:
		return nsn, false, false
	}
	return nsn, ext, nsn[0] >= '2'
}

// isPhoneSpace reports whether r is trimmed from around a phone number:
// Unicode white space (which includes the non-breaking spaces), the
// zero-width space and the byte order mark.
func isPhoneSpace(r rune) bool {
	return unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff'
}

// isScientific reports whether s is a number in scientific notation, as a
// spreadsheet writes one: 4.40644E+09, 4,40644E+09, 4.40644e9, 4E9.
func isScientific(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	n := countDigits(s[i:])
	if n == 0 {
		return false
	}
	i += n
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		i++
		i += countDigits(s[i:])
	}
	if i >= len(s) || (s[i] != 'e' && s[i] != 'E') {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	n = countDigits(s[i:])
	return n > 0 && i+n == len(s)
}

// countDigits returns the number of ASCII digits s starts with.
func countDigits(s string) int {
	n := 0
	for n < len(s) && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	return n
}

// IsE164 reports whether s is written as E.164: "+" and 2 to 15 digits,
// the first not 0. It checks the form only; [NormalizePhone] checks that
// the number can exist.
func IsE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MaskPhone hides all but the last four digits of a phone number, for logs:
// "+14406443709" gives "***3709". Input with fewer than seven digits, where
// four would give too much away, is masked entirely ("***"); the empty
// string stays empty. Any format is accepted, normalised or not.
func MaskPhone(p string) string {
	if p == "" {
		return ""
	}
	var last [4]byte
	n := 0
	for i := len(p) - 1; i >= 0; i-- {
		if c := p[i]; '0' <= c && c <= '9' {
			if n < len(last) {
				last[len(last)-1-n] = c
			}
			n++
		}
	}
	if n < 7 {
		return "***"
	}
	return "***" + string(last[:])
}

// PhoneZones returns the IANA time zones of an E.164 number, as
// phonenumbers knows them: one for most numbers, several for an area that
// spans zones (area code 208 covers America/Boise and America/Los_Angeles),
// many for a non-geographic number such as a toll-free one. It returns nil
// when the number cannot be parsed or its zone is unknown.
func PhoneZones(e164 string) []string {
	var (
		tzs []string
		err error
	)
	if nanpForm(e164) {
		// phonenumbers would parse it and format it back as it is, then
		// look its zones up by its prefixes: that lookup alone. (Parsing
		// took most of the time of creating a campaign.)
		tzs, err = phonenumbers.GetTimezonesForPrefix(e164)
	} else {
		num, perr := phonenumbers.Parse(e164, "")
		if perr != nil {
			return nil
		}
		tzs, err = phonenumbers.GetTimezonesForNumber(num)
	}
	if err != nil {
		return nil
	}
	return knownZones(tzs)
}

// knownZones returns the zones of tzs that phonenumbers knows.
func knownZones(tzs []string) []string {
	var zones []string
	for _, z := range tzs {
		if z != phonenumbers.UNKNOWN_TIMEZONE && z != "" {
			zones = append(zones, z)
		}
	}
	return zones
}

// nanpForm reports whether s is +1 and ten digits whose first is 2 to 9:
// the E.164 form of a North American number, which phonenumbers parses
// with no national prefix to strip (the area code cannot start with 1).
func nanpForm(s string) bool {
	if len(s) != 12 || s[0] != '+' || s[1] != '1' || s[2] < '2' || s[2] > '9' {
		return false
	}
	for i := 3; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
