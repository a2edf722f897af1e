package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// TestSimulatedRun100k runs the run command in-process (--json) on a
// generated file of 100,000 recipients, with simulated phones on the
// simulated clock (its default step), to the campaign's end. Every
// conversation must be done; the outcomes the command reports must be
// those stored, conversation by conversation; and each conversation's
// outcome must be the one its patient's persona (which the seed decides,
// whatever the timing) allows: delivery_failed exactly for the
// unreachable and undeliverable phones, timeout for every silent one,
// opted_out only for those who text STOP. It is skipped with -short and
// under the race detector, as TestSimulatedCampaignScale is.
func TestSimulatedRun100k(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("100,000 simulated conversations: skipped with -short and under the race detector")
	}
	const rows = 100_000
	ctx := context.Background()
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "recipients.csv")
	writeRecipients(t, csvPath, rows)
	db := filepath.Join(dir, "sim.db")
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	wall := time.Now()
	code := run(ctx, a, []string{"run", "--json", "--csv", csvPath, "--db", db, "--seed", "1",
		"--every", "1h", "--start", clocktest.Start(t).Format(time.RFC3339)})
	took := time.Since(wall)
	if code != exitOK {
		t.Fatalf("run exited %d\n%s\n%s", code, out.String(), errb.String())
	}
	var done struct {
		Event    string            `json:"event"`
		Status   string            `json:"status"`
		Progress outreach.Progress `json:"progress"`
		Campaign int64             `json:"campaign"`
		Seconds  float64           `json:"campaign_seconds"`
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var ev struct {
			Event string `json:"event"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "done" {
			if err := json.Unmarshal(sc.Bytes(), &done); err != nil {
				t.Fatal(err)
			}
		}
	}
	if done.Event != "done" || done.Status != string(outreach.CampaignDone) {
		t.Fatalf("no done event with status done:\n%s", out.String())
	}
	p := done.Progress
	if p.Total != rows || p.Done != rows || p.Pending != 0 || p.Active != 0 {
		t.Fatalf("progress %+v: want all %d conversations done", p, rows)
	}

	store, err := openSimStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// The personas of the phones: the network draws each from the seed
	// and the number alone, so a network of the same seed gives the same.
	net := simphone.New(outreach.NewManualClock(clocktest.Start(t)), 1)
	net.SetDefault(simphone.RandomPersona)
	persona := func(number string) simphone.Persona {
		if ph := net.Phone(number); ph != nil {
			return ph.Persona()
		}
		net.Deliver(ctx, outreach.OutboundMessage{From: "+15005550006", To: number, Body: "persona"}) // adds the phone; refusals do too
		ph := net.Phone(number)
		if ph == nil {
			t.Fatalf("no phone at %s", number)
		}
		return ph.Persona()
	}
	tally := map[string]int{}
	var silent, failed, stoppers int
	after := int64(0)
	for {
		convs, err := store.Conversations(ctx, done.Campaign, after, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		if len(convs) == 0 {
			break
		}
		after = convs[len(convs)-1].ID
		for _, c := range convs {
			if c.Status != outreach.ConversationDone || c.Outcome == "" {
				t.Fatalf("conversation %d is %s, outcome %q", c.ID, c.Status, c.Outcome)
			}
			tally[c.Outcome]++
			pe := persona(c.Recipient.Phone)
			switch {
			case pe.Unreachable || pe.Undeliverable:
				failed++
				if c.Outcome != outreach.OutcomeDeliveryFailed {
					t.Errorf("conversation %d: outcome %s, want %s: its messages cannot reach the phone", c.ID, c.Outcome, outreach.OutcomeDeliveryFailed)
				}
			case pe.Silent:
				silent++
				if c.Outcome != "timeout" {
					t.Errorf("conversation %d: outcome %s, want timeout: the patient never answers", c.ID, c.Outcome)
				}
			case pe.StopAfter > 0:
				stoppers++
			case c.Outcome == outreach.OutcomeOptedOut || c.Outcome == outreach.OutcomeDeliveryFailed:
				t.Errorf("conversation %d: outcome %s for a patient who neither texts STOP nor is out of reach", c.ID, c.Outcome)
			}
		}
	}
	if !maps.Equal(tally, p.Outcomes) {
		t.Errorf("outcomes stored %v, reported %v", tally, p.Outcomes)
	}
	if tally[outreach.OutcomeDeliveryFailed] != failed {
		t.Errorf("%d delivery_failed, want %d (the unreachable and undeliverable phones)", tally[outreach.OutcomeDeliveryFailed], failed)
	}
	if n := tally[outreach.OutcomeOptedOut]; n == 0 || n > stoppers {
		t.Errorf("%d opted_out, want some and at most %d (the patients who text STOP)", n, stoppers)
	}
	// RandomPersona: 10% silent, 4% out of reach, 6% text STOP.
	for what, n := range map[string]int{"silent": silent, "out of reach": failed, "STOP": stoppers} {
		if n < rows/100 {
			t.Errorf("only %d %s patients of %d", n, what, rows)
		}
	}
	t.Logf("%d conversations in %v (%v of campaign time): %v", rows, took.Round(time.Millisecond), time.Duration(done.Seconds*float64(time.Second)).Round(time.Second), tally)
}
