package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/notify"
)

// This file shows the replies a person must read on the campaign page:
// alerts for urgent words, with a button to acknowledge each, and the
// conversations marked for review. It also builds the notifier that
// tells the on-call phone and the webhook (ALERT_SMS_TO,
// ALERT_WEBHOOK_URL).

// alertRow is one alert as the campaign page lists it.
type alertRow struct {
	ID        int64
	PatientID string
	Terms     string
	Reply     string
	At        time.Time
	Notified  time.Time
	AckedAt   time.Time
	AckedBy   string
}

// reviewRow is one conversation marked for review.
type reviewRow struct {
	PatientID, FirstName string
	Question             string
	Why                  string
	Reply                string
	At                   time.Time
}

// maxReviewRows bounds the conversations the campaign page lists for
// review (the responses CSV has them all).
const maxReviewRows = 200

// alerts lists the campaign's alerts of the app's world, oldest first.
// Campaign 0 holds the alerts of replies that matched no conversation (a
// patient writing after the conversation ended), of every world: only
// the app's own are its to show.
func (a *app) alerts(ctx context.Context, id int64) ([]outreach.Alert, error) {
	as, err := a.store.Alerts(ctx, id)
	own := world(a.cfg)
	return slices.DeleteFunc(as, func(al outreach.Alert) bool { return al.World != own }), err
}

// alertRows lists the campaign's alerts (see app.alerts), newest first,
// with each reply.
func (a *app) alertRows(ctx context.Context, id int64) ([]alertRow, error) {
	as, err := a.alerts(ctx, id)
	if err != nil {
		return nil, err
	}
	rows := make([]alertRow, 0, len(as))
	bodies := map[int64]map[int64]string{} // conversation -> message -> body
	for _, al := range slices.Backward(as) {
		if bodies[al.ConversationID] == nil {
			msgs, err := a.store.Messages(ctx, al.ConversationID)
			if err != nil {
				return nil, err
			}
			bodies[al.ConversationID] = map[int64]string{}
			for _, m := range msgs {
				bodies[al.ConversationID][m.ID] = m.Body
			}
		}
		rows = append(rows, alertRow{ID: al.ID, PatientID: al.PatientID, Terms: strings.Join(al.Terms, ", "),
			Reply: bodies[al.ConversationID][al.MessageID], At: al.At, Notified: al.NotifiedAt, AckedAt: al.AckedAt, AckedBy: al.AckedBy})
	}
	return rows, nil
}

// reviewRows lists the campaign's conversations marked for review, with
// the reply that put each there.
func (a *app) reviewRows(ctx context.Context, c outreach.Campaign) ([]reviewRow, error) {
	var rows []reviewRow
	var after int64
	for len(rows) < maxReviewRows {
		convs, err := a.store.Conversations(ctx, c.ID, after, 500)
		if err != nil || len(convs) == 0 {
			return rows, err
		}
		after = convs[len(convs)-1].ID
		for _, cv := range convs {
			rv := cv.State.Review
			if rv == nil || len(rows) >= maxReviewRows {
				continue
			}
			row := reviewRow{PatientID: cv.Recipient.ID, FirstName: cv.Recipient.FirstName, Question: rv.Step, Why: rv.Doubt.Describe(), At: rv.At}
			if c.Flow != nil {
				if st := c.Flow.StepByID(rv.Step); st != nil {
					row.Question = st.Body
				}
			}
			msgs, err := a.store.Messages(ctx, cv.ID)
			if err != nil {
				return rows, err
			}
			for _, m := range msgs {
				if m.Direction == outreach.Inbound && m.SentAt.Equal(rv.At) {
					row.Reply = m.Body
				}
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// ackAlert records that the logged-in user read an alert of the
// campaign in the path.
func (a *app) ackAlert(w http.ResponseWriter, r *http.Request) {
	c, _, ok := a.campaign(w, r)
	if !ok {
		return
	}
	a.acknowledge(w, r, c.ID, "/campaigns/"+strconv.FormatInt(c.ID, 10)+"#alerts")
}

// ackStrayAlert acknowledges an alert of a reply that matched no
// conversation, listed on the campaigns page.
func (a *app) ackStrayAlert(w http.ResponseWriter, r *http.Request) {
	a.acknowledge(w, r, 0, "/campaigns#stray-alerts")
}

// acknowledge records that the logged-in user read the alert in the path,
// one of campaign's (0: of replies that matched no conversation), and
// goes back to the page that listed it.
func (a *app) acknowledge(w http.ResponseWriter, r *http.Request, campaign int64, back string) {
	id, err := strconv.ParseInt(r.PathValue("alert"), 10, 64)
	as, lerr := a.alerts(r.Context(), campaign)
	if lerr != nil {
		a.internalError(w, r, "reading the alerts", lerr)
		return
	}
	if err != nil || !slices.ContainsFunc(as, func(al outreach.Alert) bool { return al.ID == id }) {
		a.errorPage(w, r, http.StatusNotFound, "There is no such alert.")
		return
	}
	err = a.store.AckAlert(r.Context(), id, a.sessions.GetString(r.Context(), "user"), a.now())
	a.audit(r, outreach.ActionAlertAcknowledged, resultOf(err), "alert", strconv.FormatInt(id, 10), fmt.Sprintf("campaign=%d", campaign))
	if err != nil {
		a.internalError(w, r, "acknowledging the alert", err)
		return
	}
	a.log.Info("alert acknowledged", "campaign", campaign, "alert", id)
	a.flash(r, "Alert acknowledged.")
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// notifierOf returns the notifier the settings ask for (nil: none): an
// SMS to ALERT_SMS_TO through the campaigns' sender, and a signed POST to
// ALERT_WEBHOOK_URL.
func notifierOf(cfg *config, sender outreach.Sender) outreach.Notifier {
	var ns []outreach.Notifier
	if cfg.AlertSMSTo != "" {
		ns = append(ns, &notify.SMS{Sender: sender, From: cfg.PhoneNumber, To: cfg.AlertSMSTo, Link: cfg.PublicBaseURL + "/campaigns/"})
	}
	if cfg.AlertWebhookURL != "" {
		ns = append(ns, &notify.Webhook{URL: cfg.AlertWebhookURL, Secret: []byte(cfg.AlertWebhookSecret)})
	}
	if len(ns) == 0 {
		return nil
	}
	return notify.All(ns...)
}
