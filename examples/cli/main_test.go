package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = "../../flows/testdata/sample_recipients.csv"

func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunThenExport(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "outreach.db")
	code, out, errs := cli(t, "run", "--flow", "provider", "--csv", sample, "--db", db)
	if code != exitOK {
		t.Fatalf("run exited %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"campaign 1: flow provider", "simulated clock", "done:", "outcomes:"} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}
	info, err := os.Stat(db)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("database %v, mode %v; want mode 0600", err, info.Mode())
	}

	csvPath := filepath.Join(dir, "responses.csv")
	if code, _, errs := cli(t, "export", "--db", db, "--campaign", "1", "--out", csvPath); code != exitOK {
		t.Fatalf("export exited %d: %s", code, errs)
	}
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 13 || recs[0][0] != "patient_id" {
		t.Fatalf("export has %d rows, header %v; want a header and a row per recipient at least", len(recs), recs[0])
	}

	if code, out, _ := cli(t, "campaigns", "--db", db); code != exitOK || !strings.Contains(out, "done") {
		t.Fatalf("campaigns exited %d: %s", code, out)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	data := "patient_id,patient_first_name,patient_phone\n1,Ana,(440) 644-3709\n2,Bo,555-1234\n3,Cy,1-800-FLOWERS\n"
	if err := os.WriteFile(bad, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"good file", []string{"validate", sample}, exitOK, []string{"0 with errors"}},
		{"bad rows", []string{"validate", bad}, exitInvalid, []string{"line 3, column patient_phone", "line 4, column patient_phone: phone number contains letters", "3 rows: 1 valid, 2 with errors"}},
		{"no file", []string{"validate"}, exitUsage, nil},
		{"missing file", []string{"validate", filepath.Join(dir, "none.csv")}, exitFailure, nil},
		{"run refuses bad rows", []string{"run", "--csv", bad, "--db", filepath.Join(dir, "x.db")}, exitInvalid, []string{"--skip-bad-rows"}},
		{"unknown flow", []string{"run", "--flow", "nope", "--csv", sample, "--db", filepath.Join(dir, "y.db")}, exitUsage, []string{"provider"}},
		{"unknown command", []string{"frobnicate"}, exitUsage, nil},
		{"export without database", []string{"export", "--db", filepath.Join(dir, "none.db")}, exitUsage, []string{"no such database"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cli(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errs, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errs)
				}
			}
		})
	}
}
