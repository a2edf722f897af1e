package studio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	studioapi "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
	"github.com/patient-outreach/sms/studio/studiotest"
)

// rtFrom is the sending number of the runtime tests.
const rtFrom = "+15005550006"

// rtNoon is 12:00 in New York, inside every US sending window.
var rtNoon = time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// studioRig is a Studio runtime against the fake Twilio, whose executions
// the Interpreter runs, with simulated phones.
type studioRig struct {
	t     *testing.T
	ctx   context.Context
	clock outreach.Clock
	net   *simphone.Network
	srv   *twiliotest.Server
	dep   *studio.Deployer
	store outreach.Store
	rt    *studio.Runtime
}

type rigOptions struct {
	clock      outreach.Clock
	perSecond  int // the fake's execution limit
	store      outreach.Store
	noThrottle bool
	poll       time.Duration
	window     outreach.Window // zero: the default window
	calls      *studio.Calls   // the Interpreter's calls
}

func newStudioRig(t *testing.T, o rigOptions) *studioRig {
	t.Helper()
	if o.clock == nil {
		o.clock = outreach.NewManualClock(rtNoon)
	}
	if o.store == nil {
		o.store = memstore.New()
	}
	net := simphone.New(o.clock, 7)
	srv := twiliotest.New(twiliotest.Options{
		Clock: o.clock, Network: net, Numbers: []string{rtFrom},
		Studio: studiotest.NewInterpreter(studiotest.InterpreterOptions{Calls: o.calls}), ExecutionsPerSecond: o.perSecond,
	})
	t.Cleanup(srv.Close)
	dep, err := studio.NewDeployer(studio.DeployConfig{AccountSID: srv.AccountSID(), AuthToken: srv.AuthToken(), HTTPClient: srv.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	r := &studioRig{t: t, ctx: t.Context(), clock: o.clock, net: net, srv: srv, dep: dep, store: o.store}
	r.rt = r.runtime(o)
	return r
}

func (r *studioRig) runtime(o rigOptions) *studio.Runtime {
	r.t.Helper()
	poll := o.poll
	if poll == 0 {
		poll = time.Minute
	}
	grace := 30 * time.Second
	if _, real := r.clock.(*outreach.OffsetClock); real {
		grace = time.Second
	}
	rt, err := studio.NewRuntime(r.store, studio.RuntimeConfig{
		Deployer: r.dep, From: rtFrom, Clock: r.clock, NoThrottle: o.noThrottle, Window: o.window,
		PollInterval: poll, ReconcileGrace: grace, WakeInterval: 20 * time.Millisecond, Logger: quiet,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return rt
}

// drive runs campaign id on the manual clock until it is done: the
// runtime's work, then the fake's (replies, timeouts), moving the clock
// to whichever is due first.
func (r *studioRig) drive(id int64) {
	r.t.Helper()
	clock := r.clock.(*outreach.ManualClock)
	for range 100000 {
		for {
			n, err := r.rt.Tick(r.ctx)
			if err != nil {
				r.t.Fatalf("Tick: %v", err)
			}
			if n == 0 {
				break
			}
		}
		if c, err := r.store.Campaign(r.ctx, id); err != nil || c.Status == outreach.CampaignDone {
			return
		}
		next, ok := r.srv.Next()
		if due, dok, _ := r.store.NextDue(r.ctx, outreach.Scope{Runtime: studio.RuntimeName}, clock.Now()); dok && (!ok || due.Before(next)) {
			next, ok = due, true
		}
		if !ok {
			r.t.Fatalf("campaign %d stalled at %v", id, clock.Now())
		}
		if next.After(clock.Now()) {
			clock.Set(next)
		}
		if err := r.srv.Step(r.ctx, clock.Now()); err != nil {
			r.t.Fatalf("Step: %v", err)
		}
	}
	r.t.Fatalf("campaign %d not done after 100000 rounds", id)
}

// scripts are the patients' answers to the provider flow, each reached
// by one path: a route, a re-ask after an out-of-range or unknown answer,
// the last re-ask running out, silence (timeout) and STOP.
var scripts = [][]string{
	{"3", "yes"},
	{"8", "yes", "no", "yes"},
	{"12", "7", "n", "no", "no"},
	{"maybe", "worse"}, // in doubt twice: needs review, and an alert (Studio reads bare numbers only, so no "five" here)
	{""},
	{"STOP"},
	{"0", "NO", "Y"},
}

func recipients(n int, net *simphone.Network, scripts [][]string) []outreach.Recipient {
	recs := make([]outreach.Recipient, n)
	for i := range recs {
		recs[i] = outreach.Recipient{
			ID: fmt.Sprintf("p%03d", i), FirstName: fmt.Sprintf("Pat%d", i), Phone: fmt.Sprintf("+1212555%04d", i),
			Attrs: map[string]string{"clinic": "north"},
		}
		net.Add(recs[i].Phone, simphone.Persona{Responder: simphone.Scripted(scripts[i%len(scripts)]...), Delay: time.Minute})
	}
	return recs
}

func exportCSV(t *testing.T, s outreach.Store, id int64) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := csvio.ExportResponses(t.Context(), &b, s, id); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestStudioCampaignMatchesEmbedded runs the provider flow for 200
// recipients through Studio (deployed to the fake, run by the
// Interpreter, through the real twilio-go client) and through the
// embedded runner, with the same patients' answers, and compares the
// responses CSVs. With -short and under the race detector (26 s) it runs
// 70, ten for each script; CI runs the 200 without it (see FullScale).
func TestStudioCampaignMatchesEmbedded(t *testing.T) {
	t.Parallel()
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	n := 200
	if !studio.FullScale() {
		n = 10 * len(scripts)
	}
	r, _, csv := compareRuntimes(t, flow, scripts, n)
	// STOP was recorded as an opt-out.
	stopped := fmt.Sprintf("+1212555%04d", 5)
	if got, err := r.store.OptedOut(r.ctx, []string{stopped, "+12125550000"}); err != nil || !got[stopped] || got["+12125550000"] {
		t.Errorf("OptedOut = %v, %v; want only %s", got, err, stopped)
	}
	// The urgent reply raised an alert in both runtimes (the CSVs agree).
	if n := strings.Count(csv, ",needs_review,no number,worse\n"); n == 0 {
		t.Errorf("no alert for %q in the responses CSV", "worse")
	}
	if lines := strings.Count(csv, "\n"); lines < n {
		t.Errorf("responses CSV has %d lines, want at least %d", lines, n)
	}
	t.Logf("responses CSV (first lines):\n%s", strings.Join(strings.SplitN(csv, "\n", 12)[:11], "\n"))
}

// TestStudioCollectsRevisits checks answers to a question asked again by
// a route back to it: Studio keeps only the last reply of a widget in the
// execution context, so the others are read from the steps.
func TestStudioCollectsRevisits(t *testing.T) {
	t.Parallel()
	f := &outreach.Flow{ID: "again", Name: "Again", Steps: []outreach.Step{
		{ID: "q", Kind: outreach.StepAsk, Body: "Ready? Reply YES or NO",
			Answer: &outreach.AnswerSpec{Kind: outreach.AnswerChoice, Choices: []outreach.Choice{{Value: "YES"}, {Value: "NO"}}},
			Routes: []outreach.Route{{When: outreach.Condition{Equals: "NO"}, Next: "wait"}}, Next: "bye"},
		{ID: "wait", Kind: outreach.StepSend, Body: "We will ask again.", Next: "q"},
		{ID: "bye", Kind: outreach.StepEnd, Body: "Thanks.", Outcome: "ready"},
	}}
	// Known difference: the question asked again by a route back to it
	// carries the opt-out footer of a conversation's first message each
	// time in Studio (the widget's body), only the first time in the
	// engine.
	compareRuntimesInboxes(t, f, [][]string{{"no", "no", "yes"}, {"NO", "maybe", "YES"}}, 4, false)
}

// compareRuntimes runs flow for n recipients, patient i answering
// scripts[i%len(scripts)], through Studio and through the embedded runner,
// checks that the responses CSVs and outcomes are equal and that every
// recipient had one execution, and returns the Studio rig, campaign and
// CSV.
func compareRuntimes(t *testing.T, flow *outreach.Flow, scripts [][]string, n int) (*studioRig, outreach.Campaign, string) {
	t.Helper()
	return compareRuntimesInboxes(t, flow, scripts, n, true)
}

// compareRuntimesInboxes is compareRuntimes; inboxes says whether the
// messages each phone received must be the same too (else differences are
// logged).
func compareRuntimesInboxes(t *testing.T, flow *outreach.Flow, scripts [][]string, n int, inboxes bool) (*studioRig, outreach.Campaign, string) {
	t.Helper()
	r := newStudioRig(t, rigOptions{noThrottle: true})
	c, added, err := r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "studio", Flow: flow}, recipients(n, r.net, scripts))
	if err != nil || added != n {
		t.Fatalf("CreateCampaign = %d, %v", added, err)
	}
	if c.Runtime != studio.RuntimeName || !strings.HasPrefix(c.RuntimeRef, "FW") {
		t.Fatalf("campaign Runtime, RuntimeRef = %q, %q", c.Runtime, c.RuntimeRef)
	}
	if err := r.rt.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	r.drive(c.ID)
	studioCSV := exportCSV(t, r.store, c.ID)

	// One execution per recipient created by the runtime, all ended. A
	// text that comes when none is active starts one too, as in Studio
	// (the number's SmsUrl is the flow's webhook): the exported flow's
	// trigger leaves incomingMessage unconnected, so it ends at once,
	// sending nothing.
	var execs []twiliotest.Execution
	perContact := make(map[string]int)
	for _, e := range r.srv.Executions(c.RuntimeRef) {
		if e.Status != "ended" || e.RunError != "" {
			t.Errorf("execution %s: status %s, error %q", e.SID, e.Status, e.RunError)
		}
		if trig, _ := e.Context["trigger"].(map[string]any); trig["message"] != nil {
			if steps := r.srv.ExecutionSteps(e.SID); len(steps) != 1 {
				t.Errorf("execution %s, started by a text: %d steps, want 1 (the trigger's)", e.SID, len(steps))
			}
			continue
		}
		execs = append(execs, e)
		perContact[e.ContactChannelAddress]++
	}
	if len(execs) != n || len(perContact) != n {
		t.Errorf("%d executions for %d contacts, want %d each once", len(execs), len(perContact), n)
	}
	// Running executions are watched by listing the ended ones, not one
	// request each per poll: each is fetched once, when it has ended.
	if fetches := r.srv.Requests(twiliotest.FetchExecution); fetches > n {
		t.Errorf("%d execution fetches for %d executions (%d listings)", fetches, n, r.srv.Requests(twiliotest.ListExecutions))
	}

	// Embedded, same patients.
	clock := outreach.NewManualClock(rtNoon)
	net := simphone.New(clock, 7)
	store := memstore.New()
	runner := outreach.NewRunner(store, simphone.NewSender(net), outreach.RunnerOptions{
		From: rtFrom, Clock: clock, NoThrottle: true, Logger: quiet,
	})
	ec, _, err := runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "embedded", Flow: flow}, recipients(n, net, scripts))
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.StartCampaign(r.ctx, ec.ID); err != nil {
		t.Fatal(err)
	}
	sim := simphone.Simulation{Runner: runner, Store: store, Network: net, Clock: clock}
	if _, err := sim.Run(r.ctx, ec.ID); err != nil {
		t.Fatal(err)
	}
	embeddedCSV := exportCSV(t, store, ec.ID)

	if studioCSV != embeddedCSV {
		d, n := patientDiff(embeddedCSV, studioCSV)
		t.Errorf("responses CSVs differ for %d patients:\n%s", n, d)
	}
	if d, n := inboxDiff(net, r.net); n > 0 {
		report := t.Errorf
		if !inboxes {
			report = t.Logf
		}
		report("the messages %d phones received differ:\n%s", n, d)
	}
	sp, _ := r.rt.Progress(r.ctx, c.ID)
	ep, _ := runner.Progress(r.ctx, ec.ID)
	if fmt.Sprint(sp.Outcomes) != fmt.Sprint(ep.Outcomes) || sp.Done != n {
		t.Errorf("outcomes: studio %v (%d done), embedded %v", sp.Outcomes, sp.Done, ep.Outcomes)
	}
	// Progress counts Studio's messages and replies as the engine's.
	if sp.Replies != ep.Replies || sp.Messages[outreach.MessageSent] != ep.Messages[outreach.MessageSent] {
		t.Errorf("progress: studio %d sent, %d replies; embedded %d sent, %d replies",
			sp.Messages[outreach.MessageSent], sp.Replies, ep.Messages[outreach.MessageSent], ep.Replies)
	}
	return r, c, studioCSV
}

// patientDiff lists, patient by patient (the CSVs' first column), the
// rows of want and got that differ, and counts the patients.
func patientDiff(want, got string) (string, int) {
	group := func(csv string) (map[string][]string, []string) {
		m := map[string][]string{}
		var order []string
		for _, l := range strings.Split(csv, "\n") {
			id, _, _ := strings.Cut(l, ",")
			if _, ok := m[id]; !ok {
				order = append(order, id)
			}
			m[id] = append(m[id], l)
		}
		return m, order
	}
	w, order := group(want)
	g, _ := group(got)
	var b strings.Builder
	n := 0
	for _, id := range order {
		a, c := strings.Join(w[id], "\n    "), strings.Join(g[id], "\n    ")
		if a == c {
			continue
		}
		n++
		if b.Len() < 6000 {
			fmt.Fprintf(&b, "%s:\n  embedded:\n    %s\n  studio:\n    %s\n", id, a, c)
		}
	}
	return b.String(), n
}

// inboxDiff lists, phone by phone, the messages each simulated phone of
// want (the embedded runtime's) and got (Studio's) received, in order
// (sender and body), where they differ, and counts the phones. Twilio's
// own answers to keywords (twiliotest.OptOutConfirmation and the like)
// are left out: the fake Twilio sends them in front of Studio, and Twilio
// would in front of the embedded runtime too, but the embedded rig's
// phones talk to the runner with no Twilio between.
func inboxDiff(want, got *simphone.Network) (string, int) {
	inbox := func(p *simphone.Phone) []string {
		var out []string
		if p == nil {
			return out
		}
		for _, m := range p.Inbox() {
			switch m.Body {
			case twiliotest.OptOutConfirmation, twiliotest.OptInConfirmation, twiliotest.HelpResponse:
				continue
			}
			out = append(out, m.From+": "+m.Body)
		}
		return out
	}
	var b strings.Builder
	n := 0
	for _, p := range want.Phones() {
		a, c := inbox(p), inbox(got.Phone(p.Number()))
		if slices.Equal(a, c) {
			continue
		}
		n++
		if b.Len() < 6000 {
			fmt.Fprintf(&b, "%s:\n  embedded:\n    %s\n  studio:\n    %s\n", p.Number(), strings.Join(a, "\n    "), strings.Join(c, "\n    "))
		}
	}
	return b.String(), n
}

// lineDiff lists the lines of want and got that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n  embedded: %s\n  studio:   %s\n", i+1, a, c)
			if b.Len() > 4000 {
				break
			}
		}
	}
	return b.String()
}

// TestStudioRateAndRestart runs a one-way campaign of 200 recipients in
// real time against a fake that allows 20 executions per second and
// answers more with 429, stops the runtime halfway (a new runtime on the
// same database takes over), and drops the answer of some creations
// (processed, then the connection closed): every recipient gets exactly
// one execution.
func TestStudioRateAndRestart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("real time: about 10 seconds")
	}
	const n = 200
	store, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "outreach.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// Each running execution is looked at once a second (the runtime lists
	// them all every half second): at 200 ms the listings took the CPU
	// under -race, and executions were created at 8/s, never reaching the
	// fake's limit of 20/s that this test is about.
	r := newStudioRig(t, rigOptions{clock: clocktest.Real(t), perSecond: studio.MaxExecutionsPerSecond, store: store, poll: time.Second, window: outreach.AnyHour})
	go r.srv.Run(r.ctx)
	flow, err := flows.Builtin("payor")
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "welcome", Flow: flow, DefaultZone: "UTC"}, recipients(n, r.net, scripts))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.rt.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	r.srv.SetFault(twiliotest.CreateExecution, twiliotest.Fault{Hijack: true, Times: 3})

	first, stop := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	go func() { done <- r.rt.Run(first) }()
	waitFor(t, 30*time.Second, func() bool { return len(r.srv.Executions(c.RuntimeRef)) >= n/2 })
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	// The fake's rate window refuses a burst: a second runtime starts
	// right away, as a restarted process would.
	rt2 := r.runtime(rigOptions{poll: time.Second, window: outreach.AnyHour})
	second, stop2 := context.WithCancel(r.ctx)
	defer stop2()
	go func() { done <- rt2.Run(second) }()
	// Collecting the answers of 200 ended executions takes most of a
	// minute under the race detector on a busy machine: allow two.
	waitFor(t, 2*time.Minute, func() bool {
		got, err := store.Campaign(r.ctx, c.ID)
		return err == nil && got.Status == outreach.CampaignDone
	})
	stop2()
	<-done

	execs := r.srv.Executions(c.RuntimeRef)
	perContact := make(map[string]int)
	for _, e := range execs {
		perContact[e.ContactChannelAddress]++
	}
	for phone, k := range perContact {
		if k != 1 {
			t.Errorf("%s: %d executions, want 1", outreach.MaskPhone(phone), k)
		}
	}
	if len(perContact) != n {
		t.Errorf("%d contacts got an execution, want %d", len(perContact), n)
	}
	first0, last := execs[0].DateCreated, execs[0].DateCreated
	for _, e := range execs {
		first0, last = minTime(first0, e.DateCreated), maxTime(last, e.DateCreated)
	}
	t.Logf("%d executions in %v (%.1f/s, restart included); %d create requests", len(execs), last.Sub(first0).Round(time.Millisecond),
		float64(len(execs)-1)/last.Sub(first0).Seconds(), r.srv.Requests(twiliotest.CreateExecution))
	p, err := store.Progress(r.ctx, c.ID, r.clock.Now())
	if err != nil || p.Done != n || p.Outcomes[outreach.OutcomeCompleted] != n {
		t.Errorf("Progress = %+v, %v; want %d completed", p, err, n)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// waitFor polls cond until it holds, for at most limit. It polls every
// 50 ms, not faster: its conditions read the whole fake (every execution,
// cloned under the fake's lock) or the store, and a tighter loop takes
// the CPU and the locks from the runtime it waits for (under -race most
// of the test's time went into this loop at 10 ms).
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStudioAdoptsActiveExecution checks the 409 path: an execution for
// the conversation exists (its creation's answer was lost and the intent
// forgotten), so creating again is refused with 20409 and the runtime
// adopts it instead of giving up or creating a second.
func TestStudioAdoptsActiveExecution(t *testing.T) {
	t.Parallel()
	r := newStudioRig(t, rigOptions{noThrottle: true})
	flow, _ := flows.Builtin("provider")
	recs := recipients(1, r.net, scripts)
	c, _, err := r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "x", Flow: flow}, recs)
	if err != nil {
		t.Fatal(err)
	}
	convs, _ := r.store.Conversations(r.ctx, c.ID, 0, 0)
	p := &studioapi.CreateExecutionParams{}
	p.SetTo(recs[0].Phone).SetFrom(rtFrom).SetParameters(map[string]any{studio.ConversationParam: fmt.Sprint(convs[0].ID)})
	e, err := r.srv.Client().StudioV2.CreateExecution(c.RuntimeRef, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.rt.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.rt.Tick(r.ctx); err != nil {
		t.Fatal(err)
	}
	conv, _ := r.store.Conversation(r.ctx, convs[0].ID)
	if conv.Status != outreach.ConversationActive || conv.State.Remote == nil || conv.State.Remote.ID != *e.Sid {
		t.Fatalf("conversation %s, remote %+v; want active on %s", conv.Status, conv.State.Remote, *e.Sid)
	}
	if got := len(r.srv.Executions(c.RuntimeRef)); got != 1 {
		t.Errorf("%d executions, want 1", got)
	}
}

// TestStudioNumberOwnership checks that one number serves one two-way
// Studio flow, and not the embedded runtime meanwhile.
func TestStudioNumberOwnership(t *testing.T) {
	t.Parallel()
	r := newStudioRig(t, rigOptions{noThrottle: true})
	provider, _ := flows.Builtin("provider")
	pharma, _ := flows.Builtin("pharma")
	recs := recipients(2, r.net, scripts)
	runner := outreach.NewRunner(r.store, simphone.NewSender(r.net), outreach.RunnerOptions{From: rtFrom, Clock: r.clock, Logger: quiet})

	// An unfinished embedded two-way campaign holds the number.
	ec, _, err := runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "embedded", Flow: provider}, recs)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "studio", Flow: provider}, recs)
	if !errors.Is(err, outreach.ErrNumberConflict) {
		t.Fatalf("Studio campaign while an embedded one is unfinished = %v; want a conflict", err)
	}
	if err := runner.CancelCampaign(r.ctx, ec.ID); err != nil {
		t.Fatal(err)
	}

	c, _, err := r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "studio", Flow: provider}, recs)
	if err != nil {
		t.Fatal(err)
	}
	owner, ok, _ := r.store.NumberOwner(r.ctx, rtFrom)
	if !ok || owner.Runtime != studio.RuntimeName || owner.Flow != c.RuntimeRef {
		t.Fatalf("NumberOwner = %+v, %v; want the Studio flow %s", owner, ok, c.RuntimeRef)
	}
	dep, _, _ := r.dep.Find(r.ctx, provider.Name)
	if !r.srv.SetSmsURL(rtFrom, dep.WebhookURL) {
		t.Fatal("number missing")
	}

	// Another two-way flow, and the embedded runtime, are refused.
	_, _, err = r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "other flow", Flow: pharma}, recs)
	var conflict *outreach.NumberConflictError
	if !errors.As(err, &conflict) || conflict.Owner.Flow != c.RuntimeRef {
		t.Errorf("a second two-way Studio flow on the number = %v; want a conflict naming %s", err, c.RuntimeRef)
	}
	_, _, err = runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "embedded again", Flow: provider}, recs)
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), rtFrom) {
		t.Errorf("an embedded campaign on the Studio number = %v; want a conflict naming the number", err)
	}
	// The same flow again is fine.
	if _, _, err := r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "same flow", Flow: provider}, recs); err != nil {
		t.Errorf("a second campaign of the same flow: %v", err)
	}

	// Releasing waits for the Studio campaigns to finish.
	if err := r.rt.ReleaseNumber(r.ctx, rtFrom, "https://clinic.example/twilio/sms"); err == nil {
		t.Errorf("ReleaseNumber with unfinished Studio campaigns succeeded")
	}
	cs, _ := r.store.Campaigns(r.ctx)
	for _, x := range cs {
		if x.Runtime == studio.RuntimeName {
			if err := r.rt.CancelCampaign(r.ctx, x.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.rt.ReleaseNumber(r.ctx, rtFrom, "https://clinic.example/twilio/sms"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "embedded after release", Flow: provider}, recs); err != nil {
		t.Errorf("embedded campaign after release: %v", err)
	}
}

// TestStudioCancelCollects cancels a campaign whose executions wait for
// a second answer: the executions are ended in Studio and the answers
// given so far are in the responses.
func TestStudioCancelCollects(t *testing.T) {
	t.Parallel()
	r := newStudioRig(t, rigOptions{noThrottle: true})
	flow, _ := flows.Builtin("provider")
	const n = 3
	c, _, err := r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "x", Flow: flow}, recipients(n, r.net, [][]string{{"8", ""}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.rt.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	clock := r.clock.(*outreach.ManualClock)
	for clock.Now().Before(rtNoon.Add(10 * time.Minute)) {
		for {
			if k, err := r.rt.Tick(r.ctx); err != nil {
				t.Fatal(err)
			} else if k == 0 {
				break
			}
		}
		next, ok := r.srv.Next()
		if !ok || next.After(rtNoon.Add(10*time.Minute)) {
			next = rtNoon.Add(10 * time.Minute)
		}
		clock.Set(next)
		if err := r.srv.Step(r.ctx, next); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.rt.CancelCampaign(r.ctx, c.ID); err != nil {
		t.Fatalf("CancelCampaign: %v", err)
	}
	for _, e := range r.srv.Executions(c.RuntimeRef) {
		if e.Status != "ended" {
			t.Errorf("execution %s is %s after cancel", e.SID, e.Status)
		}
	}
	resp, err := r.rt.Responses(r.ctx, c.ID, outreach.ResponsePage{})
	if err != nil || len(resp) != n {
		t.Fatalf("responses %+v, %v; want the %d first answers", resp, err, n)
	}
	for _, x := range resp {
		if x.QuestionID != "ask_pain" || x.Answer != "8" || !x.RepliedAt.Equal(rtNoon.Add(time.Minute)) {
			t.Errorf("response %+v; want ask_pain 8 at %v", x, rtNoon.Add(time.Minute))
		}
	}
	p, _ := r.rt.Progress(r.ctx, c.ID)
	if p.Outcomes[outreach.OutcomeCancelled] != n || p.Replies != n {
		t.Errorf("progress %+v; want %d cancelled and %d replies", p, n, n)
	}
}

// TestStudioAmbiguousCreateWaits checks that after a create whose outcome
// is unknown (a 500 here, which Twilio may still have processed) the
// runtime does not create again until the reconcile grace has passed,
// and then looks before it creates.
func TestStudioAmbiguousCreateWaits(t *testing.T) {
	t.Parallel()
	r := newStudioRig(t, rigOptions{noThrottle: true})
	flow, _ := flows.Builtin("payor")
	c, _, err := r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "x", Flow: flow}, recipients(1, r.net, scripts))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.rt.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	r.srv.SetFault(twiliotest.CreateExecution, twiliotest.Fault{Status: 500, Times: 1})
	clock := r.clock.(*outreach.ManualClock)
	tick := func(at time.Duration) {
		clock.Set(rtNoon.Add(at))
		if _, err := r.rt.Tick(r.ctx); err != nil {
			t.Fatal(err)
		}
	}
	tick(0)
	for _, at := range []time.Duration{time.Second, 10 * time.Second, 29 * time.Second} {
		tick(at)
		if n := r.srv.Requests(twiliotest.CreateExecution); n != 1 {
			t.Fatalf("%d create requests %v after an ambiguous one; want none again within the grace", n, at)
		}
	}
	lists := r.srv.Requests(twiliotest.ListExecutions)
	tick(31 * time.Second)
	if n := r.srv.Requests(twiliotest.CreateExecution); n != 2 || r.srv.Requests(twiliotest.ListExecutions) == lists {
		t.Fatalf("after the grace: %d create requests and no new listing; want a look, then the second create", n)
	}
	if got := len(r.srv.Executions(c.RuntimeRef)); got != 1 {
		t.Errorf("%d executions, want 1", got)
	}
}

// TestStudioDeletedExecution checks that an execution deleted in Studio
// (absent from the listing, 404 when fetched) ends its conversation
// instead of being watched for ever, while the others are watched from
// the listing alone.
func TestStudioDeletedExecution(t *testing.T) {
	t.Parallel()
	r := newStudioRig(t, rigOptions{noThrottle: true})
	flow, _ := flows.Builtin("provider")
	c, _, err := r.rt.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "x", Flow: flow}, recipients(2, r.net, [][]string{{""}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.rt.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.rt.Tick(r.ctx); err != nil {
		t.Fatal(err)
	}
	execs := r.srv.Executions(c.RuntimeRef)
	if len(execs) != 2 {
		t.Fatalf("%d executions, want 2", len(execs))
	}
	if err := r.srv.Client().StudioV2.DeleteExecution(c.RuntimeRef, execs[0].SID); err != nil {
		t.Fatal(err)
	}
	r.clock.(*outreach.ManualClock).Set(rtNoon.Add(2 * time.Minute))
	if _, err := r.rt.Tick(r.ctx); err != nil {
		t.Fatal(err)
	}
	p, _ := r.rt.Progress(r.ctx, c.ID)
	if p.Outcomes["execution_deleted"] != 1 || p.Active != 1 {
		t.Errorf("progress %+v; want one conversation ended execution_deleted and one still active", p)
	}
	if got := r.srv.Requests(twiliotest.FetchExecution); got != 1 {
		t.Errorf("%d execution fetches; want 1, for the one the listing did not show", got)
	}
}
