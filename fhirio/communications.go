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

// MessageSystem is the identifier system of the Communications written
// here: the value is the message's id.
const MessageSystem = "urn:patient-outreach:message"

// CommunicationOptions say how messages become Communications.
type CommunicationOptions struct {
	// Subject is as ResponseOptions.Subject.
	Subject func(outreach.Conversation) string
	// Payload puts each message's text in the Communication. It is the
	// patient's health information: off unless the embedder needs it.
	Payload bool
}

// smsMedium is the medium of every Communication: a written SMS.
var smsMedium = fhir.CodeableConcept{Coding: []fhir.Coding{{
	System: ptr("http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"), Code: ptr("SMSWRIT"), Display: ptr("SMS message"),
}}}

// Communication returns one message of a conversation as a
// Communication: status completed once sent (or received), not-done when
// it failed or was cancelled, in-progress before; sent or received its
// time; the patient as recipient (outbound) or sender (inbound); about
// the conversation's QuestionnaireResponse; the text only with
// opts.Payload. Messages the store keeps no more (purged) have no text.
func Communication(conv outreach.Conversation, m outreach.Message, opts CommunicationOptions) fhir.Communication {
	subject := "Patient/" + conv.Recipient.ID
	if opts.Subject != nil {
		subject = opts.Subject(conv)
	}
	patient := fhir.Reference{Reference: ptr(subject)}
	c := fhir.Communication{
		Id:         ptr(fmt.Sprintf("outreach-msg-%d", m.ID)),
		Identifier: []fhir.Identifier{{System: ptr(MessageSystem), Value: ptr(strconv.FormatInt(m.ID, 10))}},
		Status:     communicationStatus(m),
		Medium:     []fhir.CodeableConcept{smsMedium},
		Subject:    &patient,
		About:      []fhir.Reference{{Reference: ptr(fmt.Sprintf("QuestionnaireResponse/outreach-%d", conv.ID))}},
	}
	at := ""
	if !m.SentAt.IsZero() {
		at = m.SentAt.UTC().Format(time.RFC3339)
	}
	if m.Direction == outreach.Inbound {
		c.Sender = &patient
		if at != "" {
			c.Received = &at
		}
	} else {
		c.Recipient = []fhir.Reference{patient}
		if at != "" && c.Status == fhir.EventStatusCompleted {
			c.Sent = &at
		}
	}
	if opts.Payload && m.Body != "" {
		c.Payload = []fhir.CommunicationPayload{{ContentString: m.Body}}
	}
	return c
}

func communicationStatus(m outreach.Message) fhir.EventStatus {
	switch m.Status {
	case outreach.MessageSent, outreach.MessageReceived:
		if m.DeliveryStatus == "failed" || m.DeliveryStatus == "undelivered" {
			return fhir.EventStatusNotDone
		}
		return fhir.EventStatusCompleted
	case outreach.MessageFailed, outreach.MessageCancelled:
		return fhir.EventStatusNotDone
	}
	return fhir.EventStatusInProgress
}

// MarshalCommunication returns c as JSON, with the one content[x] of
// each payload (the model writes all three otherwise: see
// [MarshalQuestionnaire]).
func MarshalCommunication(c fhir.Communication) ([]byte, error) {
	data, err := c.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("fhirio: communication: %w", err)
	}
	if len(c.Payload) == 0 {
		return data, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("fhirio: communication: %w", err)
	}
	payload, _ := doc["payload"].([]any)
	for _, p := range payload {
		if m, ok := p.(map[string]any); ok {
			delete(m, "contentAttachment")
			delete(m, "contentReference")
		}
	}
	return json.Marshal(doc)
}

// MessageSource is what [WriteCommunications] reads: any
// [outreach.Store] has these methods.
type MessageSource interface {
	csvio.ResponseSource
	Messages(ctx context.Context, conversationID int64) ([]outreach.Message, error)
}

// WriteCommunications writes a Communication per message of campaign
// c's conversations as NDJSON and returns how many it wrote.
func WriteCommunications(ctx context.Context, w io.Writer, s MessageSource, c outreach.Campaign, opts CommunicationOptions) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	err := csvio.EachConversation(ctx, s, c.ID, func(conv outreach.Conversation, _ []outreach.Response) error {
		msgs, err := s.Messages(ctx, conv.ID)
		if err != nil {
			return fmt.Errorf("fhirio: conversation %d: %w", conv.ID, err)
		}
		for _, m := range msgs {
			data, err := MarshalCommunication(Communication(conv, m, opts))
			if err != nil {
				return err
			}
			bw.Write(data)
			if err := bw.WriteByte('\n'); err != nil {
				return fmt.Errorf("fhirio: write: %w", err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}
