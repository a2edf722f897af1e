package fhirio

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/outreach"
)

// ConversationSystem is the identifier system of the QuestionnaireResponses
// written here: the value is the conversation's id.
const ConversationSystem = "urn:patient-outreach:conversation"

// ResponseOptions say how conversations become QuestionnaireResponses.
type ResponseOptions struct {
	// Questionnaire is the canonical URL of the flow's Questionnaire (see
	// [Questionnaire]); choice answers are coded in its code system,
	// Questionnaire + "/" + the step id. Empty: none is named, and
	// choices are coded without a system.
	Questionnaire string
	// Subject returns the reference to a conversation's patient; nil
	// means "Patient/" and the recipient's ID (right when IDs are the
	// FHIR resource ids, as fhirio reads them without Options.IDSystem).
	Subject func(outreach.Conversation) string
}

// QuestionnaireResponse returns a conversation's answers as a
// QuestionnaireResponse: status completed when it ended, stopped when it
// ended by opting out or cancellation, in-progress otherwise; subject the
// patient; authored the last reply's time; one item per ask step of f
// with a read answer (the last, for a step asked again), linkId the step
// id, the answer typed as the step's kind: valueCoding for choices,
// valueInteger, valueDecimal, valueString. Replies that could not be
// read are left out (the responses CSV has them, with their doubt).
func QuestionnaireResponse(f *outreach.Flow, conv outreach.Conversation, responses []outreach.Response, opts ResponseOptions) fhir.QuestionnaireResponse {
	qr := fhir.QuestionnaireResponse{
		Id:         ptr(fmt.Sprintf("outreach-%d", conv.ID)),
		Identifier: &fhir.Identifier{System: ptr(ConversationSystem), Value: ptr(strconv.FormatInt(conv.ID, 10))},
		Status:     responseStatus(conv),
	}
	if opts.Questionnaire != "" {
		qr.Questionnaire = ptr(opts.Questionnaire)
	}
	subject := "Patient/" + conv.Recipient.ID
	if opts.Subject != nil {
		subject = opts.Subject(conv)
	}
	qr.Subject = &fhir.Reference{Reference: ptr(subject)}
	last := map[string]outreach.Response{}
	var authored time.Time
	for _, r := range responses {
		if r.RepliedAt.After(authored) {
			authored = r.RepliedAt
		}
		if r.Answer != "" && r.QuestionID != "" {
			last[r.QuestionID] = r
		}
	}
	if !authored.IsZero() {
		qr.Authored = ptr(authored.UTC().Format(time.RFC3339))
	}
	for i := range f.Steps {
		st := &f.Steps[i]
		r, ok := last[st.ID]
		if st.Kind != outreach.StepAsk || !ok {
			continue
		}
		if a, ok := answer(st, r.Answer, opts); ok {
			qr.Item = append(qr.Item, fhir.QuestionnaireResponseItem{LinkId: st.ID, Answer: []fhir.QuestionnaireResponseItemAnswer{a}})
		}
	}
	return qr
}

func responseStatus(conv outreach.Conversation) fhir.QuestionnaireResponseStatus {
	switch {
	case conv.Status != outreach.ConversationDone:
		return fhir.QuestionnaireResponseStatusInProgress
	case conv.Outcome == outreach.OutcomeOptedOut || conv.Outcome == outreach.OutcomeCancelled:
		return fhir.QuestionnaireResponseStatusStopped
	}
	return fhir.QuestionnaireResponseStatusCompleted
}

// answer types a normalised answer as st's kind; ok is false when it
// does not read as that kind (a flow changed since).
func answer(st *outreach.Step, value string, opts ResponseOptions) (fhir.QuestionnaireResponseItemAnswer, bool) {
	var a fhir.QuestionnaireResponseItemAnswer
	switch kindOf(st) {
	case outreach.AnswerChoice:
		a.ValueCoding = choiceCoding(st, value, opts.Questionnaire)
	case outreach.AnswerInteger:
		n, err := strconv.Atoi(value)
		if err != nil {
			return a, false
		}
		a.ValueInteger = &n
	case outreach.AnswerNumber:
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			return a, false
		}
		n := json.Number(value)
		a.ValueDecimal = &n
	default:
		a.ValueString = ptr(value)
	}
	return a, true
}

func kindOf(st *outreach.Step) outreach.AnswerKind {
	if st.Answer == nil {
		return outreach.AnswerText
	}
	return st.Answer.Kind
}

// choiceCoding codes a choice: in the code system questionnaire/STEP
// when the Questionnaire is named, the value as code and display.
func choiceCoding(st *outreach.Step, value, questionnaire string) *fhir.Coding {
	c := &fhir.Coding{Code: ptr(value), Display: ptr(value)}
	if questionnaire != "" {
		c.System = ptr(questionnaire + "/" + st.ID)
	}
	return c
}

// WriteResponses writes one QuestionnaireResponse per conversation of
// campaign c, as NDJSON (a resource a line), reading s a page at a time,
// and returns how many it wrote.
func WriteResponses(ctx context.Context, w io.Writer, s csvio.ResponseSource, c outreach.Campaign, opts ResponseOptions) (int, error) {
	if c.Flow == nil {
		return 0, fmt.Errorf("fhirio: campaign %d has no flow", c.ID)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw) // one line per resource
	n := 0
	err := csvio.EachConversation(ctx, s, c.ID, func(conv outreach.Conversation, resp []outreach.Response) error {
		if err := enc.Encode(QuestionnaireResponse(c.Flow, conv, resp, opts)); err != nil {
			return fmt.Errorf("fhirio: write: %w", err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// TransactionBundle returns a transaction Bundle that creates or updates
// each QuestionnaireResponse on a FHIR server (PUT by id, so that sending
// it twice changes nothing).
func TransactionBundle(qrs []fhir.QuestionnaireResponse) (fhir.Bundle, error) {
	b := fhir.Bundle{Type: fhir.BundleTypeTransaction}
	for _, qr := range qrs {
		data, err := qr.MarshalJSON()
		if err != nil {
			return b, fmt.Errorf("fhirio: bundle: %w", err)
		}
		url := "QuestionnaireResponse/" + deref(qr.Id)
		b.Entry = append(b.Entry, fhir.BundleEntry{
			Resource: data,
			Request:  &fhir.BundleEntryRequest{Method: fhir.HTTPVerbPUT, Url: url},
		})
	}
	return b, nil
}

func ptr[T any](v T) *T { return &v }
