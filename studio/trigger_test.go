package studio_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/studio"
)

// firstTexts are what patients text first: keywords as people type them,
// and texts that start nothing (no keyword, a word that only begins with
// one, a keyword after other words, an accented word).
var firstTexts = []string{"JOIN", "join please", "Join!", "  join", "UNETE", "unete ya", "hello", "joining", "I want to join", "Únete", "🙂 JOIN", "join2"}

// TestPatientStartedFlows runs flows that patients start by texting
// (outreach.Trigger) in Studio (the fake, its number pointed at the
// deployed flow, running executions that texts start) and in the
// embedded runtime (the Machine, on a campaign with the Trigger), with
// the same patients texting the same first words and then answering from
// the reply corpus: every phone must receive the same messages.
func TestPatientStartedFlows(t *testing.T) {
	t.Parallel()
	studio.SkipRace(t)
	corpus := readReplies(t)
	type tcase struct {
		name string
		flow *outreach.Flow
		// silent: texts that start the flow get no message (SaraAlert's
		// incomingMessage path answers only Advanced Opt-Out keywords, by
		// trigger.message.OptOutType).
		silent bool
	}
	var cases []tcase
	for _, b := range []string{"provider", "pharma"} {
		f, err := flows.Builtin(b)
		if err != nil {
			t.Fatal(err)
		}
		f.Trigger = &outreach.Trigger{Keywords: []string{"JOIN", "unete"}}
		def, err := studio.FromFlow(f)
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(def)
		if err != nil {
			t.Fatal(err)
		}
		// The export reads its keyword split back as the Trigger.
		back, _, err := studio.Import(def)
		if err != nil || back.Trigger == nil || !slices.Equal(back.Trigger.Keywords, []string{"JOIN", "UNETE"}) {
			t.Fatalf("%s: import of the export: trigger %+v, %v", b, back.Trigger, err)
		}
		f.Source = &outreach.Source{Format: studio.SourceFormat, Data: data}
		cases = append(cases, tcase{"builtin-" + b + "-keywords", f, false})
	}
	// A real export whose trigger starts on incomingMessage, which its
	// embedder lets any text start.
	data, err := os.ReadFile("testdata/exports/saraalert-assessment.json")
	if err != nil {
		t.Fatal(err)
	}
	sara := sourceOf(t, "saraalert-assessment", data)
	sara.Trigger = &outreach.Trigger{}
	cases = append(cases, tcase{"saraalert-assessment-any-text", sara, true})

	n := 240
	if !studio.FullScale() {
		n = 48
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			studioIn, embeddedIn, convs, skip := patientStartedRuns(t, c.flow, n, corpus)
			started := 0
			for i := range n {
				if c.flow.Trigger.Matches(firstTexts[i%len(firstTexts)]) {
					started++
				}
			}
			if convs != started {
				t.Errorf("%d conversations started, want %d (one per matching first text)", convs, started)
			}
			var diffs []string
			for phone, want := range studioIn {
				if !skip[phone] && !slices.Equal(want, embeddedIn[phone]) {
					diffs = append(diffs, fmt.Sprintf("%s:\n    studio   %q\n    embedded %q", phone, want, embeddedIn[phone]))
				}
			}
			sort.Strings(diffs)
			for i, d := range diffs {
				if i < 5 {
					t.Errorf("messages of %s", d)
				}
			}
			got := 0
			for _, in := range embeddedIn {
				if len(in) > 0 {
					got++
				}
			}
			t.Logf("%s: %d patients, %d started a conversation, %d received messages, %d left out (an opt-out Twilio does not read), %d differ",
				c.name, n, convs, got, len(skip), len(diffs))
			if c.silent != (got == 0) {
				t.Errorf("%d patients received messages; want none: %v", got, c.silent)
			}
		})
	}
}

// patientStartedRuns runs flow both ways for n patients, each texting
// firstTexts[i%len] and then answering from corpus, and returns what
// each phone received in Studio and in the embedded runtime, the number
// of conversations the embedded campaign had, and the phones left out of
// the comparison (they texted an opt-out that Twilio does not read).
func patientStartedRuns(t *testing.T, flow *outreach.Flow, n int, corpus []string) (studioIn, embeddedIn map[string][]string, convs int, skip map[string]bool) {
	t.Helper()
	def, err := studio.RunDefinition(flow)
	if err != nil {
		t.Fatalf("RunDefinition: %v", err)
	}
	steer := newSteerer(def)
	var count corpusCount

	// Studio: the flow deployed, the number pointed at it.
	r := newStudioRig(t, rigOptions{noThrottle: true})
	dep, err := r.dep.Deploy(r.ctx, flow, studio.DeployOptions{FriendlyName: "patients"})
	if err != nil {
		t.Fatal(err)
	}
	r.srv.SetSmsURL(rtFrom, dep.WebhookURL)
	recs := diffRecipients(n, r.net, corpus, steer, &count)
	for i, rec := range recs {
		r.net.Phone(rec.Phone).Text(rtFrom, firstTexts[i%len(firstTexts)])
	}
	clock := r.clock.(*outreach.ManualClock)
	for range 100000 {
		if err := r.srv.Step(r.ctx, clock.Now()); err != nil {
			t.Fatalf("Step: %v", err)
		}
		next, ok := r.srv.Next()
		if !ok {
			break
		}
		if next.After(clock.Now()) {
			clock.Set(next)
		}
	}
	for _, e := range r.srv.Executions(dep.SID) {
		if e.RunError != "" {
			t.Logf("studio execution %s ended with: %s", e.SID, e.RunError)
		}
	}

	// Embedded: a campaign of the flow, with no recipients.
	eclock := outreach.NewManualClock(rtNoon)
	net := simphone.New(eclock, 7)
	store := memstore.New()
	runner := outreach.NewRunner(store, simphone.NewSender(net), outreach.RunnerOptions{
		From: rtFrom, Clock: eclock, NoThrottle: true, Logger: quiet,
		Machines: map[string]outreach.Machine{studio.SourceFormat: &studio.Machine{}},
	})
	c, _, err := runner.CreateCampaign(r.ctx, outreach.NewCampaign{Name: "patients", Flow: flow}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.StartCampaign(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	for i, rec := range diffRecipients(n, net, corpus, steer, &count) {
		net.Phone(rec.Phone).Text(rtFrom, firstTexts[i%len(firstTexts)])
	}
	sim := simphone.Simulation{Runner: runner, Store: store, Network: net, Clock: eclock}
	if _, err := sim.Run(r.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	list, err := store.Conversations(r.ctx, c.ID, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, cv := range list {
		if cv.Status != outreach.ConversationDone {
			t.Errorf("conversation %d (%s) not done: %s", cv.ID, cv.Recipient.ID, cv.Status)
		}
	}
	skip = map[string]bool{}
	for _, p := range net.Phones() {
		for _, rp := range p.Replies() {
			if outreach.ParseKeyword(rp.Body) == outreach.KeywordStop && !twilioOptOut(rp.Body) {
				skip[p.Number()] = true
			}
		}
	}
	return inboxes(r.net), inboxes(net), len(list), skip
}
