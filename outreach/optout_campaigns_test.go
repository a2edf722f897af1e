package outreach_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// The two sending numbers and the patient of the tests of opt-outs across
// campaigns.
const (
	numberA = "+15005550006"
	numberB = "+15005550007"
	patient = "+14406443709"
)

// sendLog is a Sender that records, in order, what each Send to the
// patient gave: "A ok", "B 21610"...
type sendLog struct {
	*simphone.Sender
	mu  sync.Mutex
	log []string
}

func (s *sendLog) Send(ctx context.Context, m outreach.OutboundMessage) (string, error) {
	id, err := s.Sender.Send(ctx, m)
	name := map[string]string{numberA: "A", numberB: "B"}[m.From]
	result := "ok"
	if err != nil {
		result = "failed"
		if se := outreach.ClassifySendError(err); se.Code != "" {
			result = se.Code
		}
	}
	if m.To == patient {
		s.mu.Lock()
		s.log = append(s.log, name+" "+result)
		s.mu.Unlock()
	}
	return id, err
}

// sends returns the log so far.
func (s *sendLog) sends() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// twoNumbers is one runner with a campaign from number A and a campaign
// from number B running at once, each with a two-way conversation with
// the same patient, who answers only what the test makes them text.
type twoNumbers struct {
	t      *testing.T
	ctx    context.Context
	clock  *outreach.ManualClock
	store  outreach.Store
	net    *simphone.Network
	sender *sendLog
	runner *outreach.Runner
	phone  *simphone.Phone
	a, b   outreach.Campaign
}

// stores are the stores the tests of opt-outs across campaigns run on.
var stores = []struct {
	name string
	open func(t *testing.T) outreach.Store
}{
	{"memstore", func(t *testing.T) outreach.Store { return memstore.New() }},
	{"sqlitestore", func(t *testing.T) outreach.Store {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "outreach.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

func newTwoNumbers(t *testing.T, store outreach.Store) *twoNumbers {
	t.Helper()
	t.Cleanup(func() { store.Close() })
	clock := clocktest.Manual(t)
	net := simphone.New(clock, 1)
	x := &twoNumbers{
		t: t, ctx: context.Background(), clock: clock, store: store, net: net,
		sender: &sendLog{Sender: simphone.NewSender(net)},
		phone:  net.Add(patient, simphone.Persona{Silent: true}),
	}
	x.runner = outreach.NewRunner(store, x.sender, outreach.RunnerOptions{
		From: numberA, Clock: clock, Window: outreach.AnyHour, NoThrottle: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	x.a = x.campaign(numberA)
	x.b = x.campaign(numberB)
	// Both campaigns greet the patient and ask their first question.
	x.tick()
	x.wantSends("A ok", "A ok", "B ok", "B ok")
	return x
}

// campaign starts a campaign of loopFlow from number to the patient.
func (x *twoNumbers) campaign(number string) outreach.Campaign {
	x.t.Helper()
	c, _, err := x.runner.CreateCampaign(x.ctx, outreach.NewCampaign{Name: "from " + number, Flow: loopFlow(), From: number},
		[]outreach.Recipient{{ID: "p-1", FirstName: "Ana", Phone: patient}})
	if err != nil {
		x.t.Fatal(err)
	}
	if err := x.runner.StartCampaign(x.ctx, c.ID); err != nil {
		x.t.Fatal(err)
	}
	return c
}

// tick moves the clock a minute on and lets the runner do what is due.
func (x *twoNumbers) tick() {
	x.t.Helper()
	x.clock.Advance(time.Minute)
	for range 10 {
		n, err := x.runner.Tick(x.ctx)
		if err != nil {
			x.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// text makes the patient text body to number; the message reaches the
// runner's webhook unless lost is set.
func (x *twoNumbers) text(number, body string, lost bool) {
	x.t.Helper()
	x.phone.Text(number, body)
	for _, in := range x.net.Due(x.clock.Now()) {
		if lost {
			continue
		}
		if _, err := x.runner.HandleInbound(x.ctx, in); err != nil {
			x.t.Fatal(err)
		}
	}
}

// wantSends checks the sends to the patient so far.
func (x *twoNumbers) wantSends(want ...string) {
	x.t.Helper()
	if got := x.sender.sends(); !slices.Equal(got, want) {
		x.t.Fatalf("sends to the patient:\n got %q\nwant %q", got, want)
	}
}

// wantOptedOut checks the patient's opt-out and the outcome of the
// conversation of each campaign given.
func (x *twoNumbers) wantOptedOut(out bool, ended ...outreach.Campaign) {
	x.t.Helper()
	got, err := x.store.OptedOut(x.ctx, []string{patient})
	if err != nil {
		x.t.Fatal(err)
	}
	if got[patient] != out {
		x.t.Fatalf("opted out: %v, want %v", got[patient], out)
	}
	for _, c := range ended {
		convs, err := x.store.Conversations(x.ctx, c.ID, 0, 0)
		if err != nil {
			x.t.Fatal(err)
		}
		if len(convs) != 1 || convs[0].Outcome != outreach.OutcomeOptedOut {
			x.t.Errorf("campaign %q: conversations %+v, want one ended %s", c.Name, convs, outreach.OutcomeOptedOut)
		}
	}
}

// sid returns the provider id of the last message sent to the patient in
// campaign c.
func (x *twoNumbers) sid(c outreach.Campaign) string {
	x.t.Helper()
	convs, err := x.store.Conversations(x.ctx, c.ID, 0, 0)
	if err != nil || len(convs) != 1 {
		x.t.Fatalf("conversations of %q: %v, %v", c.Name, convs, err)
	}
	msgs, err := x.store.Messages(x.ctx, convs[0].ID)
	if err != nil {
		x.t.Fatal(err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if m := msgs[i]; m.Direction == outreach.Outbound && m.ProviderID != "" {
			return m.ProviderID
		}
	}
	x.t.Fatalf("campaign %q sent nothing", c.Name)
	return ""
}

// TestOptOutAcrossCampaigns: a STOP texted to number A stops campaign B,
// which texts from number B, at once: nothing more reaches the patient
// from either, even the answer B was waiting for; START or UNSTOP (to A,
// where the STOP went, as carriers keep opt-outs per number) lets later
// campaigns from both numbers reach the patient again.
func TestOptOutAcrossCampaigns(t *testing.T) {
	for _, st := range stores {
		for _, optIn := range []string{"START", "unstop"} {
			t.Run(st.name+"/"+optIn, func(t *testing.T) {
				x := newTwoNumbers(t, st.open(t))
				x.text(numberA, "STOP", false)
				x.text(numberB, "yes", false) // B's question answered: B would ask the next one
				for range 5 {
					x.tick()
				}
				x.wantSends("A ok", "A ok", "B ok", "B ok")
				x.wantOptedOut(true, x.a, x.b)
				if r := x.net.Refusals(); len(r) != 0 {
					t.Errorf("the runner tried to send after the STOP: %+v", r)
				}

				x.text(numberA, optIn, false)
				x.wantOptedOut(false)
				c := x.campaign(numberA)
				d := x.campaign(numberB)
				x.tick()
				x.wantSends("A ok", "A ok", "B ok", "B ok", "A ok", "A ok", "B ok", "B ok")
				for _, camp := range []outreach.Campaign{c, d} {
					if o := x.outcomes(camp); o == outreach.OutcomeOptedOut {
						t.Errorf("campaign %q after %s: outcome %s", camp.Name, optIn, o)
					}
				}
			})
		}
	}
}

// outcome returns the outcome of campaign c's one conversation.
func (x *twoNumbers) outcomes(c outreach.Campaign) string {
	x.t.Helper()
	convs, err := x.store.Conversations(x.ctx, c.ID, 0, 0)
	if err != nil || len(convs) != 1 {
		x.t.Fatalf("conversations of %q: %v, %v", c.Name, convs, err)
	}
	return convs[0].Outcome
}

// TestOptOutOnSendStopsOtherNumber: the patient texted STOP to number A
// but the webhook was lost, so the runner learns it from Twilio's error
// 21610 when A sends its next question. The opt-out is recorded, and
// campaign B, from number B, sends nothing more either: not even the
// question that was about to go in the same batch.
func TestOptOutOnSendStopsOtherNumber(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			x := newTwoNumbers(t, st.open(t))
			x.text(numberA, "STOP", true) // the webhook never comes
			// A's question answered (the reply came before the STOP took
			// effect); not with YES, which Twilio takes as START after a STOP.
			x.text(numberA, "yeah", false)
			x.text(numberB, "yes", false)
			for range 5 {
				x.tick()
			}
			got := x.sender.sends()
			i := slices.Index(got, "A 21610")
			if i < 0 {
				t.Fatalf("sends %q: A never got 21610", got)
			}
			if after := got[i+1:]; len(after) != 0 {
				t.Errorf("sends %q: %q went to the patient after the 21610", got, after)
			}
			x.wantOptedOut(true, x.a, x.b)
		})
	}
}

// TestOptOutOnStatusCallbackStopsOtherNumber: a status callback with
// error 21610 for a message from number A (with or without its To)
// records the opt-out, and campaign B, from number B, sends nothing more.
func TestOptOutOnStatusCallbackStopsOtherNumber(t *testing.T) {
	for _, st := range stores {
		for _, withTo := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/to=%v", st.name, withTo), func(t *testing.T) {
				x := newTwoNumbers(t, st.open(t))
				u := outreach.StatusUpdate{ProviderID: x.sid(x.a), Status: "undelivered", ErrorCode: "21610"}
				if withTo {
					u.To = patient
				}
				if err := x.runner.HandleStatus(x.ctx, u); err != nil {
					t.Fatal(err)
				}
				x.wantOptedOut(true)
				x.text(numberB, "yes", false) // B's question answered: B would ask the next one
				for range 5 {
					x.tick()
				}
				x.wantSends("A ok", "A ok", "B ok", "B ok")
				x.wantOptedOut(true, x.b)
				if o := x.outcomes(x.a); o == "" {
					t.Errorf("campaign A's conversation did not end")
				}
			})
		}
	}
}

// A status callback with 21610 for an unknown message and no To changes
// nothing and says so.
func TestOptOutOnStatusCallbackUnknownMessage(t *testing.T) {
	x := newTwoNumbers(t, memstore.New())
	err := x.runner.HandleStatus(x.ctx, outreach.StatusUpdate{ProviderID: "SMunknown", Status: "failed", ErrorCode: "21610"})
	if !errors.Is(err, outreach.ErrNotFound) {
		t.Fatalf("HandleStatus of an unknown message: %v, want ErrNotFound", err)
	}
	x.wantOptedOut(false)
}
