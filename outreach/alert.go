package outreach

import (
	"context"
	"fmt"
	"time"
)

// Alert is a patient's message with urgent words (see [UrgentTerms]): the
// care team must see it at once. A runner records one per inbound
// message that holds urgent words, whatever the message answers (a STOP
// too), and hands it to its [Notifier]; the examples show alerts on the
// campaign page until someone acknowledges them.
type Alert struct {
	ID int64 `json:"id"`
	// World is the world of the runner that received the message: only
	// runners of that world notify it (a simulation never pages a real
	// on-call phone).
	World string `json:"world"`
	// CampaignID and ConversationID are those the message matched; zero
	// when it matched none.
	CampaignID     int64 `json:"campaign_id"`
	ConversationID int64 `json:"conversation_id"`
	// MessageID is the inbound message: one alert per message.
	MessageID int64  `json:"message_id"`
	PatientID string `json:"patient_id,omitempty"`
	// Terms are the urgent terms the message holds, as configured.
	Terms []string `json:"terms"`
	// At is when the message came.
	At time.Time `json:"at"`
	// Tries counts the notifications tried; RetryAt is when the next may
	// start; NotifiedAt is when one succeeded (zero until then).
	Tries      int       `json:"tries"`
	RetryAt    time.Time `json:"retry_at"`
	NotifiedAt time.Time `json:"notified_at"`
	// AckedAt and AckedBy say when and by whom the alert was
	// acknowledged (zero and empty until then).
	AckedAt time.Time `json:"acked_at"`
	AckedBy string    `json:"acked_by,omitempty"`
}

// Unacknowledged counts the alerts in as that nobody has acknowledged.
func Unacknowledged(as []Alert) int {
	n := 0
	for _, a := range as {
		if a.AckedAt.IsZero() {
			n++
		}
	}
	return n
}

// Notifier tells people about an alert: an SMS to an on-call phone, a
// signed webhook to the user's own system (package notify has both). It
// gets ids and terms only, never the patient's message. A Notifier that
// fails is tried again later; it may be called more than once for one
// alert, so its receivers should treat Alert.ID as idempotency key.
type Notifier interface {
	Notify(ctx context.Context, a Alert) error
}

// NotifierFunc adapts a function to [Notifier].
type NotifierFunc func(ctx context.Context, a Alert) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, a Alert) error { return f(ctx, a) }

// AlertStore is the part of a [Store] that keeps alerts.
type AlertStore interface {
	// AddAlert stores a (assigning ID) once per MessageID: a second call
	// with the same MessageID returns the first alert and isNew=false.
	AddAlert(ctx context.Context, a Alert) (stored Alert, isNew bool, err error)
	// Alerts lists a campaign's alerts (campaign 0: those of messages
	// that matched no conversation), oldest first.
	Alerts(ctx context.Context, campaignID int64) ([]Alert, error)
	// ClaimAlerts returns up to limit alerts of world not yet notified
	// whose RetryAt is at or before now, and holds them: their Tries go up
	// by one and their RetryAt becomes now+hold, so that another process
	// does not take them meanwhile.
	ClaimAlerts(ctx context.Context, world string, now time.Time, limit int, hold time.Duration) ([]Alert, error)
	// AlertNotified records that alert id was notified at at.
	AlertNotified(ctx context.Context, id int64, at time.Time) error
	// AckAlert records that by acknowledged alert id at at; an alert
	// acknowledged already keeps its first acknowledgement. An unknown id
	// is an error matching ErrNotFound.
	AckAlert(ctx context.Context, id int64, by string, at time.Time) error
}

// raiseAlert records an alert for m when it holds urgent words, and wakes
// Run to notify it.
func (r *Runner) raiseAlert(ctx context.Context, m Message) error {
	terms := r.opts.Urgent.Find(m.Body)
	if len(terms) == 0 {
		return nil
	}
	a := Alert{World: r.opts.World, CampaignID: m.CampaignID, ConversationID: m.ConversationID,
		MessageID: m.ID, Terms: terms, At: m.SentAt, RetryAt: m.SentAt}
	if m.ConversationID != 0 {
		conv, err := r.store.Conversation(ctx, m.ConversationID)
		if err != nil {
			return fmt.Errorf("outreach: alert for message %d: %w", m.ID, err)
		}
		a.PatientID = conv.Recipient.ID
	}
	a, isNew, err := r.store.AddAlert(ctx, a)
	if err != nil {
		return fmt.Errorf("outreach: record alert for message %d: %w", m.ID, err)
	}
	if isNew {
		r.log.Warn("outreach: urgent reply", "alert", a.ID, "campaign", a.CampaignID, "conversation", a.ConversationID, "message", a.MessageID)
		r.Wake()
	}
	return nil
}

// NotifyAlerts hands the alerts of the runner's world that are not yet
// notified to its Notifier, and returns how many it notified. [Runner.Run]
// calls it before each round of work; a failure is logged and tried again
// after AlertRetry. Without a Notifier it does nothing.
func (r *Runner) NotifyAlerts(ctx context.Context) int {
	if r.opts.Notifier == nil {
		return 0
	}
	now := r.opts.Clock.Now()
	alerts, err := r.store.ClaimAlerts(ctx, r.opts.World, now, 50, r.opts.AlertRetry)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("outreach: claim alerts", "err", err)
		}
		return 0
	}
	n := 0
	for _, a := range alerts {
		nctx, cancel := context.WithTimeout(ctx, r.opts.SendTimeout)
		err := r.opts.Notifier.Notify(nctx, a)
		cancel()
		if err != nil {
			r.log.Error("outreach: alert not notified; will retry", "alert", a.ID, "tries", a.Tries, "err", err)
			continue
		}
		// A live context: the notification happened, whatever ctx says now.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.SendTimeout)
		err = r.store.AlertNotified(lctx, a.ID, r.opts.Clock.Now())
		cancel()
		if err != nil {
			r.log.Error("outreach: record alert notified", "alert", a.ID, "err", err)
			continue
		}
		n++
	}
	return n
}
