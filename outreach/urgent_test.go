package outreach_test

import (
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

// TestUrgentCorpus checks every labelled reply of
// testdata/urgent_replies.tsv against the default terms: an urgent reply
// missed fails the test, and so does a false alarm; the first term found
// is the one labelled.
func TestUrgentCorpus(t *testing.T) {
	rows, lines := readTSV(t, "urgent_replies.tsv", "reply", "urgent", "term", "note")
	u := outreach.MustUrgentTerms(outreach.DefaultUrgentTerms)
	var urgent, caught, calm, falseAlarms int
	for i, r := range rows {
		found := u.Find(r[0])
		switch r[1] {
		case "yes":
			urgent++
			if len(found) == 0 {
				t.Errorf("line %d: %q raised no alert; want %q (%s)", lines[i], r[0], r[2], r[3])
				continue
			}
			caught++
			if got := strings.TrimSuffix(breatheAs(found[0]), "*"); !strings.EqualFold(got, r[2]) {
				t.Errorf("line %d: %q: first term %q; want %q", lines[i], r[0], found[0], r[2])
			}
		case "no":
			calm++
			if len(found) > 0 {
				falseAlarms++
				t.Errorf("line %d: %q raised an alert for %q (%s)", lines[i], r[0], found, r[3])
			}
		default:
			t.Fatalf("line %d: urgent %q, want yes or no", lines[i], r[1])
		}
	}
	t.Logf("urgent replies: %d of %d caught; not urgent: %d false alarms in %d", caught, urgent, falseAlarms, calm)
}

// breatheAs names the forms of "can't breathe" as the corpus does.
func breatheAs(term string) string {
	switch term {
	case "cannot breathe", "can not breathe":
		return "can't breathe"
	}
	return term
}

func TestNewUrgentTerms(t *testing.T) {
	tests := []struct {
		terms []string
		reply string
		want  []string
		err   bool
	}{
		{[]string{"chest pain"}, "CHEST-PAIN!!", []string{"chest pain"}, false},
		{[]string{"suicid*"}, "feeling suicidal", []string{"suicid*"}, false},
		{[]string{"suicid"}, "feeling suicidal", nil, false},
		{[]string{"can't breathe"}, "I cant breathe", []string{"can't breathe"}, false},
		{[]string{"ER", "worse"}, "worse, going to the ER", []string{"ER", "worse"}, false},
		{[]string{"dolor de pecho"}, "tengo dolor de pecho", []string{"dolor de pecho"}, false},
		{[]string{"   "}, "", nil, true},
		{[]string{"50%"}, "", nil, true},
	}
	for _, tc := range tests {
		u, err := outreach.NewUrgentTerms(tc.terms)
		if (err != nil) != tc.err {
			t.Errorf("NewUrgentTerms(%q) error %v; want error %v", tc.terms, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if got := u.Find(tc.reply); !slicesEqual(got, tc.want) {
			t.Errorf("%q.Find(%q) = %q; want %q", tc.terms, tc.reply, got, tc.want)
		}
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
