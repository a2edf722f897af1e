package studio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"
	studioapi "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/patient-outreach/sms/internal/twiliocall"
	"github.com/patient-outreach/sms/outreach"
)

// RuntimeName is the name of the Studio runtime ([Runtime.Name]) and the
// Runtime of the campaigns it runs.
const RuntimeName = "studio"

// MaxExecutionsPerSecond is Twilio's limit on execution creations.
const MaxExecutionsPerSecond = 20

// ConversationParam is the Parameters key (flow.data.outreach_conversation)
// that carries the conversation ID, so that an execution found after a
// crash can be told apart from another campaign's for the same phone.
const ConversationParam = "outreach_conversation"

// ErrTriggerUnsupported refuses a campaign of a flow that patients start
// ([outreach.Trigger]) in the Studio [Runtime]: Studio starts those
// executions itself, when a text reaches a number pointed at the flow,
// and the Runtime collects only the executions it creates. Run such
// flows in the embedded runtime (with [Machine] for imported ones).
var ErrTriggerUnsupported = errors.New("studio: flows that patients start by texting (a Trigger) run in the embedded runtime: the Studio runtime collects only the executions it creates")

// RuntimeConfig configures a [Runtime].
type RuntimeConfig struct {
	// Deployer deploys the campaigns' flows and makes every call to
	// Twilio (its credentials and transport). Required.
	Deployer *Deployer
	// From is the sending number of campaigns that do not name their own.
	From string
	// World is the world of the campaigns the runtime creates, and the
	// only world whose campaigns it claims or changes (see
	// [outreach.Campaign.World]): [outreach.TwilioWorld] of the account
	// for a real one, [outreach.WorldDev] with a dev-mode fake Twilio.
	// Empty is the world of embedders that set none.
	World string
	// DefaultZone is the IANA zone of campaigns that do not name their
	// own; default America/New_York.
	DefaultZone string
	// Window is the local sending window checked when an execution is
	// created; default 08:00-21:00.
	Window outreach.Window
	// Clock tells the time; default the system clock.
	Clock outreach.Clock
	// PerSecond is how many executions are created per second at most;
	// default (and at most) [MaxExecutionsPerSecond]. Creations are paced
	// evenly, and a 429 from Twilio is retried after its Retry-After.
	PerSecond float64
	// NoThrottle turns the pacing off (tests on a manual clock, where
	// waiting would never end; Twilio's 429s still slow creations down).
	NoThrottle bool
	// PollInterval is how often a running execution is looked at; default
	// 30 seconds.
	PollInterval time.Duration
	// ReconcileGrace is how long after an intent whose outcome is unknown
	// the runtime still looks for its execution before concluding that it
	// was never created and creating it; default 30 seconds. (A request
	// whose answer was lost may still be processed for a while.)
	ReconcileGrace time.Duration
	// WakeInterval is the longest [Runtime.Run] sleeps between claims;
	// default 1 second.
	WakeInterval time.Duration
	// BatchSize is how many conversations one claim takes; default 20.
	BatchSize int
	// Lease is how long a claim lasts; default 2 minutes.
	Lease time.Duration
	// Urgent finds the urgent words that raise an [outreach.Alert] in the
	// replies collected from executions; nil means
	// [outreach.DefaultUrgentTerms]. The runtime records the alerts; an
	// [outreach.Runner] of the same world with a Notifier tells people.
	Urgent *outreach.UrgentTerms
	// Logger receives operational logs (SIDs, ids and masked numbers,
	// never bodies); default slog.Default().
	Logger *slog.Logger
}

// Runtime runs campaigns as Twilio Studio executions: one execution of
// the campaign's flow, deployed to Studio, per recipient. It implements
// [outreach.Runtime] over the same [outreach.Store] as the embedded
// runner; each claims only its own campaigns.
//
// Guarantees, next to the embedded runtime's (see the package doc):
//   - An execution is created at most once per conversation: the intent
//     is recorded before the request; after a crash or an ambiguous
//     answer the runtime looks for the execution (executions of the flow
//     created since the intent, matched on contact_channel_address and the
//     conversation ID in flow.data) and adopts it, and Studio's conflict
//     (409, code 20409, one active execution per contact) is resolved the
//     same way. Throttled requests (429) were not processed and are
//     retried after Retry-After.
//   - Opt-outs, quiet hours and the throttle are checked when the
//     execution is created, not before each later message: Studio sends
//     its follow-up questions itself.
//   - Replies collected from ended executions are scanned for STOP and
//     START, which are recorded as opt-outs (at the reply's time).
type Runtime struct {
	store outreach.Store
	dep   *Deployer
	cfg   RuntimeConfig
	log   *slog.Logger
	wake  chan struct{}

	mu        sync.Mutex
	campaigns map[int64]*outreach.Campaign
	listed    map[int64]executionList // by campaign
	nextSlot  time.Time               // when the next execution may be created
	recent    []time.Time             // the latest creation slots, oldest first
}

var _ outreach.Runtime = (*Runtime)(nil)

// NewRuntime returns a Studio runtime over store.
func NewRuntime(store outreach.Store, cfg RuntimeConfig) (*Runtime, error) {
	if store == nil || cfg.Deployer == nil {
		return nil, errors.New("studio: NewRuntime needs a store and RuntimeConfig.Deployer")
	}
	if cfg.From != "" {
		if _, err := outreach.NormalizePhone(cfg.From, ""); err != nil && !strings.HasPrefix(cfg.From, "MG") {
			return nil, fmt.Errorf("studio: RuntimeConfig.From: %w", err)
		}
	}
	if cfg.DefaultZone == "" {
		cfg.DefaultZone = "America/New_York"
	}
	if _, err := outreach.LoadZones(nil, cfg.DefaultZone); err != nil {
		return nil, fmt.Errorf("studio: RuntimeConfig.DefaultZone: %w", err)
	}
	if cfg.Window == (outreach.Window{}) {
		cfg.Window = outreach.DefaultWindow
	}
	if err := cfg.Window.Validate(); err != nil {
		return nil, fmt.Errorf("studio: RuntimeConfig.Window: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = outreach.SystemClock{}
	}
	if cfg.PerSecond <= 0 || cfg.PerSecond > MaxExecutionsPerSecond {
		cfg.PerSecond = MaxExecutionsPerSecond
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 30 * time.Second
	}
	if cfg.ReconcileGrace <= 0 {
		cfg.ReconcileGrace = 30 * time.Second
	}
	if cfg.WakeInterval <= 0 {
		cfg.WakeInterval = time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 20
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Urgent == nil {
		cfg.Urgent = outreach.MustUrgentTerms(outreach.DefaultUrgentTerms)
	}
	return &Runtime{
		store: store, dep: cfg.Deployer, cfg: cfg, log: cfg.Logger,
		wake:      make(chan struct{}, 1),
		campaigns: make(map[int64]*outreach.Campaign),
		listed:    make(map[int64]executionList),
	}, nil
}

// Name returns [RuntimeName].
func (rt *Runtime) Name() string { return RuntimeName }

// World returns the runtime's world (RuntimeConfig.World).
func (rt *Runtime) World() string { return rt.cfg.World }

// Scope returns the campaigns the runtime works on: the Studio runtime's,
// of its world.
func (rt *Runtime) Scope() outreach.Scope {
	return outreach.Scope{Runtime: RuntimeName, World: rt.cfg.World}
}

// CreateCampaign exports the flow, deploys it to Studio (by friendly name:
// the flow's Name, or its ID; deploying again adds a revision), and stores
// a draft campaign with one conversation per recipient. For a two-way
// flow, the sending number becomes the flow's: it is recorded as owned by
// the flow (a *[outreach.NumberConflictError] when another runtime or
// flow owns it) and its incoming-message URL is pointed at the flow's
// webhook, since replies never reach Studio otherwise.
//
// A flow with a Trigger is refused with [ErrTriggerUnsupported].
func (rt *Runtime) CreateCampaign(ctx context.Context, nc outreach.NewCampaign, recipients []outreach.Recipient) (outreach.Campaign, int, error) {
	if nc.Flow == nil {
		return outreach.Campaign{}, 0, errors.New("studio: new campaign has no flow")
	}
	if err := nc.Flow.Validate(); err != nil {
		return outreach.Campaign{}, 0, err
	}
	if nc.Flow.Trigger != nil {
		return outreach.Campaign{}, 0, ErrTriggerUnsupported
	}
	if len(recipients) == 0 {
		return outreach.Campaign{}, 0, outreach.ErrNoRecipients
	}
	if err := outreach.CheckRecipients(recipients); err != nil {
		return outreach.Campaign{}, 0, err
	}
	c := outreach.Campaign{
		Name: nc.Name, Flow: nc.Flow.Clone(), From: cmpOr(nc.From, rt.cfg.From),
		DefaultZone: cmpOr(nc.DefaultZone, rt.cfg.DefaultZone), Runtime: RuntimeName, World: rt.cfg.World,
		Status: outreach.CampaignDraft,
	}
	if c.From == "" {
		return outreach.Campaign{}, 0, errors.New("studio: new campaign has no sending number: set NewCampaign.From or RuntimeConfig.From")
	}
	if _, err := outreach.LoadZones(nil, c.DefaultZone); err != nil {
		return outreach.Campaign{}, 0, fmt.Errorf("studio: new campaign: default zone: %w", err)
	}
	twoWay := c.Flow.TwoWay()
	if twoWay {
		// Refuse early, before deploying, when the number is taken.
		if o, ok, err := rt.store.NumberOwner(ctx, c.From); err != nil {
			return outreach.Campaign{}, 0, fmt.Errorf("studio: sending number owner: %w", err)
		} else if ok && o.Runtime != RuntimeName {
			return outreach.Campaign{}, 0, &outreach.NumberConflictError{Number: c.From, Owner: o,
				Wanted: outreach.NumberOwner{Number: c.From, Runtime: RuntimeName, FlowName: flowName(c.Flow)}}
		}
	}
	dep, err := rt.dep.Deploy(ctx, c.Flow, DeployOptions{CommitMessage: "campaign " + nc.Name})
	if err != nil {
		return outreach.Campaign{}, 0, err
	}
	c.RuntimeRef = dep.SID
	if twoWay {
		if err := rt.TakeNumber(ctx, c.From, dep); err != nil {
			return outreach.Campaign{}, 0, err
		}
	}
	now := rt.cfg.Clock.Now()
	c.CreatedAt = now // executions are listed from then on
	created, added, err := rt.store.CreateCampaign(ctx, c, outreach.NewConversations(c, recipients, rt.cfg.Window, now))
	if err != nil {
		return outreach.Campaign{}, 0, fmt.Errorf("studio: create campaign: %w", err)
	}
	rt.log.Info("studio campaign created", "campaign", created.ID, "flow_sid", dep.SID, "revision", dep.Revision, "conversations", added)
	return created, added, nil
}

// TakeNumber gives a sending number to a deployed two-way flow: it
// records the flow as the number's owner in the store (a
// *[outreach.NumberConflictError] when another flow, or an unfinished
// embedded two-way campaign, holds it) and then points the number's (for
// a Messaging Service SID, the service's) incoming-message URL at the
// flow's webhook. CreateCampaign does this for two-way flows; call it to
// point a number at a flow deployed on its own.
func (rt *Runtime) TakeNumber(ctx context.Context, number string, dep Deployed) error {
	err := rt.store.ClaimNumber(ctx, outreach.NumberOwner{
		Number: number, Runtime: RuntimeName, Flow: dep.SID, FlowName: dep.FriendlyName, Since: rt.cfg.Clock.Now(),
	})
	if err != nil {
		return err
	}
	if strings.HasPrefix(number, "MG") {
		return rt.dep.PointMessagingService(ctx, number, dep.WebhookURL)
	}
	return rt.dep.PointNumber(ctx, number, dep.WebhookURL)
}

// ReleaseNumber gives a sending number back to the embedded runtime: it
// points the number's incoming-message URL (for a Messaging Service SID,
// the service's) at webhookURL (the embedded runtime's inbound webhook)
// and removes the Studio flow's ownership. It refuses while a Studio
// campaign from that number is unfinished.
func (rt *Runtime) ReleaseNumber(ctx context.Context, number, webhookURL string) error {
	o, ok, err := rt.store.NumberOwner(ctx, number)
	if err != nil || !ok || o.Runtime != RuntimeName {
		return err
	}
	cs, err := rt.store.Campaigns(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Runtime == RuntimeName && c.From == number && !c.Status.Finished() {
			return fmt.Errorf("studio: release %s: Studio campaign %d from it is %s: cancel it first", outreach.MaskPhone(number), c.ID, c.Status)
		}
	}
	point := rt.dep.PointNumber
	if strings.HasPrefix(number, "MG") {
		point = rt.dep.PointMessagingService
	}
	if err := point(ctx, number, webhookURL); err != nil {
		return err
	}
	return rt.store.ReleaseNumber(ctx, number, o.Runtime, o.Flow)
}

// AddRecipients adds recipients to a Studio campaign that is not
// finished, skipping those it has (by ID); recipients that repeat an ID
// among themselves are refused as by CreateCampaign. Their executions
// are created by [Runtime.Run] while the campaign runs.
func (rt *Runtime) AddRecipients(ctx context.Context, id int64, recipients []outreach.Recipient) (int, error) {
	if err := outreach.CheckRecipients(recipients); err != nil {
		return 0, err
	}
	c, err := rt.campaign(ctx, id)
	if err != nil {
		return 0, err
	}
	now, err := rt.store.Campaign(ctx, id) // its status as of now
	if err != nil {
		return 0, err
	}
	if now.Status.Finished() {
		return 0, &outreach.TransitionError{Campaign: id, From: now.Status, To: now.Status}
	}
	return rt.store.AddConversations(ctx, id, outreach.NewConversations(*c, recipients, rt.cfg.Window, rt.cfg.Clock.Now()))
}

// StartCampaign moves a draft or paused Studio campaign to running:
// executions are then created by [Runtime.Run].
func (rt *Runtime) StartCampaign(ctx context.Context, id int64) error {
	c, err := rt.campaign(ctx, id)
	if err != nil {
		return err
	}
	if c.Flow.TwoWay() {
		err := rt.store.ClaimNumber(ctx, outreach.NumberOwner{Number: c.From, Runtime: RuntimeName, Flow: c.RuntimeRef, Since: rt.cfg.Clock.Now()})
		if err != nil {
			return err
		}
	}
	return rt.setStatus(ctx, id, outreach.CampaignRunning)
}

// PauseCampaign stops creating executions for a campaign. Executions
// already running go on: Studio runs them.
func (rt *Runtime) PauseCampaign(ctx context.Context, id int64) error {
	return rt.setStatus(ctx, id, outreach.CampaignPaused)
}

// ResumeCampaign restarts a paused campaign.
func (rt *Runtime) ResumeCampaign(ctx context.Context, id int64) error {
	return rt.StartCampaign(ctx, id)
}

// CancelCampaign ends a campaign: every unfinished conversation ends
// "cancelled", the executions still running are ended in Studio, and the
// answers they had collected are read back into the campaign's responses
// (opt-outs among them recorded), as when an execution ends by itself.
func (rt *Runtime) CancelCampaign(ctx context.Context, id int64) error {
	c, err := rt.campaign(ctx, id)
	if err != nil {
		return err
	}
	if err := rt.setStatus(ctx, id, outreach.CampaignCancelled); err != nil {
		return err
	}
	var errs []error
	for after := int64(0); ; {
		convs, err := rt.store.Conversations(ctx, id, after, 500)
		if err != nil {
			return err
		}
		if len(convs) == 0 {
			break
		}
		after = convs[len(convs)-1].ID
		for _, conv := range convs {
			if r := conv.State.Remote; r != nil && r.ID != "" && !r.Ended {
				if err := rt.endExecution(ctx, c.RuntimeRef, r.ID); err != nil {
					errs = append(errs, err)
					continue
				}
				if err := rt.collectCancelled(ctx, c, conv.ID); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// collectCancelled reads back the answers of a cancelled conversation's
// ended execution. A conversation that a runtime holds at that moment is
// left to it: it records what it collects.
func (rt *Runtime) collectCancelled(ctx context.Context, c *outreach.Campaign, id int64) error {
	cl, err := rt.store.ClaimConversation(ctx, id, rt.cfg.Clock.Now(), rt.cfg.Lease)
	if errors.Is(err, outreach.ErrLeaseLost) {
		return nil
	}
	if err != nil {
		return err
	}
	u := outreach.Update{Lease: cl.Lease, Release: true, Conversation: cl.Conversation}
	col, err := rt.collect(ctx, c, cl.Conversation)
	if err == nil {
		for _, o := range col.optOuts {
			if err = rt.store.SetOptOut(ctx, c.World, cl.Conversation.Recipient.Phone, o.stop, o.at); err != nil {
				break
			}
		}
	}
	if err == nil {
		u.Responses, u.Enqueue, u.Received = col.responses, col.sent, col.received
	}
	res, cerr := rt.store.Commit(ctx, rt.cfg.Clock.Now(), []outreach.Update{u})
	if cerr == nil {
		cerr = res[0]
	}
	if cerr == nil {
		cerr = rt.raiseAlerts(ctx, c, cl.Conversation, u.Received)
	}
	return errors.Join(err, cerr)
}

// raiseAlerts records an alert for each collected reply of conv with
// urgent words, as the embedded runner does for the replies it receives.
// The replies are stored already (by the commit that collected them);
// alerts are kept once per message, so collecting again adds none.
func (rt *Runtime) raiseAlerts(ctx context.Context, c *outreach.Campaign, conv outreach.Conversation, received []outreach.Message) error {
	found := map[string][]string{} // provider id -> terms
	for _, m := range received {
		if terms := rt.cfg.Urgent.Find(m.Body); len(terms) > 0 {
			found[m.ProviderID] = terms
		}
	}
	if len(found) == 0 {
		return nil
	}
	msgs, err := rt.store.Messages(ctx, conv.ID)
	if err != nil {
		return fmt.Errorf("studio: conversation %d: alerts: %w", conv.ID, err)
	}
	for _, m := range msgs {
		terms, ok := found[m.ProviderID]
		if !ok || m.Direction != outreach.Inbound {
			continue
		}
		a, isNew, err := rt.store.AddAlert(ctx, outreach.Alert{World: c.World, CampaignID: c.ID, ConversationID: conv.ID,
			MessageID: m.ID, PatientID: conv.Recipient.ID, Terms: terms, At: m.SentAt, RetryAt: m.SentAt})
		if err != nil {
			return fmt.Errorf("studio: conversation %d: record alert: %w", conv.ID, err)
		}
		if isNew {
			rt.log.Warn("studio: urgent reply", "alert", a.ID, "campaign", c.ID, "conversation", conv.ID, "message", m.ID)
		}
	}
	return nil
}

func (rt *Runtime) setStatus(ctx context.Context, id int64, to outreach.CampaignStatus) error {
	if _, err := rt.campaign(ctx, id); err != nil {
		return err
	}
	if err := rt.store.SetCampaignStatus(ctx, id, to, rt.cfg.Clock.Now()); err != nil {
		return err
	}
	rt.Wake()
	return nil
}

// Progress counts where a campaign stands: conversations pending (no
// execution yet), active (execution running) and done, with outcomes.
func (rt *Runtime) Progress(ctx context.Context, id int64) (outreach.Progress, error) {
	return outreach.CampaignProgress(ctx, rt.store, id, rt.cfg.Clock.Now())
}

// Responses returns a page of a campaign's answers, collected from its
// ended executions, with a row for each recipient who gave none
// ([outreach.CampaignResponses]).
func (rt *Runtime) Responses(ctx context.Context, id int64, page outreach.ResponsePage) ([]outreach.Response, error) {
	return outreach.CampaignResponses(ctx, rt.store, id, page)
}

// Wake makes Run look for work now.
func (rt *Runtime) Wake() {
	select {
	case rt.wake <- struct{}{}:
	default:
	}
}

// Run creates executions, watches them and collects their answers until
// ctx is cancelled; it then returns ctx.Err() once the work in hand is
// recorded.
func (rt *Runtime) Run(ctx context.Context) error {
	for {
		n, err := rt.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			rt.log.Error("studio runtime", "err", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n > 0 && err == nil {
			continue
		}
		wait := rt.cfg.WakeInterval
		now := rt.cfg.Clock.Now()
		if at, ok, err := rt.store.NextDue(ctx, rt.Scope(), now); err == nil && ok && at.Sub(now) < wait {
			wait = max(at.Sub(now), 0)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-rt.wake:
		case <-rt.cfg.Clock.After(wait):
		}
	}
}

// Tick claims one batch of due conversations and works on them: creating
// executions, looking at running ones, collecting ended ones. It returns
// how many it claimed.
func (rt *Runtime) Tick(ctx context.Context) (int, error) {
	now := rt.cfg.Clock.Now()
	claims, err := rt.store.ClaimDue(ctx, rt.Scope(), now, rt.cfg.BatchSize, rt.cfg.Lease)
	if err != nil || len(claims) == 0 {
		return 0, err
	}
	phones := make([]string, len(claims))
	for i, cl := range claims {
		phones[i] = cl.Conversation.Recipient.Phone
	}
	opted, err := rt.store.OptedOut(ctx, phones)
	if err != nil {
		return len(claims), fmt.Errorf("studio: opt-outs: %w", err)
	}
	touched := make(map[int64]bool)
	var errs []error
	for _, cl := range claims {
		// Work already claimed is finished and recorded even when ctx
		// ends: each step is short and bounded by the Deployer's timeout.
		wctx := context.WithoutCancel(ctx)
		if ctx.Err() != nil {
			rt.release(wctx, cl)
			continue
		}
		c, err := rt.campaign(wctx, cl.Conversation.CampaignID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		u, err := rt.work(ctx, wctx, c, cl, opted[cl.Conversation.Recipient.Phone])
		if err != nil {
			errs = append(errs, err)
		}
		if u == nil {
			rt.release(wctx, cl)
			continue
		}
		u.Lease, u.Release = cl.Lease, true
		if res, err := rt.store.Commit(wctx, rt.cfg.Clock.Now(), []outreach.Update{*u}); err != nil {
			errs = append(errs, err)
		} else if res[0] != nil {
			errs = append(errs, res[0])
		} else if err := rt.raiseAlerts(wctx, c, u.Conversation, u.Received); err != nil {
			errs = append(errs, err)
		}
		if u.Conversation.Status == outreach.ConversationDone {
			touched[c.ID] = true
		}
	}
	for id := range touched {
		if _, err := rt.store.FinishCampaignIfDone(context.WithoutCancel(ctx), id, rt.cfg.Clock.Now()); err != nil {
			errs = append(errs, err)
		}
	}
	return len(claims), errors.Join(errs...)
}

// release gives a claim back untouched.
func (rt *Runtime) release(ctx context.Context, cl outreach.Claim) {
	u := outreach.Update{Lease: cl.Lease, Release: true, Conversation: cl.Conversation}
	_, _ = rt.store.Commit(ctx, rt.cfg.Clock.Now(), []outreach.Update{u})
}

// work decides what to do with one claimed conversation and returns its
// update (nil: nothing to commit). ctx stops waiting for the throttle;
// wctx carries the calls whose outcome must be recorded.
func (rt *Runtime) work(ctx, wctx context.Context, c *outreach.Campaign, cl outreach.Claim, optedOut bool) (*outreach.Update, error) {
	conv := cl.Conversation
	u := &outreach.Update{Conversation: conv}
	r := conv.State.Remote
	switch {
	case r != nil && r.ID != "":
		return rt.watch(wctx, c, conv, u)
	case r != nil:
		// An intent whose outcome is unknown: look before creating.
		sid, err := rt.findExecution(wctx, c, conv, r.IntentAt)
		if err != nil {
			u.Conversation.NextAt = rt.cfg.Clock.Now().Add(rt.cfg.PollInterval)
			return u, err
		}
		if sid != "" {
			rt.log.Info("studio execution reconciled", "conversation", conv.ID, "execution", sid)
			return rt.started(u, sid), nil
		}
		if wait := r.IntentAt.Add(rt.cfg.ReconcileGrace); wait.After(rt.cfg.Clock.Now()) {
			// A request whose answer was lost may still be processed:
			// look again once it would have been.
			u.Conversation.NextAt = wait
			return u, nil
		}
	}
	now := rt.cfg.Clock.Now()
	if optedOut {
		return rt.end(u, outreach.OutcomeOptedOut), nil
	}
	locs, err := outreach.LoadZones(conv.Zones, c.DefaultZone)
	if err != nil {
		locs, _ = outreach.LoadZones(nil, c.DefaultZone)
	}
	if !rt.cfg.Window.Contains(now, locs) {
		start, _, ok := rt.cfg.Window.Next(now, locs)
		if !ok {
			start = now.Add(time.Hour)
		}
		u.Conversation.NextAt = start
		return u, nil
	}
	if err := rt.throttle(ctx); err != nil {
		return nil, nil // stopping: the claim lapses, nothing was done
	}
	// Record the intent before the request.
	now = rt.cfg.Clock.Now()
	intent := *u
	intent.Lease = cl.Lease
	intent.Conversation.State.Remote = &outreach.RemoteRun{IntentAt: now}
	intent.Conversation.NextAt = now.Add(rt.cfg.Lease)
	if res, err := rt.store.Commit(wctx, now, []outreach.Update{intent}); err != nil {
		return nil, err
	} else if res[0] != nil {
		return nil, res[0]
	}
	u.Conversation = intent.Conversation
	return rt.create(wctx, c, conv, u)
}

// throttle waits for the next creation slot. Slots are 1/PerSecond
// apart, so creations are spread evenly rather than in bursts, and no
// more than PerSecond start within any second and a little (windowSlack):
// a request that leaves late must not crowd the window that Twilio
// counts.
func (rt *Runtime) throttle(ctx context.Context) error {
	if rt.cfg.NoThrottle {
		return ctx.Err()
	}
	interval := time.Duration(float64(time.Second) / rt.cfg.PerSecond)
	limit := int(rt.cfg.PerSecond)
	rt.mu.Lock()
	now := rt.cfg.Clock.Now()
	slot := rt.nextSlot
	if slot.Before(now) {
		slot = now
	}
	if len(rt.recent) >= limit {
		// The creation limit places back makes room at this time.
		if free := rt.recent[len(rt.recent)-limit].Add(time.Second + windowSlack); free.After(slot) {
			slot = free
		}
	}
	rt.nextSlot = slot.Add(interval)
	rt.recent = append(rt.recent, slot)
	if len(rt.recent) > 2*limit {
		rt.recent = append(rt.recent[:0], rt.recent[len(rt.recent)-limit:]...)
	}
	rt.mu.Unlock()
	if d := slot.Sub(now); d > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-rt.cfg.Clock.After(d):
		}
	}
	return nil
}

// windowSlack is the margin kept over Twilio's one-second window.
const windowSlack = 15 * time.Millisecond

// create creates the execution of conv, whose intent is recorded in u.
func (rt *Runtime) create(ctx context.Context, c *outreach.Campaign, conv outreach.Conversation, u *outreach.Update) (*outreach.Update, error) {
	p := &studioapi.CreateExecutionParams{}
	p.SetTo(conv.Recipient.Phone).SetFrom(c.From).SetParameters(parameters(conv))
	var sid string
	resp, err := rt.dep.c.Do(ctx, func(cl *client.Client) error {
		e, err := studioapi.NewApiServiceWithClient(cl).CreateExecution(c.RuntimeRef, p)
		if err == nil && e.Sid != nil {
			sid = *e.Sid
		}
		return err
	})
	now := rt.cfg.Clock.Now()
	if err == nil && sid != "" {
		rt.log.Info("studio execution created", "conversation", conv.ID, "execution", sid, "to", outreach.MaskPhone(conv.Recipient.Phone))
		return rt.started(u, sid), nil
	}
	var te *client.TwilioRestError
	switch {
	case errors.As(err, &te) && (te.Status == http.StatusTooManyRequests || te.Code == 20429):
		// Not processed: forget the intent and try again later.
		u.Conversation.State.Remote = nil
		u.Conversation.NextAt = now.Add(retryAfter(resp.Header))
		return u, nil
	case errors.As(err, &te) && (te.Status == http.StatusConflict || te.Code == 20409):
		// An execution is active for this contact: ours, created by a
		// request whose answer was lost, or another conversation's.
		if sid := conflictSID(te.Message); sid != "" {
			if mine, ferr := rt.isMine(ctx, c, sid, conv.ID); ferr == nil && mine {
				rt.log.Info("studio execution adopted after conflict", "conversation", conv.ID, "execution", sid)
				return rt.started(u, sid), nil
			}
		}
		u.Conversation.State.Remote = nil
		u.Conversation.NextAt = now.Add(rt.cfg.PollInterval)
		return u, nil
	case errors.As(err, &te) && te.Status >= 400 && te.Status < 500:
		// Refused, and so not created: the conversation cannot run.
		rt.log.Warn("studio execution refused", "conversation", conv.ID, "status", te.Status, "code", te.Code)
		return rt.end(u, outreach.OutcomeDeliveryFailed), nil
	}
	// Ambiguous (a timeout, a dropped connection, a 5xx): the intent
	// stays, and the next look reconciles.
	rt.log.Warn("studio execution create: outcome unknown, will reconcile", "conversation", conv.ID, "err", errClass(err))
	u.Conversation.NextAt = now.Add(min(time.Second, rt.cfg.ReconcileGrace))
	return u, nil
}

func (rt *Runtime) started(u *outreach.Update, sid string) *outreach.Update {
	r := *u.Conversation.State.Remote
	r.ID = sid
	u.Conversation.State.Remote = &r
	u.Conversation.State.Started = true
	u.Conversation.Status = outreach.ConversationActive
	u.Conversation.NextAt = rt.cfg.Clock.Now().Add(rt.cfg.PollInterval)
	return u
}

func (rt *Runtime) end(u *outreach.Update, outcome string) *outreach.Update {
	u.Conversation.Status = outreach.ConversationDone
	u.Conversation.Outcome = outcome
	u.Conversation.State.Done = true
	u.Conversation.State.Outcome = outcome
	u.Conversation.NextAt = time.Time{}
	return u
}

// parameters are an execution's Parameters (flow.data): the recipient's
// fields as the CSV named them, and the conversation ID.
func parameters(conv outreach.Conversation) map[string]any {
	p := make(map[string]any, len(conv.Recipient.Attrs)+4)
	for k, v := range conv.Recipient.Attrs {
		p[k] = v
	}
	p["patient_id"] = conv.Recipient.ID
	p["patient_first_name"] = conv.Recipient.FirstName
	p["patient_phone"] = conv.Recipient.Phone
	p[ConversationParam] = strconv.FormatInt(conv.ID, 10)
	return p
}

// findExecution looks for the execution of conv created since its intent
// (less a margin for clock skew): Studio lists executions by date only,
// so they are matched on contact_channel_address, then on the
// conversation ID in their context.
func (rt *Runtime) findExecution(ctx context.Context, c *outreach.Campaign, conv outreach.Conversation, since time.Time) (string, error) {
	var candidates []string
	err := rt.eachExecution(ctx, c.RuntimeRef, since, 100, func(e *studioapi.StudioV2Execution) {
		if e.Sid != nil && e.ContactChannelAddress != nil && *e.ContactChannelAddress == conv.Recipient.Phone {
			candidates = append(candidates, *e.Sid)
		}
	})
	if err != nil {
		return "", fmt.Errorf("studio: reconcile conversation %d: list executions: %w", conv.ID, err)
	}
	for _, sid := range candidates {
		mine, err := rt.isMine(ctx, c, sid, conv.ID)
		if err != nil {
			return "", fmt.Errorf("studio: reconcile conversation %d: %w", conv.ID, err)
		}
		if mine {
			return sid, nil
		}
	}
	return "", nil
}

// isMine reports whether execution sid runs conversation id.
func (rt *Runtime) isMine(ctx context.Context, c *outreach.Campaign, sid string, id int64) (bool, error) {
	ec, err := rt.executionContext(ctx, c.RuntimeRef, sid)
	if err != nil {
		return false, err
	}
	data, _ := lookup(ec, "flow", "data").(map[string]any)
	return fmt.Sprint(data[ConversationParam]) == strconv.FormatInt(id, 10), nil
}

func (rt *Runtime) executionContext(ctx context.Context, flowSID, sid string) (map[string]any, error) {
	var ec map[string]any
	err := rt.dep.c.studio(ctx, func(s *studioapi.ApiService) error {
		resp, err := s.FetchExecutionContext(flowSID, sid)
		if err != nil {
			return err
		}
		if resp.Context != nil {
			ec, _ = (*resp.Context).(map[string]any)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("execution %s context: %w", sid, err)
	}
	return ec, nil
}

func (rt *Runtime) endExecution(ctx context.Context, flowSID, sid string) error {
	err := rt.dep.c.studio(ctx, func(s *studioapi.ApiService) error {
		p := &studioapi.UpdateExecutionParams{}
		p.SetStatus("ended")
		_, err := s.UpdateExecution(flowSID, sid, p)
		return err
	})
	if err != nil && !notFound(err) {
		return fmt.Errorf("studio: end execution %s: %w", sid, err)
	}
	return nil
}

// watch looks at a running execution: still active, it is looked at again
// after PollInterval; ended, its answers are collected.
func (rt *Runtime) watch(ctx context.Context, c *outreach.Campaign, conv outreach.Conversation, u *outreach.Update) (*outreach.Update, error) {
	sid := conv.State.Remote.ID
	// The campaign's listing says where most executions stand; one it
	// does not show (created since, or deleted) is fetched.
	status, listed := rt.executionStatuses(ctx, c)[sid]
	var err error
	if !listed {
		err = rt.dep.c.studio(ctx, func(s *studioapi.ApiService) error {
			e, err := s.FetchExecution(c.RuntimeRef, sid)
			if err == nil && e.Status != nil {
				status = *e.Status
			}
			return err
		})
	}
	now := rt.cfg.Clock.Now()
	switch {
	case err != nil && notFound(err):
		// Deleted in Studio: nothing more to collect.
		return rt.end(u, "execution_deleted"), nil
	case err != nil:
		u.Conversation.NextAt = now.Add(rt.cfg.PollInterval)
		return u, fmt.Errorf("studio: conversation %d: fetch execution %s: %w", conv.ID, sid, err)
	case status != "ended":
		u.Conversation.NextAt = now.Add(rt.cfg.PollInterval)
		return u, nil
	}
	col, err := rt.collect(ctx, c, conv)
	if err != nil {
		u.Conversation.NextAt = now.Add(rt.cfg.PollInterval)
		return u, err
	}
	for _, o := range col.optOuts {
		if err := rt.store.SetOptOut(ctx, c.World, conv.Recipient.Phone, o.stop, o.at); err != nil {
			u.Conversation.NextAt = now.Add(rt.cfg.PollInterval)
			return u, fmt.Errorf("studio: conversation %d: record opt-out: %w", conv.ID, err)
		}
	}
	u.Responses = col.responses
	u.Enqueue = col.sent
	u.Received = col.received
	r := *conv.State.Remote
	r.Ended = true
	u.Conversation.State.Remote = &r
	if u.Conversation.State.Answers == nil && len(col.answers) > 0 {
		u.Conversation.State.Answers = col.answers
	}
	return rt.end(u, col.outcome), nil
}

// executionStatuses returns the status of each execution of the
// campaign's flow created since the campaign was, listed at most every
// half PollInterval: one listing, a page per thousand executions, instead
// of a request per running execution. It is empty when the listing
// failed; each execution is then fetched on its own.
func (rt *Runtime) executionStatuses(ctx context.Context, c *outreach.Campaign) map[string]string {
	now := rt.cfg.Clock.Now()
	rt.mu.Lock()
	l, ok := rt.listed[c.ID]
	rt.mu.Unlock()
	if ok && now.Sub(l.at) < rt.cfg.PollInterval/2 {
		return l.status
	}
	status := make(map[string]string)
	err := rt.eachExecution(ctx, c.RuntimeRef, c.CreatedAt, 1000, func(e *studioapi.StudioV2Execution) {
		if e.Sid != nil && e.Status != nil {
			status[*e.Sid] = *e.Status
		}
	})
	if err != nil {
		rt.log.Warn("studio: list executions", "campaign", c.ID, "err", errClass(err))
		return nil
	}
	rt.mu.Lock()
	rt.listed[c.ID] = executionList{at: now, status: status}
	rt.mu.Unlock()
	return status
}

// executionList is a listing of a campaign's executions.
type executionList struct {
	at     time.Time
	status map[string]string // by execution SID
}

// eachExecution calls fn with each execution of a flow created since
// since, less 5 minutes for the clocks' difference, reading at most
// maxPages pages of a thousand (more is an error).
func (rt *Runtime) eachExecution(ctx context.Context, flowSID string, since time.Time, maxPages int, fn func(*studioapi.StudioV2Execution)) error {
	return rt.dep.c.studio(ctx, func(s *studioapi.ApiService) error {
		p := &studioapi.ListExecutionParams{}
		p.SetDateCreatedFrom(since.Add(-5 * time.Minute)).SetPageSize(1000)
		complete, err := twiliocall.Pages(maxPages, func(token, page string) (string, error) {
			resp, err := s.PageExecution(flowSID, p, token, page)
			if err != nil {
				return "", err
			}
			for i := range resp.Executions {
				fn(&resp.Executions[i])
			}
			return deref(resp.Meta.NextPageUrl), nil
		})
		if err == nil && !complete {
			err = fmt.Errorf("more than %d executions to look through", maxPages*1000)
		}
		return err
	})
}

// campaign returns a campaign of this runtime, cached (flows are
// immutable snapshots); statuses are read from the store by claims. A
// campaign of another world is refused with a *[outreach.WorldError], so
// StartCampaign, PauseCampaign, ResumeCampaign and CancelCampaign refuse
// it too.
func (rt *Runtime) campaign(ctx context.Context, id int64) (*outreach.Campaign, error) {
	rt.mu.Lock()
	c, ok := rt.campaigns[id]
	rt.mu.Unlock()
	if ok {
		return c, nil
	}
	got, err := rt.store.Campaign(ctx, id)
	if err != nil {
		return nil, err
	}
	if got.Runtime != RuntimeName {
		return nil, fmt.Errorf("studio: campaign %d runs on the %s runtime, not on Studio", id, got.Runtime)
	}
	if err := outreach.CheckWorld(got, rt.cfg.World); err != nil {
		return nil, err
	}
	rt.mu.Lock()
	rt.campaigns[id] = &got
	rt.mu.Unlock()
	return &got, nil
}

// retryAfter reads a Retry-After in seconds; default 1 second.
func retryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 && s < 3600 {
		return time.Duration(s) * time.Second
	}
	return time.Second
}

// conflictSID reads the execution SID out of Studio's 20409 message
// ("Execution FN... is already active for this contact...").
func conflictSID(msg string) string {
	i := strings.Index(msg, "FN")
	if i < 0 || len(msg) < i+34 {
		return ""
	}
	sid := msg[i : i+34]
	for _, r := range sid[2:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return ""
		}
	}
	return sid
}

// errClass describes an error without its text, which could carry
// request parameters.
func errClass(err error) string {
	var te *client.TwilioRestError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("twilio %d (code %d)", te.Status, te.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case err == nil:
		return "no execution SID in the answer"
	}
	return "transport error"
}

func flowName(f *outreach.Flow) string { return cmpOr(f.Name, f.ID) }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lookup walks nested JSON objects.
func lookup(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}
