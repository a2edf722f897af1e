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
	t.Parallel()
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
	t.Parallel()
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

// knownInvalidExports are the real exports in testdata/exports that
// Studio itself would refuse, with the problem that shows it.
var knownInvalidExports = map[string]string{
	// A transition to "SaveToAirtable", a widget the file does not have
	// (the published file had it removed by hand; Twilio error 81022:
	// "Transition references a widget that doesn't exist").
	"vaccine-standby-list.json": "#/states/13/transitions/0/next",
}

// TestConsoleExportsValidate checks that the schemas accept what the
// Studio console really exports: every file in testdata/exports (real
// exports from public repositories) validates, except the ones known to
// be invalid, which fail for their known reason only.
func TestConsoleExportsValidate(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/exports/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no exports in testdata/exports")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			err = schema.Validate(raw)
			want, invalid := knownInvalidExports[filepath.Base(file)]
			if !invalid {
				reportProblems(t, err)
				return
			}
			var e *schema.Error
			if !errors.As(err, &e) || len(e.Problems) != 1 || e.Problems[0].PropertyPath != want {
				t.Errorf("got %v, want exactly one problem, at %s", err, want)
			}
		})
	}
}
