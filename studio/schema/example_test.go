package schema_test

import (
	"errors"
	"fmt"

	"github.com/patient-outreach/sms/studio/schema"
)

func ExampleValidate() {
	def := []byte(`{
		"description": "Split on a score",
		"flags": {"allow_concurrent_calls": true},
		"initial_state": "Trigger",
		"states": [
			{"name": "Trigger", "type": "trigger", "properties": {},
			 "transitions": [{"event": "incomingRequest", "next": "split"}]},
			{"name": "split", "type": "split-based-on",
			 "properties": {"input": "{{flow.data.score}}"},
			 "transitions": [
				{"event": "noMatch"},
				{"event": "match", "next": "done", "conditions": [
					{"friendly_name": "4 to 6", "arguments": ["{{flow.data.score}}"], "type": "is_between", "value": "4-6"}]}]}
		]
	}`)
	err := schema.Validate(def)
	var e *schema.Error
	if errors.As(err, &e) {
		for _, p := range e.Problems {
			fmt.Println(p.PropertyPath)
		}
	}
	// Output:
	// #/states/1/transitions/1/conditions/0/type
	// #/states/1/transitions/1/next
}
