package csvio

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

// sentinels are the reasons a RowError may give.
var sentinels = []error{
	ErrEmptyID, ErrDuplicateID, ErrMissingPhone, ErrInvalidPhone, ErrBadTimeZone,
	ErrFieldTooLong, ErrNotUTF8, ErrMalformed, ErrSharedPhone, ErrMissingFirstName, ErrUnnamedColumn,
}

// FuzzRecipientReader checks that any input gives a reader or an error,
// that every Next gives a row or an error, and that every row either has a
// usable recipient (valid E.164 phone, unique non-empty id) or an error.
func FuzzRecipientReader(f *testing.F) {
	seeds := []string{
		header + "A1,Maya,4406443709\n",
		"\ufeffpatient_id;patient_first;patient_phone;timezone;x\r\nA1;\"M;\n\"\"a\"\"\";+1 440 644 3709;America/Phoenix;1\r\n;;\r\n",
		header + "A1,Ma\"ya,4406443709\nA2,Jonah\nA1,\"Lena,x\n",
		header + "A1,Maya,4406443709\nA1,Maya,4406443709\nA2,,440-644-3709\n,x,555\n",
		header[:len(header)-1] + ",,\nA1,Maya,4406443709,,x\n",
		"",
		"\xff\xfe",
	}
	if b, err := os.ReadFile("testdata/sample.csv"); err == nil {
		seeds = append(seeds, string(b))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		opts := Options{MaxBytes: 1 << 12, MaxRows: 50, MaxFieldLen: 64}
		rr, err := NewRecipientReader(strings.NewReader(in), opts)
		if err != nil {
			var he *HeaderError
			var le *LimitError
			if !errors.As(err, &he) && !errors.As(err, &le) {
				t.Fatalf("NewRecipientReader: untyped error %v", err)
			}
			return
		}
		ids := map[string]bool{}
		last := 0
		for {
			row, err := rr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				var le *LimitError
				if !errors.As(err, &le) {
					t.Fatalf("Next: error %v, want io.EOF or a *LimitError", err)
				}
				if row.Line != 0 || row.Errors != nil {
					t.Fatalf("Next: row %+v along with error %v", row, err)
				}
				return
			}
			if row.Line <= last {
				t.Fatalf("row at line %d after line %d", row.Line, last)
			}
			last = row.Line
			for _, e := range append(row.Errors, row.Warnings...) {
				if e.Line != row.Line || !matchesOne(e) {
					t.Fatalf("line %d: bad problem %+v (%v)", row.Line, *e, e)
				}
			}
			if !row.OK() {
				continue
			}
			r := row.Recipient
			if p, err := outreach.NormalizePhone(r.Phone, ""); err != nil || p != r.Phone {
				t.Fatalf("line %d: phone is not E.164: %v", row.Line, err)
			}
			if r.ID == "" || ids[r.ID] {
				t.Fatalf("line %d: empty or duplicate id accepted", row.Line)
			}
			ids[r.ID] = true
		}
	})
}

func matchesOne(e *RowError) bool {
	for _, s := range sentinels {
		if errors.Is(e, s) {
			return true
		}
	}
	return false
}
