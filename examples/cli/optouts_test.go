package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOptOutsImportExport: import records every good row of a CRM file at
// its own time and lists the bad rows by line (exit 1); an older CRM entry
// does not undo a newer one; export writes them all back as CSV.
func TestOptOutsImportExport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "crm.csv"), "Name,Patient Phone,Opted Out,Changed At\n"+
		"Maya,(440) 644-3709,yes,2026-03-01T09:00:00-05:00\n"+
		"Jonah,808-941-2275,no,2026-03-02T08:00:00Z\n"+
		"Lena,555-1234,yes,\n"+
		"Rosa,440.644.3701,no,\n")

	// The default database is the web app's, outreach.db, in the folder.
	r := cli(t, dir, nil, "optouts", "import", "crm.csv")
	if r.code != exitInvalid {
		t.Fatalf("import of a file with bad rows: %v", r)
	}
	for _, want := range []string{"line 4, column phone:", "line 5, column changed_at:", "4 rows: 2 recorded in outreach.db, 2 with errors"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("import output lacks %q:\n%v", want, r)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "555") {
		t.Errorf("import output shows a phone number:\n%v", r)
	}
	if !fileExists(filepath.Join(dir, "outreach.db")) {
		t.Fatal("import did not use outreach.db")
	}

	// An older opt-in from the CRM does not undo Maya's newer opt-out.
	older := writeFile(t, filepath.Join(dir, "older.csv"), "phone,opted_out,changed_at\n4406443709,no,2026-02-01T00:00:00Z\n")
	r = cli(t, dir, nil, "optouts", "import", "--json", older)
	if r.code != exitOK {
		t.Fatalf("import: %v", r)
	}
	doc := jsonDoc(t, r.stdout)
	if doc["rows"] != 1.0 || doc["recorded"] != 1.0 || doc["bad_rows"] != 0.0 {
		t.Errorf("import --json = %v", doc)
	}

	r = cli(t, dir, nil, "optouts", "export")
	if r.code != exitOK {
		t.Fatalf("export: %v", r)
	}
	want := "\ufeffphone,opted_out,changed_at\n" +
		"'+14406443709,true,2026-03-01T14:00:00Z\n" +
		"'+18089412275,false,2026-03-02T08:00:00Z\n"
	if r.stdout != want {
		t.Errorf("export:\n%s\nwant:\n%s", r.stdout, want)
	}

	// The export reads back in: nothing changes.
	r = cli(t, dir, nil, "optouts", "export", "--json", "--out", "optouts.csv")
	if r.code != exitOK || jsonDoc(t, r.stdout)["rows"] != 2.0 {
		t.Fatalf("export --json --out: %v", r)
	}
	if r = cli(t, dir, nil, "optouts", "import", "optouts.csv"); r.code != exitOK {
		t.Fatalf("import of the export: %v", r)
	}
	if r = cli(t, dir, nil, "optouts", "export"); r.stdout != want {
		t.Errorf("export after re-import:\n%s\nwant:\n%s", r.stdout, want)
	}
	if st, err := os.Stat(filepath.Join(dir, "optouts.csv")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("optouts.csv: %v, %v; want mode 0600", st, err)
	}
}

func TestOptOutsUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "noheader.csv"), "")
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"optouts"}, exitUsage},
		{[]string{"optouts", "list"}, exitUsage},
		{[]string{"optouts", "-h"}, exitOK},
		{[]string{"optouts", "export"}, exitUsage},                   // no database here
		{[]string{"optouts", "export", "--json"}, exitUsage},         // --json needs --out
		{[]string{"optouts", "import"}, exitUsage},                   // no file
		{[]string{"optouts", "import", "missing.csv"}, exitUsage},    // no such file
		{[]string{"optouts", "import", "noheader.csv"}, exitInvalid}, // empty file
		{[]string{"optouts", "import", "--json", "noheader.csv"}, exitInvalid},
	}
	for _, tc := range tests {
		r := cli(t, dir, nil, tc.args...)
		if r.code != tc.code {
			t.Errorf("cli %s: %v; want exit %d", strings.Join(tc.args, " "), r, tc.code)
		}
	}
}
