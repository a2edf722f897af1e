package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// browser drives one headless chromium for a test. Its methods fail the
// test with a screenshot of the page (when shots is set) and what was
// awaited.
type browser struct {
	t      *testing.T
	ctx    context.Context // the first tab
	shots  string          // folder for screenshots; empty: none
	prefix string          // screenshot file name prefix
	n      int
}

// newBrowser starts chromium headless, as the README's test command
// does, with extra options (a window size, a TZ), for at most timeout.
func newBrowser(t *testing.T, prefix string, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(1200, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), append(opts, extra...)...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return &browser{t: t, ctx: ctx, shots: os.Getenv("WEBAPP_SCREENSHOTS"), prefix: prefix}
}

// tab opens a second tab in the same browser.
func (b *browser) tab() context.Context {
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	return ctx
}

// shot saves a screenshot of the tab as NN-prefix-name.png in b.shots.
func (b *browser) shot(ctx context.Context, name string) {
	if b.shots == "" {
		return
	}
	b.n++
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%02d-%s-%s.png", b.n, b.prefix, name)), buf, 0o644); err != nil {
		b.t.Log(err)
	}
}

// do runs steps in the tab.
func (b *browser) do(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot(ctx, "failure")
		b.t.Fatalf("%s: %v", what, err)
	}
}

// waitJS polls expr until it is true, for at most 20 s. An evaluation
// that fails because the page is navigating (a form's redirect) is tried
// again: only the deadline fails the test.
func (b *browser) waitJS(ctx context.Context, what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.shot(ctx, "failure")
			b.t.Fatalf("waiting for %s: %s (last error: %v)", what, expr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// text reads an element's text by script, once the element exists:
// chromedp.Text holds DOM node ids, which a page that has just navigated
// can invalidate under it.
func (b *browser) text(ctx context.Context, sel string) string {
	b.t.Helper()
	q := strconv.Quote(sel)
	b.waitJS(ctx, sel, `document.querySelector(`+q+`) !== null`)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(`+q+`).innerText`))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// flash waits for the page's flash message to hold want: the page before
// a form's redirect may still show an older flash.
func (b *browser) flash(ctx context.Context, what, want string) {
	b.t.Helper()
	b.waitJS(ctx, what, `(document.querySelector("p.flash")?.innerText ?? "").includes(`+strconv.Quote(want)+`)`)
}

// reply answers as the patient with that phone (digits only, as in the
// simulator's element ids) on the simulator page at appURL, once the
// phone shows a question waiting for an answer.
func (b *browser) reply(ctx context.Context, appURL, phone, reply string) {
	b.t.Helper()
	sel := "#phone-" + phone
	deadline := time.Now().Add(20 * time.Second)
	for {
		b.do(ctx, "simulator", chromedp.Navigate(appURL+"/simulator"), chromedp.WaitVisible(sel))
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("`+sel+` .badge.ok") !== null`))
		if err != nil {
			b.t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			b.shot(ctx, "failure-simulator")
			b.t.Fatalf("%s got no question to answer with %q", phone, reply)
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.shot(ctx, "simulator-before-"+reply)
	b.do(ctx, "reply "+reply, chromedp.SendKeys(sel+" input[name=body]", reply), chromedp.Click(sel+" button"))
	b.flash(ctx, "the reply's flash", "Reply sent from ***"+phone[len(phone)-4:])
}
