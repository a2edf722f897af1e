package studio_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/twiliotest"
	"github.com/patient-outreach/sms/studio"
	"github.com/patient-outreach/sms/studio/studiotest"
)

// bigDefinition exports a flow of asks chained one after the other, with
// as many asks as it takes for the definition to have at least states
// states.
func bigDefinition(tb testing.TB, states int) []byte {
	tb.Helper()
	lo, hi := 0.0, 10.0
	for asks := 1; asks <= states; asks++ {
		f := &outreach.Flow{ID: "big", Name: "Big"}
		for i := range asks {
			next := fmt.Sprintf("q%d", i+1)
			if i == asks-1 {
				next = "end"
			}
			f.Steps = append(f.Steps, outreach.Step{
				ID: fmt.Sprintf("q%d", i), Kind: outreach.StepAsk, Body: fmt.Sprintf("Question %d for {{recipient.first_name}}: 0-10?", i),
				Answer:  &outreach.AnswerSpec{Kind: outreach.AnswerInteger, Min: &lo, Max: &hi},
				Routes:  []outreach.Route{{When: outreach.Condition{Min: &lo, Max: &lo}, Next: "end"}},
				Next:    next,
				Timeout: outreach.Duration(time.Hour), OnTimeout: "end",
			})
		}
		f.Steps = append(f.Steps, outreach.Step{ID: "end", Kind: outreach.StepEnd, Body: "Thanks.", Outcome: "done"})
		def, err := studio.FromFlow(f)
		if err != nil {
			tb.Fatal(err)
		}
		if len(def.States) >= states {
			b, err := def.Encode()
			if err != nil {
				tb.Fatal(err)
			}
			return b
		}
	}
	tb.Fatal("definition does not grow")
	return nil
}

// BenchmarkImport200 measures importing and validating a Studio
// definition of 200 states: Decode, ToFlow, Flow.Validate.
func BenchmarkImport200(b *testing.B) {
	data := bigDefinition(b, 200)
	def, _ := studio.Decode(data)
	b.ReportMetric(float64(len(def.States)), "states")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		def, err := studio.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		f, err := studio.ToFlow(def)
		if err != nil {
			b.Fatal(err)
		}
		f.ID, f.Name = "big", "Big" // the Studio flow's friendly name, not in the definition
		if err := f.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecutionCreation measures sustained execution creations per
// second, in real time, against a fake that allows Twilio's 20 per second
// (and answers more with 429): each iteration is a one-way campaign of
// 100 recipients. Run with -benchtime 1x or 2x.
func BenchmarkExecutionCreation(b *testing.B) {
	const n = 100
	f := &outreach.Flow{ID: "note", Name: "Note", Steps: []outreach.Step{
		{ID: "note", Kind: outreach.StepSend, Body: "Hello {{recipient.first_name}}.", Next: "end"},
		{ID: "end", Kind: outreach.StepEnd, Outcome: "sent"},
	}}
	var total time.Duration
	dups := 0
	for i := 0; b.Loop(); i++ {
		ctx, cancel := context.WithCancel(context.Background())
		clock := clocktest.Real(b)
		net := simphone.New(clock, 1)
		srv := twiliotest.New(twiliotest.Options{Clock: clock, Network: net, Numbers: []string{rtFrom},
			Studio: studiotest.NewInterpreter(studiotest.InterpreterOptions{}), ExecutionsPerSecond: studio.MaxExecutionsPerSecond})
		dep, _ := studio.NewDeployer(studio.DeployConfig{AccountSID: srv.AccountSID(), AuthToken: srv.AuthToken(), HTTPClient: srv.HTTPClient()})
		rt, _ := studio.NewRuntime(memstore.New(), studio.RuntimeConfig{Deployer: dep, From: rtFrom, DefaultZone: "UTC",
			Window: outreach.AnyHour, Clock: clock, PollInterval: time.Hour, Logger: quiet})
		recs := make([]outreach.Recipient, n)
		for j := range recs {
			recs[j] = outreach.Recipient{ID: fmt.Sprint(j), FirstName: "P", Phone: fmt.Sprintf("+1212555%04d", j)}
			net.Add(recs[j].Phone, simphone.Persona{Silent: true})
		}
		c, _, err := rt.CreateCampaign(ctx, outreach.NewCampaign{Name: "b", Flow: f}, recs)
		if err != nil {
			b.Fatal(err)
		}
		if err := rt.StartCampaign(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = rt.Run(ctx) }()
		for len(srv.Executions(c.RuntimeRef)) < n {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		execs := srv.Executions(c.RuntimeRef)
		first, last := execs[0].DateCreated, execs[0].DateCreated
		seen := make(map[string]bool)
		for _, e := range execs {
			first, last = minTime(first, e.DateCreated), maxTime(last, e.DateCreated)
			if seen[e.ContactChannelAddress] {
				dups++
			}
			seen[e.ContactChannelAddress] = true
		}
		total += last.Sub(first)
		b.Logf("%d create requests for %d executions", srv.Requests(twiliotest.CreateExecution), len(execs))
		srv.Close()
	}
	b.ReportMetric(float64(b.N*(n-1))/total.Seconds(), "executions/s")
	b.ReportMetric(float64(dups), "duplicates")
}
