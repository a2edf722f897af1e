package fhirio_test

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/fhirio"
)

// FuzzNDJSON: any input is read to its end without a panic, every row
// is a recipient or has an error, and a recipient has a phone and an id.
func FuzzNDJSON(f *testing.F) {
	f.Add(patient("a", `"telecom":[{"system":"sms","value":"4406443709"}]`))
	f.Add(`{"resourceType":"Patient","telecom":[{"system":"sms","value":"+1 (440) 644-3709","period":{"end":"2026"}}],"address":[{"state":"OH"}]}`)
	f.Add(`{"resourceType":"Patient","deceasedBoolean":true}` + "\n" + `{"resourceType":"Bundle"}` + "\n[]\n{")
	f.Fuzz(func(t *testing.T, in string) {
		pr, err := fhirio.NewNDJSONReader(strings.NewReader(in), fhirio.Options{Now: now, MaxLineLen: 4096})
		if err != nil {
			t.Fatal(err)
		}
		for range 10000 {
			row, err := pr.Next()
			if err != nil {
				if err != io.EOF && !strings.Contains(err.Error(), "longer than") {
					t.Fatalf("Next: %v", err)
				}
				return
			}
			if row.OK() && (row.Recipient.Phone == "" || row.Recipient.ID == "") {
				t.Fatalf("a recipient with no phone or id: %+v", row)
			}
		}
	})
}

// BenchmarkNDJSON reads Synthea-sized patients from NDJSON.
func BenchmarkNDJSON(b *testing.B) {
	const n = 10000
	var sb strings.Builder
	for i := range n {
		sb.WriteString(patient(strconv.Itoa(i),
			`"name":[{"use":"official","family":"Doe","given":["Pat"]}]`, `"gender":"female"`, `"birthDate":"1970-01-01"`,
			`"telecom":[{"system":"phone","value":"(212) 555-0143","use":"home"},{"system":"phone","value":"440-644-3709","use":"mobile","rank":1}]`,
			`"address":[{"use":"home","line":["1 Main St"],"city":"Cleveland","state":"OH","postalCode":"44101"}]`) + "\n")
	}
	in := sb.String()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		pr, _ := fhirio.NewNDJSONReader(strings.NewReader(in), fhirio.Options{Now: now, IDSystem: mrn})
		for {
			if _, err := pr.Next(); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "patients/s")
}

// FuzzQuestionnaire: any input imports as a valid flow or fails with
// ErrQuestionnaire, never a panic.
func FuzzQuestionnaire(f *testing.F) {
	f.Add(screening)
	f.Add(`{"resourceType":"Questionnaire","status":"active","item":[{"linkId":"a","type":"integer","text":"A?"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		flow, err := fhirio.FlowFromQuestionnaire([]byte(in))
		if err != nil {
			if !errors.Is(err, fhirio.ErrQuestionnaire) {
				t.Fatalf("error %v does not match ErrQuestionnaire", err)
			}
			return
		}
		if err := flow.Validate(); err != nil {
			t.Fatalf("an invalid flow: %v", err)
		}
	})
}
