package studio_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/studio"
)

// evalSplit runs a split-based-on widget on a reply with [studio.State.Route],
// the evaluator the Interpreter uses: the first match transition whose
// conditions all hold is taken, else noMatch.
func evalSplit(t *testing.T, s *studio.State, reply string) string {
	t.Helper()
	next, _, err := s.Route(reply)
	if err != nil {
		t.Fatalf("%s on %q: %v", s.Name, reply, err)
	}
	return next
}

// The weight question takes whole pounds from 50 to 700 and routes 110 and
// more to ask_smoker: a reply out of range or not whole must be re-asked,
// not routed, on every attempt.
func TestAskSplitRoutesOnlyValidAnswers(t *testing.T) {
	t.Parallel()
	f, err := flows.Builtin("pharma")
	if err != nil {
		t.Fatal(err)
	}
	d, err := studio.FromFlow(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ask_weight_split", "ask_weight_reask1_split"} {
		s := d.StateByName(name)
		if s == nil {
			t.Fatalf("no widget %q", name)
		}
		reask, _ := s.Next("noMatch")
		for reply, want := range map[string]string{
			"800":   reask,
			"109.5": reask,
			"150":   "ask_smoker",
			"abc":   reask,
			"100":   "not_eligible", // valid, no route: Next
		} {
			if got := evalSplit(t, s, reply); got != want {
				t.Errorf("%s on %q goes to %q, want %q", name, reply, got, want)
			}
		}
	}
}

// Whenever an exported ask split takes a match transition, the engine
// (outreach.MatchAnswer, then the routes, else Next) reads the reply as
// valid and goes to the same step.
func TestAskSplitAgreesWithEngine(t *testing.T) {
	t.Parallel()
	replies := []string{"800", "109.5", "150", "abc", "100", "110", "109", "700", "701", "49", "50",
		"0", "-1", "5", "6", "10", "11", "17", "18", "55", "56", "120", "121", "24.5", "35", "35.5",
		"9.5", "80", "81", " 42 ", "yes", "Y", "no", "n", "nope", "sure", "never", "",
		// Bounds and their neighbours, written in several ways.
		"10.0", "010", " 10 ", "9.99", "10.01", "80.0", "80.00", "79.99", "80.01", "18.0", "018",
		"17.99", "18.01", "35.0", "34.99", "35.01", "+18", "18.", ".5", "-0", "0.0", "1e1", "1,8",
		"17.5", "55.0", "55.5", "109.99", "110.0", "700.0", "49.9", "-1.5", "Inf", "NaN", "0x12"}
	for _, name := range flows.BuiltinNames() {
		f, err := flows.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := studio.FromFlow(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range f.Steps {
			if st.Kind != outreach.StepAsk {
				continue
			}
			s := d.StateByName(st.ID + "_split")
			if s == nil {
				continue
			}
			noMatch, _ := s.Next("noMatch")
			for _, reply := range replies {
				got := evalSplit(t, s, reply)
				if got == noMatch {
					continue
				}
				v, ok := outreach.MatchAnswer(st.Answer, reply)
				if !ok {
					t.Errorf("%s: %s takes %q to %q; the engine re-asks", name, s.Name, reply, got)
					continue
				}
				want := st.Next
				for _, rt := range st.Routes {
					if rt.When.Holds(v) {
						want = rt.Next
						break
					}
				}
				if got != want {
					t.Errorf("%s: %s takes %q to %q; the engine goes to %q", name, s.Name, reply, got, want)
				}
			}
		}
	}
}

// Definitions exported before now (testdata/legacy: ranges as
// is_between, one-sided bounds as is_greater_than, types Studio does not
// have), and before that without the answer's validity conditions in the
// route transitions, still import as the same flow; exporting it again
// gives the current export.
func TestImportLegacyAskSplit(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"pharma", "provider"} {
		f, err := flows.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := studio.FromFlow(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, bare := range []bool{false, true} {
			legacy := loadDef(t, "testdata/legacy/"+name+".json")
			if bare {
				stripped := 0
				for i := range legacy.States {
					s := &legacy.States[i]
					if s.Type != studio.TypeSplit {
						continue
					}
					var matches []int
					for j, tr := range s.Transitions {
						if tr.Event == "match" {
							matches = append(matches, j)
						}
					}
					for _, j := range matches[:len(matches)-1] {
						tr := &s.Transitions[j]
						if len(tr.Conditions) > 1 {
							tr.Conditions = tr.Conditions[len(tr.Conditions)-1:]
							stripped++
						}
					}
				}
				if stripped == 0 {
					t.Fatal("no route transition with validity conditions")
				}
			}
			// Studio has no is_between: the old exports could not run.
			var routeErr error
			for _, s := range legacy.States {
				if s.Type == studio.TypeSplit && routeErr == nil {
					_, _, routeErr = s.Route("5")
				}
			}
			if !errors.Is(routeErr, studio.ErrBadCondition) {
				t.Errorf("%s: a legacy split routes without error: %v", name, routeErr)
			}
			got, err := studio.ToFlow(legacy)
			if err != nil {
				t.Fatalf("%s (bare %v): %v", name, bare, err)
			}
			got.ID, got.Name = f.ID, f.Name
			got.Source = nil // export the steps again, not the definition they came from
			if want, got := f.Clone(), got.Clone(); !reflect.DeepEqual(want, got) {
				t.Errorf("%s (bare %v): legacy import changed the flow:\nwant %+v\ngot  %+v", name, bare, want, got)
			}
			again, err := studio.FromFlow(got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(strip(d), strip(again)) {
				t.Errorf("%s (bare %v): exporting the legacy import does not give the current export", name, bare)
			}
		}
	}
}

// A route transition whose extra conditions are not the answer's validity
// conditions is not read as an ask step's route.
func TestImportAskSplitOtherConditions(t *testing.T) {
	t.Parallel()
	f, err := flows.Builtin("pharma")
	if err != nil {
		t.Fatal(err)
	}
	d, err := studio.FromFlow(f)
	if err != nil {
		t.Fatal(err)
	}
	s := d.StateByName("ask_weight_split")
	for j := range s.Transitions {
		// The route transition as before the transitions that read
		// replies as ReadAnswer does (named "Reads as ...").
		if tr := &s.Transitions[j]; tr.Event == "match" && tr.Next == "ask_smoker" && !strings.HasPrefix(tr.Conditions[0].FriendlyName, "Reads as ") {
			if len(tr.Conditions) != 4 {
				t.Fatalf("route transition conditions = %+v, want regex, greater_than, less_than, greater_than", tr.Conditions)
			}
			tr.Conditions[1].Value = "-1" // not the answer's min 50
		}
	}
	g, err := studio.ToFlow(d)
	if err == nil && reflect.DeepEqual(g.StepByID("ask_weight").Answer, f.StepByID("ask_weight").Answer) {
		t.Error("a changed validity condition was read as the original ask step")
	}
}

// Exports written before the transitions that read replies as ReadAnswer
// does and catch opt-outs ("Reads as ...", "Opt-out: ...") still import
// as the same flow, and export again with them.
func TestImportWithoutReadingTransitions(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"provider", "pharma"} {
		f, err := flows.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := studio.FromFlow(f)
		if err != nil {
			t.Fatal(err)
		}
		old, _ := studio.FromFlow(f)
		removed := 0
		for i := range old.States {
			s := &old.States[i]
			s.Transitions = slices.DeleteFunc(s.Transitions, func(tr studio.Transition) bool {
				derived := len(tr.Conditions) > 0 && (strings.HasPrefix(tr.Conditions[0].FriendlyName, "Reads as ") || strings.HasPrefix(tr.Conditions[0].FriendlyName, "Opt-out: "))
				if derived {
					removed++
				}
				return derived
			})
		}
		if removed == 0 {
			t.Fatalf("%s: no transitions named Reads as or Opt-out", name)
		}
		got, err := studio.ToFlow(old)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got.ID, got.Name = f.ID, f.Name
		got.Source = nil // export the steps again, not the definition they came from
		if !reflect.DeepEqual(f.Clone(), got.Clone()) {
			t.Errorf("%s: the older export imports as another flow:\nwant %+v\ngot  %+v", name, f, got)
		}
		again, err := studio.FromFlow(got)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d.States, again.States) {
			t.Errorf("%s: exporting the older export's flow does not give the current export", name)
		}
	}
}
