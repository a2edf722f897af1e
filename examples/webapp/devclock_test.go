package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// nightNY is 03:00 in New York (07:00 UTC) on a Wednesday: every US
// recipient is in quiet hours, as for a newcomer in Europe in the morning.
var nightNY = time.Date(2026, time.March, 11, 7, 0, 0, 0, time.UTC)

// startNightApp runs the app in dev mode with the default sending window
// (08:00-21:00) and the dev clock at nightNY.
func startNightApp(t *testing.T) *testApp {
	t.Helper()
	return startApp(t, func(cfg *config) {
		cfg.Window = mustWindow(t, "08:00-21:00")
		cfg.DevClockStart = nightNY
	})
}

func mustWindow(t *testing.T, v string) outreach.Window {
	t.Helper()
	w, err := parseWindow(v)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// startCampaign uploads file for the provider flow on the embedded
// runtime, starts it and returns the campaign page's path.
func startCampaign(t *testing.T, c *client, name string, file []byte) string {
	t.Helper()
	resp, body := c.postFile("/campaigns/new", map[string]string{"flow": "provider", "runtime": "embedded", "name": name}, "recipients", "r.csv", file)
	mustStatus(t, "upload", resp, body, http.StatusSeeOther)
	resp, body = c.postForm(resp.Header.Get("Location")+"/start", nil)
	mustStatus(t, "start", resp, body, http.StatusSeeOther)
	return resp.Header.Get("Location")
}

var counterRE = regexp.MustCompile(`data-counter="(\w+)">([^<]*)<`)

// counters reads the counters of a campaign page.
func pageCounters(body string) map[string]string {
	out := map[string]string{}
	for _, m := range counterRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestDeferredNoticeAndSkip: at night in every US zone, a campaign's page
// says who waits for the sending window, per zone, and when the next
// messages go out; Queued counts the recipients not reached yet; the dev
// skip moves the simulated clock to the earliest window (New York's), and
// only New York's recipient is then reached: Honolulu's still waits.
func TestDeferredNoticeAndSkip(t *testing.T) {
	t.Parallel()
	ta := startNightApp(t)
	c := ta.client(t)
	c.login(ta)
	page := startCampaign(t, c, "Night check-in", csvOf("patient_id,patient_first_name,patient_phone",
		"N-1,Ann,(440) 555-0142", "N-2,Kai,(808) 555-0100"))

	var body string
	waitUntil(t, func() bool {
		_, body = c.get(page)
		return pageCounters(body)["deferred"] == "2"
	})
	if got := pageCounters(body)["queued"]; got != "2" {
		t.Errorf("Queued is %s right after start; want 2 (recipients not reached yet)", got)
	}
	for _, want := range []string{
		`2</span> recipient(s) wait for their sending window`,
		`<time datetime="2026-03-11T12:00:00Z" data-local="datetime">Mar 11, 2026 12:00 UTC</time>`, "in 5 h",
		"<td>America/New_York</td><td>1</td><td>Wed 08:00 EDT</td>",
		"<td>Pacific/Honolulu</td><td>1</td><td>Wed 08:00 HST</td>",
		`action="/dev/skip"`, "Skip to the next sending window",
		`Simulated time: <time datetime="2026-03-11T07:`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the campaign page lacks %q:\n%s", want, body)
		}
	}
	if _, sim := c.get("/simulator"); !strings.Contains(sim, "Skip to the next sending window") || !strings.Contains(sim, "Ann") || !strings.Contains(sim, "Kai") {
		t.Errorf("the simulator lacks the skip control or the names:\n%s", sim)
	}

	id := strings.TrimPrefix(page, "/campaigns/")
	// A cross-site form cannot move the clock.
	resp, body := c.postForm("/dev/skip", url.Values{"campaign": {id}}, "Sec-Fetch-Site", "cross-site")
	mustStatus(t, "cross-site skip", resp, body, http.StatusForbidden)
	if _, body = c.get(page); !strings.Contains(body, `Simulated time: <time datetime="2026-03-11T07:`) {
		t.Fatalf("a cross-site skip moved the clock:\n%s", body)
	}
	resp, body = c.postForm("/dev/skip", url.Values{"campaign": {id}})
	mustStatus(t, "skip", resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != page {
		t.Fatalf("skip went to %s", loc)
	}
	if _, body = c.get(page); !strings.Contains(body, "moved forward 5 h") {
		t.Errorf("the skip's flash does not say how far the clock moved:\n%s", body)
	}
	waitUntil(t, func() bool {
		_, body = c.get(page)
		cnt := pageCounters(body)
		return cnt["sent"] == "1" && cnt["queued"] == "1" && cnt["deferred"] == "1"
	})
	for _, want := range []string{"<td>Pacific/Honolulu</td><td>1</td>", "in 6 h", `created <time datetime="2026-03-11T07:00:`} {
		if !strings.Contains(body, want) {
			t.Errorf("after the skip the page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<td>America/New_York</td>") {
		t.Errorf("New York's recipient still waits after the skip")
	}
}

// TestSkipAbsentWithRealTwilio: with real Twilio (here a fake standing in
// for it, outside dev mode) the skip endpoint does not exist, nor the
// simulator, nor DEV_CLOCK_START.
func TestSkipAbsentWithRealTwilio(t *testing.T) {
	t.Parallel()
	a, getenv := newRealServer(t, "https://outreach.example.org")
	if _, err := loadConfig([]string{"-env-file", "", "-dev-clock-start", "2026-03-11T07:00:00Z"}, getenv, &syncBuffer{}); err == nil {
		t.Error("DEV_CLOCK_START was taken with real Twilio")
	}
	if a.dev != nil {
		t.Fatal("dev mode with Twilio credentials")
	}
	for _, path := range []string{"/dev/skip", "/simulator/reply"} {
		req, _ := http.NewRequest(http.MethodPost, path, strings.NewReader("campaign=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("POST %s with real Twilio answered %d; want 404", path, rec.Code)
		}
	}
}

// TestDevClockStartSetting: DEV_CLOCK_START is an RFC 3339 instant.
func TestDevClockStartSetting(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	cfg, err := loadConfig([]string{"-env-file", "", "-dev-clock-start", "2026-03-11T03:00:00-04:00"}, none, &syncBuffer{})
	if err != nil || !cfg.DevClockStart.Equal(nightNY) || !cfg.Dev {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	if _, err := loadConfig([]string{"-env-file", "", "-dev-clock-start", "tomorrow 3am"}, none, &syncBuffer{}); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Fatalf("a bad DEV_CLOCK_START: %v", err)
	}
}
