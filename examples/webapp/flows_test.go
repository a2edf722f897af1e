package main

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const customFlow = `{
  "id": "reminder",
  "name": "Appointment reminder",
  "steps": [
    {"id": "remind", "kind": "ask", "body": "Hi {{recipient.first_name}}, see you at {{data.clinic}} tomorrow. Can you come? Reply YES or NO",
     "answer": {"kind": "choice", "choices": [{"value": "YES"}, {"value": "NO"}]},
     "routes": [{"when": {"equals": "NO"}, "next": "sorry"}], "next": "thanks"},
    {"id": "thanks", "kind": "end", "body": "Thank you!", "outcome": "confirmed"},
    {"id": "sorry", "kind": "end", "body": "We will call you to find another time.", "outcome": "declined"}
  ]
}`

func TestFlowsPages(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	c.login(ta)

	resp, body := c.get("/flows")
	mustStatus(t, "flows", resp, body, http.StatusOK)
	for _, want := range []string{"Post-procedure check-in", "New member welcome", "Kidney disease study eligibility", "not deployed"} {
		if !strings.Contains(body, want) {
			t.Errorf("the flows page lacks %q", want)
		}
	}

	// A broken file: the error says where.
	resp, body = c.postFile("/flows", nil, "flow", "broken.json", []byte("{\n  \"id\": \"x\",\n  \"stepz\": []\n}"))
	mustStatus(t, "broken upload", resp, body, http.StatusSeeOther)
	_, body = c.get("/flows")
	if !strings.Contains(body, "broken.json: line 3, column") {
		t.Errorf("no line and column for a broken flow file:\n%s", body)
	}
	// A flow that does not validate: every problem is listed.
	resp, _ = c.postFile("/flows", nil, "flow", "invalid.json", []byte(`{"id": "bad", "steps": [{"id": "a", "kind": "send", "body": "hi", "next": "nowhere"}]}`))
	mustStatus(t, "invalid upload", resp, "", http.StatusSeeOther)
	if _, body = c.get("/flows"); !strings.Contains(body, "not valid") || !strings.Contains(body, "nowhere") {
		t.Errorf("no validation problems shown:\n%s", body)
	}
	// A built-in id is refused.
	c.postFile("/flows", nil, "flow", "provider.json", []byte(strings.Replace(customFlow, `"reminder"`, `"provider"`, 1)))
	if _, body = c.get("/flows"); !strings.Contains(body, "is a built-in flow") {
		t.Errorf("a flow replacing a built-in one was not refused:\n%s", body)
	}

	// A good flow is kept in the database and shown readably.
	resp, body = c.postFile("/flows", nil, "flow", "reminder.json", []byte(customFlow))
	mustStatus(t, "upload", resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/flows/reminder" {
		t.Fatalf("upload went to %q", loc)
	}
	if got := storedFile(t, ta.DBPath, "flows/reminder.json"); got != customFlow {
		t.Fatalf("the uploaded flow is not in the database as uploaded: %q", got)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(ta.DBPath), "uploaded-flows")); err == nil {
		t.Error("the app made a flows folder: flows live in the database")
	}
	resp, body = c.get("/flows/reminder")
	mustStatus(t, "flow page", resp, body, http.StatusOK)
	for _, want := range []string{"Appointment reminder", "one of: YES; NO", "answer is NO → sorry", "ends with outcome confirmed", "Deploy to Studio"} {
		if !strings.Contains(body, want) {
			t.Errorf("the flow page lacks %q", want)
		}
	}

	// Its sample CSV has the column its messages use.
	resp, body = c.get("/flows/reminder/sample.csv")
	mustStatus(t, "sample", resp, body, http.StatusOK)
	if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("sample CSV disposition %q", resp.Header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) < 2 || strings.Join(rows[0], ",") != "patient_id,patient_first_name,patient_phone,clinic" {
		t.Fatalf("sample CSV %q, %v", rows, err)
	}

	// Deploy to the fake Studio, then delete it there.
	resp, _ = c.postForm("/flows/reminder/deploy", nil)
	mustStatus(t, "deploy", resp, "", http.StatusSeeOther)
	_, body = c.get("/flows/reminder")
	if !strings.Contains(body, "revision 1") || !strings.Contains(body, "https://www.twilio.com/console/studio/flows/FW") {
		t.Fatalf("no deployed status after deploying:\n%s", body)
	}
	c.postForm("/flows/reminder/deploy", nil)
	if _, body = c.get("/flows"); !strings.Contains(body, "revision 2") {
		t.Errorf("a second deploy is not revision 2:\n%s", body)
	}
	c.postForm("/flows/reminder/undeploy", nil)
	if _, body = c.get("/flows/reminder"); !strings.Contains(body, "Deleted from Twilio Studio") || !strings.Contains(body, "not deployed") {
		t.Errorf("not undeployed:\n%s", body)
	}

	// Uploaded flows can be deleted, built-in ones cannot.
	c.postForm("/flows/provider/delete", nil)
	if resp, _ := c.get("/flows/provider"); resp.StatusCode != http.StatusOK {
		t.Errorf("the built-in flow is gone: %s", resp.Status)
	}
	c.postForm("/flows/reminder/delete", url.Values{})
	if resp, _ := c.get("/flows/reminder"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the deleted flow is still there: %s", resp.Status)
	}
}

func TestCampaignActionsAndExport(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	c.login(ta)
	// Two recipients, one with a name a spreadsheet would run as a formula.
	file := csvOf("patient_id,patient_first_name,patient_phone", "M-1,Ana,(440) 555-0142", "M-2,=cmd,(208) 555-0187")
	resp, body := c.postFile("/campaigns/new", map[string]string{"flow": "provider", "runtime": "embedded", "name": "Spring check-in"}, "recipients", "m.csv", file)
	mustStatus(t, "upload", resp, body, http.StatusSeeOther)
	resp, body = c.postForm(resp.Header.Get("Location")+"/start", nil)
	mustStatus(t, "start", resp, body, http.StatusSeeOther)
	page := resp.Header.Get("Location")

	_, body = c.get("/campaigns")
	if !strings.Contains(body, "Spring check-in") || !strings.Contains(body, "embedded") {
		t.Fatalf("the campaign is not listed:\n%s", body)
	}
	for _, step := range []struct{ action, want string }{
		{"pause", "paused"}, {"pause", "cannot be paused"}, {"resume", "resumed"}, {"cancel", "cancelled"}, {"resume", "cannot be resumed"},
	} {
		resp, body = c.postForm(page+"/"+step.action, nil)
		mustStatus(t, step.action, resp, body, http.StatusSeeOther)
		if _, body = c.get(page); !strings.Contains(body, step.want) {
			t.Errorf("after %s: the page does not say %q", step.action, step.want)
		}
	}

	resp, body = c.get(page + "/responses.csv")
	mustStatus(t, "export", resp, body, http.StatusOK)
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("export disposition %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("export rows %q, %v", rows, err)
	}
	if rows[2][1] != "'=cmd" || rows[2][7] != "cancelled" {
		t.Errorf("export row %q: want the formula neutralised and the outcome cancelled", rows[2])
	}

	// The live stream of a finished campaign sends its counters and ends.
	resp, body = c.get(page + "/events")
	mustStatus(t, "events", resp, body, http.StatusOK)
	if resp.Header.Get("Content-Type") != "text/event-stream" || !strings.Contains(body, "event: progress") ||
		!strings.Contains(body, `"status":"cancelled"`) || !strings.Contains(body, "event: finished") {
		t.Errorf("event stream %q:\n%s", resp.Header.Get("Content-Type"), body)
	}
	if resp, _ := c.get("/campaigns/999"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown campaign: %s", resp.Status)
	}
}

// TestStudioImportPage imports real Studio exports on the flows page: the
// page lists every problem with its widget and type; warnings keep the
// flow, errors do not.
func TestStudioImportPage(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	c := ta.client(t)
	c.login(ta)

	export, err := os.ReadFile(filepath.Join("..", "..", "studio", "testdata", "exports", "volunteer-chatbot-autopilot.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := c.postFile("/flows/import-studio", map[string]string{"name": "Volunteer bot"}, "definition", "volunteer-chatbot-autopilot.json", export)
	mustStatus(t, "studio import", resp, body, http.StatusOK)
	for _, want := range []string{
		`Imported as flow <a href="/flows/volunteer-chatbot-autopilot">`, "0 errors, 8 warnings",
		"<td>Trigger</td><td>trigger</td>", "<td>autopilot_1</td><td>send-to-auto-pilot</td>",
		"<td>send_to_flex_2</td><td>send-to-flex</td>", "unsupported: send-to-auto-pilot",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the import result lacks %q", want)
		}
	}
	if got := storedFile(t, ta.DBPath, "flows/volunteer-chatbot-autopilot.json"); !strings.Contains(got, `"source"`) || !strings.Contains(got, "send_to_flex_2") {
		t.Fatalf("the imported flow is not in the database with the Studio export it came from:\n%.500s", got)
	}
	if resp, body := c.get("/flows/volunteer-chatbot-autopilot"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Volunteer bot") {
		t.Errorf("imported flow page: %s", resp.Status)
	}

	// Errors: nothing is kept, and every problem is listed.
	broken := strings.Replace(string(export), `"name": "send_message_3"`, `"name": "send_message_1"`, 1)
	broken = strings.Replace(broken, `"initial_state": "Trigger"`, `"initial_state": "Start"`, 1)
	resp, body = c.postFile("/flows/import-studio", map[string]string{"id": "broken"}, "definition", "broken.json", []byte(broken))
	mustStatus(t, "studio import with errors", resp, body, http.StatusUnprocessableEntity)
	for _, want := range []string{"was not imported", "2 errors", "same name", `initial_state &#34;Start&#34;`, "<td>autopilot_1</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the failed import lacks %q", want)
		}
	}
	if got := storedFile(t, ta.DBPath, "flows/broken.json"); got != "" {
		t.Error("a flow with errors was kept")
	}
}
