package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/clocktest"
)

// TestOptOutsPage: behind login, the opt-outs page counts the opt-outs,
// imports a CRM file (every good row; the bad ones listed by line) and
// downloads them all as CSV.
func TestOptOutsPage(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	for _, path := range []string{"/optouts", "/optouts.csv"} {
		if resp, body := c.get(path); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("GET %s logged out: %s to %q; want 303 to /login\n%s", path, resp.Status, resp.Header.Get("Location"), body)
		}
	}
	resp, body := c.postFile("/optouts", nil, "optouts", "crm.csv", csvOf("phone", "4406443709"))
	mustStatus(t, "POST /optouts logged out", resp, body, http.StatusUnauthorized)

	c.login(ta)
	resp, body = c.get("/optouts")
	mustStatus(t, "GET /optouts", resp, body, http.StatusOK)
	if !strings.Contains(body, `<strong id="opted-out">0</strong>`) || !strings.Contains(body, `href="/optouts" aria-current="page"`) {
		t.Errorf("the page of an empty database:\n%s", body)
	}

	// Changes the CRM recorded before the app's (simulated) now.
	mayaAt, jonahAt := clocktest.Start(t).Add(-72*time.Hour), clocktest.Start(t).Add(-48*time.Hour)
	crm := csvOf("Name,Patient Phone,Opted Out,Changed At",
		"Maya,(440) 644-3709,yes,"+mayaAt.In(time.FixedZone("EST", -5*3600)).Format(time.RFC3339),
		"Jonah,808-941-2275,no,"+jonahAt.Format(time.RFC3339),
		"Lena,555-1234,yes,",
		"Rosa,440.644.3701,maybe,",
		"Ana,440.644.3702,,")
	resp, body = c.postFile("/optouts", nil, "optouts", "crm.csv", crm)
	mustStatus(t, "import with bad rows", resp, body, http.StatusUnprocessableEntity)
	for _, want := range []string{
		"crm.csv: 5 rows, 3 recorded, 2 with errors.",
		"Line 4, column phone: phone number is too short",
		"Line 5, column opted_out:",
		`<strong id="opted-out">2</strong>`, `<span id="opted-in">1</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the import's page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "555") || strings.Contains(body, "644") {
		t.Errorf("the import's page shows a phone number:\n%s", body)
	}

	resp, body = c.get("/optouts.csv")
	mustStatus(t, "GET /optouts.csv", resp, body, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("download headers: %v", resp.Header)
	}
	lines := strings.Split(strings.TrimPrefix(body, "\ufeff"), "\n")
	// Ana's row had no changed_at: it counts from the import, on the
	// app's clock.
	if len(lines) != 5 || lines[0] != "phone,opted_out,changed_at" || !strings.HasPrefix(lines[1], "'+14406443702,true,") ||
		lines[2] != "'+14406443709,true,"+mayaAt.Format(time.RFC3339) || lines[3] != "'+18089412275,false,"+jonahAt.Format(time.RFC3339) {
		t.Errorf("optouts.csv:\n%s", body)
	}

	// A file the reader cannot use changes nothing and says why.
	resp, body = c.postFile("/optouts", nil, "optouts", "names.csv", csvOf("name", "Maya"))
	mustStatus(t, "import without a phone column", resp, body, http.StatusSeeOther)
	_, body = c.get("/optouts")
	if !strings.Contains(body, "names.csv: csvio: header: missing required column phone") || !strings.Contains(body, `<strong id="opted-out">2</strong>`) {
		t.Errorf("after a file without a phone column:\n%s", body)
	}

	// Cross-site imports are refused.
	resp, body = c.postForm("/optouts", url.Values{"x": {"1"}}, "Sec-Fetch-Site", "cross-site")
	mustStatus(t, "cross-site POST /optouts", resp, body, http.StatusForbidden)
}
