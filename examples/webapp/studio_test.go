package main

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestStudioCampaign runs a campaign on the Studio runtime in dev mode:
// the flow is deployed to the fake Studio, the number's replies go to the
// flow's executions (the fake's interpreter runs them), the patient
// answers in the phone simulator, the answers are collected into the
// responses CSV, an embedded campaign on the number is refused meanwhile,
// and the number is given back.
func TestStudioCampaign(t *testing.T) {
	t.Parallel()
	ta := startApp(t, func(cfg *config) { cfg.StudioPoll = 100 * time.Millisecond })
	c := ta.client(t)
	c.login(ta)
	file := csvOf("patient_id,patient_first_name,patient_phone", "S-1,Ana,(440) 555-0142")
	resp, body := c.postFile("/campaigns/new", map[string]string{"flow": "provider", "runtime": "studio", "name": "Studio check-in"}, "recipients", "s.csv", file)
	mustStatus(t, "upload", resp, body, http.StatusSeeOther)
	resp, body = c.postForm(resp.Header.Get("Location")+"/start", nil)
	mustStatus(t, "start", resp, body, http.StatusSeeOther)
	page := resp.Header.Get("Location")
	if _, body = c.get(page); !strings.Contains(body, "studio runtime") {
		t.Errorf("the campaign page does not name the studio runtime:\n%s", body)
	}

	// The patient answers each question as it arrives.
	for _, answer := range []string{"3", "yes"} {
		waitUntil(t, func() bool {
			_, body := c.get("/simulator")
			return strings.Count(body, "?") >= 1 && strings.Contains(body, "14405550142")
		})
		before := questions(c)
		resp, body := c.postForm("/simulator/reply", url.Values{"phone": {"+14405550142"}, "body": {answer}})
		mustStatus(t, "reply "+answer, resp, body, http.StatusSeeOther)
		if answer == "3" {
			waitUntil(t, func() bool { return questions(c) > before })
		}
	}
	waitUntil(t, func() bool {
		_, body := c.get(page)
		return strings.Contains(body, ">done<")
	})

	resp, body = c.get(page + "/responses.csv")
	mustStatus(t, "export", resp, body, http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("export rows %q, %v", rows, err)
	}
	if got := rows[1][3] + "=" + rows[1][4] + " " + rows[2][3] + "=" + rows[2][4] + " " + rows[2][7]; got != "ask_pain=3 ask_followup=YES followup_scheduled" {
		t.Errorf("responses %q", rows)
	}

	// While the Studio flow owns the number, embedded campaigns are refused.
	_, body = c.get("/flows")
	if !strings.Contains(body, "studio runtime") || !strings.Contains(body, "/number/release") {
		t.Errorf("the flows page does not say Studio owns the number:\n%s", body)
	}
	resp, body = c.postFile("/campaigns/new", map[string]string{"flow": "provider", "runtime": "embedded"}, "recipients", "e.csv", file)
	mustStatus(t, "upload", resp, body, http.StatusSeeOther)
	upload := resp.Header.Get("Location")
	resp, body = c.postForm(upload+"/start", nil)
	mustStatus(t, "start embedded", resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != upload {
		t.Fatalf("an embedded campaign on the number Studio owns went to %s", loc)
	}
	if _, body = c.get(upload); !strings.Contains(body, "is owned by the studio runtime") {
		t.Errorf("the refusal does not say who owns the number:\n%s", body)
	}
	resp, body = c.postForm("/number/release", nil)
	mustStatus(t, "release", resp, body, http.StatusSeeOther)
	if _, body = c.get("/flows"); !strings.Contains(body, "the embedded runtime") {
		t.Errorf("after release the flows page says:\n%s", body)
	}
}

// questions counts the question marks on the simulator page: one per
// question a phone received.
func questions(c *client) int {
	_, body := c.get("/simulator")
	return strings.Count(body, "?")
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
