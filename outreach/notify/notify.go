// Package notify tells people about alerts ([outreach.Alert]): an SMS to an
// on-call phone through the campaign's own [outreach.Sender], and a signed
// webhook POST to the user's own system. Both carry ids and the urgent
// terms found, never the patient's message or name: whoever is told opens
// the campaign to read the reply.
//
//	runner := outreach.NewRunner(store, sender, outreach.RunnerOptions{
//		Notifier: notify.All(
//			&notify.SMS{Sender: sender, From: "+15005550006", To: onCall},
//			&notify.Webhook{URL: "https://ehr.example.org/outreach-alerts", Secret: secret},
//		),
//	})
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// SMS texts an on-call phone through a Sender.
type SMS struct {
	Sender   outreach.Sender
	From, To string // E.164
	// Link, when set, is added to the text with the campaign id appended
	// ("https://outreach.example.org/campaigns/" gives .../campaigns/12).
	Link string
}

// Text is the message SMS sends for a: ids and terms only.
func (n *SMS) Text(a outreach.Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Urgent patient reply (alert %d", a.ID)
	if a.CampaignID != 0 {
		fmt.Fprintf(&b, ", campaign %d, conversation %d", a.CampaignID, a.ConversationID)
	}
	fmt.Fprintf(&b, "): %s. Please read it now.", strings.Join(a.Terms, ", "))
	if n.Link != "" && a.CampaignID != 0 {
		fmt.Fprintf(&b, " %s%d", n.Link, a.CampaignID)
	}
	return b.String()
}

// Notify implements [outreach.Notifier].
func (n *SMS) Notify(ctx context.Context, a outreach.Alert) error {
	if n.Sender == nil || n.To == "" || n.From == "" {
		return errors.New("notify: SMS needs a Sender, From and To")
	}
	// The key names the alert: a provider that tags messages by key sees
	// each try of one alert as the same message.
	key := outreach.SendKey{Step: "alert-" + strconv.FormatInt(a.ID, 10), Attempt: a.Tries}
	if _, err := n.Sender.Send(ctx, outreach.OutboundMessage{Key: key, From: n.From, To: n.To, Body: n.Text(a)}); err != nil {
		// Only the kind and code: a provider's message can quote the
		// on-call number, and this error reaches logs.
		var se *outreach.SendError
		if errors.As(err, &se) {
			return fmt.Errorf("notify: SMS for alert %d to %s: send %s (code %s)", a.ID, outreach.MaskPhone(n.To), se.Kind, se.Code)
		}
		return fmt.Errorf("notify: SMS for alert %d to %s failed", a.ID, outreach.MaskPhone(n.To))
	}
	return nil
}

// SignatureHeader carries a webhook's signature: "t=UNIX,v1=HEX", where
// HEX is the HMAC-SHA256, keyed by the shared secret, of "UNIX." followed
// by the request body. [Verify] checks it.
const SignatureHeader = "Outreach-Signature"

// Webhook POSTs each alert as JSON ([Payload]) to URL, signed with Secret.
// Any 2xx answer is success; anything else is retried by the runner.
type Webhook struct {
	URL    string
	Secret []byte
	// Client makes the request; nil means a client with a 10 s timeout.
	Client *http.Client
	// Now tells the time of the signature; nil means time.Now.
	Now func() time.Time
}

// Payload is the JSON body of a webhook: the alert's ids, terms and times.
type Payload struct {
	AlertID        int64     `json:"alert_id"`
	CampaignID     int64     `json:"campaign_id"`
	ConversationID int64     `json:"conversation_id"`
	MessageID      int64     `json:"message_id"`
	PatientID      string    `json:"patient_id,omitempty"`
	Terms          []string  `json:"terms"`
	At             time.Time `json:"at"`
	Try            int       `json:"try"`
}

var defaultClient = &http.Client{Timeout: 10 * time.Second}

// Notify implements [outreach.Notifier].
func (n *Webhook) Notify(ctx context.Context, a outreach.Alert) error {
	if n.URL == "" || len(n.Secret) == 0 {
		return errors.New("notify: Webhook needs a URL and a Secret")
	}
	body, err := json.Marshal(Payload{AlertID: a.ID, CampaignID: a.CampaignID, ConversationID: a.ConversationID,
		MessageID: a.MessageID, PatientID: a.PatientID, Terms: a.Terms, At: a.At.UTC(), Try: a.Tries})
	if err != nil {
		return fmt.Errorf("notify: webhook for alert %d: %w", a.ID, err)
	}
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify: webhook for alert %d: %w", a.ID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(n.Secret, now(), body))
	client := n.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("notify: webhook for alert %d: %w", a.ID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notify: webhook for alert %d: %s answered %s", a.ID, req.URL.Redacted(), resp.Status)
	}
	return nil
}

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return m.Sum(nil)
}

// ErrBadSignature is returned by [Verify] for a missing, malformed, wrong
// or stale signature.
var ErrBadSignature = errors.New("notify: bad webhook signature")

// Verify checks a webhook's SignatureHeader value against body and the
// shared secret, and that it was made within tolerance of now (replays of
// old requests fail). Receivers call it before trusting the payload.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: want t=UNIX,v1=HEX", ErrBadSignature)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, ts, body)) {
		return fmt.Errorf("%w: it does not match the body", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: made %s from now, outside %s", ErrBadSignature, d.Round(time.Second), tolerance)
	}
	return nil
}

// All notifies through each notifier in turn. When one fails, All fails
// and the runner tries again later; a notifier that succeeded for an
// alert is not called again for it by this process (a restart forgets
// which did: receivers may see an Alert.ID twice).
func All(ns ...outreach.Notifier) outreach.Notifier {
	var (
		mu   sync.Mutex
		done = map[int64]map[int]bool{} // alert -> notifiers that succeeded
	)
	return outreach.NotifierFunc(func(ctx context.Context, a outreach.Alert) error {
		var errs []error
		for i, n := range ns {
			mu.Lock()
			ok := done[a.ID][i]
			mu.Unlock()
			if ok {
				continue
			}
			if err := n.Notify(ctx, a); err != nil {
				errs = append(errs, err)
				continue
			}
			mu.Lock()
			if done[a.ID] == nil {
				done[a.ID] = map[int]bool{}
			}
			done[a.ID][i] = true
			mu.Unlock()
		}
		if len(errs) == 0 {
			mu.Lock()
			delete(done, a.ID)
			mu.Unlock()
		}
		return errors.Join(errs...)
	})
}
