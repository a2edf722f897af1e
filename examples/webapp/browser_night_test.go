package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath returns Debian's chromium: OUTREACH_TEST_CHROMIUM, else
// chromium on the PATH. Without it the browser tests skip, except in CI
// (CI set), where a browser test that does not run is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	chromium := os.Getenv("OUTREACH_TEST_CHROMIUM")
	if chromium == "" {
		var err error
		if chromium, err = exec.LookPath("chromium"); err != nil {
			const why = "chromium is not installed (apt-get install chromium), and OUTREACH_TEST_CHROMIUM is not set: the browser tests need it"
			if os.Getenv("CI") != "" {
				t.Fatal(why)
			}
			t.Skip(why)
		}
	}
	if testing.Short() {
		t.Skip("the browser test is skipped with -short")
	}
	return chromium
}

// TestBrowserNight is the newcomer's trial: the dev clock starts at 03:00
// in New York (07:00 UTC), so every US recipient is in quiet hours. The
// campaign page says when the deferred messages will go out, in the
// viewer's zone (Chicago here) and per recipient zone; "Skip to the next
// sending window" moves the simulated clock to New York's 08:00, the
// patient answers on the simulator, a second skip reaches Honolulu's
// 08:00, and the campaign finishes.
func TestBrowserNight(t *testing.T) {
	chromium := chromiumPath(t)
	ta := startNightApp(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(1200, 900),
		chromedp.Env("TZ=America/Chicago"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 55*time.Second)
	defer cancelTimeout()
	shots := os.Getenv("WEBAPP_SCREENSHOTS")
	shot := func(ctx context.Context, name string) {
		if shots == "" {
			return
		}
		if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(filepath.Join(shots, "night-"+name+".png"), buf, 0o644)
		}
	}
	do := func(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			shot(ctx, "failure")
			t.Fatalf("%s: %v", what, err)
		}
	}
	waitJS := func(ctx context.Context, what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			shot(ctx, "failure")
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	// text reads an element's text in the page by script, waiting for the
	// element to exist: chromedp.Text holds DOM node ids, which a page
	// that has just navigated (a form's redirect) can invalidate under it.
	text := func(ctx context.Context, sel string) string {
		t.Helper()
		q := strconv.Quote(sel)
		waitJS(ctx, sel, `document.querySelector(`+q+`) !== null`)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(`+q+`).innerText`))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	do(ctx, "open the app", chromedp.Navigate(ta.URL+"/"), chromedp.WaitVisible("#password"),
		chromedp.SendKeys("#password", ta.Password), chromedp.Click("#password-submit"), chromedp.WaitVisible("#code"))
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
	do(ctx, "skip", chromedp.Click("#skip"), chromedp.WaitVisible("p.flash"))
	if s := text(ctx, "p.flash"); !strings.Contains(s, "moved forward 5 h") {
		t.Errorf("skip flash %q", s)
	}
	waitJS(ctx, "Ann's first message", `document.querySelector("[data-counter=sent]").textContent === "2" && document.querySelector("[data-wait=count]").textContent === "1"`)
	shot(ctx, "after-skip")

	sim, cancelSim := chromedp.NewContext(ctx)
	defer cancelSim()
	answer := func(phone, reply string) {
		t.Helper()
		sel := "#phone-" + phone
		deadline := time.Now().Add(20 * time.Second)
		for {
			do(sim, "simulator", chromedp.Navigate(ta.URL+"/simulator"), chromedp.WaitVisible(sel))
			ok, err := chromedp.Run(sim, chromedp.Evaluate[bool](`document.querySelector("`+sel+` .badge.ok") !== null`))
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				shot(sim, "failure-simulator")
				t.Fatalf("%s got no question to answer with %q", phone, reply)
			}
			time.Sleep(200 * time.Millisecond)
		}
		do(sim, "reply "+reply, chromedp.SendKeys(sel+" input[name=body]", reply), chromedp.Click(sel+" button"), chromedp.WaitVisible("p.flash"))
	}
	answer("14405550142", "3")
	if s := text(sim, "#phone-14405550142 h2"); !strings.Contains(s, "Ann") {
		t.Errorf("the simulator does not name the patient: %q", s)
	}
	if s := text(sim, "#phone-14405550142 ol.thread"); !strings.Contains(s, "CDT") {
		t.Errorf("the simulator's times carry no zone: %q", s)
	}
	answer("14405550142", "yes")

	// Skip again, from the simulator: Honolulu's window opens.
	do(sim, "skip from the simulator", chromedp.Navigate(ta.URL+"/simulator"), chromedp.WaitVisible("#skip"), chromedp.Click("#skip"), chromedp.WaitVisible("p.flash"))
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
