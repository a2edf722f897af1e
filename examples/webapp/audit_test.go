package main

import (
	"encoding/csv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/internal/phicheck"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
)

// TestAuditTrail: each administrative action the app offers leaves one
// audit entry, in order, with the user, the time (the app's clock), the
// action, its result and the object's id; the Audit page filters them
// and the CSV download holds no PHI.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	for _, path := range []string{"/audit", "/audit.csv"} {
		if resp, body := c.get(path); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("GET %s logged out: %s to %q; want 303 to /login\n%s", path, resp.Status, resp.Header.Get("Location"), body)
		}
	}

	const (
		campaignName = "Audit Zebulon follow-up"
		patientName  = "Zebulon"
		patientReply = "my knee is worse since Tuesday"
		optOutName   = "Marguerite"
		optOutPhone  = "+18089412275"
	)
	resp, body := c.postForm("/login", map[string][]string{"user": {"admin"}, "password": {"not the password"}})
	mustStatus(t, "wrong password", resp, body, http.StatusSeeOther)
	c.login(ta)

	resp, body = c.postForm("/flows/provider/deploy", nil)
	mustStatus(t, "deploy", resp, body, http.StatusSeeOther)
	resp, body = c.postForm("/flows/provider/undeploy", nil)
	mustStatus(t, "undeploy", resp, body, http.StatusSeeOther)

	page := startCampaign(t, c, campaignName, csvOf("patient_id,patient_first_name,patient_phone", "A-1,"+patientName+",(440) 555-0142"))
	campaignID := strings.TrimPrefix(page, "/campaigns/")
	for _, action := range []string{"pause", "resume", "resume"} { // the second resume fails: it runs
		resp, body = c.postForm(page+"/"+action, nil)
		mustStatus(t, action, resp, body, http.StatusSeeOther)
	}
	waitQuestion(t, c)
	reply(t, c, patientReply)
	waitUntil(t, func() bool {
		_, body = c.get(page)
		return pageCounters(body)["urgent"] == "1"
	})
	resp, body = c.postForm(page+"/alerts/1/ack", nil)
	mustStatus(t, "acknowledge", resp, body, http.StatusSeeOther)
	resp, body = c.get(page + "/responses.csv")
	mustStatus(t, "export responses", resp, body, http.StatusOK)
	resp, body = c.postForm(page+"/cancel", nil)
	mustStatus(t, "cancel", resp, body, http.StatusSeeOther)

	resp, body = c.postFile("/optouts", nil, "optouts", "crm.csv", csvOf("name,phone", optOutName+",808-941-2275"))
	mustStatus(t, "import opt-outs", resp, body, http.StatusOK)
	resp, body = c.get("/optouts.csv")
	mustStatus(t, "export opt-outs", resp, body, http.StatusOK)

	resp, body = c.get("/audit")
	mustStatus(t, "audit page", resp, body, http.StatusOK)
	if !strings.Contains(body, `href="/audit" aria-current="page"`) || strings.Count(body, `<tr class="audit-entry">`) != 14 {
		t.Errorf("the audit page does not list the 14 entries before it:\n%s", body)
	}
	resp, body = c.get("/audit.csv")
	mustStatus(t, "audit CSV", resp, body, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("download headers: %v", resp.Header)
	}

	type want struct{ action, result, objectType, objectID string }
	wants := []want{
		{outreach.ActionLoginFailed, "failed", "user", "admin"},
		{outreach.ActionLoginSucceeded, "ok", "user", "admin"},
		{outreach.ActionFlowDeployed, "ok", "flow", "provider"},
		{outreach.ActionFlowDeleted, "ok", "flow", "provider"},
		{outreach.ActionCampaignCreated, "ok", "campaign", campaignID},
		{outreach.ActionCampaignStarted, "ok", "campaign", campaignID},
		{outreach.ActionCampaignPaused, "ok", "campaign", campaignID},
		{outreach.ActionCampaignResumed, "ok", "campaign", campaignID},
		{outreach.ActionCampaignResumed, "failed", "campaign", campaignID},
		{outreach.ActionAlertAcknowledged, "ok", "alert", "1"},
		{outreach.ActionResponsesExported, "ok", "campaign", campaignID},
		{outreach.ActionCampaignCancelled, "ok", "campaign", campaignID},
		{outreach.ActionOptOutsImported, "ok", "", ""},
		{outreach.ActionOptOutsExported, "ok", "", ""},
		{outreach.ActionAuditViewed, "ok", "", ""},
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	if err != nil || len(rows) != len(wants)+1 {
		t.Fatalf("audit CSV: %d rows, %v; want %d entries\n%s", len(rows)-1, err, len(wants), body)
	}
	if got := strings.Join(rows[0], ","); got != "id,at,actor,action,result,object_type,object_id,client,detail" {
		t.Errorf("header %q", got)
	}
	start := clocktest.Start(t)
	var last time.Time
	for i, w := range wants {
		row := rows[i+1]
		at, err := time.Parse(time.RFC3339, row[1])
		// The times are the app's (simulated) clock's, in order.
		if err != nil || at.Before(start) || at.Before(last) || at.After(start.Add(time.Hour)) {
			t.Errorf("entry %d at %q (%v): want an increasing time from %v", i+1, row[1], err, start)
		}
		last = at
		if row[2] != "admin" || row[3] != w.action || row[4] != w.result || row[5] != w.objectType || row[6] != w.objectID || row[7] != "127.0.0.x" {
			t.Errorf("entry %d = %q; want admin %s %s %s %s from 127.0.0.x", i+1, row, w.action, w.result, w.objectType, w.objectID)
		}
	}
	if d := rows[1][8]; d != "step=password reason=wrong_password" {
		t.Errorf("the failed login's detail is %q", d)
	}

	var s phicheck.Secrets
	s.Add("first name", patientName, optOutName)
	s.AddPhone(annPhone)
	s.AddPhone(optOutPhone)
	s.Add("reply", patientReply)
	s.Add("campaign name", campaignName)
	s.Add("password", ta.Password, "not the password")
	s.Check(t, "audit CSV", body)

	// The download itself is recorded after the view; filters select.
	_, body = c.get("/audit.csv?action=audit.exported")
	if rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll(); err != nil || len(rows) != 2 || rows[1][8] != "rows=15" {
		t.Errorf("the audit.exported entries: %q, %v", rows, err)
	}
	_, body = c.get("/audit?object=campaign:" + campaignID + "&action=campaign.resumed")
	if n := strings.Count(body, `<tr class="audit-entry">`); n != 2 {
		t.Errorf("filtered by object and action: %d entries, want 2\n%s", n, body)
	}
	_, body = c.get("/audit?actor=nobody")
	if !strings.Contains(body, "No entry matches.") {
		t.Errorf("filtered by an unknown actor:\n%s", body)
	}
	resp, body = c.get("/audit?since=yesterday")
	mustStatus(t, "a bad date", resp, body, http.StatusBadRequest)
	day := start.Local().Format(time.DateOnly)
	_, body = c.get("/audit?since=" + day + "&until=" + day + "&action=login.failed")
	if n := strings.Count(body, `<tr class="audit-entry">`); n != 1 {
		t.Errorf("filtered by the day: %d login failures, want 1\n%s", n, body)
	}
}

// TestAuditDenied: a refused action is recorded with result denied, and
// a request without a logged-in user by "anonymous"; a store that fails
// does not fail the request.
func TestAuditDenied(t *testing.T) {
	t.Parallel()
	a, _ := newRealServer(t, "https://outreach.example.org")
	h := a.sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.sessions.Put(r.Context(), "user", "viewer1")
		a.auditDenied(r, outreach.ActionCampaignStarted, "campaign", "12")
		a.sessions.Remove(r.Context(), "user")
		a.audit(r, outreach.ActionLoginFailed, outreach.ResultFailed, "", "", "")
	}))
	req := httptest.NewRequest(http.MethodPost, "/campaigns/12/start", nil)
	req.RemoteAddr = "[2001:db8:1:2:3:4:5:6]:4711"
	h.ServeHTTP(httptest.NewRecorder(), req)
	es, err := a.store.Audit(t.Context(), outreach.AuditFilter{})
	if err != nil || len(es) != 2 {
		t.Fatalf("Audit = %+v, %v; want 2 entries", es, err)
	}
	if e := es[0]; e.Actor != "viewer1" || e.Action != outreach.ActionCampaignStarted || e.Result != outreach.ResultDenied ||
		e.ObjectType != "campaign" || e.ObjectID != "12" || e.Client != "2001:db8:1:2::x" {
		t.Errorf("denied entry %+v", e)
	}
	if e := es[1]; e.Actor != "anonymous" {
		t.Errorf("entry without a user %+v", e)
	}

	// A store that fails: the request goes on, the failure is logged
	// with ids only.
	var logs syncBuffer
	a.log = slog.New(slog.NewTextHandler(&logs, nil))
	if err := a.store.Close(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.auditAs(r, "viewer1", outreach.ActionCampaignStarted, outreach.ResultDenied, "campaign", "12", "")
		w.WriteHeader(http.StatusForbidden)
	}).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/campaigns/12/start", nil))
	if rec.Code != http.StatusForbidden || !strings.Contains(logs.String(), `msg="audit entry not recorded" action=campaign.started result=denied object_type=campaign object_id=12`) {
		t.Errorf("with a closed store: status %d, logs %q", rec.Code, logs.String())
	}
}

func TestMaskClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.17:4711", "192.0.2.x"},
		{"192.0.2.17", "192.0.2.x"},
		{"[2001:db8:1:2:3:4:5:6]:80", "2001:db8:1:2::x"},
		{"[::1]:80", "::x"},
		{"not an address", ""},
		{"", ""},
	} {
		if got := maskClient(tc.in); got != tc.want {
			t.Errorf("maskClient(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
