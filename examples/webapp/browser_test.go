package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowser walks the whole blueprint in Debian's chromium, headless,
// against the app in dev mode on http://localhost: log in (a wrong code
// first), deploy a flow to the fake Studio, upload a CSV with a bad row,
// start a campaign, answer as the patient in the phone simulator in a
// second tab while the first tab's counters move by Server-Sent Events,
// and download the responses. Screenshots of each page are kept in a
// temporary folder (logged), or in $WEBAPP_SCREENSHOTS.
func TestBrowser(t *testing.T) {
	t.Parallel()
	ta := startApp(t, nil)
	b := newBrowser(t, "blueprint", 75*time.Second)
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	t.Logf("screenshots in %s", b.shots)
	ctx := b.ctx
	do, text, shot := b.do, b.text, b.shot
	waitJS := b.waitJS
	var simTab context.Context
	defer func() {
		if t.Failed() {
			shot(ctx, "failure-main-tab")
			if simTab != nil {
				shot(simTab, "failure-simulator-tab")
			}
		}
	}()

	// Log in: the password, then a wrong code, then the right one.
	do(ctx, "open the app", chromedp.Navigate(ta.URL+"/"), chromedp.WaitVisible("#password"))
	shot(ctx, "login")
	do(ctx, "password", chromedp.SendKeys("#user", "admin"), chromedp.SendKeys("#password", ta.Password), chromedp.Click("#password-submit"), chromedp.WaitVisible("#code"))
	code := ta.nextCode(t)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	do(ctx, "wrong code", chromedp.SendKeys("#code", wrong), chromedp.Click("#code-submit"), chromedp.WaitVisible("p.error"))
	if msg := text(ctx, "p.error"); !strings.Contains(msg, "code is not right") {
		t.Fatalf("wrong code message %q", msg)
	}
	shot(ctx, "wrong-code")
	do(ctx, "right code", chromedp.SendKeys("#code", code), chromedp.Click("#code-submit"), chromedp.WaitVisible("a.button[href='/campaigns/new']"))
	shot(ctx, "campaigns-empty")
	if banner := text(ctx, ".devbanner"); !strings.Contains(banner, "Dev mode") {
		t.Errorf("no dev banner: %q", banner)
	}

	// Deploy the provider flow to the fake Studio.
	do(ctx, "flows page", chromedp.Navigate(ta.URL+"/flows"), chromedp.WaitVisible("#flow-provider"))
	shot(ctx, "flows")
	do(ctx, "deploy", chromedp.Navigate(ta.URL+"/flows/provider"), chromedp.WaitVisible("#deploy"),
		chromedp.Click("#deploy"), chromedp.WaitVisible("p.flash"))
	if s := text(ctx, "#studio-status"); !strings.Contains(s, "deployed") || strings.Contains(s, "not deployed") {
		t.Fatalf("studio status after deploying: %q", s)
	}
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#studio-status a").href`))
	if err != nil || !strings.HasPrefix(href, "https://www.twilio.com/console/studio/flows/FW") {
		t.Fatalf("console link %q, %v", href, err)
	}
	shot(ctx, "flow-deployed")

	// A CSV with a bad row: its line is shown, nothing is sent.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(bad, []byte("patient_id,patient_first_name,patient_phone\nP-1,Ann,(440) 555-0142\nP-2,Bob,555-01\n"), 0o600)
	os.WriteFile(good, []byte("patient_id,patient_first_name,patient_phone\nP-1,Ann,(440) 555-0142\n"), 0o600)
	upload := func(file string) {
		t.Helper()
		do(ctx, "upload "+filepath.Base(file), chromedp.Navigate(ta.URL+"/campaigns/new"), chromedp.WaitVisible("#recipients"),
			chromedp.SetValue("#flow", "provider"), chromedp.SetValue("#runtime", "embedded"),
			chromedp.SetUploadFiles("#recipients", []string{file}), chromedp.Click("#upload"), chromedp.WaitVisible("#summary"))
	}
	do(ctx, "new campaign page", chromedp.Navigate(ta.URL+"/campaigns/new"), chromedp.WaitVisible("#recipients"))
	shot(ctx, "new-campaign")
	upload(bad)
	if s := text(ctx, "#row-errors"); !strings.Contains(s, "Line 3, column patient_phone") {
		t.Fatalf("the bad row's line is not shown: %q", s)
	}
	shot(ctx, "preview-bad-row")

	// The good file: preview, then start.
	upload(good)
	if s := text(ctx, "main"); !strings.Contains(s, "Hi Ann") || strings.Contains(s, "Errors:") {
		t.Fatalf("preview of the good file: %q", s)
	}
	shot(ctx, "preview")
	do(ctx, "start", chromedp.Click("#start"), chromedp.WaitVisible("#progress"))
	campaignURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	// A mark that a reload or navigation would wipe out.
	do(ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.__noReload = true`))
	waitJS(ctx, "the first messages to be sent", `document.querySelector("[data-counter=sent]").textContent === "2"`)
	shot(ctx, "campaign-running")

	// Answer as the patient, in a second tab.
	simTab = b.tab()
	answer := func(reply string) { t.Helper(); b.reply(simTab, ta.URL, "14405550142", reply) }
	answer("3")
	waitJS(ctx, "the first reply on the campaign page", `document.querySelector("[data-counter=replied]").textContent === "1"`)
	answer("yes")
	waitJS(ctx, "the campaign to finish on the open page",
		`document.querySelector("[data-counter=status]").textContent === "done" && document.querySelector("[data-counter=completed]").textContent === "1" && document.querySelector("[data-counter=replied]").textContent === "2"`)
	shot(simTab, "simulator-done")
	stayed, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__noReload === true`))
	if err != nil || !stayed {
		t.Fatalf("the campaign page was reloaded or left (%v): the counters must move by Server-Sent Events", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != campaignURL {
		t.Fatalf("the campaign tab moved to %s", loc)
	}
	shot(ctx, "campaign-done")

	// Download the responses through the browser's session.
	type download struct {
		Status      int    `json:"status"`
		Disposition string `json:"disposition"`
		Body        string `json:"body"`
	}
	dl, err := chromedp.Run(ctx, chromedp.Evaluate[download](`fetch(document.querySelector("#download").href).then(async r => ({status: r.status, disposition: r.headers.get("content-disposition") || "", body: await r.text()}))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if dl.Status != 200 || !strings.HasPrefix(dl.Disposition, "attachment;") {
		t.Fatalf("download: status %d, disposition %q", dl.Status, dl.Disposition)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(dl.Body, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatalf("responses CSV: %v\n%s", err, dl.Body)
	}
	want := [][]string{
		{"patient_id", "patient_first_name", "patient_phone", "question_id", "answer", "raw_reply", "replied_at", "outcome", "review", "alert"},
		{"P-1", "Ann", "'+14405550142", "ask_pain", "3", "3", "*", "followup_scheduled"},
		{"P-1", "Ann", "'+14405550142", "ask_followup", "YES", "yes", "*", "followup_scheduled"},
	}
	if len(rows) != len(want) {
		t.Fatalf("responses CSV has %d rows; want %d:\n%s", len(rows), len(want), dl.Body)
	}
	for i := range want {
		for j := range want[i] {
			if want[i][j] != "*" && rows[i][j] != want[i][j] {
				t.Errorf("responses row %d column %s = %q; want %q", i, want[0][j], rows[i][j], want[i][j])
			}
		}
	}
	do(ctx, "campaigns list", chromedp.Navigate(ta.URL+"/campaigns"), chromedp.WaitVisible("table.list"))
	shot(ctx, "campaigns")
}
