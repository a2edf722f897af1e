package flows

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

// TestSampleRecipients checks the sample CSV that the README's run command
// uses: the blueprint's header, unique ids, and numbers that normalise.
// The numbers are in the 555-0100 to 555-0199 range, which the North
// American Numbering Plan keeps for fiction, so no real phone can get them.
func TestSampleRecipients(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "sample_recipients.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"patient_id", "patient_first_name", "patient_phone"}; !slices.Equal(rows[0], want) {
		t.Errorf("header %q; want %q", rows[0], want)
	}
	if n := len(rows) - 1; n < 10 {
		t.Errorf("%d recipients; want at least 10", n)
	}
	ids, phones := map[string]bool{}, map[string]bool{}
	for i, row := range rows[1:] {
		line := i + 2
		if ids[row[0]] || row[0] == "" || row[1] == "" {
			t.Errorf("line %d: empty or repeated id or name: %q", line, row)
		}
		ids[row[0]] = true
		phone, err := outreach.NormalizePhone(row[2], "US")
		if err != nil {
			t.Errorf("line %d: phone %q: %v", line, row[2], err)
			continue
		}
		if phones[phone] {
			t.Errorf("line %d: phone %s is repeated", line, phone)
		}
		phones[phone] = true
		if len(phone) != 12 || phone[5:9] != "5550" || phone[9] != '1' {
			t.Errorf("line %d: %s is not a fictional 555-01XX number", line, phone)
		}
	}
}
