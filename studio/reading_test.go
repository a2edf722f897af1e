package studio

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
)

// readingReplies returns replies to try the exported splits on: both
// reply corpora, and variants of numbers and words.
func readingReplies(t *testing.T) []string {
	t.Helper()
	var base []string
	for _, f := range []struct {
		path string
		col  int
	}{{"../outreach/testdata/answer_replies.tsv", 1}, {"testdata/replies.tsv", 1}} {
		fh, err := os.Open(f.path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			l := sc.Text()
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if cols := strings.Split(l, "\t"); f.col < len(cols) {
				base = append(base, cols[f.col])
			}
		}
		fh.Close()
	}
	var nums []int
	for _, r := range [][2]int{{-6, 22}, {33, 37}, {53, 57}, {78, 82}, {94, 111}, {118, 122}, {698, 702}} {
		for n := r[0]; n <= r[1]; n++ {
			nums = append(nums, n)
		}
	}
	for _, n := range nums {
		s := strconv.Itoa(n)
		base = append(base, s, s+".5", s+".0", "0"+s, s+"/10", s+" out of 10", "pain "+s, s+"lbs", s+" 😣", "-"+s, s+".25", s+".", "("+s+")")
	}
	if !fullScale() {
		return base
	}
	var out []string
	for _, b := range base {
		out = append(out, b, strings.ToUpper(b), b+"! thx", "it’s "+b, "“"+b+"”")
	}
	return out
}

// engineNext is where the engine goes with a reply to st: the route of
// the value read, "reask" when in doubt (HELP and START too), "" when the
// reply ends the conversation (an opt-out, or maybe one).
func engineNext(st *outreach.Step, reply string) string {
	if outreach.ClassifyOptOut(reply) != outreach.NotOptOut {
		return ""
	}
	rd := outreach.ReadAnswer(st.Answer, reply)
	if !rd.OK {
		return "reask"
	}
	for _, rt := range st.Routes {
		if rt.When.Holds(rd.Value) {
			return rt.Next
		}
	}
	return st.Next
}

// TestSplitsReadAsEngine exports ask steps (the built-in flows' and
// others) and checks, reply by reply, that each split goes where the
// engine goes, or asks again where the engine reads the reply (the
// conservative side, counted and logged); never the other way round.
func TestSplitsReadAsEngine(t *testing.T) {
	t.Parallel()
	skipRace(t)
	f := func(v float64) *float64 { return &v }
	var steps []outreach.Step
	for _, name := range []string{"provider", "pharma"} {
		fl, err := flows.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range fl.Steps {
			if st.Kind == outreach.StepAsk {
				steps = append(steps, st)
			}
		}
	}
	steps = append(steps,
		outreach.Step{ID: "temp", Kind: outreach.StepAsk, Body: "Q", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerNumber, Min: f(90), Max: f(110)},
			Routes: []outreach.Route{{When: outreach.Condition{Min: f(100.4)}, Next: "fever"}, {When: outreach.Condition{Max: f(95.5)}, Next: "low"}}},
		outreach.Step{ID: "delta", Kind: outreach.StepAsk, Body: "Q", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: f(-5), Max: f(5)},
			Routes: []outreach.Route{{When: outreach.Condition{Max: f(-1)}, Next: "down"}, {When: outreach.Condition{Min: f(1)}, Next: "up"}}},
		outreach.Step{ID: "free", Kind: outreach.StepAsk, Body: "Q", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerNumber},
			Routes: []outreach.Route{{When: outreach.Condition{Min: f(2.5), Max: f(7)}, Next: "mid"}}},
		outreach.Step{ID: "menu", Kind: outreach.StepAsk, Body: "Q", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{
			{Value: "1", Synonyms: []string{"one", "sms", "text"}}, {Value: "2", Synonyms: []string{"email"}}, {Value: "3", Synonyms: []string{"phone call", "call"}}}},
			Routes: []outreach.Route{{When: outreach.Condition{Equals: "2"}, Next: "mail"}}},
		outreach.Step{ID: "si", Kind: outreach.StepAsk, Body: "Q", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{
			{Value: "SÍ", Synonyms: []string{"si", "yes"}}, {Value: "NO"}}}},
	)
	replies := readingReplies(t)
	for _, st := range steps {
		t.Run(st.ID, func(t *testing.T) {
			st := st
			st.Next, st.NoAnswer, st.OnTimeout, st.OnFailure = "next", "", "", ""
			ends := map[string]bool{"next": true}
			for i := range st.Routes {
				ends[st.Routes[i].Next] = true
			}
			fl := &outreach.Flow{ID: "t", Name: "t", Start: st.ID, Steps: []outreach.Step{st}}
			for e := range ends {
				fl.Steps = append(fl.Steps, outreach.Step{ID: e, Kind: outreach.StepEnd})
			}
			d, err := FromFlow(fl)
			if err != nil {
				t.Fatal(err)
			}
			var split *State
			for i := range d.States {
				if d.States[i].Name == st.ID+"_split" {
					split = &d.States[i]
				}
			}
			if split == nil {
				t.Fatal("no split")
			}
			conservative := 0
			var examples []string
			for _, r := range replies {
				next, event, err := split.Route(r)
				if err != nil {
					t.Fatal(err)
				}
				got := next
				if event == EventNoMatch {
					got = "reask"
				}
				want := engineNext(&st, r)
				switch {
				case got == want:
				case got == "reask":
					conservative++
					if len(examples) < 30 {
						examples = append(examples, fmt.Sprintf("%q (engine: %s)", r, want))
					}
				default:
					t.Errorf("%q: studio goes to %q, the engine to %q", r, got, want)
				}
			}
			t.Logf("%d of %d replies that the engine reads or that end the conversation are asked again in Studio, e.g. %s", conservative, len(replies), strings.Join(examples, ", "))
		})
	}
}
