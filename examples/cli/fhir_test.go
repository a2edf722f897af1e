package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/clocktest"
)

// patientsNDJSON are three FHIR Patients: two to text, one deceased.
const patientsNDJSON = `{"resourceType":"Patient","id":"p1","name":[{"use":"official","given":["Ana"]}],"telecom":[{"system":"phone","value":"(440) 644-3709","use":"mobile"}]}
{"resourceType":"Patient","id":"p2","name":[{"use":"official","given":["Bo"]}],"telecom":[{"system":"sms","value":"212-555-0143"}]}
{"resourceType":"Patient","id":"p3","deceasedBoolean":true,"telecom":[{"system":"sms","value":"312-555-0177"}]}
`

// TestFHIR: validate and run take FHIR Patients where they take a CSV
// (the deceased patient is reported and left out), and export writes
// the answers as QuestionnaireResponses.
func TestFHIR(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "patients.ndjson"), patientsNDJSON)
	db := filepath.Join(dir, "fhir.db")
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	do := func(want int, args ...string) string {
		t.Helper()
		out.Reset()
		errb.Reset()
		if code := run(context.Background(), a, args); code != want {
			t.Fatalf("%v exited %d, want %d\n%s\n%s", args, code, want, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}
	got := do(exitInvalid, "validate", file)
	if !strings.Contains(got, "line 3, resource p3, element Patient.deceasedBoolean: the patient is deceased") || !strings.Contains(got, "3 rows: 2 valid, 1 with errors") {
		t.Errorf("validate:\n%s", got)
	}
	got = do(exitOK, "run", "--fhir", file, "--skip-bad-rows", "--db", db, "--flow", "payor", "--seed", "7", "--start", clocktest.Start(t).Format(time.RFC3339))
	if !strings.Contains(got, "done: campaign 1 done") {
		t.Fatalf("run --fhir:\n%s", got)
	}
	got = do(exitOK, "export", "--db", db, "--campaign", "1", "--format", "fhir")
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 2 {
		t.Fatalf("export --format fhir: %d lines, want 2\n%s", len(lines), got)
	}
	for _, l := range lines {
		var qr map[string]any
		if err := json.Unmarshal([]byte(l), &qr); err != nil {
			t.Fatal(err)
		}
		subject, _ := qr["subject"].(map[string]any)
		if qr["resourceType"] != "QuestionnaireResponse" || qr["status"] == nil || !strings.HasPrefix(subject["reference"].(string), "Patient/p") {
			t.Errorf("export line: %s", l)
		}
	}
	do(exitUsage, "export", "--db", db, "--campaign", "1", "--format", "xml")
	do(exitUsage, "run", "--fhir", file, "--csv", file)
}
