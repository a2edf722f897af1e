package studio_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/studio"
	"github.com/patient-outreach/sms/studio/schema"
)

// TestExportedFlowsValidate checks that every definition the exporter
// writes for a built-in flow passes Twilio's schemas (studio/schema), so
// that Studio would accept it.
func TestExportedFlowsValidate(t *testing.T) {
	for _, name := range flows.BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			f, err := flows.Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			def, err := studio.FromFlow(f)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(def)
			if err != nil {
				t.Fatal(err)
			}
			reportProblems(t, schema.Validate(raw))
		})
	}
}

// TestTestdataValidates checks the definitions kept in testdata, the
// hand-written console-style export among them.
func TestTestdataValidates(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("testdata: %v, %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			reportProblems(t, schema.Validate(raw))
		})
	}
}

func reportProblems(t *testing.T, err error) {
	t.Helper()
	var e *schema.Error
	switch {
	case errors.As(err, &e):
		for _, p := range e.Problems {
			t.Errorf("%s: %s", p.PropertyPath, p.Message)
		}
	case err != nil:
		t.Fatal(err)
	}
}
