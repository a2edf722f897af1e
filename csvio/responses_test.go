package csvio

import (
	"bytes"
	"encoding/csv"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

func TestNeutralize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"yes", "yes"},
		{"7", "7"},
		{"=1+2", "'=1+2"},
		{"=HYPERLINK(\"http://example.com\",\"x\")", "'=HYPERLINK(\"http://example.com\",\"x\")"},
		{"+14406443709", "'+14406443709"},
		{"-5", "'-5"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{" =1", "' =1"}, // spreadsheets may skip the space
		{"a=1", "a=1"},
		{"'=1", "'=1"},
	}
	for _, tt := range tests {
		if got := Neutralize(tt.in); got != tt.want {
			t.Errorf("Neutralize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// parseResponses parses a responses file, checking and dropping its byte
// order mark.
func parseResponses(t *testing.T, b []byte) [][]string {
	t.Helper()
	rest, ok := bytes.CutPrefix(b, utf8BOM)
	if !ok {
		t.Fatalf("no byte order mark: %q", b)
	}
	recs, err := csv.NewReader(bytes.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestResponseWriter(t *testing.T) {
	honolulu := time.FixedZone("HST", -10*3600)
	tests := []struct {
		name string
		row  ResponseRow
		want []string
	}{
		{
			name: "answered",
			row: ResponseRow{PatientID: "A1", FirstName: "Maya", Phone: "+14406443709", QuestionID: "pain",
				Answer: "7", Raw: " 7 ", RepliedAt: time.Date(2026, 3, 1, 10, 30, 0, 0, honolulu), Outcome: "completed"},
			want: []string{"A1", "Maya", "'+14406443709", "pain", "7", " 7 ", "2026-03-01T20:30:00Z", "completed", "", ""},
		},
		{
			name: "no reply",
			row:  ResponseRow{PatientID: "A2", FirstName: "Jonah", Phone: "+14408921177", QuestionID: "pain", Outcome: "timeout"},
			want: []string{"A2", "Jonah", "'+14408921177", "pain", "", "", "", "timeout", "", ""},
		},
		{
			name: "injection in every cell a patient or an upload controls",
			row: ResponseRow{PatientID: "=cmd|' /C calc'!A0", FirstName: "@SUM(1+1)", Phone: "-2+3", QuestionID: "q",
				Answer: "+1", Raw: "=HYPERLINK(\"http://evil.example\",\"click\")", Outcome: "\tdone", Alert: "=1"},
			want: []string{"'=cmd|' /C calc'!A0", "'@SUM(1+1)", "'-2+3", "q", "'+1",
				"'=HYPERLINK(\"http://evil.example\",\"click\")", "", "'\tdone", "", "'=1"},
		},
		{
			name: "commas, quotes and line breaks survive",
			row:  ResponseRow{PatientID: "A3", FirstName: "Ann, \"Jr\"", QuestionID: "q", Raw: "yes\nand no\r\n=1"},
			want: []string{"A3", "Ann, \"Jr\"", "", "q", "", "yes\nand no\n=1", "", "", "", ""},
		},
		{
			name: "in doubt, with an alert",
			row: ResponseRow{PatientID: "A4", QuestionID: "pain", Raw: "was 2 yesterday, today it's worse", Outcome: "needs_review",
				Review: "words besides the answer", Alert: "worse"},
			want: []string{"A4", "", "", "pain", "", "was 2 yesterday, today it's worse", "", "needs_review", "words besides the answer", "worse"},
		},
	}
	var buf bytes.Buffer
	w := NewResponseWriter(&buf)
	for _, tt := range tests {
		if err := w.Write(tt.row); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	recs := parseResponses(t, buf.Bytes())
	if !reflect.DeepEqual(recs[0], responseHeader) {
		t.Errorf("header %q", recs[0])
	}
	if len(recs) != len(tests)+1 {
		t.Fatalf("%d records, want %d", len(recs), len(tests)+1)
	}
	for i, tt := range tests {
		if got := recs[i+1]; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestResponseWriterHeaderOnly(t *testing.T) {
	var buf bytes.Buffer
	if err := NewResponseWriter(&buf).Flush(); err != nil {
		t.Fatal(err)
	}
	want := "\ufeffpatient_id,patient_first_name,patient_phone,question_id,answer,raw_reply,replied_at,outcome,review,alert\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

// TestResponsesReadBack checks that this package's reader takes a
// responses file's byte order mark in its stride.
func TestResponsesReadBack(t *testing.T) {
	var buf bytes.Buffer
	w := NewResponseWriter(&buf)
	w.Write(ResponseRow{PatientID: "A1", FirstName: "Maya", Phone: "4406443709", QuestionID: "pain", Answer: "3"})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, err := readRows(t, buf.String(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !rows[0].OK() || rows[0].Recipient.Attrs["answer"] != "3" {
		t.Errorf("got %+v", rows)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestResponseWriterError(t *testing.T) {
	boom := errors.New("disk full")
	w := NewResponseWriter(failingWriter{boom})
	w.Write(ResponseRow{PatientID: "A1"})
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush: %v, want %v", err, boom)
	}
}

func TestNewResponseRow(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
	c := outreach.Conversation{Recipient: outreach.Recipient{ID: "A1", FirstName: "Maya", Phone: "+14406443709"}, Outcome: "eligible"}
	r := outreach.Response{PatientID: "A1", QuestionID: "age", Raw: "42 ", Answer: "42", RepliedAt: at}
	want := ResponseRow{PatientID: "A1", FirstName: "Maya", Phone: "+14406443709", QuestionID: "age", Answer: "42", Raw: "42 ", RepliedAt: at, Outcome: "eligible"}
	if got := NewResponseRow(c, r); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// A responses file must not start a cell with a formula character, whatever
// the input.
func FuzzNeutralize(f *testing.F) {
	for _, s := range []string{"=1", "+1", "-1", "@1", "\t1", "\r1", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Neutralize(s)
		if got != "" && strings.ContainsRune("=+-@\t\r", rune(got[0])) {
			t.Errorf("Neutralize(%q) = %q", s, got)
		}
		if got != s && got != "'"+s {
			t.Errorf("Neutralize(%q) = %q changes more than a leading quote", s, got)
		}
	})
}
