package fhirio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/fhirio"
)

var now = time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)

const mrn = "http://hospital.example.org/mrn"

func opts() fhirio.Options {
	return fhirio.Options{Now: now, IDSystem: mrn, Fields: map[string]string{
		"clinic": "extension:http://hospital.example.org/clinic",
		"plan":   "identifier:http://payer.example.org/member",
	}}
}

// patient builds a Patient resource as Synthea writes them, with the
// parts given.
func patient(id string, parts ...string) string {
	return `{"resourceType":"Patient","id":"` + id + `","identifier":[{"system":"` + mrn + `","value":"MRN-` + id + `"}]` +
		strings.Join(append([]string{""}, parts...), ",") + `}`
}

func read(t *testing.T, ndjson string, o fhirio.Options) []csvio.Row {
	t.Helper()
	pr, err := fhirio.NewNDJSONReader(strings.NewReader(ndjson), o)
	if err != nil {
		t.Fatal(err)
	}
	var rows []csvio.Row
	for {
		row, err := pr.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
}

// TestPatientMapping: one Patient per case, as real exports shape them.
func TestPatientMapping(t *testing.T) {
	official := `"name":[{"use":"usual","given":["Bea"]},{"use":"official","family":"Diaz","given":["Beatriz","Ana"]}]`
	for _, tc := range []struct {
		name    string
		parts   []string
		id      string // recipient ID wanted
		first   string
		phone   string
		zone    string
		attrs   map[string]string
		err     error  // the row's error, if any
		errPath string // its element
	}{
		{name: "sms first, official name", parts: []string{official,
			`"telecom":[{"system":"phone","value":"(440) 644-3709","use":"mobile"},{"system":"sms","value":"212-555-0143"}]`},
			id: "MRN-a", first: "Beatriz", phone: "+12125550143"},
		{name: "usual name when no official one", parts: []string{`"name":[{"use":"usual","given":["Bo"]},{"given":["Robert"]}]`,
			`"telecom":[{"system":"phone","value":"4406443709","use":"mobile"}]`},
			id: "MRN-a", first: "Bo", phone: "+14406443709"},
		{name: "mobile phones by rank; home phones never", parts: []string{official,
			`"telecom":[{"system":"phone","value":"(440) 644-3709","use":"home","rank":1},{"system":"phone","value":"(212) 555-0143","use":"mobile","rank":3},{"system":"phone","value":"(312) 555-0177","use":"mobile","rank":2}]`},
			id: "MRN-a", first: "Beatriz", phone: "+13125550177"},
		{name: "ended and old numbers skipped", parts: []string{official,
			`"telecom":[{"system":"sms","value":"(440) 644-3709","period":{"end":"2025-12-31"}},{"system":"sms","value":"(212) 555-0143","use":"old"},{"system":"sms","value":"(312) 555-0177","period":{"start":"2020-01-01","end":"2026-03"}}]`},
			id: "MRN-a", first: "Beatriz", phone: "+13125550177"},
		{name: "an invalid number, then a valid one", parts: []string{official,
			`"telecom":[{"system":"sms","value":"555-0143","rank":1},{"system":"sms","value":"+1 440 644 3709","rank":2}]`},
			id: "MRN-a", first: "Beatriz", phone: "+14406443709"},
		{name: "no valid number", parts: []string{official,
			`"telecom":[{"system":"email","value":"a@example.org"},{"system":"sms","value":"555-0143"}]`},
			err: csvio.ErrInvalidPhone, errPath: "Patient.telecom[1].value"},
		{name: "no phone", parts: []string{official, `"telecom":[{"system":"email","value":"a@example.org"}]`},
			err: csvio.ErrMissingPhone, errPath: "Patient.telecom"},
		{name: "deceased", parts: []string{official, `"deceasedDateTime":"2025-01-02T03:04:05Z"`, `"telecom":[{"system":"sms","value":"4406443709"}]`},
			err: fhirio.ErrDeceased, errPath: "Patient.deceasedDateTime"},
		{name: "deceased true", parts: []string{`"deceasedBoolean":true`, `"telecom":[{"system":"sms","value":"4406443709"}]`},
			err: fhirio.ErrDeceased, errPath: "Patient.deceasedBoolean"},
		{name: "alive says so", parts: []string{`"deceasedBoolean":false`, `"active":true`, `"telecom":[{"system":"sms","value":"4406443709"}]`},
			id: "MRN-a", phone: "+14406443709"},
		{name: "inactive", parts: []string{`"active":false`, `"telecom":[{"system":"sms","value":"4406443709"}]`},
			err: fhirio.ErrInactive, errPath: "Patient.active"},
		{name: "Spanish preferred, clinic and plan fields", parts: []string{official,
			`"telecom":[{"system":"sms","value":"4406443709"}]`,
			`"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"en"}]}},{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"es"}],"text":"Spanish"},"preferred":true}]`,
			`"extension":[{"url":"http://hospital.example.org/clinic","valueString":"North"}]`},
			id: "MRN-a", first: "Beatriz", phone: "+14406443709", attrs: map[string]string{"language": "es", "clinic": "North"}},
		{name: "toll-free number: zone from the home address", parts: []string{official,
			`"telecom":[{"system":"sms","value":"800-356-9377"}]`,
			`"address":[{"use":"work","state":"CA"},{"use":"home","state":"oh","postalCode":"44101"}]`},
			id: "MRN-a", first: "Beatriz", phone: "+18003569377", zone: "America/New_York"},
		{name: "toll-free number in a state of two zones, no ZIP code: none", parts: []string{official,
			`"telecom":[{"system":"sms","value":"800-356-9377"}]`, `"address":[{"use":"home","state":"TX"}]`},
			id: "MRN-a", first: "Beatriz", phone: "+18003569377"},
		{name: "toll-free number in a state of two zones: the ZIP code's", parts: []string{official,
			`"telecom":[{"system":"sms","value":"800-356-9377"}]`, `"address":[{"use":"home","city":"El Paso","state":"TX","postalCode":"79901-1234"}]`},
			id: "MRN-a", first: "Beatriz", phone: "+18003569377", zone: "America/Denver"},
		{name: "toll-free number, ZIP code without a state", parts: []string{official,
			`"telecom":[{"system":"sms","value":"800-356-9377"}]`, `"address":[{"use":"home","city":"Pensacola","postalCode":"32501","country":"US"}]`},
			id: "MRN-a", first: "Beatriz", phone: "+18003569377", zone: "America/Chicago"},
		{name: "toll-free number, a postal code abroad: none", parts: []string{official,
			`"telecom":[{"system":"sms","value":"800-356-9377"}]`, `"address":[{"use":"home","postalCode":"79901","country":"DE"}]`},
			id: "MRN-a", first: "Beatriz", phone: "+18003569377"},
		{name: "a number's own zone beats the address", parts: []string{official,
			`"telecom":[{"system":"sms","value":"4406443709"}]`, `"address":[{"use":"home","state":"CA"}]`},
			id: "MRN-a", first: "Beatriz", phone: "+14406443709"},
		{name: "no MRN", parts: []string{`"identifier":[{"system":"http://other","value":"x"}]`, `"telecom":[{"system":"sms","value":"4406443709"}]`},
			err: csvio.ErrEmptyID, errPath: "Patient.identifier"},
		{name: "a wrong code", parts: []string{`"telecom":[{"system":"cell","value":"4406443709"}]`},
			err: fhirio.ErrBadJSON},
		{name: "a wrong type", parts: []string{`"telecom":[{"system":"sms","value":"4406443709","rank":"1"}]`},
			err: fhirio.ErrBadJSON, errPath: "Patient.telecom.rank"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := patient("a", tc.parts...)
			if tc.name == "no MRN" {
				res = `{"resourceType":"Patient","id":"a",` + strings.Join(tc.parts, ",") + `}`
			}
			rows := read(t, res+"\n", opts())
			if len(rows) != 1 {
				t.Fatalf("%d rows", len(rows))
			}
			row := rows[0]
			if tc.err != nil {
				if row.OK() || !errors.Is(row.Errors[0], tc.err) || row.Errors[0].Column != tc.errPath || row.Errors[0].Resource != "a" || row.Errors[0].Line != 1 {
					t.Fatalf("errors %v, want %v at %q", row.Errors, tc.err, tc.errPath)
				}
				return
			}
			if !row.OK() {
				t.Fatalf("errors %v", row.Errors)
			}
			r := row.Recipient
			if r.ID != tc.id || r.FirstName != tc.first || r.Phone != tc.phone || r.TimeZone != tc.zone {
				t.Errorf("recipient %+v, want id %q, first name %q, phone %q, zone %q", r, tc.id, tc.first, tc.phone, tc.zone)
			}
			if len(tc.attrs) > 0 || len(r.Attrs) > 0 {
				for k, v := range tc.attrs {
					if r.Attrs[k] != v {
						t.Errorf("attrs %v, want %v", r.Attrs, tc.attrs)
					}
				}
			}
		})
	}
}

// TestNDJSON: blank lines, other resource types, bad JSON and duplicate
// MRNs each give a row error at their line; the resource id names the
// row when the MRN cannot.
func TestNDJSON(t *testing.T) {
	tel := `"telecom":[{"system":"sms","value":"4406443709"}]`
	file := patient("a", tel) + "\n\n" +
		`{"resourceType":"Observation","id":"o1"}` + "\n" +
		`{"resourceType":"Patient",` + "\n" +
		patient("a", tel) + "\r\n" +
		patient("b", tel)
	rows := read(t, file, opts())
	var got []string
	for _, r := range rows {
		s := fmt.Sprintf("%d ok", r.Line)
		if !r.OK() {
			s = r.Errors[0].Error()
		}
		got = append(got, s)
	}
	want := []string{
		"1 ok",
		"line 3, resource o1, element resourceType: the resource is not a Patient",
		"line 4: the resource is not valid FHIR JSON: syntax error at byte 26",
		"line 5, resource a, element Patient.identifier[0].value: duplicate patient_id",
		"6 ok",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := fhirio.NewNDJSONReader(strings.NewReader(""), fhirio.Options{}); err == nil {
		t.Error("Options without Now accepted")
	}
	long := fhirio.Options{Now: now, MaxLineLen: 100}
	pr, _ := fhirio.NewNDJSONReader(strings.NewReader(patient("a", tel, `"text":{"status":"generated","div":"`+strings.Repeat("x", 200)+`"}`)), long)
	if _, err := pr.Next(); err == nil || !strings.Contains(err.Error(), "longer than 100 bytes") {
		t.Errorf("a line over MaxLineLen: %v", err)
	}
}

// TestBundlePages reads a searchset in two pages: the next link, the
// included resources skipped, duplicates across pages reported.
func TestBundlePages(t *testing.T) {
	tel := `"telecom":[{"system":"sms","value":"4406443709"}]`
	page1 := `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"https://ehr.example.org/Patient?_count=2"},{"relation":"next","url":"https://ehr.example.org/Patient?_count=2&page=2"}],
		"entry":[{"fullUrl":"https://ehr.example.org/Patient/a","resource":` + patient("a", tel) + `,"search":{"mode":"match"}},
		{"resource":{"resourceType":"Organization","id":"org1"},"search":{"mode":"include"}},
		{"resource":` + patient("b", `"deceasedBoolean":true`, tel) + `}]}`
	page2 := `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + patient("a", tel) + `},{"resource":` + patient("c", tel) + `}]}`
	seen := map[string]bool{}
	b1, err := fhirio.ReadBundle(strings.NewReader(page1), opts(), seen, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b1.Type != "searchset" || b1.Next != "https://ehr.example.org/Patient?_count=2&page=2" || b1.Skipped != 1 || len(b1.Rows) != 2 {
		t.Fatalf("page 1: %+v", b1)
	}
	if !b1.Rows[0].OK() || b1.Rows[0].Recipient.ID != "MRN-a" || b1.Rows[1].OK() || !errors.Is(b1.Rows[1].Errors[0], fhirio.ErrDeceased) || b1.Rows[1].Line != 3 {
		t.Errorf("page 1 rows: %+v", b1.Rows)
	}
	b2, err := fhirio.ReadBundle(strings.NewReader(page2), opts(), seen, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Next != "" || len(b2.Rows) != 2 || !errors.Is(b2.Rows[0].Errors[0], csvio.ErrDuplicateID) || !b2.Rows[1].OK() {
		t.Errorf("page 2: %+v", b2)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"resourceType":"Patient"}`, "not a Bundle"},
		{`{"resourceType":"Bundle","type":"nonsense"}`, "not valid FHIR JSON"},
		{`[`, "not valid FHIR JSON"},
	} {
		if _, err := fhirio.ReadBundle(strings.NewReader(tc.in), opts(), nil, 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadBundle(%s): %v, want %q", tc.in, err, tc.want)
		}
	}
	if _, err := fhirio.ReadBundle(strings.NewReader(page1), opts(), nil, 100); err == nil {
		t.Error("a bundle over maxBytes read")
	}
}

// TestSyntheaStyle reads a few hundred generated patients with the
// mapping's edge cases mixed in and checks each against what its
// generator meant.
func TestSyntheaStyle(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var b strings.Builder
	type want struct {
		ok    bool
		phone string
	}
	var wants []want
	for i := range 400 {
		id := fmt.Sprint(i)
		phone := fmt.Sprintf("+1440644%04d", i)
		tel := fmt.Sprintf(`"telecom":[{"system":"phone","value":"(212) 555-%04d","use":"home"},{"system":"phone","value":"440-644-%04d","use":"mobile","rank":1}]`, i, i)
		parts := []string{`"name":[{"use":"official","family":"Doe","given":["Pat` + id + `"]}]`}
		w := want{ok: true, phone: phone}
		switch rng.IntN(8) {
		case 0:
			parts = append(parts, `"deceasedDateTime":"2024-01-01"`)
			w.ok = false
		case 1:
			parts = append(parts, `"active":false`)
			w.ok = false
		case 2:
			tel = `"telecom":[{"system":"email","value":"x@example.org"}]`
			w.ok = false
		case 3: // an old number, ended
			tel = fmt.Sprintf(`"telecom":[{"system":"sms","value":"312-555-%04d","period":{"end":"2025-06-30"}},{"system":"phone","value":"440-644-%04d","use":"mobile"}]`, i, i)
		case 4:
			parts = append(parts, `"communication":[{"language":{"coding":[{"code":"es"}]},"preferred":true}]`)
		}
		parts = append(parts, tel)
		b.WriteString(patient(id, parts...) + "\n")
		wants = append(wants, w)
	}
	rows := read(t, b.String(), opts())
	if len(rows) != len(wants) {
		t.Fatalf("%d rows, want %d", len(rows), len(wants))
	}
	ok := 0
	for i, r := range rows {
		if r.OK() != wants[i].ok || r.OK() && r.Recipient.Phone != wants[i].phone {
			t.Errorf("patient %d: ok %v (%v), phone %q; want ok %v, phone %q", i, r.OK(), r.Errors, r.Recipient.Phone, wants[i].ok, wants[i].phone)
		}
		if r.OK() {
			ok++
		}
	}
	if ok < 200 {
		t.Errorf("only %d of 400 patients are recipients", ok)
	}
}

// TestReadAll reads the same patients as NDJSON and as a Bundle, pretty
// printed, into the same result.
func TestReadAll(t *testing.T) {
	tel := `"telecom":[{"system":"sms","value":"4406443709"}]`
	resources := []string{patient("a", tel), patient("b", `"active":false`, tel), patient("c", `"telecom":[{"system":"sms","value":"212-555-0143"}]`)}
	ndjson := strings.Join(resources, "\n") + "\n"
	bundle := "{\n  \"resourceType\": \"Bundle\",\n  \"type\": \"collection\",\n  \"entry\": [{\"resource\": " + strings.Join(resources, "}, {\"resource\": ") + "}]\n}\n"
	for name, in := range map[string]string{"ndjson": ndjson, "bundle": bundle} {
		res, err := fhirio.ReadAll(context.Background(), strings.NewReader(in), opts())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Rows != 3 || res.BadRows != 1 || len(res.Recipients) != 2 || res.Recipients[1].Phone != "+12125550143" || !errors.Is(res.Errors[0], fhirio.ErrInactive) || res.Errors[0].Line != 2 {
			t.Errorf("%s: %+v", name, res)
		}
	}
	if _, err := fhirio.ReadAll(context.Background(), strings.NewReader(""), opts()); err == nil {
		t.Error("an empty file read")
	}
	if _, err := fhirio.ReadAll(context.Background(), strings.NewReader("patient_id,patient_phone\n"), opts()); !errors.Is(err, fhirio.ErrBadJSON) {
		t.Errorf("a CSV file: %v", err)
	}
}
