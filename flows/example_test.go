package flows_test

import (
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
)

func ExampleBuiltinNames() {
	fmt.Println(flows.BuiltinNames())
	// Output: [payor pharma provider]
}

func ExampleBuiltin() {
	flow, err := flows.Builtin("pharma")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(flow.Name)
	for _, st := range flow.Steps {
		if st.Kind == outreach.StepEnd {
			fmt.Println("outcome:", st.Outcome)
		}
	}
	// Output:
	// Kidney disease study eligibility
	// outcome: eligible
	// outcome: not_eligible
	// outcome: not_interested
	// outcome: needs_review
	// outcome: timeout
}

func ExampleBuiltin_unknown() {
	_, err := flows.Builtin("nurse")
	fmt.Println(err)
	fmt.Println(errors.Is(err, outreach.ErrNotFound))
	// Output:
	// flows: no built-in flow "nurse": use one of payor, pharma, provider
	// true
}

// A built-in flow runs on the pure engine: each event gives the actions to
// carry out.
func ExampleBuiltin_conversation() {
	flow, err := flows.Builtin("provider")
	if err != nil {
		log.Fatal(err)
	}
	r := outreach.Recipient{ID: "P-1001", FirstName: "Maria", Phone: "+14405550142"}
	var s outreach.State
	for _, ev := range []outreach.Event{
		{Type: outreach.EventStart},
		{Type: outreach.EventReplied, Body: "8"},
		{Type: outreach.EventReplied, Body: "yes"},
	} {
		var acts []outreach.Action
		s, acts, err = outreach.Advance(flow, 1, r, s, ev)
		if err != nil {
			log.Fatal(err)
		}
		for _, a := range acts {
			if send, ok := a.(outreach.Send); ok {
				fmt.Printf("%s: %s\n", send.Key, send.Body)
			}
		}
	}
	// Output:
	// 1/greeting/1: Hi Maria, this is your care team checking in after your procedure. Reply STOP at any time to opt out.
	// 1/ask_pain/1: On a scale of 0-10, how is your pain today?
	// 1/ask_talk/1: We're sorry you're in pain. Would you like to speak to someone about your pain? Reply YES or NO
	// 1/talk_yes/1: Okay, someone from our team will call you soon. If this is an emergency, please call 911.
	// 1/ask_followup/1: Have you scheduled your follow-up with the specialist? Reply YES or NO
}

func ExampleLoad() {
	const file = `{
  "id": "reminder",
  "steps": [
    {"id": "remind", "kind": "send", "body": "Hi {{recipient.first_name}}, your appointment is {{data.appointment_date}}.", "next": "bye"},
    {"id": "bye", "kind": "end", "outcome": "reminded"}
  ]
}`
	flow, err := flows.Load(strings.NewReader(file))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(flow.ID, len(flow.Steps), flow.TwoWay())
	// Output: reminder 2 false
}

func ExampleLoad_invalid() {
	const file = `{
  "id": "reminder",
  "steps": [
    {"id": "remind", "kind": "send", "body": "Hi {{recipient.first_name}}!", "nxt": "bye"},
    {"id": "bye", "kind": "end", "outcome": "reminded"}
  ]
}`
	_, err := flows.Load(strings.NewReader(file))
	fmt.Println(err)
	fmt.Println(errors.Is(err, outreach.ErrInvalidFlow))
	// Output:
	// flows: line 4, column 78: steps[0].nxt: unknown field "nxt": did you mean "next"?
	// true
}

func ExampleLoadFile() {
	flow, err := flows.LoadFile("testdata/bad/missing_target.json")
	var fe *outreach.FlowError
	if errors.As(err, &fe) {
		for _, p := range fe.Problems {
			fmt.Println(p)
		}
	}
	fmt.Println(flow == nil)
	// Output:
	// step greeting: next: no step "ask_moood"
	// step ask_mood: the step cannot be reached from the start
	// step glad: the step cannot be reached from the start
	// step sorry: the step cannot be reached from the start
	// true
}
