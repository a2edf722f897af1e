package studio_test

import (
	"fmt"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/studio"
)

func Example() {
	f, err := flows.Builtin("provider")
	if err != nil {
		panic(err)
	}
	def, err := studio.FromFlow(f)
	if err != nil {
		panic(err)
	}
	ask := def.StateByName("ask_pain")
	var p studio.MessageProperties
	if err := ask.DecodeProperties(&p); err != nil {
		panic(err)
	}
	fmt.Println(ask.Type, p.Timeout)

	back, err := studio.ToFlow(def)
	if err != nil {
		panic(err)
	}
	fmt.Println(back.StepByID("ask_pain").Answer.Kind, len(back.Steps) == len(f.Steps))

	greeting, _ := studio.Render("Hi {{flow.data.patient_first_name | upcase}}", map[string]any{
		"flow": map[string]any{"data": map[string]any{"patient_first_name": "Ana"}},
	})
	fmt.Println(greeting)
	// Output:
	// send-and-wait-for-reply 360
	// integer true
	// Hi ANA
}
