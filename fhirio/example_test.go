package fhirio_test

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/patient-outreach/sms/fhirio"
)

// Patients from a Bulk Data export (NDJSON) become recipients; those who
// cannot be are reported by line, resource and element.
func ExampleNewNDJSONReader() {
	export := `{"resourceType":"Patient","id":"p1","name":[{"use":"official","given":["Ana"]}],"telecom":[{"system":"phone","value":"(440) 644-3709","use":"mobile"}]}
{"resourceType":"Patient","id":"p2","deceasedBoolean":true,"telecom":[{"system":"sms","value":"212-555-0143"}]}
`
	pr, err := fhirio.NewNDJSONReader(strings.NewReader(export), fhirio.Options{Now: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		row, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		if !row.OK() {
			fmt.Println(row.Errors[0])
			continue
		}
		fmt.Println(row.Recipient.ID, row.Recipient.FirstName, row.Recipient.Phone)
	}
	// Output:
	// p1 Ana +14406443709
	// line 2, resource p2, element Patient.deceasedBoolean: the patient is deceased: never messaged
}
