package outreach_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// TestRepliesAHumanMustSee runs the built-in provider flow with replies
// from the issue that a machine must not guess at: each is re-asked once,
// then the conversation ends for review with the reply kept and no
// answer recorded, never down the reassuring branch; urgent words raise
// an alert that the notifier gets once, with ids and terms only.
func TestRepliesAHumanMustSee(t *testing.T) {
	tests := []struct {
		name    string
		replies []string
		outcome string
		doubts  []outreach.Doubt
		answers map[string]string
		terms   [][]string // per alert, in order
		texts   int        // messages the patient got
	}{
		{
			name:    "free text with a number",
			replies: []string{"was 2 yesterday, today it's worse", "I took 2 pills"},
			outcome: outreach.OutcomeNeedsReview,
			doubts:  []outreach.Doubt{outreach.DoubtWords, outreach.DoubtWords},
			terms:   [][]string{{"worse"}},
			texts:   4, // greeting, question, re-ask, "a member of our care team will read your reply"
		},
		{
			name:    "two numbers, then a clear answer",
			replies: []string{"my pain is 9, please call me at 808-555-0164", "9", "yes", "yes"},
			outcome: "followup_scheduled",
			doubts:  []outreach.Doubt{outreach.DoubtNumbers, "", "", ""},
			answers: map[string]string{"ask_pain": "9", "ask_talk": "YES", "ask_followup": "YES"},
			terms:   [][]string{{"call me"}},
			texts:   7,
		},
		{
			name:    "maybe an opt-out",
			replies: []string{"I want to stop"},
			outcome: outreach.OutcomeNeedsReview,
			doubts:  []outreach.Doubt{outreach.DoubtOptOut},
			texts:   2, // nothing after the reply
		},
		{
			name:    "read at once",
			replies: []string{"it's a 3", "Yes, thank you"},
			outcome: "followup_scheduled",
			doubts:  []outreach.Doubt{"", ""},
			answers: map[string]string{"ask_pain": "3", "ask_followup": "YES"},
			texts:   5,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clock := clocktest.Manual(t)
			store := memstore.New()
			var (
				mu       sync.Mutex
				notified []outreach.Alert
			)
			notifier := outreach.NotifierFunc(func(_ context.Context, a outreach.Alert) error {
				mu.Lock()
				defer mu.Unlock()
				notified = append(notified, a)
				return nil
			})
			const from, patient = "+15005550006", "+14406443709"
			sim := simphone.NewSimulation(store, clock, 1, outreach.RunnerOptions{
				From: from, Window: outreach.AnyHour, NoThrottle: true, Notifier: notifier,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			runner, phones := sim.Runner, sim.Network
			phones.Add(patient, simphone.Persona{Responder: simphone.Scripted(tc.replies...), Delay: time.Minute})
			flow, err := flows.Builtin("provider")
			if err != nil {
				t.Fatal(err)
			}
			c, err := sim.RunCampaign(ctx, outreach.NewCampaign{Name: "check-in", Flow: flow}, []outreach.Recipient{{ID: "p-1", FirstName: "Ana", Phone: patient}})
			if err != nil {
				t.Fatal(err)
			}
			runner.NotifyAlerts(ctx)

			convs, err := store.Conversations(ctx, c.ID, 0, 0)
			if err != nil || len(convs) != 1 {
				t.Fatalf("conversations %v, %v", convs, err)
			}
			cv := convs[0]
			if cv.Outcome != tc.outcome {
				t.Errorf("outcome %q; want %q", cv.Outcome, tc.outcome)
			}
			if wantReview := tc.outcome == outreach.OutcomeNeedsReview; (cv.State.Review != nil) != wantReview {
				t.Errorf("review mark %+v; want one: %v", cv.State.Review, wantReview)
			} else if wantReview && cv.State.Review.Doubt != tc.doubts[len(tc.doubts)-1] {
				t.Errorf("review doubt %q; want %q", cv.State.Review.Doubt, tc.doubts[len(tc.doubts)-1])
			}
			if !mapsEqual(cv.State.Answers, tc.answers) {
				t.Errorf("answers %v; want %v", cv.State.Answers, tc.answers)
			}
			rs, err := store.Responses(ctx, c.ID, outreach.ResponsePage{})
			if err != nil {
				t.Fatal(err)
			}
			var doubts []outreach.Doubt
			for i, r := range rs {
				doubts = append(doubts, r.Doubt)
				if r.Raw != tc.replies[i] {
					t.Errorf("response %d kept %q; want the reply %q", i, r.Raw, tc.replies[i])
				}
				if (r.Doubt == "") == (r.Answer == "") {
					t.Errorf("response %d: answer %q with doubt %q", i, r.Answer, r.Doubt)
				}
			}
			if !slices.Equal(doubts, tc.doubts) {
				t.Errorf("doubts %q; want %q", doubts, tc.doubts)
			}
			if got := len(phones.Phone(patient).Inbox()); got != tc.texts {
				t.Errorf("the patient got %d texts; want %d", got, tc.texts)
			}

			alerts, err := store.Alerts(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(alerts) != len(tc.terms) || len(notified) != len(tc.terms) {
				t.Fatalf("alerts %+v, notified %+v; want %d of each", alerts, notified, len(tc.terms))
			}
			for i, a := range alerts {
				if !slices.Equal(a.Terms, tc.terms[i]) || a.PatientID != "p-1" || a.ConversationID != cv.ID || a.NotifiedAt.IsZero() {
					t.Errorf("alert %d = %+v; want terms %q for p-1, notified", i, a, tc.terms[i])
				}
				if notified[i].ID != a.ID {
					t.Errorf("notified alert %d; want %d", notified[i].ID, a.ID)
				}
			}
			// Notified once: nothing is left to notify.
			if n := runner.NotifyAlerts(ctx); n != 0 {
				t.Errorf("a second NotifyAlerts notified %d", n)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestAlertNotifierRetries: a notifier that fails is tried again after
// AlertRetry, not before, and an alert raised in one world is never
// notified by a runner of another.
func TestAlertNotifierRetries(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.Manual(t)
	store := memstore.New()
	fail := true
	var got []int64
	notifier := outreach.NotifierFunc(func(_ context.Context, a outreach.Alert) error {
		if fail {
			return io.ErrUnexpectedEOF
		}
		got = append(got, a.ID)
		return nil
	})
	opts := func(world string) outreach.RunnerOptions {
		return outreach.RunnerOptions{From: "+15005550006", World: world, Clock: clock, NoThrottle: true, Notifier: notifier,
			AlertRetry: time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	}
	real := outreach.NewRunner(store, nil, opts("twilio:AC1"))
	dev := outreach.NewRunner(store, nil, opts(outreach.WorldDev))
	if _, err := dev.HandleInbound(ctx, outreach.InboundMessage{From: "+14406443709", To: "+15005550006", Body: "chest pain!", ProviderID: "SM1", ReceivedAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if n := real.NotifyAlerts(ctx); n != 0 || len(got) != 0 {
		t.Fatalf("the real world's runner notified a dev alert: %d", n)
	}
	if n := dev.NotifyAlerts(ctx); n != 0 {
		t.Fatalf("a failing notifier counted %d", n)
	}
	fail = false
	clock.Advance(30 * time.Second)
	if n := dev.NotifyAlerts(ctx); n != 0 {
		t.Fatalf("retried before AlertRetry: %d", n)
	}
	clock.Advance(30 * time.Second)
	if n := dev.NotifyAlerts(ctx); n != 1 || len(got) != 1 {
		t.Fatalf("after AlertRetry: notified %d (%v); want 1", n, got)
	}
	as, err := store.Alerts(ctx, 0)
	if err != nil || len(as) != 1 || as[0].Tries != 2 || !slices.Equal(as[0].Terms, []string{"chest pain"}) {
		t.Fatalf("alerts %+v, %v", as, err)
	}
	if strings.Contains(strings.Join(as[0].Terms, " "), "!") {
		t.Errorf("terms hold the reply's text: %q", as[0].Terms)
	}
}
