package outreach_test

// Regression tests from review: each one is a flow that Flow.Validate used
// to accept and that the engine then ran wrongly or failed on.

import (
	"fmt"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

func fp(v float64) *float64 { return &v }

var yesNo = &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{
	{Value: "yes", Synonyms: []string{"y"}},
	{Value: "no", Synonyms: []string{"n"}},
}}

func regressionRecipient() outreach.Recipient {
	return outreach.Recipient{ID: "P1", FirstName: "Maya", Phone: "+14406443709"}
}

// Validate checks an ask step's routes against its answer (a choice answer
// cannot be compared with min/max, an equals must be a choice), but a
// branch step routing on answers.X gets no such check: a min/max route on
// a choice answer is accepted and can never hold, so every patient takes
// the default path.
func TestRegressionValidateBranchRoutesAgainstAnswerKind(t *testing.T) {
	f := &outreach.Flow{ID: "f", Steps: []outreach.Step{
		{ID: "consent", Kind: outreach.StepAsk, Body: "Join? YES/NO", Answer: yesNo, Next: "route"},
		{ID: "route", Kind: outreach.StepBranch, Var: "answers.consent", Routes: []outreach.Route{
			{When: outreach.Condition{Min: fp(1)}, Next: "joined"},     // never holds: "yes" is not a number
			{When: outreach.Condition{Equals: "YEAH"}, Next: "joined"}, // never holds: not a choice value
		}, Next: "declined"},
		{ID: "joined", Kind: outreach.StepEnd, Body: "Welcome!", Outcome: "joined"},
		{ID: "declined", Kind: outreach.StepEnd, Body: "OK.", Outcome: "declined"},
	}}
	if err := f.Validate(); err == nil {
		t.Fatal("Validate accepted a branch on a choice answer with a min/max route and an equals that is no choice: neither can ever hold")
	}
}

// Validate checks that answers.X names an ask step, not that X is asked
// before the variable is used. Here the first message uses the answer to
// a question asked later, and a branch routes on it before it exists: the
// message goes out with a blank and the branch always takes its default.
func TestRegressionValidateAnswerUsedBeforeItIsAsked(t *testing.T) {
	f := &outreach.Flow{ID: "f", Steps: []outreach.Step{
		{ID: "hello", Kind: outreach.StepSend, Body: "You said your pain is {{answers.pain}}.", Next: "check"},
		{ID: "check", Kind: outreach.StepBranch, Var: "answers.pain", Routes: []outreach.Route{
			{When: outreach.Condition{Min: fp(6)}, Next: "bad"},
		}, Next: "pain"},
		{ID: "pain", Kind: outreach.StepAsk, Body: "Pain 0-10?", Answer: &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: fp(0), Max: fp(10)}, Next: "bye"},
		{ID: "bad", Kind: outreach.StepEnd, Body: "A nurse will call.", Outcome: "bad"},
		{ID: "bye", Kind: outreach.StepEnd, Body: "Bye.", Outcome: "done"},
	}}
	if err := f.Validate(); err == nil {
		_, acts, _ := outreach.Advance(f, 1, regressionRecipient(), outreach.State{}, outreach.Event{Type: outreach.EventStart})
		t.Fatalf("Validate accepted answers.pain used before step pain is asked; the engine sends %v", acts[0])
	}
}

// The engine stops after maxHops (1000) steps without a wait and fails the
// conversation as if the flow looped; Validate only looks for cycles, so a
// loop-free flow with a longer run of steps between two waits passes it
// and then fails every conversation with outcome "failed".
func TestRegressionValidateLongRunWithoutWait(t *testing.T) {
	const n = 1001
	f := &outreach.Flow{ID: "long"}
	for i := range n {
		st := outreach.Step{ID: fmt.Sprintf("b%d", i), Kind: outreach.StepBranch, Var: "recipient.id",
			Routes: []outreach.Route{{When: outreach.Condition{Equals: "nobody"}, Next: "end"}}}
		if i+1 < n {
			st.Next = fmt.Sprintf("b%d", i+1)
		} else {
			st.Next = "end"
		}
		f.Steps = append(f.Steps, st)
	}
	f.Steps = append(f.Steps, outreach.Step{ID: "end", Kind: outreach.StepEnd, Body: "Hello", Outcome: "done"})
	if err := f.Validate(); err != nil {
		return // rejected up front: fine
	}
	st, _, err := outreach.Advance(f, 1, regressionRecipient(), outreach.State{}, outreach.Event{Type: outreach.EventStart})
	if err != nil || st.Outcome != "done" {
		t.Fatalf("Validate accepted the flow, then the engine failed it: outcome %q, err %v", st.Outcome, err)
	}
}

// Step.OnFailure is documented for send and ask steps, and Validate checks
// a send step's on_failure target (and counts it for reachability), but the
// engine only follows the failure of the question awaited: a send step's
// failure never takes its on_failure path (the runner ends the
// conversation with delivery_failed instead).
func TestRegressionSendStepOnFailureIsFollowed(t *testing.T) {
	f := &outreach.Flow{ID: "f", Steps: []outreach.Step{
		{ID: "intro", Kind: outreach.StepSend, Body: "Hi {{recipient.first_name}}.", Next: "q", OnFailure: "fallback"},
		{ID: "q", Kind: outreach.StepAsk, Body: "Feeling OK? YES/NO", Answer: yesNo, Next: "bye"},
		{ID: "fallback", Kind: outreach.StepSend, Body: "We could not reach you; please call us.", Next: "bye"},
		{ID: "bye", Kind: outreach.StepEnd, Body: "Bye.", Outcome: "done"},
	}}
	if err := f.Validate(); err != nil {
		return // rejected up front: fine
	}
	r := regressionRecipient()
	at := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	st, _, err := outreach.Advance(f, 1, r, outreach.State{}, outreach.Event{Type: outreach.EventStart, At: at})
	if err != nil {
		t.Fatal(err)
	}
	failed := outreach.SendKey{Conversation: 1, Step: "intro", Attempt: 1}
	st2, acts, err := outreach.Advance(f, 1, r, st, outreach.Event{Type: outreach.EventDeliveryFailure, Key: failed, At: at})
	if err != nil {
		t.Fatal(err)
	}
	sentFallback := false
	for _, a := range acts {
		if s, ok := a.(outreach.Send); ok && s.Key.Step == "fallback" {
			sentFallback = true
		}
	}
	if !sentFallback {
		t.Fatalf("Validate accepted on_failure on send step intro, but its failure changes nothing (state step %q, waiting %v, actions %v)", st2.Step, st2.Waiting, acts)
	}
}

// A synonym with no letter or digit (an emoji, "?") normalises to "" and
// can never match a reply, yet Validate accepts it: a patient who answers
// with the thumbs-up the flow invites is re-asked and ends as no_answer.
func TestRegressionValidateSynonymThatCannotMatch(t *testing.T) {
	spec := &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{
		{Value: "yes", Synonyms: []string{"👍"}},
		{Value: "no"},
	}}
	f := &outreach.Flow{ID: "f", Steps: []outreach.Step{
		{ID: "q", Kind: outreach.StepAsk, Body: "Coming? Reply 👍 or NO", Answer: spec, Next: "bye"},
		{ID: "bye", Kind: outreach.StepEnd, Outcome: "done"},
	}}
	if err := f.Validate(); err != nil {
		return // rejected up front: fine
	}
	if _, ok := outreach.MatchAnswer(spec, "👍"); !ok {
		t.Fatal("Validate accepted the synonym \"👍\", which no reply can match")
	}
}

// data.NAME reads Recipient.Attrs, which never holds the recipient columns
// (csvio takes patient_id, patient_first_name, patient_phone and timezone
// out of it). {{data.patient_first_name}} passes Validate and renders as
// "" in the embedded runtime, while the documented Studio mapping (data.x
// is {{flow.data.x}}, recipient.first_name is
// {{flow.data.patient_first_name}}) gives the name: the two runtimes send
// different messages from one flow.
func TestRegressionValidateDataShadowsRecipientColumns(t *testing.T) {
	f := &outreach.Flow{ID: "f", Steps: []outreach.Step{
		{ID: "hi", Kind: outreach.StepSend, Body: "Hi {{data.patient_first_name}}, see you soon."},
	}}
	if err := f.Validate(); err != nil {
		return // rejected up front: fine
	}
	got, err := outreach.Render(f.Steps[0].Body, regressionRecipient(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != "Hi Maya, see you soon." {
		t.Fatalf("Validate accepted {{data.patient_first_name}}, which renders %q", got)
	}
}

// Validate does not refuse fields that do not apply to a step's kind, and
// counts them as edges: on_timeout on a send step makes its target count
// as reachable although the engine never goes there, so a dead step (here
// the only path to the "call_back" outcome) is not reported.
func TestRegressionValidateFieldsThatDoNotApplyToKind(t *testing.T) {
	f := &outreach.Flow{ID: "f", Steps: []outreach.Step{
		{ID: "hi", Kind: outreach.StepSend, Body: "Hi, we will text you tomorrow.", OnTimeout: "call_back", Next: "bye"},
		{ID: "bye", Kind: outreach.StepEnd, Outcome: "done"},
		{ID: "call_back", Kind: outreach.StepEnd, Body: "We will call you.", Outcome: "call_back"},
	}}
	if err := f.Validate(); err == nil {
		t.Fatal("Validate accepted on_timeout on a send step (the engine ignores it) and so did not report call_back as unreachable")
	}
}
