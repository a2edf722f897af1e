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
}

// ErrStalled reports a simulation in which nothing was left to happen but
// the campaign was not finished.
var ErrStalled = errors.New("simphone: the simulation stalled before the campaign finished")

// Run drives campaign campaignID until it is done or cancelled, or ctx is
// cancelled; a campaign that patients start ([outreach.Campaign.OpenEnded])
// until nothing is left to happen. It hands every due reply to Runner.HandleInbound and every
// delivery report to Runner.HandleStatus, and returns the simulated time
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
		s.Runner.NotifyAlerts(ctx) // as Runner.Run does
		if _, err := s.Runner.Tick(ctx); err != nil {
			return s.Clock.Now().Sub(start), err
		}
		now := s.Clock.Now()
		busy := false
		for _, in := range s.Network.Due(now) {
			busy = true
			if _, err := s.Runner.HandleInbound(ctx, in); err != nil {
				return now.Sub(start), fmt.Errorf("simphone: inbound: %w", err)
			}
		}
		for _, rep := range s.Network.DeliveryReports(now) {
			busy = true
			err := s.Runner.HandleStatus(ctx, outreach.StatusUpdate{ProviderID: rep.ProviderID, Status: rep.Status, ErrorCode: rep.ErrorCode})
			if err != nil && !errors.Is(err, outreach.ErrNotFound) {
				return now.Sub(start), fmt.Errorf("simphone: status: %w", err)
			}
		}
		if busy {
			continue
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

		s.Clock.Set(next)
	}
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
