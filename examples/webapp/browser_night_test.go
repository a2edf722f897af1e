package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserNight is the newcomer's trial: the dev clock starts at 03:00
// in New York (07:00 UTC), so every US recipient is in quiet hours. The
// campaign page says when the deferred messages will go out, in the
// viewer's zone (Chicago here) and per recipient zone; "Skip to the next
// sending window" moves the simulated clock to New York's 08:00, the
// patient answers on the simulator, a second skip reaches Honolulu's
// 08:00, and the campaign finishes.
func TestBrowserNight(t *testing.T) {
	t.Parallel()
	ta := startNightApp(t)
	b := newBrowser(t, "night", 55*time.Second, chromedp.Env("TZ=America/Chicago"))
	ctx := b.ctx
	do, waitJS, text, flash, shot := b.do, b.waitJS, b.text, b.flash, b.shot

	do(ctx, "open the app", chromedp.Navigate(ta.URL+"/"), chromedp.WaitVisible("#password"),
		chromedp.SendKeys("#user", "admin"), chromedp.SendKeys("#password", ta.Password), chromedp.Click("#password-submit"), chromedp.WaitVisible("#code"))
	do(ctx, "code", chromedp.SendKeys("#code", ta.nextCode(t)), chromedp.Click("#code-submit"), chromedp.WaitVisible("a.button[href='/campaigns/new']"))
	if s := text(ctx, "#simclock"); !strings.Contains(s, "Simulated time: Mar 11, 2026") || !strings.Contains(s, "CDT") {
		t.Errorf("the banner's simulated time is not in the viewer's zone: %q", s)
	}

	file := filepath.Join(t.TempDir(), "night.csv")
	os.WriteFile(file, []byte("patient_id,patient_first_name,patient_phone\nN-1,Ann,(440) 555-0142\nN-2,Kai,(808) 555-0100\n"), 0o600)
	do(ctx, "upload", chromedp.Navigate(ta.URL+"/campaigns/new"), chromedp.WaitVisible("#recipients"),
		chromedp.SetValue("#flow", "provider"), chromedp.SetValue("#runtime", "embedded"),
		chromedp.SetUploadFiles("#recipients", []string{file}), chromedp.Click("#upload"), chromedp.WaitVisible("#summary"))
	do(ctx, "start", chromedp.Click("#start"), chromedp.WaitVisible("#progress"))
	campaignURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}

	// The deferred notice: when, in the viewer's zone, and per zone.
	waitJS(ctx, "the deferred notice", `!document.getElementById("waiting").hidden && document.querySelector("[data-wait=count]").textContent === "2" && document.querySelector("[data-counter=queued]").textContent === "2"`)
	shot(ctx, "deferred")
	notice := text(ctx, "#waiting")
	for _, want := range []string{"2 recipient(s) wait for their sending window", "Mar 11, 2026, 07:00 AM CDT", "in 5 h",
		"America/New_York", "Wed 08:00 EDT", "Pacific/Honolulu", "Wed 08:00 HST", "01:00 PM CDT", "Skip to the next sending window"} {
		if !strings.Contains(notice, want) {
			t.Errorf("the deferred notice lacks %q:\n%s", want, notice)
		}
	}

	// Skip to New York's window: Ann gets her first question.
	do(ctx, "skip", chromedp.Click("#skip"))
	flash(ctx, "the skip's flash", "moved forward 5 h")
	waitJS(ctx, "Ann's first message", `document.querySelector("[data-counter=sent]").textContent === "2" && document.querySelector("[data-wait=count]").textContent === "1"`)
	shot(ctx, "after-skip")

	sim := b.tab()
	answer := func(phone, reply string) { t.Helper(); b.reply(sim, ta.URL, phone, reply) }
	answer("14405550142", "3")
	if s := text(sim, "#phone-14405550142 h2"); !strings.Contains(s, "Ann") {
		t.Errorf("the simulator does not name the patient: %q", s)
	}
	if s := text(sim, "#phone-14405550142 ol.thread"); !strings.Contains(s, "CDT") {
		t.Errorf("the simulator's times carry no zone: %q", s)
	}
	answer("14405550142", "yes")

	// Skip again, from the simulator: Honolulu's window opens.
	do(sim, "skip from the simulator", chromedp.Navigate(ta.URL+"/simulator"), chromedp.WaitVisible("#skip"), chromedp.Click("#skip"))
	flash(sim, "the second skip's flash", "moved forward")
	shot(sim, "simulator-after-skip")
	answer("18085550100", "2")
	answer("18085550100", "yes")
	waitJS(ctx, "the campaign to finish on the open page",
		`document.querySelector("[data-counter=status]").textContent === "done" && document.querySelector("[data-counter=completed]").textContent === "2" && document.getElementById("waiting").hidden`)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != campaignURL {
		t.Errorf("the campaign tab moved to %s", loc)
	}
	shot(ctx, "done")
}
