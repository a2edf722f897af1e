package outreach_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// TestRunnerInvariants runs campaigns under random patient behaviour and
// random provider faults (retryable, ambiguous before and after the
// provider accepted, permanent) and checks what must always hold: every
// send key reaches a phone at most once, nothing is sent after a STOP or
// outside the sending window, and every conversation ends.
func TestRunnerInvariants(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	zones := map[string]string{"212": "America/New_York", "602": "America/Phoenix", "808": "Pacific/Honolulu", "415": "America/Los_Angeles"}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 99))
			// Start at a random hour so that some runs begin in quiet hours.
			start := time.Date(2026, 6, 10, rnd.IntN(24), rnd.IntN(60), 0, 0, time.UTC)
			r := newRig(t, start, outreach.RunnerOptions{PerSecond: 5})
			r.net.SetDefault(simphone.RandomPersona)
			r.sender.SetFaults(func(outreach.OutboundMessage) simphone.Fault {
				switch n := rnd.IntN(100); {
				case n < 6:
					return simphone.Fault{Kind: outreach.Retryable, RetryAfter: time.Duration(rnd.IntN(30)) * time.Second}
				case n < 9:
					return simphone.Fault{Kind: outreach.Ambiguous, Accepted: true}
				case n < 12:
					return simphone.Fault{Kind: outreach.Ambiguous}
				case n < 13:
					return simphone.Fault{Kind: outreach.Permanent, Code: "21611"}
				}
				return simphone.Fault{}
			})
			var recs []outreach.Recipient
			codes := []string{"212", "602", "808", "415"}
			for i := range 40 {
				// Family phones: a few numbers carry two recipients.
				n := i
				if i%10 == 9 {
					n = i - 1
				}
				recs = append(recs, outreach.Recipient{
					ID: fmt.Sprintf("p%d", i), FirstName: "Pat",
					Phone: fmt.Sprintf("+1%s4%06d", codes[n%4], n), TimeZone: zones[codes[n%4]],
				})
			}
			c := r.campaign(loopFlow(), recs...)
			r.run(c)
			st := r.runner.Stats()
			t.Logf("start %s UTC: %+v", start.Format(time.Kitchen), st)
			if st.Sent == 0 || st.Retried+st.Ambiguous == 0 {
				t.Fatalf("nothing sent or no fault met: the run proves little (%+v)", st)
			}

			for k, n := range r.net.CountByKey() {
				if n != 1 {
					t.Errorf("key %v reached a phone %d times", k, n)
				}
			}
			for _, ref := range r.net.Refusals() {
				if ref.Code == simphone.CodeOptedOut {
					t.Errorf("sent to an opted-out number: %v", ref.Key)
				}
			}
			convs, err := r.store.Conversations(r.ctx, c.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			zoneOf := map[string]string{}
			for _, cv := range convs {
				if cv.Status != outreach.ConversationDone {
					t.Errorf("conversation %d is %s", cv.ID, cv.Status)
				}
				zoneOf[cv.Recipient.Phone] = cv.Recipient.TimeZone
			}
			for _, p := range r.net.Phones() {
				loc, _ := time.LoadLocation(zoneOf[p.Number()])
				var stop time.Time
				for _, rep := range p.Replies() {
					if outreach.ParseKeyword(rep.Body) == outreach.KeywordStop && stop.IsZero() {
						stop = rep.At
					}
				}
				for _, m := range p.Inbox() {
					if h := m.At.In(loc).Hour(); h < 8 || h >= 21 {
						t.Errorf("%s: message at %s local", p.Number(), m.At.In(loc).Format(time.Kitchen))
					}
					if !stop.IsZero() && m.At.After(stop) {
						t.Errorf("%s: message at %s after STOP at %s", p.Number(), m.At, stop)
					}
				}
			}
		})
	}
}
