package flows

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
)

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuiltinNames(t *testing.T) {
	want := []string{"payor", "pharma", "provider"}
	if got := BuiltinNames(); !slices.Equal(got, want) {
		t.Errorf("BuiltinNames() = %q; want %q", got, want)
	}
}

func TestBuiltin(t *testing.T) {
	for _, name := range BuiltinNames() {
		f, err := Builtin(name)
		if err != nil {
			t.Fatalf("Builtin(%q): %v", name, err)
		}
		if f.ID != name {
			t.Errorf("Builtin(%q).ID = %q", name, f.ID)
		}
		if err := f.Validate(); err != nil {
			t.Errorf("Builtin(%q): %v", name, err)
		}
		if f.Name == "" || f.Description == "" {
			t.Errorf("Builtin(%q) has no name or description", name)
		}
		if got, want := f.TwoWay(), name != "payor"; got != want {
			t.Errorf("Builtin(%q).TwoWay() = %v; want %v", name, got, want)
		}
	}
}

func TestBuiltinReturnsAFreshCopy(t *testing.T) {
	a, err := Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	before := string(marshal(t, a))
	a.Steps[0].Body = "changed"
	a.StepByID("ask_pain").Answer.Min = nil
	b, err := Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(marshal(t, b)); got != before {
		t.Errorf("changing one copy changed the next:\n%s\nwant\n%s", got, before)
	}
}

func TestBuiltinUnknown(t *testing.T) {
	for _, name := range []string{"", "Provider", "nurse", "../builtin/provider", "provider.json", "builtin/provider"} {
		f, err := Builtin(name)
		var ue *UnknownFlowError
		if f != nil || !errors.As(err, &ue) {
			t.Fatalf("Builtin(%q) = %v, %v; want an *UnknownFlowError", name, f, err)
		}
		if ue.Name != name || !slices.Equal(ue.Available, BuiltinNames()) {
			t.Errorf("Builtin(%q): error %+v; want the name and the available names", name, ue)
		}
		if !errors.Is(err, ErrUnknownFlow) || !errors.Is(err, outreach.ErrNotFound) {
			t.Errorf("Builtin(%q): %v does not match ErrUnknownFlow and outreach.ErrNotFound", name, err)
		}
		if !strings.Contains(err.Error(), "payor, pharma, provider") {
			t.Errorf("Builtin(%q): %q does not list the available flows", name, err)
		}
	}
}

// studioName is what Twilio Studio accepts as a widget name; a later issue
// turns each step into a widget of the same name.
var studioName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

func TestBuiltinStepIDsAreStudioWidgetNames(t *testing.T) {
	for _, name := range BuiltinNames() {
		f, _ := Builtin(name)
		for _, st := range f.Steps {
			if !studioName.MatchString(st.ID) {
				t.Errorf("%s: step id %q is not a valid Studio widget name (letters, digits, _)", name, st.ID)
			}
		}
	}
}

// gsm7 is the GSM 03.38 basic character set: a message made only of these
// fits 160 characters in one SMS segment, where a single other character
// (a curly quote, a dash) makes it UCS-2 with 70.
const gsm7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// TestBuiltinMessages checks every message a built-in flow can send,
// re-asks included, rendered for a recipient with a long first name: at
// most maxMessageLen characters, plain GSM characters, and every ask step
// tells the recipient how to answer.
func TestBuiltinMessages(t *testing.T) {
	r := outreach.Recipient{ID: "P-1", FirstName: "Maximiliana-Josefina", Phone: "+14405550142"}
	for _, name := range BuiltinNames() {
		f, _ := Builtin(name)
		for _, st := range f.Steps {
			msgs := []string{st.Body}
			if st.Kind == outreach.StepAsk {
				hint := st.Hint
				if hint == "" {
					hint = outreach.DefaultHint(st.Answer)
				}
				msgs = append(msgs, hint+" "+st.Body)
			}
			for _, tmpl := range msgs {
				if st.Kind == outreach.StepEnd && tmpl == "" {
					t.Errorf("%s: end step %s sends no closing message", name, st.ID)
					continue
				}
				msg, err := outreach.Render(tmpl, r, nil)
				if err != nil {
					t.Errorf("%s: step %s: %v", name, st.ID, err)
					continue
				}
				if n := len([]rune(msg)); n > maxMessageLen {
					t.Errorf("%s: step %s: %d characters; want at most %d: %q", name, st.ID, n, maxMessageLen, msg)
				}
				if i := strings.IndexFunc(msg, func(c rune) bool { return !strings.ContainsRune(gsm7, c) }); i >= 0 {
					t.Errorf("%s: step %s: %q is not a GSM character (use plain quotes and dashes): %q", name, st.ID, []rune(msg[i:])[0], msg)
				}
			}
			if st.Kind == outreach.StepAsk && st.Answer != nil && st.Answer.Kind == outreach.AnswerChoice && !strings.Contains(st.Body, "Reply YES or NO") {
				t.Errorf("%s: step %s: a yes/no question must say \"Reply YES or NO\"", name, st.ID)
			}
		}
	}
}

// TestBuiltinOutcomes checks that each end step of a flow has an outcome of
// its own, so that reports can tell the paths apart.
func TestBuiltinOutcomes(t *testing.T) {
	for _, name := range BuiltinNames() {
		f, _ := Builtin(name)
		seen := map[string]string{}
		for _, st := range f.Steps {
			if st.Kind != outreach.StepEnd {
				continue
			}
			if st.Outcome == "" {
				t.Errorf("%s: end step %s has no outcome", name, st.ID)
			}
			if prev, ok := seen[st.Outcome]; ok {
				t.Errorf("%s: end steps %s and %s share the outcome %q", name, prev, st.ID, st.Outcome)
			}
			seen[st.Outcome] = st.ID
		}
	}
}

// TestPharmaEligibility checks the eligibility limits on the routes, with
// the answer spec only rejecting implausible input: an answer outside the
// study's limits but plausible must be recorded and end as not eligible.
func TestPharmaEligibility(t *testing.T) {
	f, err := Builtin("pharma")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		step  string
		reply string
		valid bool // the reply is a plausible answer
		pass  bool // and it meets the study's limits
	}{
		{"ask_age", "17", true, false},
		{"ask_age", "18", true, true},
		{"ask_age", "55", true, true},
		{"ask_age", "56", true, false},
		{"ask_age", "0", true, false},
		{"ask_age", "120", true, false},
		{"ask_age", "121", false, false},
		{"ask_age", "30.5", false, false},
		{"ask_bmi", "17.99", true, false},
		{"ask_bmi", "18", true, true},
		{"ask_bmi", "35", true, true},
		{"ask_bmi", "35.01", true, false},
		{"ask_bmi", "10", true, false},
		{"ask_bmi", "80", true, false},
		{"ask_bmi", "9.9", false, false},
		{"ask_weight", "109", true, false},
		{"ask_weight", "110", true, true},
		{"ask_weight", "700", true, true},
		{"ask_weight", "50", true, false},
		{"ask_weight", "49", false, false},
		{"ask_weight", "701", false, false},
		{"ask_smoker", "no", true, true},
		{"ask_smoker", "yes", true, false},
	}
	for _, tt := range tests {
		st := f.StepByID(tt.step)
		answer, ok := outreach.MatchAnswer(st.Answer, tt.reply)
		if ok != tt.valid {
			t.Errorf("%s: MatchAnswer(%q) valid = %v; want %v", tt.step, tt.reply, ok, tt.valid)
			continue
		}
		if !ok {
			continue
		}
		next := st.Next
		for _, rt := range st.Routes {
			if rt.When.Holds(answer) {
				next = rt.Next
				break
			}
		}
		if pass := next != "not_eligible"; pass != tt.pass {
			t.Errorf("%s: answer %q goes to %s; want pass = %v", tt.step, tt.reply, next, tt.pass)
		}
	}
}

// TestBuiltinFirstMessagesMentionStop checks that each built-in flow tells
// the patient how to opt out in its own words, so the engine adds no
// footer to its first message.
func TestBuiltinFirstMessagesMentionStop(t *testing.T) {
	for _, name := range BuiltinNames() {
		f, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range f.FirstSteps() {
			if body := f.StepByID(id).Body; !outreach.MentionsStop(body) || f.WithOptOut(body) != body {
				t.Errorf("%s: first step %s does not mention STOP: %q", name, id, body)
			}
		}
	}
}
