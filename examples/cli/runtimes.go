package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/patient-outreach/sms/internal/twilioenv"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/studio"
)

// runtimeNames are the runtimes --runtime accepts.
var runtimeNames = []string{"embedded", "studio"}

// runtimeConfig is what runtimes are built from.
type runtimeConfig struct {
	// Store keeps the campaigns, whichever runtime runs them.
	Store outreach.Store
	// World is the world of the runtime's campaigns (see
	// outreach.Campaign.World): outreach.WorldSim for the embedded
	// runtime's simulated phones, the Twilio account's for the studio
	// runtime. A runtime works only on its own world's campaigns.
	World string
	// From is the sending number; DefaultZone the zone of recipients whose
	// zone cannot be told.
	From, DefaultZone string
	// Twilio is the account, for the studio runtime.
	Twilio twilioenv.Config
	// Sim configures the simulated phones of the embedded runtime.
	Sim simConfig
	// Window is the local sending window (quiet hours outside it).
	Window outreach.Window
	// StudioPoll is how often the studio runtime looks at a running
	// execution.
	StudioPoll time.Duration
	Logger     *slog.Logger
}

// simConfig configures the embedded runtime's simulated phones and clock.
type simConfig struct {
	// Seed seeds the simulated patients' behaviour and their message ids;
	// zero means a random seed. The same seed gives the same ids, so a
	// seed must not be reused on one database.
	Seed uint64
	// Speed is how many times faster than real time campaign time runs;
	// zero means a simulated clock that jumps from event to event.
	Speed float64
	// Start is the campaign clock's time at start; zero means now.
	Start time.Time
	// Step quantizes the simulated clock (Speed zero): see
	// simphone.Simulation.Step. The throttle then allows a step's worth
	// of messages at once (a burst of PerSecond times Step): the rate per
	// step is the throttle's. Zero moves the clock from one event to the
	// next, exactly.
	Step time.Duration
}

// defaultSimStep is the simulated clock's step by default (--step): with
// the throttle's one message a second, a tick every simulated second of
// a 100,000-recipient campaign (about 500,000 messages) would be half a
// million ticks, each with its store transactions. A minute keeps the
// built-in flows' timeouts (whole minutes) exact, and delays the runner's
// answer to a reply by 30 seconds on average.
const defaultSimStep = time.Minute

// newRuntime builds the runtime called name. It is the only place that
// knows which runtimes exist: every command drives what it returns
// through the outreach.Runtime interface alone.
func newRuntime(name string, cfg runtimeConfig) (outreach.Runtime, error) {
	switch name {
	case "embedded":
		return newSimulated(cfg), nil
	case "studio":
		if !cfg.Twilio.Configured() {
			return nil, usageErr("the studio runtime runs on Twilio: set %s and %s (and %s, the sending number), or use --runtime embedded",
				twilioenv.EnvAccountSID, twilioenv.EnvAuthToken, twilioenv.EnvPhoneNumber)
		}
		if cfg.From == "" {
			return nil, usageErr("the studio runtime needs a sending number: set %s or pass --from", twilioenv.EnvPhoneNumber)
		}
		dep, err := studio.NewDeployer(studio.DeployConfig{
			AccountSID: cfg.Twilio.AccountSID, AuthToken: cfg.Twilio.AuthToken, HTTPClient: cfg.Twilio.HTTPClient(),
		})
		if err != nil {
			return nil, usageErr("%v", err)
		}
		return studio.NewRuntime(cfg.Store, studio.RuntimeConfig{
			Deployer: dep, From: cfg.From, World: cfg.World, DefaultZone: cfg.DefaultZone, Window: cfg.Window,
			PollInterval: cfg.StudioPoll, Logger: cfg.Logger,
		})
	}
	return nil, usageErr("unknown runtime %q: use embedded or studio", name)
}

// simulated is the embedded runtime (an outreach.Runner on the store)
// sending to simulated phones in this process, with the loop that hands
// the phones' replies and delivery reports to the runner. Every method
// but Run is the Runner's.
type simulated struct {
	*outreach.Runner
	store  outreach.Store
	net    *simphone.Network
	manual *outreach.ManualClock // nil when the clock runs at Speed
	step   time.Duration         // of the manual clock
	speed  float64
	seed   uint64
}

func newSimulated(cfg runtimeConfig) *simulated {
	start := cfg.Sim.Start
	if start.IsZero() {
		start = time.Now()
	}
	seed := cfg.Sim.Seed
	for seed == 0 {
		// Each run needs ids of its own: a second run on the same
		// database with the same seed would text with the first's ids,
		// which the store takes for repeats and ignores.
		seed = rand.Uint64()
	}
	s := &simulated{store: cfg.Store, speed: cfg.Sim.Speed, seed: seed}
	opts := outreach.RunnerOptions{From: cfg.From, World: cfg.World, DefaultZone: cfg.DefaultZone, Window: cfg.Window, Logger: cfg.Logger,
		Machines: studioMachines()}
	if s.speed > 0 {
		clock := newScaledClock(start, s.speed)
		opts.Clock = clock
		// Look for work about four times a second of real time, not of
		// campaign time: a fast clock would poll the database in a loop.
		opts.PollInterval = max(time.Second, time.Duration(s.speed*float64(250*time.Millisecond)))
	} else {
		s.manual = outreach.NewManualClock(start)
		s.step = cfg.Sim.Step
		opts.Clock = s.manual
		if s.step > 0 {
			// The clock stands still within a step: the throttle allows
			// the step's messages at once, and no more.
			perSecond := max(opts.PerSecond, 0)
			if perSecond == 0 {
				perSecond = 1 // the runner's default
			}
			opts.Limiter = outreach.NewRateLimiter(perSecond, max(1, int(perSecond*s.step.Seconds())))
		}
	}
	s.net = simphone.New(opts.Clock, seed)
	s.net.SetDefault(simphone.RandomPersona)
	s.Runner = outreach.NewRunner(cfg.Store, simphone.NewSender(s.net), opts)
	return s
}

// Run sends and receives until ctx is cancelled, then returns ctx.Err()
// once every send under way is recorded. It fails if a simulated phone
// ever received the same message (send key) twice.
func (s *simulated) Run(ctx context.Context) error {
	var err error
	if s.manual != nil {
		err = s.runSimulated(ctx)
	} else {
		err = s.runScaled(ctx)
	}
	for key, n := range s.net.CountByKey() {
		if n > 1 {
			return fmt.Errorf("simulated phones received message %v %d times: a message was sent more than once", key, n)
		}
	}
	return err
}

// runSimulated drives every running campaign of its own (the embedded
// runtime's, of its world: another program's campaigns in the same
// database are left alone) with a simphone.Simulation, which moves the
// manual clock from one event to the next, then waits for more work (a
// campaign started later) until ctx is cancelled.
func (s *simulated) runSimulated(ctx context.Context) error {
	scope := s.Runner.Scope()
	for {
		list, err := s.store.Campaigns(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		for _, c := range list {
			if c.Status != outreach.CampaignRunning || !scope.Holds(c) {
				continue
			}
			// A run stopped between a campaign's last conversation ending
			// and the campaign being marked done leaves it running.
			if done, err := s.store.FinishCampaignIfDone(ctx, c.ID, s.manual.Now()); err != nil || done {
				if err != nil && ctx.Err() == nil {
					return err
				}
				continue
			}
			sim := &simphone.Simulation{Runner: s.Runner, Store: s.store, Network: s.net, Clock: s.manual, Step: s.step}
			if _, err := sim.Run(ctx, c.ID); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("campaign %d: %w", c.ID, err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runScaled runs the runner, and the phones' replies and delivery reports,
// on the scaled clock: three loops, owned here and all stopped before it
// returns.
func (s *simulated) runScaled(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() {
		errs[0] = s.Runner.Run(ctx)
	})
	wg.Go(func() {
		errs[1] = s.net.Run(ctx, func(ctx context.Context, in outreach.InboundMessage) error {
			_, err := s.HandleInbound(ctx, in)
			return err
		})
		cancel()
	})
	wg.Go(func() {
		errs[2] = s.net.RunReports(ctx, func(ctx context.Context, r simphone.DeliveryReport) error {
			err := s.HandleStatus(ctx, outreach.StatusUpdate{ProviderID: r.ProviderID, Status: r.Status, ErrorCode: r.ErrorCode})
			if errors.Is(err, outreach.ErrNotFound) {
				return nil // a message recorded by no one: nothing to update
			}
			return err
		})
		cancel()
	})
	wg.Wait()
	for _, err := range errs[1:] {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errs[0]
}

// scaledClock is an outreach.Clock whose time runs speed times faster than
// real time from start.
type scaledClock struct {
	wall  time.Time // when the clock was made
	start time.Time // its time then
	speed float64
}

func newScaledClock(start time.Time, speed float64) *scaledClock {
	return &scaledClock{wall: time.Now(), start: start, speed: speed}
}

func (c *scaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.wall)) * c.speed))
}

func (c *scaledClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	time.AfterFunc(time.Duration(float64(d)/c.speed), func() { ch <- c.Now() })
	return ch
}

// String describes the embedded runtime's phones and clock.
func (s *simulated) String() string {
	phones := "embedded runtime, simulated phones (--seed " + strconv.FormatUint(s.seed, 10) + ")"
	if s.manual != nil {
		if s.step > 0 {
			return phones + " on a simulated clock: campaign time jumps from event to event, in steps of " + s.step.String() + " (--step)"
		}
		return phones + " on a simulated clock: campaign time jumps from event to event"
	}
	return phones + ": campaign time runs " + strconv.FormatFloat(s.speed, 'g', -1, 64) + "x real time"
}

// studioMachines runs the flows imported from Studio exports as Studio
// runs them (studio.Machine): make-http-request and run-function widgets
// take their failure paths, since the CLI allows no hosts and registers no
// functions.
func studioMachines() map[string]outreach.Machine {
	return map[string]outreach.Machine{studio.SourceFormat: &studio.Machine{}}
}
