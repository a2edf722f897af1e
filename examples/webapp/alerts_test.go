package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/notify"
)

// TestUrgentAndReviewOnCampaignPage: in dev mode, a patient answers the
// pain question with free text holding "worse", then with "I took 2
// pills". Nothing is read as a score: the conversation ends needs
// review; the campaign page counts it and lists the reply and why, and
// lists the urgent reply, whose alert went to the signed webhook at once;
// acknowledging it records who did; the responses CSV has both columns.
func TestUrgentAndReviewOnCampaignPage(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef-webhook"
	var (
		mu       sync.Mutex
		payloads []string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// The notifier signs with the system clock (no simulated time in
		// a signature), so it is checked against the system clock.
		if err := notify.Verify([]byte(secret), r.Header.Get(notify.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		payloads = append(payloads, string(body))
		mu.Unlock()
	}))
	defer hook.Close()
	ta := startApp(t, func(cfg *config) {
		cfg.AlertWebhookURL, cfg.AlertWebhookSecret = hook.URL, secret
	})
	c := ta.client(t)
	c.login(ta)
	page := startCampaign(t, c, "Review check-in", csvOf("patient_id,patient_first_name,patient_phone", "V-1,Ann,(440) 555-0142"))
	waitQuestion(t, c)
	reply(t, c, "was 2 yesterday, today it's worse")
	waitUntil(t, func() bool {
		_, body := c.get("/simulator")
		return strings.Contains(body, "Sorry, please reply with just a number")
	})
	waitQuestion(t, c)
	reply(t, c, "I took 2 pills")

	var body string
	waitUntil(t, func() bool {
		_, body = c.get(page)
		cnt := pageCounters(body)
		return cnt["needs_review"] == "1" && cnt["urgent"] == "1"
	})
	alerts := body[strings.Index(body, `<section id="alerts">`):]
	for _, want := range []string{"V-1", "<strong>worse</strong>", "was 2 yesterday, today it&#39;s worse", "Acknowledge"} {
		if !strings.Contains(alerts[:strings.Index(alerts, "</section>")], want) {
			t.Errorf("the alerts section lacks %q:\n%s", want, alerts)
		}
	}
	review := body[strings.Index(body, `<section id="review">`):]
	for _, want := range []string{"V-1 Ann", "I took 2 pills", "words besides the answer", "On a scale of 0-10"} {
		if !strings.Contains(review, want) {
			t.Errorf("the review section lacks %q:\n%s", want, review)
		}
	}
	waitUntil(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(payloads) == 1
	})
	if p := payloads[0]; !strings.Contains(p, `"terms":["worse"]`) || !strings.Contains(p, `"patient_id":"V-1"`) || strings.Contains(p, "yesterday") {
		t.Errorf("webhook payload %s", p)
	}

	resp, b := c.postForm(page+"/alerts/1/ack", nil)
	mustStatus(t, "acknowledge", resp, b, http.StatusSeeOther)
	_, body = c.get(page)
	if !strings.Contains(body, "acknowledged by admin") || pageCounters(body)["urgent"] != "0" {
		t.Errorf("after acknowledging: counters %v, page lacks who acknowledged", pageCounters(body))
	}
	resp, b = c.postForm(page+"/alerts/99/ack", nil)
	mustStatus(t, "acknowledge an unknown alert", resp, b, http.StatusNotFound)

	_, csv := c.get(page + "/responses.csv")
	for _, want := range []string{"outcome,review,alert", "needs_review,words besides the answer,worse\n", "I took 2 pills,", ",needs_review,words besides the answer,\n"} {
		if !strings.Contains(csv, want) {
			t.Errorf("responses CSV lacks %q:\n%s", want, csv)
		}
	}

	// After the conversation ended, the patient writes again with urgent
	// words: no conversation waits, so the campaigns page shows it.
	reply(t, c, "now I have chest pain")
	waitUntil(t, func() bool {
		_, body = c.get("/campaigns")
		return strings.Contains(body, `id="stray-alerts"`) && strings.Contains(body, "now I have chest pain")
	})
	if !strings.Contains(body, "<strong>chest pain</strong>") {
		t.Errorf("the stray alert does not show its words:\n%s", body)
	}
	resp, b = c.postForm("/alerts/2/ack", nil)
	mustStatus(t, "acknowledge the stray alert", resp, b, http.StatusSeeOther)
	if _, body = c.get("/campaigns"); !strings.Contains(body, "acknowledged by admin") {
		t.Errorf("the stray alert is not acknowledged:\n%s", body)
	}
	resp, b = c.postForm("/alerts/1/ack", nil) // a campaign's alert, not a stray one
	mustStatus(t, "acknowledge a campaign's alert as stray", resp, b, http.StatusNotFound)
}
