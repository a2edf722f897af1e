package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/internal/benchdata"
)

// TestValidateMillionRows: validate reads a generated 1,000,000-row file
// to its end, streamed, and reports every bad row (no row limit). Skipped
// with -short and under the race detector; CI runs it without.
func TestValidateMillionRows(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a million rows: not with -short or the race detector (CI runs it without)")
	}
	path := filepath.Join(t.TempDir(), "million.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := benchdata.WriteRecipients(f, 1_000_000, benchdata.DefaultMix)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if code := run(context.Background(), a, []string{"validate", path}); code != exitInvalid {
		t.Fatalf("validate exited %d, want %d (the file has bad rows)\n%s", code, exitInvalid, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	summary := lines[len(lines)-1]
	var rows, valid, bad, warnings int
	if _, err := fmt.Sscanf(summary, "%d rows: %d valid, %d with errors, %d warnings", &rows, &valid, &bad, &warnings); err != nil {
		t.Fatalf("summary %q: %v", summary, err)
	}
	if rows != counts.Rows || bad < counts.Bad+counts.Duplicates/2 || valid+bad != rows || strings.Count(out.String(), "error:") < bad {
		t.Errorf("summary %q for %+v", summary, counts)
	}
}
