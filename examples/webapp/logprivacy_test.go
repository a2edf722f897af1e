package main

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/internal/phicheck"
)

// privacyCampaign is the campaign name of the log privacy test: as an
// operator may type it, with a patient's name in it.
const privacyCampaign = "Oncology follow-up Zebulon"

// privacyPeople are its recipients, with names and replies found nowhere
// else, so that the check cannot pass by accident.
var privacyPeople = []struct {
	id, first, written, e164, confused string
}{
	{"ZQ-1", "Zebulon", "(440) 555-0142", "+14405550142", "Quixotic marmalade sandwich"},
	{"ZQ-2", "Philomena", "212.555.0129", "+12125550129", "Xylophone quagmire tonight"},
}

// TestLogsHoldNoPHI (issue 12): a full campaign in dev mode, on the
// embedded runtime and on Studio, with everything the app writes to
// stderr captured (its logs, the fake Twilio's and the Studio
// interpreter's, the dev-mode notices): no recipient's name, phone number
// in any format, reply, message body or campaign name appears in it.
// Each patient first answers with words the flow cannot read (so that
// the reply is distinctive and the re-ask path runs too), then "3" and
// "yes".
func TestLogsHoldNoPHI(t *testing.T) {
	t.Parallel()
	for _, runtime := range []string{"embedded", "studio"} {
		t.Run(runtime, func(t *testing.T) {
			t.Parallel()
			ta := startApp(t, func(cfg *config) { cfg.StudioPoll, cfg.sendRate = 100*time.Millisecond, 100 })
			c := ta.client(t)
			c.login(ta)
			rows := []string{"patient_id,patient_first_name,patient_phone"}
			for _, p := range privacyPeople {
				rows = append(rows, p.id+","+p.first+",\""+p.written+"\"")
			}
			resp, body := c.postFile("/campaigns/new", map[string]string{"flow": "provider", "runtime": runtime, "name": privacyCampaign},
				"recipients", "oncology-zebulon.csv", csvOf(rows...))
			mustStatus(t, "upload", resp, body, http.StatusSeeOther)
			resp, body = c.postForm(resp.Header.Get("Location")+"/start", nil)
			mustStatus(t, "start", resp, body, http.StatusSeeOther)
			page := resp.Header.Get("Location")
			if !strings.HasPrefix(page, "/campaigns/") {
				t.Fatalf("start went to %q:\n%s", page, ta.Stderr.String())
			}
			answerUntilDone(t, c, page)
			// A full campaign: every patient got through to the last question.
			resp, body = c.get(page + "/responses.csv")
			mustStatus(t, "export", resp, body, http.StatusOK)
			if n := strings.Count(body, "ask_followup,YES"); n != len(privacyPeople) {
				t.Fatalf("%d follow-up answers; want %d:\n%s", n, len(privacyPeople), body)
			}

			var s phicheck.Secrets
			s.Add("campaign name", privacyCampaign)
			for _, p := range privacyPeople {
				s.Add("first name", p.first)
				s.AddPhone(p.e164)
				s.Add("reply", p.confused)
			}
			_, sim := c.get("/simulator")
			bodies := threadBodies(sim)
			if len(bodies) < 2*len(privacyPeople) {
				t.Fatalf("the simulator shows %d messages:\n%s", len(bodies), sim)
			}
			s.Add("message body", bodies...)
			ta.Stop() // its last lines too
			s.Check(t, "web app stderr ("+runtime+" runtime)", ta.Stderr.String())
		})
	}
}

// answerUntilDone answers every question a privacyPeople phone waits on,
// as the simulator shows them, until the campaign page says done.
func answerUntilDone(t *testing.T, c *client, page string) {
	t.Helper()
	confused := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, body := c.get(page); strings.Contains(body, ">done<") {
			return
		}
		if time.Now().After(deadline) {
			_, sim := c.get("/simulator")
			t.Fatalf("the campaign did not end within 60s; simulator:\n%s", sim)
		}
		_, sim := c.get("/simulator")
		for _, p := range privacyPeople {
			q, waiting := waitingQuestion(sim, p.e164)
			if !waiting {
				continue
			}
			answer := "yes"
			switch {
			case !confused[p.e164]:
				answer, confused[p.e164] = p.confused, true
			case strings.Contains(q, "0-10") || strings.Contains(q, "0 to 10"):
				answer = "3"
			}
			resp, body := c.postForm("/simulator/reply", url.Values{"phone": {p.e164}, "body": {answer}})
			mustStatus(t, "reply "+answer, resp, body, http.StatusSeeOther)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	// A thread entry: its time (a <time> in a span), then the body.
	threadEntryRE = regexp.MustCompile(`<li class="(?:in|out)"><span class="muted">(?:[^<]|</?time[^>]*>)*</span> ([^<]*)</li>`)
	lastInRE      = regexp.MustCompile(`<li class="in"><span class="muted">(?:[^<]|</?time[^>]*>)*</span> ([^<]*)</li>`)
)

// waitingQuestion returns the last message phone received, when the
// simulator page shows the phone waiting for a reply.
func waitingQuestion(sim, phone string) (string, bool) {
	i := strings.Index(sim, `id="phone-`+strings.TrimPrefix(phone, "+")+`"`)
	if i < 0 {
		return "", false
	}
	section := sim[i:]
	if end := strings.Index(section, "</section>"); end >= 0 {
		section = section[:end]
	}
	if !strings.Contains(section, "waiting for a reply") {
		return "", false
	}
	m := lastInRE.FindAllStringSubmatch(section, -1)
	if len(m) == 0 {
		return "", false
	}
	return html.UnescapeString(m[len(m)-1][1]), true
}

// threadBodies returns every message body on the simulator page, sent
// and received, unescaped.
func threadBodies(sim string) []string {
	var out []string
	for _, m := range threadEntryRE.FindAllStringSubmatch(sim, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}
