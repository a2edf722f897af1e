package studio_test

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/studio"
)

// rangeFlow is a flow with one ask step (answer and routes given as JSON)
// followed by a branch on the recipient's data column "score" (its routes
// given as JSON), and end steps x, y, z and w.
func rangeFlow(t *testing.T, answer, routes, branch string) *outreach.Flow {
	t.Helper()
	src := fmt.Sprintf(`{
  "id": "ranges", "name": "Ranges", "start": "intro",
  "steps": [
    {"id": "intro", "kind": "send", "body": "Hi, a question for you. Reply STOP to opt out.", "next": "ask"},
    {"id": "ask", "kind": "ask", "body": "How much?", "hint": "Please reply with a number.",
     "answer": %s, "routes": %s, "next": "check", "timeout": "1h", "no_answer": "w", "on_timeout": "w"},
    {"id": "check", "kind": "branch", "var": "data.score", "routes": %s, "next": "reach"},
    {"id": "reach", "kind": "branch", "var": "data.other", "routes": [{"when": {"equals": "x"}, "next": "x"}, {"when": {"equals": "y"}, "next": "y"}, {"when": {"equals": "z"}, "next": "z"}], "next": "w"},
    {"id": "x", "kind": "end", "outcome": "x"},
    {"id": "y", "kind": "end", "outcome": "y"},
    {"id": "z", "kind": "end", "outcome": "z"},
    {"id": "w", "kind": "end", "outcome": "w"}
  ]
}`, answer, routes, branch)
	f, err := flows.Load(strings.NewReader(strings.Replace(src, `"routes": [], "next": "reach"`, `"routes": [{"when": {"equals": "end"}, "next": "w"}], "next": "reach"`, 1)))
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return f
}

// Replies in the forms Studio's conditions read as numbers, bounds and
// their neighbours among them.
var rangeReplies = []string{
	"-6", "-5", "-5.0", "-4.99", "-1", "-0.5", "-0.50", "-0.49", "-0", "0", "0.0", "00", "0.001",
	"1", "1.49", "1.5", "1.50", "01.5", "1.51", "2", "2.0", "2.25", "2.250", "2.26", "2.5", "2.50", "2.51", "3",
	"5", "7.49", "7.5", "7.50", "7.51", "9.99", "10", "10.0", "010", "10.01", "11.99", "12", "12.0", "12.01",
	"17", "17.5", "18", "18.0", "18.49", "18.5", "18.50", "18.51", "20", "20.5", "21", "29", "29.5", "30",
	"31", "55", "55.5", "56", "79.99", "80", "80.0", "80.01", "100", " 2 ", " 18.5 ", "+2", "2.", ".5",
	"", "abc", "1,5", "1e1",
}

// plainNumber: a reply in the form the exported splits read, which they
// must route as the engine does.
var (
	plainNumber  = regexp.MustCompile(`^\s*-?\d+(\.\d+)?\s*$`)
	plainInteger = regexp.MustCompile(`^\s*-?\d+\s*$`)
)

// A range on a number answer, or on a route, with decimal or one-sided
// bounds, is exported so that Studio routes every reply in plain decimal
// form exactly as the engine does, and reads back as the same flow.
func TestRangesExportExactly(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, answer, routes, branch string }{
		{"decimal range", `{"kind": "number", "min": 1.5, "max": 2.5}`, `[{"when": {"min": 2, "max": 2.25}, "next": "x"}]`, `[]`},
		{"one-sided decimal", `{"kind": "number", "min": -5}`, `[{"when": {"max": -0.5}, "next": "x"}, {"when": {"min": 0, "max": 0}, "next": "y"}]`, `[]`},
		{"no answer bounds", `{"kind": "number"}`, `[{"when": {"min": 18.5}, "next": "x"}, {"when": {"max": 18.5}, "next": "y"}]`, `[]`},
		{"route bound outside", `{"kind": "number", "min": 10, "max": 80}`, `[{"when": {"min": 5, "max": 12}, "next": "x"}, {"when": {"equals": "80"}, "next": "y"}]`, `[]`},
		{"pharma bmi", `{"kind": "number", "min": 10, "max": 80}`, `[{"when": {"min": 18, "max": 35}, "next": "x"}]`, `[]`},
		{"integer, decimal bounds", `{"kind": "integer", "min": 17.5, "max": 55.5}`, `[{"when": {"min": 20.5}, "next": "x"}, {"when": {"max": 30}, "next": "y"}]`, `[]`},
		{"integer, one-sided", `{"kind": "integer", "max": 10}`, `[{"when": {"min": -1}, "next": "x"}]`, `[]`},
		{"branch", `{"kind": "integer"}`, `[]`, `[{"when": {"min": 2.5, "max": 7.5}, "next": "x"}, {"when": {"min": 7.5}, "next": "y"}, {"when": {"equals": "1"}, "next": "z"}, {"when": {"max": 0}, "next": "z"}]`},
		{"branch, equals first", `{"kind": "integer"}`, `[]`, `[{"when": {"equals": "2"}, "next": "z"}, {"when": {"min": 2, "max": 3}, "next": "x"}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := rangeFlow(t, tc.answer, tc.routes, tc.branch)
			d, err := studio.FromFlow(f)
			if err != nil {
				t.Fatal(err)
			}
			// Flow -> Studio -> Flow -> Studio.
			g, err := studio.ToFlow(d)
			if err != nil {
				t.Fatal(err)
			}
			g.ID, g.Name = f.ID, f.Name
			if want, got := f.Clone(), g.Clone(); !reflect.DeepEqual(want.StepByID("ask"), got.StepByID("ask")) || !reflect.DeepEqual(want.StepByID("check"), got.StepByID("check")) {
				t.Errorf("round trip:\nwant %+v\n     %+v\ngot  %+v\n     %+v", want.StepByID("ask"), want.StepByID("check"), got.StepByID("ask"), got.StepByID("check"))
			}
			again, err := studio.FromFlow(g)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(strip(d), strip(again)) {
				t.Error("Studio -> Flow -> Studio changed the widgets")
			}
			for _, s := range d.States {
				for _, tr := range s.Transitions {
					for _, c := range tr.Conditions {
						if c.Type == "is_between" || c.Type == "is_greater_than" || c.Type == "is_less_than" {
							t.Errorf("%s: condition type %s", s.Name, c.Type)
						}
					}
				}
			}
			ask := f.StepByID("ask")
			for _, name := range []string{"ask_split", "ask_reask1_split"} {
				s := d.StateByName(name)
				if s == nil {
					continue
				}
				noMatch, _ := s.Next("noMatch")
				for _, reply := range rangeReplies {
					got := evalSplit(t, s, reply)
					v, ok := outreach.MatchAnswer(ask.Answer, reply)
					want := noMatch
					if ok {
						want = ask.Next
						for _, rt := range ask.Routes {
							if rt.When.Holds(v) {
								want = rt.Next
								break
							}
						}
					}
					if got != noMatch && got != want {
						t.Errorf("%s takes %q to %q; the engine goes to %q", name, reply, got, want)
					}
					plain := plainNumber
					if ask.Answer.Kind == outreach.AnswerInteger {
						plain = plainInteger
					}
					if plain.MatchString(reply) && got != want {
						t.Errorf("%s takes %q to %q; the engine goes to %q", name, reply, got, want)
					}
				}
			}
			check := f.StepByID("check")
			s := d.StateByName("check")
			for _, value := range rangeReplies {
				want := check.Next
				for _, rt := range check.Routes {
					if rt.When.Holds(value) {
						want = rt.Next
						break
					}
				}
				got := evalSplit(t, s, value)
				if plainNumber.MatchString(value) || strings.TrimSpace(value) == "" || value == "abc" {
					if got != want {
						t.Errorf("check takes %q to %q; the engine goes to %q", value, got, want)
					}
				}
			}
		})
	}
}

// The built-in flows' exports use only Studio's condition types, each of
// which Holds evaluates.
func TestExportWritesOnlyStudioTypes(t *testing.T) {
	t.Parallel()
	for _, name := range flows.BuiltinNames() {
		f, err := flows.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := studio.FromFlow(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range d.States {
			for _, tr := range s.Transitions {
				for _, c := range tr.Conditions {
					if !slices.Contains(studio.ConditionTypes, c.Type) {
						t.Errorf("%s: %s: condition type %q", name, s.Name, c.Type)
					}
					if _, err := c.Holds("42"); err != nil {
						t.Errorf("%s: %s: %v", name, s.Name, err)
					}
				}
			}
		}
	}
}
