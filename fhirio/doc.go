// Package fhirio reads FHIR R4 patients as outreach recipients and
// writes answers and flows back as FHIR, beside package csvio.
//
// Patients in: Bulk Data NDJSON (one resource a line, streamed with
// flat memory) and Bundles (searchset, collection, transaction, batch),
// into the same rows and row-level errors as a CSV file ([csvio.Row],
// [csvio.RowError], whose Column is then a FHIRPath such as
// Patient.telecom[1].value and whose Resource is the resource id).
//
// # The model
//
// Resources are decoded into the structs of
// github.com/samply/golang-fhir-models (generated from the FHIR R4
// StructureDefinitions, decoded with encoding/json). github.com/google/fhir/go
// was the other candidate: its jsonformat validates as it decodes and
// names the element at fault, but it decodes a Synthea-sized Patient in
// about 240 µs and 860 allocations, against about 27 µs and 62
// allocations here (measured side by side on this project's 2-core
// machine), which is the difference between minutes and seconds for a
// million-patient export, and it brings protobuf and a large, old module
// graph. Errors here name the element: JSON type errors by the path
// encoding/json reports, mapping errors exactly.
//
// The samply models do not validate, so the tests do, on every kind of
// resource the package writes (the built-in flows' Questionnaires,
// QuestionnaireResponses with every answer type, Communications with and
// without payload, the transaction Bundle): google/fhir's R4 jsonformat
// is the Go-side validator, a test dependency only (it parses each one
// with its validation on: required elements, value sets of codes,
// primitive formats, reference types, unknown elements), and the npm
// package fhir is the independent one, where CI installs it. A test
// fails if either rejects a resource, and shows each rejecting broken
// ones.
//
// # The mapping
//
//	recipient field   from
//	ID                the value of the identifier whose system is Options.IDSystem (an MRN), else the resource id
//	FirstName         given[0] of the name with use official, else usual
//	Phone             telecom: system sms first, else system phone with use mobile; in each, by rank (1 first; no rank last),
//	                  skipping entries whose period has ended (before Options.Now) and those with use old; the first that
//	                  outreach.NormalizePhone accepts
//	TimeZone          when the phone's number gives no zone (outreach.PhoneZones: none, or more than outreach.MaxZones),
//	                  the zone of the state of the home address (else the first address) whose period has not ended, for
//	                  states in one zone; in states that span zones (Texas, Florida, ...), or without a state, the zone
//	                  of the address's US ZIP code (internal/zipzone: ziptz's data of December 2023); else none
//	Attrs["language"] the code (else text) of the communication with preferred true
//	Attrs[K]          Options.Fields[K]: an extension's value, or an identifier's value
//
// A patient who is deceased (deceasedBoolean true, or any
// deceasedDateTime) or not active (active false) is never a recipient:
// the row has an error ([ErrDeceased], [ErrInactive]). Resources of other
// types in a Bundle are skipped; in NDJSON, where a file holds one type,
// they are errors ([ErrNotPatient]).
//
// # Answers and flows out
//
// [QuestionnaireResponse] turns a conversation's answers into a
// QuestionnaireResponse (typed answers, one item per ask step), and
// [WriteResponses] writes a campaign's as NDJSON, a page of the store at
// a time; [TransactionBundle] wraps them for a FHIR server (PUT by id,
// so that sending twice changes nothing). [Questionnaire] exports a flow
// as the Questionnaire those answers refer to; write it with
// [MarshalQuestionnaire] (the model writes every value[x] of an
// answerOption otherwise). [Client] posts Bundles to a FHIR server
// (bearer token, retries, each refused entry reported), and
// [FlowFromQuestionnaire] imports a simple Questionnaire as a flow, its
// enableWhen as branch steps. [WriteCommunications] writes a
// Communication per message (status, times, patient as recipient or
// sender; the text only when the embedder asks, since it is health
// information). Not yet: enableWhen written from a flow's branches.
package fhirio
