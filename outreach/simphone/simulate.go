package simphone

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// Simulation runs a campaign against a network on a [outreach.ManualClock],
// jumping the clock from one event to the next (the runner's next due
// work, the next reply, the next delivery report), so hours of campaign
// time pass in moments. The runner must send through the network (see
// [NewSender]) and read the same clock.
type Simulation struct {
	Runner  *outreach.Runner
	Store   outreach.Store
	Network *Network
	Clock   *outreach.ManualClock
	// MaxDuration stops the simulation when this much simulated time has
	// passed; zero means 30 days.
	MaxDuration time.Duration
	// Step, when positive, quantizes the clock: it moves only to the
	// start plus a multiple of Step (the next event, rounded up), so that
	// the replies, delivery reports and due work of a whole step are
	// handled at once: the replies and reports that fell due in the step
	// first, in one batch each, then the runner's tick. Replies keep their
	// exact times (ReceivedAt, the time the patient sent them): only the
	// moment the runner learns of one is up to Step late, and with it what
	// the runner does next (the next question goes out at the end of the
	// step). Timeouts that are multiples of Step keep their meaning
	// exactly (a reply sent before the deadline answers, one sent after
	// it does not); a timeout that is not fires up to Step late, so a
	// reply sent in between still answers. A runner throttled to N
	// messages a second should allow a burst of N times Step (see
	// [outreach.NewRateLimiter]): the clock stands still within a step.
	//
	// Zero moves the clock from one event to the next, exactly: each
	// instant of the campaign's (a reply, a send slot of the throttle, a
	// delivery report) is a tick of its own.
	Step time.Duration
}

// ErrStalled reports a simulation in which nothing was left to happen but
// the campaign was not finished.
var ErrStalled = errors.New("simphone: the simulation stalled before the campaign finished")

// Run drives campaign campaignID until it is done or cancelled, or ctx is
// cancelled; a campaign that patients start ([outreach.Campaign.OpenEnded])
// until nothing is left to happen. It hands the due replies to
// Runner.HandleInboundBatch and the delivery reports to
// Runner.HandleStatusBatch (as HandleInbound and HandleStatus would, each
// in turn, but in one transaction each), and returns the simulated time
// that passed. A campaign of another world than the runner's is refused
// with a *[outreach.WorldError]: the simulated phones and clock would
// otherwise answer another world's patients.
func (s *Simulation) Run(ctx context.Context, campaignID int64) (time.Duration, error) {
	c, err := s.Store.Campaign(ctx, campaignID)
	if err != nil {
		return 0, err
	}
	if err := outreach.CheckWorld(c, s.Runner.World()); err != nil {
		return 0, err
	}
	start := s.Clock.Now()
	limit := s.MaxDuration
	if limit <= 0 {
		limit = 30 * 24 * time.Hour
	}
	for iter := 0; ; {
		now := s.Clock.Now()
		if s.Step > 0 {
			// What fell due within the step came before the runner's
			// work due at its end (a timeout, say).
			if _, err := s.feed(ctx, now); err != nil {
				return now.Sub(start), err
			}
		}
		s.Runner.NotifyAlerts(ctx) // as Runner.Run does
		if _, err := s.Runner.Tick(ctx); err != nil {
			return s.Clock.Now().Sub(start), err
		}
		if s.Step <= 0 {
			busy, err := s.feed(ctx, now)
			if err != nil {
				return now.Sub(start), err
			}
			if busy {
				continue
			}
		} else if s.dueBy(now) {
			continue // replies sent at once to what the tick sent
		}
		next, ok := s.next(ctx, now)
		// Reading the campaign costs more than the rest of an iteration:
		// look when nothing is due, and now and then.
		if iter++; !ok || iter%64 == 0 {
			c, err := s.Store.Campaign(ctx, campaignID)
			if err != nil {
				return now.Sub(start), err
			}
			if c.Status.Finished() {
				return now.Sub(start), nil
			}
		}
		if !ok {
			if c.OpenEnded() {
				// Patients may start more conversations; none is left
				// to run now.
				return now.Sub(start), nil
			}
			return now.Sub(start), ErrStalled
		}
		if next.Sub(start) > limit {
			return now.Sub(start), fmt.Errorf("simphone: campaign %d not finished after %v of simulated time", campaignID, limit)
		}
		if !next.After(now) {
			// Due work the runner could not take now (a lease held
			// elsewhere, say): let a little time pass.
			next = now.Add(time.Second)
		}
		if s.Step > 0 {
			// Round up to the start plus a multiple of Step.
			k := (next.Sub(start) + s.Step - 1) / s.Step
			next = start.Add(k * s.Step)
		}

		s.Clock.Set(next)
	}
}

// feed hands the replies and delivery reports due by now to the runner,
// in one batch each, and reports whether there were any.
func (s *Simulation) feed(ctx context.Context, now time.Time) (bool, error) {
	in := s.Network.Due(now)
	reps := s.Network.DeliveryReports(now)
	if len(in) > 0 {
		if _, err := s.Runner.HandleInboundBatch(ctx, in); err != nil {
			return true, fmt.Errorf("simphone: inbound: %w", err)
		}
	}
	if len(reps) > 0 {
		updates := make([]outreach.StatusUpdate, len(reps))
		for i, rep := range reps {
			updates[i] = outreach.StatusUpdate{ProviderID: rep.ProviderID, Status: rep.Status, ErrorCode: rep.ErrorCode}
		}
		// An update's own error can only be ErrNotFound: a message
		// recorded by no one, nothing to update.
		if _, err := s.Runner.HandleStatusBatch(ctx, updates); err != nil {
			return true, fmt.Errorf("simphone: status: %w", err)
		}
	}
	return len(in)+len(reps) > 0, nil
}

// dueBy reports whether a reply or a delivery report is due by now.
func (s *Simulation) dueBy(now time.Time) bool {
	for _, next := range []func() (time.Time, bool){s.Network.NextDue, s.Network.NextReport} {
		if at, ok := next(); ok && !at.After(now) {
			return true
		}
	}
	return false
}

// next returns the earliest time something happens after now.
func (s *Simulation) next(ctx context.Context, now time.Time) (time.Time, bool) {
	var at time.Time
	consider := func(t time.Time, ok bool) {
		if ok && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	t, ok, err := s.Store.NextDue(ctx, s.Runner.Scope(), now)
	consider(t, ok && err == nil)
	consider(s.Network.NextDue())
	consider(s.Network.NextReport())
	return at, !at.IsZero()
}

// RunCampaign creates a campaign of recipients with the runner, starts it
// and runs it as [Simulation.Run] does, and returns it.
func (s *Simulation) RunCampaign(ctx context.Context, nc outreach.NewCampaign, recipients []outreach.Recipient) (outreach.Campaign, error) {
	c, _, err := s.Runner.CreateCampaign(ctx, nc, recipients)
	if err != nil {
		return c, err
	}
	if err := s.Runner.StartCampaign(ctx, c.ID); err != nil {
		return c, err
	}
	_, err = s.Run(ctx, c.ID)
	return c, err
}

// NewSimulation returns a simulation on store: a network of simulated
// phones on clock (seeded with seed, see [New]) and a runner that sends
// through it with opts, on clock (opts.Clock is set). Add the patients'
// phones to s.Network, then run campaigns with [Simulation.RunCampaign].
func NewSimulation(store outreach.Store, clock *outreach.ManualClock, seed uint64, opts outreach.RunnerOptions) *Simulation {
	net := New(clock, seed)
	opts.Clock = clock
	return &Simulation{Runner: outreach.NewRunner(store, NewSender(net), opts), Store: store, Network: net, Clock: clock}
}
