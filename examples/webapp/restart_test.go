package main

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/outreach/twiliotest"
)

const annPhone = "+14405550142"

// waitQuestion waits until the simulator shows Ann's phone waiting for a
// reply, and returns the page.
func waitQuestion(t *testing.T, c *client) string {
	t.Helper()
	var body string
	waitUntil(t, func() bool {
		_, body = c.get("/simulator")
		i := strings.Index(body, `id="phone-14405550142"`)
		return i >= 0 && strings.Contains(body[i:min(len(body), i+400)], "waiting for a reply")
	})
	return body
}

func reply(t *testing.T, c *client, body string) {
	t.Helper()
	resp, page := c.postForm("/simulator/reply", url.Values{"phone": {annPhone}, "body": {body}})
	mustStatus(t, "reply "+body, resp, page, http.StatusSeeOther)
}

// TestRestartCarriesOn: the dev-mode app stops mid-campaign and starts
// again on the same database: the phones of unfinished campaigns are
// recreated with their names and history, and the conversation goes on
// to its end (before, every later message failed as unreachable, 21612).
func TestRestartCarriesOn(t *testing.T) {
	t.Parallel()
	testRestartCarriesOn(t, func(*config) {})
}

// TestRestartCarriesOnPostgres is TestRestartCarriesOn with DATABASE_URL
// a Postgres schema of its own: a campaign runs end to end through the
// web app on pgstore, across a restart.
func TestRestartCarriesOnPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	testRestartCarriesOn(t, func(cfg *config) { cfg.DatabasePath = db })
}

func testRestartCarriesOn(t *testing.T, withDB func(*config)) {
	ta := startApp(t, withDB)
	c := ta.client(t)
	c.login(ta)
	page := startCampaign(t, c, "Restart check-in", csvOf("patient_id,patient_first_name,patient_phone", "R-1,Ann,(440) 555-0142"))
	waitQuestion(t, c)
	ta.Stop()

	ta2 := startApp(t, func(cfg *config) { cfg.DatabasePath = ta.DBPath })
	c2 := ta2.client(t)
	c2.login(ta2)
	sim := waitQuestion(t, c2)
	if !strings.Contains(sim, `<span class="names">Ann</span>`) || !strings.Contains(sim, "(before the restart)") {
		t.Fatalf("after the restart the simulator lacks Ann's name or her history:\n%s", sim)
	}
	reply(t, c2, "3")
	waitUntil(t, func() bool {
		_, body := c2.get("/simulator")
		return strings.Contains(body, "specialist") || strings.Count(body, "?") >= 2
	})
	waitQuestion(t, c2)
	reply(t, c2, "yes")
	waitUntil(t, func() bool {
		_, body := c2.get(page)
		return strings.Contains(body, ">done<")
	})
	resp, body := c2.get(page + "/responses.csv")
	mustStatus(t, "export", resp, body, http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	if err != nil || len(rows) != 3 || rows[2][7] != "followup_scheduled" {
		t.Fatalf("responses after the restart %q, %v", rows, err)
	}
	if strings.Contains(ta2.Stderr.String(), "21612") {
		t.Errorf("a message failed as unreachable after the restart:\n%s", ta2.Stderr.String())
	}
}

// TestKeywordsInDevMode: HELP gets the app's help text on the simulated
// phone (the fake sends the webhook's TwiML answer), and STOP gets
// Twilio's confirmation once, from the fake: the app sends none of its
// own, and the conversation ends opted out.
func TestKeywordsInDevMode(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	c.login(ta)
	page := startCampaign(t, c, "Keywords", csvOf("patient_id,patient_first_name,patient_phone", "K-1,Ann,(440) 555-0142"))
	waitQuestion(t, c)
	reply(t, c, "HELP")
	waitUntil(t, func() bool {
		_, body := c.get("/simulator")
		return strings.Contains(body, outreach.DefaultHelpReply[:60])
	})
	reply(t, c, "STOP")
	var body string
	waitUntil(t, func() bool {
		_, body = c.get(page)
		return pageCounters(body)["opted_out"] == "1"
	})
	waitUntil(t, func() bool {
		_, body = c.get("/simulator")
		return strings.Contains(body, "You have successfully been unsubscribed")
	})
	if n := strings.Count(body, "successfully been unsubscribed"); n != 1 {
		t.Errorf("the phone got %d opt-out confirmations; want Twilio's only:\n%s", n, body)
	}
	if !strings.Contains(body, twiliotest.OptOutConfirmation[:40]) {
		t.Errorf("the confirmation is not Twilio's default")
	}
}
