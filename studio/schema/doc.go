// Package schema checks Twilio Studio flow definitions as Studio's Flows
// API does before it stores one: against Twilio's JSON Schema for flow
// definitions and a schema per widget type, then for what the schemas
// cannot say (Twilio error 81022's possible causes): widget names are
// unique, every transition leads to a widget that exists, and
// initial_state names the trigger widget.
//
// The schemas are embedded and compiled once, under their
// schemas.twilio.com URLs, from memory: validation never touches the
// network. README.md beside this file says where each schema came from
// and which ones were written from Twilio's widget documentation rather
// than copied from Twilio.
//
//	if err := schema.Validate(definition); err != nil {
//		var e *schema.Error
//		if errors.As(err, &e) {
//			for _, p := range e.Problems {
//				fmt.Println(p.PropertyPath, p.Message)
//			}
//		}
//	}
//
// Messages name properties and widget names, never the values of
// message bodies or phone numbers.
//
// The package imports only the standard library and the JSON Schema
// validator, so that the studio package and the fake Twilio
// (outreach/twiliotest) can both use it.
package schema
