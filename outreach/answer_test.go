package outreach_test

import (
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

func TestDescribe(t *testing.T) {
	lo, hi := 0.0, 10.0
	for _, tt := range []struct {
		got, want string
	}{
		{(*outreach.AnswerSpec)(nil).Describe(), "any text"},
		{(&outreach.AnswerSpec{Kind: outreach.AnswerText}).Describe(), "any text"},
		{(&outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{{Value: "YES", Synonyms: []string{"Y", "YEAH"}}, {Value: "NO"}}}).Describe(), "one of: YES (Y, YEAH); NO"},
		{(&outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &lo, Max: &hi}).Describe(), "a whole number from 0 to 10"},
		{(&outreach.AnswerSpec{Kind: outreach.AnswerNumber, Min: &lo}).Describe(), "a number of at least 0"},
		{(&outreach.AnswerSpec{Kind: outreach.AnswerInteger}).Describe(), "a whole number"},
		{outreach.Condition{Equals: "NO"}.Describe(), "is NO"},
		{outreach.Condition{AnyOf: []string{"YES", "MAYBE"}}.Describe(), "is one of YES, MAYBE"},
		{outreach.Condition{Max: &hi}.Describe(), "of at most 10"},
		{outreach.Condition{Min: &lo, Max: &hi}.Describe(), "from 0 to 10"},
	} {
		if tt.got != tt.want {
			t.Errorf("Describe = %q, want %q", tt.got, tt.want)
		}
	}
}
