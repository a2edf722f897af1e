package outreach

import (
	"time"
)

// Recipient is one person a campaign reaches, as read from a CSV row.
type Recipient struct {
	// ID is the caller's identifier (the CSV's patient_id). It is unique
	// within a campaign.
	ID string `json:"id"`
	// FirstName is used in message templates as {{recipient.first_name}}.
	FirstName string `json:"first_name"`
	// Phone is the number in E.164 form (see [NormalizePhone]).
	Phone string `json:"phone"`
	// TimeZone is an optional IANA zone name (the CSV's timezone column).
	// When empty, the zone comes from the phone number.
	TimeZone string `json:"time_zone,omitempty"`
	// Attrs holds the extra CSV columns, keyed by their header lower-cased
	// with inner spaces as underscores ("Clinic Name" is clinic_name);
	// templates read them as {{data.clinic_name}}.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// CampaignStatus is a step in a campaign's lifecycle:
// draft -> running <-> paused, then cancelled or done.
type CampaignStatus string

// Campaign statuses.
const (
	CampaignDraft     CampaignStatus = "draft"
	CampaignRunning   CampaignStatus = "running"
	CampaignPaused    CampaignStatus = "paused"
	CampaignCancelled CampaignStatus = "cancelled"
	CampaignDone      CampaignStatus = "done"
)

// CanChange reports whether the lifecycle allows going from s to to.
func (s CampaignStatus) CanChange(to CampaignStatus) bool {
	switch s {
	case CampaignDraft:
		return to == CampaignRunning || to == CampaignCancelled
	case CampaignRunning:
		return to == CampaignPaused || to == CampaignCancelled || to == CampaignDone
	case CampaignPaused:
		return to == CampaignRunning || to == CampaignCancelled
	}
	return false
}

// Valid reports whether s is one of the campaign statuses.
func (s CampaignStatus) Valid() bool {
	switch s {
	case CampaignDraft, CampaignRunning, CampaignPaused, CampaignCancelled, CampaignDone:
		return true
	}
	return false
}

// Finished reports whether s is a terminal status.
func (s CampaignStatus) Finished() bool { return s == CampaignCancelled || s == CampaignDone }

// Campaign is one run of a flow over a list of recipients.
type Campaign struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Flow is an immutable snapshot taken when the campaign was created:
	// editing or replacing the flow later never changes this campaign.
	Flow *Flow `json:"flow"`
	// From is the sending number (E.164) or a messaging service id.
	From string `json:"from"`
	// DefaultZone is the IANA zone used for quiet hours when a recipient's
	// own zone cannot be told.
	DefaultZone string `json:"default_zone"`
	// Runtime names the [Runtime] that runs the campaign: [RuntimeEmbedded]
	// (stores read an empty one as that) or another, such as "studio".
	// Each runtime claims only its own campaigns' conversations.
	Runtime string `json:"runtime"`
	// RuntimeRef is what the runtime runs the campaign as, if anything:
	// the Studio runtime keeps the SID of the Studio flow.
	RuntimeRef string `json:"runtime_ref,omitempty"`
	// World says which world made the campaign and may run it: a real
	// Twilio account ([TwilioWorld]), a dev-mode fake ([WorldDev]), a
	// simulation ([WorldSim]), or empty for embedders that set none
	// (RunnerOptions.World). A runtime claims only the conversations of
	// its own world's campaigns, and refuses to start, pause, resume or
	// cancel another world's (see [WorldError]).
	World     string         `json:"world,omitempty"`
	Status    CampaignStatus `json:"status"`
	CreatedAt time.Time      `json:"created_at"`
	// UpdatedAt is when the status last changed: for a finished campaign,
	// when it finished (retention counts from then, see [RetentionStore]).
	UpdatedAt time.Time `json:"updated_at"`
	// PurgedAt is when the retention purge deleted the campaign's message
	// bodies and replies ([RetentionStore.PurgeContent]); zero until then.
	PurgedAt time.Time `json:"purged_at"`
}

// ConversationStatus is where a conversation stands.
type ConversationStatus string

// Conversation statuses.
const (
	// ConversationPending: not started yet (or waiting for another two-way
	// conversation with the same phone to end).
	ConversationPending ConversationStatus = "pending"
	// ConversationActive: started and not finished.
	ConversationActive ConversationStatus = "active"
	// ConversationDone: finished, with an outcome.
	ConversationDone ConversationStatus = "done"
)

// Valid reports whether s is one of the conversation statuses.
func (s ConversationStatus) Valid() bool {
	return s == ConversationPending || s == ConversationActive || s == ConversationDone
}

// Conversation is the exchange with one recipient in one campaign.
type Conversation struct {
	ID         int64     `json:"id"`
	CampaignID int64     `json:"campaign_id"`
	Recipient  Recipient `json:"recipient"`
	// From is the sending number this conversation uses.
	From string `json:"from"`
	// TwoWay is true when the flow waits for replies; only one two-way
	// conversation per (Recipient.Phone, From) is active at a time in a
	// world (see [Campaign.World]).
	TwoWay bool `json:"two_way"`
	// Zones are the IANA zones whose sending windows all apply (see
	// [RecipientZones]); empty means the campaign's default zone.
	Zones  []string           `json:"zones,omitempty"`
	Status ConversationStatus `json:"status"`
	// State is the flow engine's state.
	State State `json:"state"`
	// Outcome is set when Status is done (see the Outcome constants).
	Outcome string `json:"outcome,omitempty"`
	// NextAt is when the conversation next has work due; zero means none.
	NextAt    time.Time `json:"next_at"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Direction tells outbound messages from inbound ones.
type Direction string

// Message directions.
const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// MessageStatus is where an outbound message stands in the runner's
// at-most-once protocol, or "received" for an inbound one.
type MessageStatus string

// Message statuses.
const (
	// MessageQueued: rendered and waiting to be sent (SendAfter may defer it).
	MessageQueued MessageStatus = "queued"
	// MessageSending: the intent to send is recorded; the outcome is not yet.
	// After a crash such a message is reconciled with the provider, never
	// blindly sent again.
	MessageSending MessageStatus = "sending"
	// MessageUnknown: the provider may or may not have accepted it
	// (ambiguous outcome); it is reconciled before anything else is sent.
	MessageUnknown MessageStatus = "unknown"
	// MessageSent: the provider accepted it (ProviderID is set).
	MessageSent MessageStatus = "sent"
	// MessageFailed: the provider refused it for good, or it was suppressed.
	MessageFailed MessageStatus = "failed"
	// MessageCancelled: never sent because the conversation moved on or ended.
	MessageCancelled MessageStatus = "cancelled"
	// MessageReceived: an inbound message.
	MessageReceived MessageStatus = "received"
)

// Pending reports whether an outbound message with status s may still be
// sent: queued, or sent but not confirmed.
func (s MessageStatus) Pending() bool {
	return s == MessageQueued || s == MessageSending || s == MessageUnknown
}

// EndedStatus is the status a store gives a message of a conversation
// that is done when an update would leave it queued or sending: a
// conversation that ended (a cancelled campaign's, say) sends nothing more.
func EndedStatus(s MessageStatus) MessageStatus {
	if s == MessageQueued || s == MessageSending || s == "" {
		return MessageCancelled
	}
	return s
}

// DeliveryRank orders a provider's delivery statuses: a status callback
// that arrives late (providers send them out of order) must not move a
// message back, so stores keep a new status only when its rank is at least
// the stored one's. Unknown statuses rank with "sent".
func DeliveryRank(status string) int {
	switch status {
	case "":
		return 0
	case "accepted", "scheduled", "queued":
		return 1
	case "sending":
		return 2
	case "delivered", "undelivered", "failed", "read", "canceled":
		return 4
	}
	return 3 // sent, and anything new
}

// DeliveryStatusesUpTo returns the statuses ranked at most rank, "" included.
func DeliveryStatusesUpTo(rank int) []string {
	var out []string
	for _, s := range []string{"", "accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "canceled"} {
		if DeliveryRank(s) <= rank {
			out = append(out, s)
		}
	}
	return out
}

// Message is one SMS, outbound or inbound.
type Message struct {
	ID             int64     `json:"id"`
	ConversationID int64     `json:"conversation_id,omitempty"` // zero for an inbound message that matched no conversation
	CampaignID     int64     `json:"campaign_id,omitempty"`
	Direction      Direction `json:"direction"`
	// Key identifies an outbound message for life; zero for inbound ones.
	Key  SendKey `json:"key"`
	From string  `json:"from"`
	To   string  `json:"to"`
	Body string  `json:"body"`
	// Status is the at-most-once protocol status.
	Status MessageStatus `json:"status"`
	// ProviderID is the provider's id (Twilio's Message SID).
	ProviderID string `json:"provider_id,omitempty"`
	// DeliveryStatus is the provider's latest delivery status
	// (queued, sent, delivered, undelivered, failed, ...).
	DeliveryStatus string `json:"delivery_status,omitempty"`
	// Error is a reason for failure or deferral, free of PHI.
	Error string `json:"error,omitempty"`
	// Tries counts submissions that came back retryable.
	Tries int `json:"tries,omitempty"`
	// SendAfter defers the message (quiet hours, retry backoff).
	SendAfter time.Time `json:"send_after"`
	// IntentAt is when the intent to send was recorded.
	IntentAt time.Time `json:"intent_at"`
	// SentAt is when the provider accepted it (outbound) or when it was
	// received (inbound).
	SentAt    time.Time `json:"sent_at"`
	CreatedAt time.Time `json:"created_at"`
}

// AsReceived returns m as stores keep an inbound message: direction
// inbound, status received, no send key, and created when it was received
// (SentAt) unless CreatedAt is set.
func (m Message) AsReceived() Message {
	m.Direction = Inbound
	m.Status = MessageReceived
	m.Key = SendKey{}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = m.SentAt
	}
	return m
}

// AsEnqueued returns m as stores keep an outbound message that an update
// enqueues for a conversation sending from from to to: direction
// outbound, From and To those when unset, status queued when unset. When
// the conversation is done, a status that would still send becomes
// [EndedStatus]'s; when its campaign's texts are purged, the body is
// dropped.
func (m Message) AsEnqueued(from, to string, done, purged bool) Message {
	m.Direction = Outbound
	if m.From == "" {
		m.From = from
	}
	if m.To == "" {
		m.To = to
	}
	if m.Status == "" {
		m.Status = MessageQueued
	}
	if done {
		m.Status = EndedStatus(m.Status)
	}
	if purged {
		m.Body = ""
	}
	return m
}

// Response is one answer a recipient gave to a question.
type Response struct {
	CampaignID     int64  `json:"campaign_id"`
	ConversationID int64  `json:"conversation_id"`
	PatientID      string `json:"patient_id"`
	// QuestionID is the id of the ask step.
	QuestionID string `json:"question_id"`
	// Raw is the reply as the patient wrote it.
	Raw string `json:"raw"`
	// Answer is the normalised answer ("yes", "7", ...); empty when the
	// reply could not be read with confidence.
	Answer string `json:"answer"`
	// Doubt says why the reply was not read (see [ReadAnswer]); empty when
	// it was.
	Doubt Doubt `json:"doubt,omitempty"`
	// RepliedAt is when the reply was received, not when the question was sent.
	RepliedAt time.Time `json:"replied_at"`
	// Outcome is the conversation's outcome (empty while it runs). Runtimes
	// set it ([CampaignResponses]); stores do not keep it.
	Outcome string `json:"outcome,omitempty"`
}

// Outcomes a conversation ends with, besides the flow's own end outcomes.
const (
	OutcomeCompleted      = "completed"       // a flow ran off its last step
	OutcomeOptedOut       = "opted_out"       // the number opted out
	OutcomeDeliveryFailed = "delivery_failed" // a message could not be delivered
	OutcomeTimeout        = "timeout"         // a question timed out with no timeout path
	OutcomeNoAnswer       = "no_answer"       // the built-in flows' outcome before needs_review; kept for old campaigns
	OutcomeNeedsReview    = "needs_review"    // a reply a person must read: in doubt after the re-asks, or maybe an opt-out
	OutcomeCancelled      = "cancelled"       // the campaign was cancelled
	OutcomeFailed         = "failed"          // the provider refused a message for good
	// OutcomeUnsupported begins the outcome of a conversation that
	// reached a part of its flow its runtime cannot run, followed by what
	// that part is: see [UnsupportedOutcome].
	OutcomeUnsupported = "unsupported: "
)

// UnsupportedOutcome is the outcome of a conversation that reached a part
// of its flow that its runtime cannot run, such as a Twilio Studio
// send-to-flex widget in a local runtime: "unsupported: send-to-flex".
// The conversation ends there, visibly, rather than silently.
func UnsupportedOutcome(what string) string { return OutcomeUnsupported + what }
