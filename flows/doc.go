// Package flows holds the built-in outreach flows and loads users' own flow
// files.
//
// The built-in flows are JSON files embedded in the package, in the
// [outreach.Flow] format:
//
//   - provider: a post-procedure check-in. Asks the patient's pain (0-10),
//     offers a call when it is 6 or more, and makes sure a follow-up with
//     the specialist is scheduled.
//   - payor: a one-way welcome for a new plan member: the member card, where
//     to find resources and live chat.
//   - pharma: eligibility for a kidney disease research study: interest,
//     age 18-55, BMI 18-35, weight at least 110 lb, non-smoker.
//
// Every built-in flow's first message already tells the patient to reply
// STOP to opt out.
//
// The first message of every conversation of a two-way flow (one with an
// ask step) ends with opt-out instructions, unless it already mentions
// STOP: " Reply STOP to opt out." by default. A flow file can set its own
// text, which must mention STOP, or turn the footer off (for recipients
// told how to opt out some other way); the footer counts towards the
// 1,600-character limit of that message:
//
//	{"id": "checkin", "opt_out_footer": " Text STOP to end these messages.", "steps": [...]}
//	{"id": "checkin", "no_opt_out_footer": true, "steps": [...]}
//
// [Builtin] returns a fresh copy of one, which the caller may change:
//
//	flow, err := flows.Builtin("provider")
//
// [LoadFile] and [Load] read a user's flow file. Decoding is strict: an
// unknown or misspelt field, a duplicate field, a value of the wrong type or
// a syntax error is reported with its line, column and field, and the flow
// must then pass [outreach.Flow.Validate]:
//
//	flow, err := flows.LoadFile("my-flow.json")
//	if errors.Is(err, outreach.ErrInvalidFlow) {
//		// err names the file and says what is wrong and where
//	}
package flows
