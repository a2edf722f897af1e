package csvio_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/patient-outreach/sms/csvio"
)

// oldNeutralize is Neutralize as it was first written, the reference the
// faster one must agree with.
func oldNeutralize(s string) string {
	t := strings.TrimLeftFunc(s, func(r rune) bool {
		return r == 0 || r == ' ' || r == '\u00a0' || r == '\u200b' || r == '\ufeff' || r == '\u3000'
	})
	if t == "" {
		return s
	}
	switch t[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	if r, _ := utf8.DecodeRuneInString(t); r == '＝' || r == '＋' || r == '－' || r == '＠' {
		return "'" + s
	}
	return s
}

// csvFile is the responses file of rows as encoding/csv writes it, each
// cell through oldNeutralize: what ResponseWriter must write.
func csvFile(t testing.TB, rows []csvio.ResponseRow) []byte {
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	w.Write([]string{"patient_id", "patient_first_name", "patient_phone", "question_id", "answer", "raw_reply", "replied_at", "outcome", "review", "alert"})
	for _, r := range rows {
		var replied string
		if !r.RepliedAt.IsZero() {
			replied = r.RepliedAt.UTC().Format(time.RFC3339)
		}
		rec := []string{r.PatientID, r.FirstName, r.Phone, r.QuestionID, r.Answer, r.Raw, replied, r.Outcome, r.Review, r.Alert}
		for i := range rec {
			rec[i] = oldNeutralize(rec[i])
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeRows(t testing.TB, rows []csvio.ResponseRow) []byte {
	var buf bytes.Buffer
	rw := csvio.NewResponseWriter(&buf)
	for _, r := range rows {
		if err := rw.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cellCases are cells that exercise neutralising and quoting.
var cellCases = []string{
	"", "plain", "=1+2", "+14406443709", "-3", "@SUM", "\tx", "\rx", "\nx", " =x", "  +x", "\x00=x", "\u00a0=x",
	"\u200b@x", "\ufeff-x", "\u3000+x", "＝x", "＋x", "－x", "＠x", "\u00a0", " ", "\x00", "a,b", `say "hi"`, "two\nlines",
	"cr\rhere", `\.`, `\.x`, " lead", "\tlead", "\vx", "\fx", "\u0085x", "\u2028x", "\u00a0x", "Zoë", "\xff", "\xff=x",
	"=a,\"b\"\n", "'quoted", ",", `"`, "-", "日本", "\u00a0\u00a0", "x ", "=",
}

// TestResponseWriterMatchesEncodingCSV: the writer writes every cell as
// encoding/csv would write its neutralised form, in every column.
func TestResponseWriterMatchesEncodingCSV(t *testing.T) {
	at := time.Date(2026, 3, 2, 17, 4, 5, 6, time.FixedZone("EST", -5*3600))
	var rows []csvio.ResponseRow
	for i, c := range cellCases {
		rows = append(rows,
			csvio.ResponseRow{PatientID: c, FirstName: c, Phone: c, QuestionID: c, Answer: c, Raw: c, Outcome: c, Review: c, Alert: c},
			csvio.ResponseRow{PatientID: "p", Raw: c, RepliedAt: at.Add(time.Duration(i) * time.Hour), Alert: c})
	}
	rows = append(rows,
		csvio.ResponseRow{RepliedAt: time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)},
		csvio.ResponseRow{RepliedAt: time.Date(12026, 1, 1, 0, 0, 0, 0, time.UTC)},
		csvio.ResponseRow{})
	if got, want := writeRows(t, rows), csvFile(t, rows); !bytes.Equal(got, want) {
		t.Fatalf("ResponseWriter wrote\n%q\nwant (encoding/csv)\n%q", got, want)
	}
	if got, want := writeRows(t, nil), csvFile(t, nil); !bytes.Equal(got, want) {
		t.Fatalf("empty file: %q, want %q", got, want)
	}
	for _, c := range cellCases {
		if got, want := csvio.Neutralize(c), oldNeutralize(c); got != want {
			t.Errorf("Neutralize(%q) = %q, want %q", c, got, want)
		}
	}
}

// FuzzResponseWriter: for any cells, the writer agrees with encoding/csv.
func FuzzResponseWriter(f *testing.F) {
	for _, c := range cellCases {
		f.Add(c, c, int64(0))
	}
	f.Fuzz(func(t *testing.T, a, b string, nanos int64) {
		rows := []csvio.ResponseRow{{PatientID: a, FirstName: b, Phone: a + b, Raw: b + a, RepliedAt: time.Unix(0, nanos), Alert: a}}
		if got, want := writeRows(t, rows), csvFile(t, rows); !bytes.Equal(got, want) {
			t.Fatalf("ResponseWriter wrote\n%q\nwant (encoding/csv)\n%q", got, want)
		}
	})
}
