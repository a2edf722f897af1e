package simphone

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

func TestIsQuestion(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{"On a scale of 0-10, how is your pain?", true},
		{"Would you like to speak to someone? Reply YES or NO", true},
		{"Have you scheduled your follow-up? YES/NO", true},
		{"Are you a smoker (yes or no)", true},
		{"Please reply with your weight in pounds.", true},
		{"How old are you?  ", true},
		{"Sorry, please reply with a number from 0 to 10. On a scale of 0-10, how is your pain?", true},
		{"How is your pain (0-10)? Your care team reads every message.", true},
		{"Welcome to the plan! Your member card arrives in about two weeks.", false},
		{"Welcome! Reply STOP to opt out.", false},
		{"Thanks. Reply HELP for help or STOP to unsubscribe.", false},
		{"Questions? Call us at 1-800-555-0100.", false},
		{"Our office is open 8:00-17:00.", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsQuestion(tt.body); got != tt.want {
			t.Errorf("IsQuestion(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

func fl(f float64) *float64 { return &f }

var yesNoSpec = &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{
	{Value: "yes", Synonyms: []string{"y", "yeah"}},
	{Value: "no", Synonyms: []string{"n"}},
}}

func TestSmart(t *testing.T) {
	tests := []struct {
		name string
		body string
		// spec must accept at least minShare of the replies (below 1: and
		// not all of them, since some answers fall a bit outside the range).
		spec     *outreach.AnswerSpec
		lo, hi   float64 // integer specs: every reply is a number in [lo, hi]
		minShare float64
	}{
		{name: "yes/no capitals", body: "Would you like a call to help you schedule it? YES/NO", spec: yesNoSpec, minShare: 1},
		{name: "reply yes or no", body: "Do you smoke? Please reply yes or no.", spec: yesNoSpec, minShare: 1},
		{name: "re-ask hint", body: "Sorry, please reply YES or NO. Have you scheduled your follow-up?", spec: yesNoSpec, minShare: 1},
		{name: "scale 0-10", body: "On a scale of 0-10, how is your pain?",
			spec: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: fl(0), Max: fl(10)}, lo: 0, hi: 13, minShare: 0.8},
		{name: "0 to 10", body: "How is your pain from 0 to 10?",
			spec: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: fl(0), Max: fl(10)}, lo: 0, hi: 13, minShare: 0.8},
		{name: "from 18 to 55", body: "How old are you? We need ages from 18 to 55.",
			spec: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: fl(18), Max: fl(55)}, lo: 15, hi: 58, minShare: 0.8},
		{name: "between", body: "Is your BMI between 18 and 35? Reply with the number.",
			spec: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: fl(18), Max: fl(35)}, lo: 15, hi: 38, minShare: 0.8},
		{name: "weight", body: "What is your weight in pounds?",
			spec: &outreach.AnswerSpec{Kind: outreach.AnswerInteger}, lo: 95, hi: 320, minShare: 1},
		{name: "bmi", body: "What is your BMI?",
			spec: &outreach.AnswerSpec{Kind: outreach.AnswerInteger}, lo: 16, hi: 40, minShare: 1},
		{name: "age", body: "What is your age?",
			spec: &outreach.AnswerSpec{Kind: outreach.AnswerInteger}, lo: 14, hi: 85, minShare: 1},
		{name: "free text", body: "Anything else you would like us to know?", spec: nil, minShare: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(1, 2))
			const n = 500
			valid := 0
			seen := map[string]bool{}
			for range n {
				r, ok := Smart().Reply(tt.body, rnd)
				if !ok {
					t.Fatalf("no reply to %q", tt.body)
				}
				seen[r] = true
				if _, ok := outreach.MatchAnswer(tt.spec, r); ok {
					valid++
				}
				if tt.spec != nil && tt.spec.Kind == outreach.AnswerInteger {
					// Any whole number, bounds aside, within [lo, hi].
					a, ok := outreach.MatchAnswer(&outreach.AnswerSpec{Kind: outreach.AnswerInteger}, r)
					v, err := strconv.ParseFloat(a, 64)
					if !ok || err != nil || v < tt.lo || v > tt.hi {
						t.Fatalf("reply %q: want a whole number in [%v, %v]", r, tt.lo, tt.hi)
					}
				}
			}
			if share := float64(valid) / n; share < tt.minShare {
				t.Errorf("%.0f%% of replies valid, want at least %.0f%% (replies: %v)", share*100, tt.minShare*100, seen)
			}
			if tt.spec == yesNoSpec {
				yes := 0
				for r := range seen {
					if a, _ := outreach.MatchAnswer(yesNoSpec, r); a == "yes" {
						yes++
					}
				}
				if yes == 0 || yes == len(seen) {
					t.Errorf("want both yes and no replies, got %v", seen)
				}
			}
			if tt.minShare < 1 && valid == n {
				t.Errorf("every reply was in range; want some a bit outside")
			}
		})
	}
}

func TestSmartOneWay(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, body := range []string{
		"Welcome to the plan, Ann! Reply STOP to opt out.",
		"Your member card will arrive in about two weeks.",
		"Questions? Chat with us at example.com.",
	} {
		if r, ok := Smart().Reply(body, rnd); ok {
			t.Errorf("Smart replied %q to one-way %q", r, body)
		}
	}
}

func TestScripted(t *testing.T) {
	s := Scripted("7", "", "YES")
	steps := []struct {
		body   string
		want   string
		wantOK bool
	}{
		{"Hi Ann, thanks for visiting us.", "", false}, // one-way: uses up nothing
		{"How is your pain, 0-10?", "7", true},
		{"Would you like a call? YES/NO", "", false}, // "" in the script
		{"Have you scheduled your follow-up? YES/NO", "YES", true},
		{"Anything else?", "", false}, // script used up
	}
	for _, st := range steps {
		got, ok := s.Reply(st.body, nil)
		if got != st.want || ok != st.wantOK {
			t.Errorf("Reply(%q) = %q, %v; want %q, %v", st.body, got, ok, st.want, st.wantOK)
		}
	}
}

func TestGibberishIsInvalid(t *testing.T) {
	specs := []*outreach.AnswerSpec{nil, yesNoSpec, {Kind: outreach.AnswerInteger}, {Kind: outreach.AnswerNumber}, {Kind: outreach.AnswerText}}
	for _, g := range gibberish {
		for _, spec := range specs {
			if a, ok := outreach.MatchAnswer(spec, g); ok {
				t.Errorf("gibberish %q accepted as %q by %+v", g, a, spec)
			}
		}
	}
}
