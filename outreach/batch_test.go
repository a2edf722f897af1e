package outreach_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// plainStore hides its store's BatchRecorder: a runner on it stores the
// items of a batch with one call each.
type plainStore struct{ outreach.Store }

// batchOutcome is what a scenario of TestHandleBatches leaves.
type batchOutcome struct {
	Replies   []string
	NotFound  []bool
	Outcomes  map[string]string
	Responses int
	Unmatched []string
	OptedOut  map[string]bool
	Delivery  []string
}

// TestHandleBatches handles the same replies and delivery statuses one by
// one (HandleInbound, HandleStatus), in batches on a store that records
// them in one transaction, and in batches on a store that does not: the
// answers, the errors and what is stored must be the same.
func TestHandleBatches(t *testing.T) {
	const a, b, stray = "+14406443701", "+14406443702", "+12125550100"
	scenario := func(t *testing.T, batch, plain bool) batchOutcome {
		r := newRig(t, noon, outreach.RunnerOptions{NoThrottle: true})
		if plain {
			r.store = plainStore{r.store}
			r.runner = outreach.NewRunner(r.store, r.sender, outreach.RunnerOptions{NoThrottle: true, Clock: r.clock, From: sender})
		}
		ana := r.phone(a, outreach.Recipient{ID: "p1", FirstName: "Ana"}, simphone.Persona{Silent: true})
		bo := r.phone(b, outreach.Recipient{ID: "p2", FirstName: "Bo"}, simphone.Persona{Silent: true})
		c := r.campaign(loopFlow(), ana, bo)
		if _, err := r.runner.Tick(r.ctx); err != nil {
			t.Fatal(err)
		}
		in := []outreach.InboundMessage{
			{From: a, To: sender, Body: "yes", ProviderID: "SMa"},
			{From: a, To: sender, Body: "no", ProviderID: "SMa"}, // a retried webhook
			{From: b, To: sender, Body: "HELP", ProviderID: "SMhelp"},
			{From: stray, To: sender, Body: "who is this", ProviderID: "SMstray"},
			{From: b, To: sender, Body: "STOP", ProviderID: "SMstop"},
		}
		var out batchOutcome
		if batch {
			replies, err := r.runner.HandleInboundBatch(r.ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			out.Replies = replies
		} else {
			for _, m := range in {
				reply, err := r.runner.HandleInbound(r.ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				out.Replies = append(out.Replies, reply)
			}
		}
		var sids []string
		for _, m := range r.net.Messages() {
			sids = append(sids, m.SID)
		}
		if len(sids) < 2 {
			t.Fatalf("%d messages sent, want at least 2", len(sids))
		}
		updates := []outreach.StatusUpdate{
			{ProviderID: sids[0], Status: "delivered"},
			{ProviderID: "SMunknown", Status: "delivered"},
			{ProviderID: sids[1], Status: "undelivered", ErrorCode: "30003"},
			{ProviderID: sids[0], Status: "sent"}, // late: delivered ranks higher
		}
		var errs []error
		if batch {
			res, err := r.runner.HandleStatusBatch(r.ctx, updates)
			if err != nil {
				t.Fatal(err)
			}
			errs = res
		} else {
			for _, u := range updates {
				errs = append(errs, r.runner.HandleStatus(r.ctx, u))
			}
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, outreach.ErrNotFound) {
				t.Fatalf("status: %v", err)
			}
			out.NotFound = append(out.NotFound, err != nil)
		}
		if _, err := r.runner.Tick(r.ctx); err != nil {
			t.Fatal(err)
		}
		out.Outcomes = r.outcomes(c)
		resp, err := r.store.Responses(r.ctx, c.ID, outreach.ResponsePage{})
		if err != nil {
			t.Fatal(err)
		}
		out.Responses = len(resp)
		unmatched, err := r.store.Messages(r.ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range unmatched {
			out.Unmatched = append(out.Unmatched, m.ProviderID)
		}
		if out.OptedOut, err = r.store.OptedOut(r.ctx, []string{a, b, stray}); err != nil {
			t.Fatal(err)
		}
		convs, err := r.store.Conversations(r.ctx, c.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, cv := range convs {
			ms, err := r.store.Messages(r.ctx, cv.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if m.Direction == outreach.Outbound {
					out.Delivery = append(out.Delivery, m.ProviderID+" "+string(m.Status)+" "+m.DeliveryStatus)
				}
			}
		}
		return out
	}
	one := scenario(t, false, false)
	if !one.OptedOut[b] || one.Responses != 1 || !reflect.DeepEqual(one.NotFound, []bool{false, true, false, false}) {
		t.Fatalf("one by one: %+v; want b opted out, one response, the unknown status not found", one)
	}
	for _, plain := range []bool{false, true} {
		if got := scenario(t, true, plain); !reflect.DeepEqual(got, one) {
			t.Errorf("in batches (store without batches: %v):\n%+v\none by one:\n%+v", plain, got, one)
		}
	}
	if got, err := (&outreach.Runner{}).HandleInboundBatch(t.Context(), nil); err != nil || got != nil {
		t.Errorf("HandleInboundBatch(nil) = %v, %v", got, err)
	}
}
