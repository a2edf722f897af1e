package outreach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// RunnerOptions configures a [Runner]. The zero value of every field means
// its default.
type RunnerOptions struct {
	// From is the sending number of campaigns that do not name their own.
	From string
	// World is the world of the campaigns the runner creates, and the
	// only world whose campaigns it claims, changes or answers replies
	// for (see [Campaign.World]): [TwilioWorld] of the account for a real
	// one, [WorldDev] with a dev-mode fake, [WorldSim] in a simulation.
	// Empty is the world of embedders that set none.
	World string
	// Clock tells the time; default the system clock.
	Clock Clock
	// Limiter throttles sends per sending number; default an in-process
	// [RateLimiter] at PerSecond.
	Limiter Limiter
	// PerSecond is the default limiter's rate: messages per second per
	// sending number; default 1 (a US long code). Ignored when Limiter is set.
	PerSecond float64
	// NoThrottle turns throttling off (benchmarks, tests).
	NoThrottle bool
	// Window is the local sending window; default 08:00-21:00.
	Window Window
	// DefaultZone is the IANA zone of campaigns that do not name their own;
	// default America/New_York.
	DefaultZone string
	// BatchSize is how many conversations one claim takes; default 200.
	BatchSize int
	// Lease is how long a claim lasts; default 2 minutes, and at least
	// four times SendTimeout.
	Lease time.Duration
	// PollInterval is the longest [Runner.Run] sleeps between claims;
	// default 1 second.
	PollInterval time.Duration
	// MaxTries is how many retryable failures a message may have before it
	// is given up as failed; default 8.
	MaxTries int
	// ReconcileGrace is how long after an intent an unconfirmed message is
	// looked up again before the runner concludes the provider never
	// accepted it and sends it; default 30 seconds.
	ReconcileGrace time.Duration
	// SendTimeout bounds one call to the Sender; default 30 seconds. Sends
	// already started finish (within it) when Run's context is cancelled.
	SendTimeout time.Duration
	// HelpReply answers HELP and INFO; StopReply and StartReply answer STOP
	// and START (empty: no reply, as when the provider answers itself).
	HelpReply, StopReply, StartReply string
	// Urgent finds the urgent words that raise an [Alert] in any message
	// a patient sends; nil means [DefaultUrgentTerms]. (An empty list,
	// MustUrgentTerms(nil), raises none.)
	Urgent *UrgentTerms
	// Notifier is told of every alert of the runner's world, by [Runner.Run],
	// until it succeeds (at most once per AlertRetry); nil records the
	// alerts without telling anyone.
	Notifier Notifier
	// AlertRetry is the least time between two notifications of one alert
	// that failed; default 1 minute.
	AlertRetry time.Duration
	// Logger receives operational logs (ids and masked numbers only, never
	// bodies); default slog.Default().
	Logger *slog.Logger
	// Machines run the flows imported from other formats, keyed by
	// [Source] format: a campaign whose flow has a Source of a format
	// listed here is advanced by that [Machine] instead of [Advance]
	// (e.g. package studio's machine for "twilio-studio", which runs the
	// Studio definition as Studio does). Everything else the runner does
	// (intents, opt-outs, quiet hours, throttling, timeouts, delivery
	// failures) is the same.
	Machines map[string]Machine
}

// DefaultHelpReply is the HELP answer when RunnerOptions.HelpReply is empty.
const DefaultHelpReply = "This number sends health messages on behalf of your care team. Reply STOP to opt out. Msg&data rates may apply."

func (o *RunnerOptions) setDefaults() {
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.PerSecond <= 0 {
		o.PerSecond = 1
	}
	if o.Limiter == nil && !o.NoThrottle {
		o.Limiter = NewRateLimiter(o.PerSecond, 1)
	}
	if o.Window == (Window{}) {
		o.Window = DefaultWindow
	}
	if o.DefaultZone == "" {
		o.DefaultZone = "America/New_York"
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 200
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.MaxTries <= 0 {
		o.MaxTries = 8
	}
	if o.ReconcileGrace <= 0 {
		o.ReconcileGrace = 30 * time.Second
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 30 * time.Second
	}
	if o.Lease < 4*o.SendTimeout {
		// A send must always end well before the lease it runs under.
		o.Lease = 4 * o.SendTimeout
	}
	if o.HelpReply == "" {
		o.HelpReply = DefaultHelpReply
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Urgent == nil {
		o.Urgent = MustUrgentTerms(DefaultUrgentTerms)
	}
	if o.AlertRetry <= 0 {
		o.AlertRetry = time.Minute
	}
}

// Runner runs campaigns on the embedded engine: it claims due work from a
// [Store], advances conversations with [Advance], and sends through a
// [Sender], honouring opt-outs, quiet hours and the throttle before every
// send. Any number of runners may share one store.
type Runner struct {
	store  Store
	sender Sender
	opts   RunnerOptions
	log    *slog.Logger
	wake   chan struct{}
	// interval is the default limiter's time between two sends of one
	// number; zero with a limiter of the caller's.
	interval time.Duration

	mu        sync.Mutex
	campaigns map[int64]*Campaign // flows are immutable snapshots
	zones     map[string]*time.Location
	stopped   map[int64]bool       // campaigns paused or cancelled through this runner
	sentIDs   map[string]struct{}  // provider ids sent and not yet recorded
	stops     map[string]time.Time // numbers that texted STOP through this runner lately
	// stopIDs are provider ids in flight that got error 21610 in a status
	// update without its To: opted out once the message is recorded.
	stopIDs map[string]struct{}
	// queued is, by sending number, the end of the queue of conversations
	// the throttle held back: the first send slot not yet handed out.
	queued map[string]time.Time

	stats struct {
		sent, deferred, throttled, retried, ambiguous, reconciled, resent, failed, optedOut atomic.Int64
	}
}

// NewRunner returns a runner over store and sender.
func NewRunner(store Store, sender Sender, opts RunnerOptions) *Runner {
	var interval time.Duration
	if opts.Limiter == nil && !opts.NoThrottle {
		interval = time.Duration(float64(time.Second) / max(opts.PerSecond, 1e-3))
		if opts.PerSecond <= 0 {
			interval = time.Second
		}
	}
	opts.setDefaults()
	return &Runner{
		interval:  interval,
		store:     store,
		sender:    sender,
		opts:      opts,
		log:       opts.Logger,
		wake:      make(chan struct{}, 1),
		campaigns: map[int64]*Campaign{},
		zones:     map[string]*time.Location{},
		stopped:   map[int64]bool{},
		sentIDs:   map[string]struct{}{},
		stops:     map[string]time.Time{},
		queued:    map[string]time.Time{},
	}
}

// Stats counts what a runner did since it was made.
type Stats struct {
	Sent       int64 // accepted by the provider
	Deferred   int64 // held back by quiet hours
	Throttled  int64 // held back by the limiter
	Retried    int64 // retryable failures scheduled again
	Ambiguous  int64 // outcomes that needed reconciling
	Reconciled int64 // unconfirmed sends found accepted by the provider
	Resent     int64 // unconfirmed sends the provider never had, sent again
	Failed     int64 // permanent failures
	OptedOut   int64 // messages suppressed by an opt-out
}

// Stats returns the runner's counters.
func (r *Runner) Stats() Stats {
	s := &r.stats
	return Stats{
		Sent: s.sent.Load(), Deferred: s.deferred.Load(), Throttled: s.throttled.Load(),
		Retried: s.retried.Load(), Ambiguous: s.ambiguous.Load(), Reconciled: s.reconciled.Load(),
		Resent: s.resent.Load(), Failed: s.failed.Load(), OptedOut: s.optedOut.Load(),
	}
}

// Wake makes [Runner.Run] look for work now rather than at its next poll.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run processes due work until ctx is cancelled, sleeping until the next
// due time (at most PollInterval, so work from other processes is seen).
// It starts no goroutine. On cancel, sends already handed to the Sender
// finish (bounded by SendTimeout) and their outcomes are recorded; it then
// returns ctx.Err().
func (r *Runner) Run(ctx context.Context) error {
	r.sweep(ctx)
	for {
		r.NotifyAlerts(ctx)
		if _, err := r.Tick(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("outreach: runner tick failed", "err", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := r.opts.PollInterval
		now := r.opts.Clock.Now()
		if at, ok, err := r.store.NextDue(ctx, r.Scope(), now); err == nil && ok && at.Sub(now) < wait {
			wait = max(at.Sub(now), 0)
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-r.wake:
			case <-r.opts.Clock.After(wait):
			}
		}
	}
}

// Tick processes the work due now, claim by claim, until none is left, and
// returns how many conversations it handled.
func (r *Runner) Tick(ctx context.Context) (int, error) {
	total := 0
	for round := 0; round < 1000; round++ {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		now := r.opts.Clock.Now()
		claims, err := r.store.ClaimDue(ctx, r.Scope(), now, r.opts.BatchSize, r.opts.Lease)
		if err != nil {
			return total, fmt.Errorf("outreach: claim: %w", err)
		}
		if len(claims) == 0 {
			return total, nil
		}
		total += len(claims)
		if err := r.process(ctx, now, claims); err != nil {
			return total, err
		}
	}
	return total, nil
}

// work is one claimed conversation while the runner advances it.
type work struct {
	claim  Claim
	camp   *Campaign
	conv   Conversation
	msgs   []*Message // pending messages, existing then new, in order
	fresh  []*Message // the new ones among msgs
	sends  []*Message // intents recorded in this tick, to submit
	until  time.Time  // earliest time worth looking again, when blocked
	upd    Update
	window time.Time // end of the current sending window
	failed bool      // an engine error was logged
	lost   bool      // the lease is lost or the campaign stopped: send nothing more
}

func (w *work) block(t time.Time) {
	if w.until.IsZero() || t.Before(w.until) {
		w.until = t
	}
}

func (r *Runner) process(ctx context.Context, now time.Time, claims []Claim) error {
	phones := make([]string, 0, len(claims))
	for _, c := range claims {
		phones = append(phones, c.Conversation.Recipient.Phone)
	}
	opted, err := r.store.OptedOut(ctx, phones)
	if err != nil {
		return fmt.Errorf("outreach: opt-out lookup: %w", err)
	}
	limited := map[string]*slot{}
	items := make([]*work, 0, len(claims))
	for _, c := range claims {
		camp, err := r.campaign(ctx, c.Conversation.CampaignID)
		if err != nil {
			return err
		}
		w := &work{claim: c, camp: camp, conv: c.Conversation}
		for i := range c.Pending {
			m := c.Pending[i]
			w.msgs = append(w.msgs, &m)
		}
		r.advance(ctx, w, now)
		r.chooseSends(ctx, w, now, opted, limited)
		items = append(items, w)
	}

	// Commit 1: transitions, and the intent of every send, before any send.
	first := make([]Update, len(items))
	for i, w := range items {
		first[i] = r.update(w, now, len(w.sends) == 0)
	}
	results, err := r.store.Commit(ctx, now, first)
	if err != nil {
		return fmt.Errorf("outreach: commit: %w", err)
	}
	var sending []*work
	var releases []Update
	for i, w := range items {
		switch {
		case results[i] == nil:
			w.assignIDs(first[i])
			if len(w.sends) > 0 {
				sending = append(sending, w)
			}
			// Messages found by reconciliation may have had status
			// callbacks before their provider ids were known.
			r.applyEarly(ctx, w)
		case errors.Is(results[i], ErrPairBusy):
			releases = append(releases, Update{Lease: w.claim.Lease, Conversation: w.claim.Conversation, Release: true})
		default:
			r.log.Warn("outreach: lost a lease before sending", "conversation", w.conv.ID, "err", results[i])
		}
	}
	if len(releases) > 0 {
		if _, err := r.store.Commit(ctx, now, releases); err != nil {
			return fmt.Errorf("outreach: commit: %w", err)
		}
	}
	// Outcomes must be recorded even when ctx is cancelled mid-batch.
	sendCtx := context.WithoutCancel(ctx)
	if err := r.sendAll(ctx, sendCtx, sending); err != nil {
		return err
	}
	r.finishCampaigns(sendCtx, items, now)
	return nil
}

// checkEvery is how often a long batch of sends stops to record the
// outcomes so far, extend its leases, and look again at opt-outs and
// campaign statuses.
const checkEvery = time.Second

// sendAll submits the recorded intents of each conversation in turn and
// commits the outcomes. Every checkEvery it records the outcomes so far
// (so status callbacks find their messages), extends the leases of the
// rest, and drops the conversations whose number opted out or whose
// campaign was paused or cancelled meanwhile. A message is never sent
// under a lease that could expire before its Send returns, nor after its
// sending window closed; such intents are reverted and sent later.
func (r *Runner) sendAll(ctx, sendCtx context.Context, sending []*work) error {
	var done []*work
	every := min(checkEvery, r.opts.Lease/4)
	last := r.opts.Clock.Now()
	// A campaign paused or cancelled by another process between the claim
	// and the intents: its intents were stored cancelled; send nothing.
	r.stopIfCampaignStopped(sendCtx, sending)
	for i, w := range sending {
		if now := r.opts.Clock.Now(); now.Sub(last) >= every {
			if err := r.commitOutcomes(sendCtx, done); err != nil {
				return err
			}
			done = done[:0]
			r.recheck(sendCtx, sending[i:], now)
			last = now
		}
		for _, m := range w.sends {
			now := r.opts.Clock.Now()
			switch {
			case m.Status != MessageSending:
				// reverted by an earlier failure, or cancelled
			case ctx.Err() != nil, w.lost:
				revert(m)
			case r.halted(w.conv.CampaignID):
				revert(m)
			case r.stoppedPhone(m.To):
				revert(m)
				r.stats.optedOut.Add(1)
				r.endOptedOut(ctx, w, now)
			case now.Add(r.opts.SendTimeout).After(w.claim.Lease.Expires):
				revert(m) // the lease could expire before Send returns
			case !w.window.IsZero() && !now.Before(w.window):
				revert(m) // the sending window closed meanwhile
				w.block(now)
			default:
				r.send(sendCtx, w, m)
			}
		}
		if !w.lost {
			done = append(done, w)
		}
	}
	return r.commitOutcomes(sendCtx, done)
}

// commitOutcomes records what happened to the sends of items and releases
// their leases.
func (r *Runner) commitOutcomes(ctx context.Context, items []*work) error {
	if len(items) == 0 {
		return nil
	}
	now := r.opts.Clock.Now()
	updates := make([]Update, len(items))
	for i, w := range items {
		updates[i] = r.update(w, now, true)
	}
	results, err := r.store.Commit(ctx, now, updates)
	if err != nil {
		return fmt.Errorf("outreach: commit outcomes (the messages will be reconciled): %w", err)
	}
	for i, w := range items {
		if results[i] != nil {
			r.log.Warn("outreach: lost a lease after sending; the messages will be reconciled", "conversation", w.conv.ID, "err", results[i])
			r.takeEarlyStatuses(w)
			continue
		}
		w.assignIDs(updates[i])
		r.applyEarly(ctx, w)
	}
	return nil
}

// applyEarly is called once w's messages' provider ids are recorded. The
// status updates that arrived before (to this process or another) were
// applied by the store's Commit that recorded them (see
// Store.UpdateDelivery): what is left is to forget the messages as in
// flight, and to opt out the numbers of those that got error 21610 in an
// update without its To.
func (r *Runner) applyEarly(ctx context.Context, w *work) {
	for _, to := range r.takeEarlyStatuses(w) {
		now := r.opts.Clock.Now()
		r.noteStop(to, true, now)
		if err := r.store.SetOptOut(ctx, r.opts.World, to, true, now); err != nil {
			r.log.Warn("outreach: record opt-out", "conversation", w.conv.ID, "err", err)
		}
	}
}

// stopIfCampaignStopped reverts the intents of conversations whose
// campaign is no longer running, and reports which campaigns stopped.
func (r *Runner) stopIfCampaignStopped(ctx context.Context, rest []*work) map[int64]bool {
	stopped := map[int64]bool{}
	seen := map[int64]bool{}
	for _, w := range rest {
		id := w.conv.CampaignID
		if !seen[id] {
			seen[id] = true
			if st, err := r.campaignStatus(ctx, id); err == nil {
				stopped[id] = st != CampaignRunning
				if !stopped[id] {
					// Resumed, perhaps by another process.
					r.mu.Lock()
					delete(r.stopped, id)
					r.mu.Unlock()
				}
			}
		}
		if stopped[id] {
			for _, m := range w.sends {
				if m.Status == MessageSending {
					revert(m)
				}
			}
		}
	}
	return stopped
}

// recheck extends the leases of conversations still to send and drops
// those whose number opted out or whose campaign stopped since the claim.
func (r *Runner) recheck(ctx context.Context, rest []*work, now time.Time) {
	phones := make([]string, 0, len(rest))
	for _, w := range rest {
		phones = append(phones, w.conv.Recipient.Phone)
	}
	opted, err := r.store.OptedOut(ctx, phones)
	if err != nil {
		r.log.Warn("outreach: opt-out lookup failed", "err", err)
	}
	stopped := r.stopIfCampaignStopped(ctx, rest)
	for _, w := range rest {
		l, err := r.store.ExtendLease(ctx, w.claim.Lease, now.Add(r.opts.Lease))
		if err != nil {
			// Someone else may own it now: its intents stay recorded
			// and are reconciled by the owner.
			w.lost = true
			continue
		}
		w.claim.Lease = l
		if stopped[w.conv.CampaignID] {
			continue
		}
		if opted[w.conv.Recipient.Phone] {
			r.stats.optedOut.Add(1)
			for _, m := range w.sends {
				if m.Status == MessageSending {
					revert(m)
				}
			}
			r.endOptedOut(ctx, w, now)
		}
	}
}

// slot is the next send time handed out to conversations held back by the
// throttle for one sending number in one claim.
type slot struct {
	next     time.Time
	interval time.Duration
}

// revert undoes a recorded intent whose message was never handed to the
// Sender: it is safe to send later.
func revert(m *Message) {
	m.Status = MessageQueued
	m.IntentAt = time.Time{}
}

// halted reports whether campaign id was paused or cancelled through this
// runner since its conversations were claimed. (A change made by another
// process is seen at the next check of a batch, within checkEvery.)
func (r *Runner) halted(id int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped[id]
}

// stoppedPhone reports whether phone texted STOP through this runner
// recently (while a batch may have been under way).
func (r *Runner) stoppedPhone(phone string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.stops[phone]
	return ok
}

// noteStop remembers a STOP (or forgets it on START) for the batches under
// way, which read opt-outs from the store only at their checks.
func (r *Runner) noteStop(phone string, stop bool, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, at := range r.stops {
		if now.Sub(at) > time.Minute+r.opts.Lease {
			delete(r.stops, p)
		}
	}
	if stop {
		r.stops[phone] = now
	} else {
		delete(r.stops, phone)
	}
}

// maxCachedCampaigns bounds the campaign cache of a long-running runner.
const maxCachedCampaigns = 1000

func (r *Runner) campaign(ctx context.Context, id int64) (*Campaign, error) {
	r.mu.Lock()
	c := r.campaigns[id]
	r.mu.Unlock()
	if c != nil {
		return c, nil
	}
	got, err := r.store.Campaign(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("outreach: campaign %d: %w", id, err)
	}
	r.mu.Lock()
	if len(r.campaigns) >= maxCachedCampaigns {
		clear(r.campaigns)
	}
	r.campaigns[id] = &got
	r.mu.Unlock()
	return &got, nil
}

func (r *Runner) zone(name string) *time.Location {
	r.mu.Lock()
	defer r.mu.Unlock()
	if loc, ok := r.zones[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = nil
	}
	r.zones[name] = loc
	return loc
}

// locations returns the zones whose windows apply to w's recipient.
func (r *Runner) locations(w *work) []*time.Location {
	names := w.conv.Zones
	if len(names) == 0 {
		names = []string{w.camp.DefaultZone}
	}
	locs := make([]*time.Location, 0, len(names))
	for _, n := range names {
		if loc := r.zone(n); loc != nil {
			locs = append(locs, loc)
		}
	}
	if len(locs) == 0 {
		if loc := r.zone(r.opts.DefaultZone); loc != nil {
			locs = append(locs, loc)
		} else {
			locs = append(locs, time.UTC)
		}
	}
	return locs
}

// advance reconciles unconfirmed sends and applies inbox events, the start
// and a due timeout to the engine.
func (r *Runner) advance(ctx context.Context, w *work, now time.Time) {
	for _, m := range w.msgs {
		if m.Status == MessageSending || m.Status == MessageUnknown {
			r.reconcile(ctx, w, m, now)
		}
	}
	for _, ev := range w.claim.Inbox {
		w.upd.Processed = append(w.upd.Processed, ev.ID)
		switch ev.Kind {
		case EventReply, EventKeyword:
			// HELP and START (EventKeyword) too: the engine asks again,
			// recording no answer (see Advance); a Machine reads them as
			// Studio does.
			if st := w.conv.State; st.Waiting && st.Deadline.IsZero() {
				// The question awaited has not been sent yet: this text
				// cannot answer it (on a shared phone it may be meant for
				// a conversation that just ended). It stays stored.
				continue
			}
			r.apply(ctx, w, now, Event{Type: EventReplied, Body: ev.Body, At: ev.At})
		case EventOptOut:
			r.apply(ctx, w, now, Event{Type: EventOptedOut, At: ev.At})
		case EventDeliveryFailed:
			r.apply(ctx, w, now, Event{Type: EventDeliveryFailure, Key: ev.Key, At: ev.At})
		}
	}
	st := &w.conv.State
	if w.conv.Status == ConversationPending && !st.Started {
		w.conv.Status = ConversationActive
		ev := Event{Type: EventStart, At: now}
		if t := st.Trigger; t != nil {
			ev.Body = t.Body
		}
		r.apply(ctx, w, now, ev)
		if t := st.Trigger; t != nil {
			kept := *t
			kept.Body = "" // the flow has it; the patient's words are not kept here
			st.Trigger = &kept
		}
	}
	if len(w.claim.Inbox) == 0 && st.Waiting && !st.Deadline.IsZero() && !now.Before(st.Deadline) && !w.hasPending() {
		r.apply(ctx, w, now, Event{Type: EventTimedOut, Key: st.Wait, At: now})
	}
}

func (r *Runner) reconcile(ctx context.Context, w *work, m *Message, now time.Time) {
	out := OutboundMessage{Key: m.Key, From: m.From, To: m.To, Body: m.Body}
	lctx, cancel := context.WithTimeout(ctx, r.opts.SendTimeout)
	id, found, err := r.sender.Lookup(lctx, out, m.IntentAt)
	cancel()
	switch {
	case err != nil:
		r.log.Warn("outreach: reconcile lookup failed", "conversation", w.conv.ID, "step", m.Key.Step, "attempt", m.Key.Attempt, "err", err)
		w.block(now.Add(r.opts.ReconcileGrace))
		return
	case found:
		r.stats.reconciled.Add(1)
		m.Status, m.ProviderID, m.SentAt, m.Error = MessageSent, id, now, ""
		w.sent(m)
	case now.Sub(m.IntentAt) < r.opts.ReconcileGrace:
		w.block(m.IntentAt.Add(r.opts.ReconcileGrace))
		return
	default:
		// The provider never had it: sending it now sends it once.
		r.stats.resent.Add(1)
		revert(m)
	}
	w.upd.Messages = append(w.upd.Messages, *m)
}

// sent records that m reached the provider; an awaited question starts its
// timeout then.
func (w *work) sent(m *Message) {
	st := &w.conv.State
	if st.Waiting && m.Key == st.Wait && st.Deadline.IsZero() {
		st.Deadline = m.SentAt.Add(time.Duration(st.Timeout))
	}
}

func (w *work) hasPending() bool {
	for _, m := range w.msgs {
		if m.Status.Pending() {
			return true
		}
	}
	return false
}

// apply runs one engine event and turns its actions into messages and
// responses.
func (r *Runner) apply(ctx context.Context, w *work, now time.Time, ev Event) {
	old := w.conv.State
	before := len(w.msgs)
	var st State
	var acts []Action
	var err error
	if m := r.machine(w.camp.Flow); m != nil {
		st, acts, err = m.Advance(ctx, w.camp.Flow, w.conv, ev)
	} else {
		st, acts, err = Advance(w.camp.Flow, w.conv.ID, w.conv.Recipient, old, ev)
	}
	if err != nil && !w.failed {
		w.failed = true
		r.log.Error("outreach: flow error; the conversation ends", "campaign", w.camp.ID, "conversation", w.conv.ID, "flow", w.camp.Flow.ID, "err", err)
	}
	w.conv.State = st
	for _, a := range acts {
		switch a := a.(type) {
		case Send:
			m := &Message{
				ConversationID: w.conv.ID, CampaignID: w.conv.CampaignID, Direction: Outbound,
				Key: a.Key, From: w.conv.From, To: w.conv.Recipient.Phone, Body: a.Body,
				Status: MessageQueued, CreatedAt: now,
			}
			w.msgs = append(w.msgs, m)
			w.fresh = append(w.fresh, m)
		case RecordAnswer:
			w.upd.Responses = append(w.upd.Responses, Response{
				CampaignID: w.conv.CampaignID, ConversationID: w.conv.ID, PatientID: w.conv.Recipient.ID,
				QuestionID: a.Step, Raw: a.Raw, Answer: a.Answer, Doubt: a.Doubt, RepliedAt: a.At,
			})
		}
	}
	// A question not yet sent when its answer (or timeout) came is stale.
	if old.Waiting && (!st.Waiting || st.Wait != old.Wait) {
		for _, m := range w.msgs {
			if m.Status == MessageQueued && m.Key.Step == old.Wait.Step && m.Key.Attempt <= old.Wait.Attempt {
				w.cancel(m, "superseded")
			}
		}
	}
	// A delivery failure that changed the path abandons what was queued
	// for the old one.
	if ev.Type == EventDeliveryFailure && (st.Done != old.Done || st.Wait != old.Wait) {
		for _, m := range w.msgs[:before] {
			if m.Status == MessageQueued {
				w.cancel(m, "path abandoned after a delivery failure")
			}
		}
	}
	if st.Done && !old.Done {
		switch st.Outcome {
		case OutcomeOptedOut, OutcomeDeliveryFailed, OutcomeFailed, OutcomeCancelled:
			for _, m := range w.msgs {
				if m.Status == MessageQueued {
					w.cancel(m, st.Outcome)
				}
			}
		}
	}
}

func (w *work) cancel(m *Message, reason string) {
	m.Status, m.Error = MessageCancelled, reason
	if m.ID != 0 {
		w.upd.Messages = append(w.upd.Messages, *m)
	}
}

// endOptedOut ends w because its number opted out: opt-out is absolute,
// so the queued messages are cancelled even when the flow had already
// reached its end.
func (r *Runner) endOptedOut(ctx context.Context, w *work, now time.Time) {
	r.apply(ctx, w, now, Event{Type: EventOptedOut, At: now})
	r.end(w, OutcomeOptedOut)
}

// end finishes w with outcome whatever its flow says, and cancels its
// queued messages.
func (r *Runner) end(w *work, outcome string) {
	st := &w.conv.State
	st.Done, st.Waiting, st.Outcome = true, false, outcome
	for _, m := range w.msgs {
		if m.Status == MessageQueued {
			w.cancel(m, outcome)
		}
	}
}

// chooseSends records the intent for every queued message that may go now:
// not opted out, inside the recipient's sending window, within the throttle.
func (r *Runner) chooseSends(ctx context.Context, w *work, now time.Time, opted map[string]bool, limited map[string]*slot) {
	if !w.until.IsZero() {
		return // waiting on a reconciliation
	}
	for _, m := range w.msgs {
		if m.Status != MessageQueued {
			if m.Status == MessageSending || m.Status == MessageUnknown {
				return // order matters: nothing overtakes an unconfirmed send
			}
			continue
		}
		if opted[m.To] {
			r.stats.optedOut.Add(1)
			r.endOptedOut(ctx, w, now)
			return
		}
		if m.SendAfter.After(now) {
			w.block(m.SendAfter)
			return
		}
		start, end, ok := r.opts.Window.Next(now, r.locations(w))
		if !ok {
			r.log.Error("outreach: no sending window in the next two days", "conversation", w.conv.ID)
			w.block(now.Add(time.Hour))
			return
		}
		if start.After(now) {
			r.stats.deferred.Add(1)
			m.SendAfter, m.Error = start, "deferred: quiet hours"
			if m.ID != 0 {
				w.upd.Messages = append(w.upd.Messages, *m)
			}
			w.block(start)
			return
		}
		if r.opts.Limiter != nil {
			if s, ok := limited[m.From]; ok {
				// Spread the conversations held back for this number one
				// interval apart, so each comes due when it can be sent
				// rather than all being claimed again at once.
				r.stats.throttled.Add(1)
				w.block(s.next)
				s.next = s.next.Add(s.interval)
				r.queue(m.From, s.next)
				return
			}
			ok, at, err := r.opts.Limiter.Allow(ctx, m.From, now)
			if err != nil || !ok {
				if err != nil {
					r.log.Warn("outreach: limiter failed", "err", err)
					at = now.Add(time.Second)
				}
				r.stats.throttled.Add(1)
				interval := r.interval
				if interval <= 0 {
					interval = max(at.Sub(now), time.Millisecond)
				}
				// Behind the conversations held back by earlier claims:
				// each would otherwise come due with them, and be held
				// back again, second after second.
				at = r.queueEnd(m.From, at)
				limited[m.From] = &slot{next: at.Add(interval), interval: interval}
				r.queue(m.From, at.Add(interval))
				w.block(at)
				return
			}
		}
		m.Status, m.IntentAt, m.Error = MessageSending, now, ""
		w.window = end
		w.sends = append(w.sends, m)
		if m.ID != 0 {
			w.upd.Messages = append(w.upd.Messages, *m)
		}
	}
}

// queueEnd returns the first send slot of number not handed out to a
// conversation held back by the throttle, or at if that is later.
func (r *Runner) queueEnd(number string, at time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if end := r.queued[number]; end.After(at) {
		return end
	}
	return at
}

// queue records end as the first send slot of number not handed out.
func (r *Runner) queue(number string, end time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if end.After(r.queued[number]) {
		r.queued[number] = end
	}
}

// send submits m and applies the outcome.
func (r *Runner) send(ctx context.Context, w *work, m *Message) {
	if m.Status != MessageSending {
		return // an earlier failure in this conversation reverted it
	}
	// The call gets its own deadline; what is recorded after it (an
	// opt-out) uses ctx, which is live.
	sctx, cancel := context.WithTimeout(ctx, r.opts.SendTimeout)
	id, err := r.sender.Send(sctx, OutboundMessage{Key: m.Key, From: m.From, To: m.To, Body: m.Body, ValidUntil: w.window})
	cancel()
	now := r.opts.Clock.Now()
	if err == nil {
		r.stats.sent.Add(1)
		r.mu.Lock()
		r.sentIDs[id] = struct{}{}
		r.mu.Unlock()
		m.Status, m.ProviderID, m.SentAt = MessageSent, id, now
		w.sent(m)
		return
	}
	se := ClassifySendError(err)
	attrs := []any{"campaign", w.conv.CampaignID, "conversation", w.conv.ID, "step", m.Key.Step, "attempt", m.Key.Attempt, "to", MaskPhone(m.To), "kind", se.Kind.String(), "code", se.Code}
	w.stopAfter(m)
	switch se.Kind {
	case Retryable:
		m.Tries++
		if m.Tries < r.opts.MaxTries {
			r.stats.retried.Add(1)
			revert(m)
			m.SendAfter = now.Add(max(se.RetryAfter, backoff(m.Tries)))
			m.Error = "retrying: " + se.Error()
			w.block(m.SendAfter)
			r.log.Info("outreach: send will be retried", attrs...)
			return
		}
		se = &SendError{Kind: Permanent, Code: se.Code, Reason: fmt.Sprintf("gave up after %d retryable failures", m.Tries), Err: se}
	case Ambiguous:
		r.stats.ambiguous.Add(1)
		m.Status, m.Error = MessageUnknown, "unconfirmed: "+se.Error()
		w.block(now.Add(r.opts.ReconcileGrace))
		r.log.Warn("outreach: send outcome unknown; will reconcile", attrs...)
		return
	}
	r.stats.failed.Add(1)
	m.Status, m.Error = MessageFailed, se.Error()
	r.log.Warn("outreach: send failed", attrs...)
	if se.OptedOut {
		// The rest of this batch (other campaigns, other sending numbers)
		// must not text the number either.
		r.noteStop(m.To, true, now)
		if err := r.store.SetOptOut(ctx, r.opts.World, m.To, true, now); err != nil {
			r.log.Error("outreach: recording an opt-out failed", "to", MaskPhone(m.To), "err", err)
		}
		r.endOptedOut(ctx, w, now)
		return
	}
	// A permanent failure ends the conversation, unless it is the
	// question awaited and its step has a failure path to take.
	before := w.conv.State
	r.apply(ctx, w, now, Event{Type: EventDeliveryFailure, Key: m.Key, At: now})
	if st := w.conv.State; !st.Done && st.Wait == before.Wait && st.Waiting == before.Waiting || before.Done {
		r.end(w, OutcomeDeliveryFailed)
	}
}

// stopAfter reverts the intents recorded after m in the same conversation:
// they were never handed to the Sender.
func (w *work) stopAfter(m *Message) {
	after := false
	for _, s := range w.sends {
		if after && s.Status == MessageSending {
			revert(s)
		}
		if s == m {
			after = true
		}
	}
}

func backoff(tries int) time.Duration {
	d := time.Second << min(tries, 9)
	return min(d, 5*time.Minute)
}

// update builds the store update for w as it stands.
func (r *Runner) update(w *work, now time.Time, release bool) Update {
	u := w.upd
	u.Lease = w.claim.Lease
	u.Release = release
	conv := w.conv
	st := conv.State
	pending := false
	ready := false
	for _, m := range w.msgs {
		switch m.Status {
		case MessageQueued:
			pending = true
			if !m.SendAfter.After(now) {
				ready = true
			}
		case MessageSending, MessageUnknown:
			pending = true
		}
	}
	switch {
	case pending && ready && w.until.IsZero():
		conv.NextAt = now
	case pending:
		conv.NextAt = w.until
		if conv.NextAt.IsZero() {
			conv.NextAt = now
		}
	case st.Done:
		conv.Status = ConversationDone
		conv.Outcome = st.Outcome
		conv.NextAt = time.Time{}
	case st.Waiting && !st.Deadline.IsZero():
		conv.NextAt = st.Deadline
	default:
		conv.NextAt = time.Time{}
	}
	u.Conversation = conv
	u.Enqueue = nil
	for _, m := range w.fresh {
		if m.ID == 0 {
			u.Enqueue = append(u.Enqueue, *m)
		}
	}
	// Messages updated more than once keep their last state only.
	u.Messages = dedupeMessages(w, u.Messages)
	return u
}

func dedupeMessages(w *work, list []Message) []Message {
	seen := map[int64]bool{}
	var out []Message
	for _, m := range w.msgs {
		if m.ID == 0 || seen[m.ID] {
			continue
		}
		for _, l := range list {
			if l.ID == m.ID {
				seen[m.ID] = true
				out = append(out, *m)
				break
			}
		}
	}
	return out
}

// assignIDs copies the IDs the store gave enqueued messages back to w, and
// resets what was committed.
func (w *work) assignIDs(u Update) {
	j := 0
	for _, m := range w.fresh {
		if m.ID == 0 && j < len(u.Enqueue) {
			m.ID = u.Enqueue[j].ID
			j++
		}
	}
	w.fresh = w.fresh[:0]
	w.upd = Update{}
	// Every message of w now exists in the store: later changes update it.
	for _, m := range w.msgs {
		if m.ID != 0 {
			w.upd.Messages = append(w.upd.Messages, *m)
		}
	}
}

// inFlight reports whether this runner has handed a message with that
// provider id to its Sender and not yet recorded the outcome.
func (r *Runner) inFlight(providerID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.sentIDs[providerID]
	return ok
}

// takeEarlyStatuses forgets w's messages as in flight. The status updates
// that arrived for them before their outcomes were recorded are kept by
// the store, which applies them when a Commit records the provider ids
// (or drops them after PendingStatusFor). It returns the numbers of those
// that got error 21610 in an update without its To.
func (r *Runner) takeEarlyStatuses(w *work) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var stop []string
	for _, m := range w.msgs {
		if m.ProviderID == "" {
			continue
		}
		delete(r.sentIDs, m.ProviderID)
		if _, ok := r.stopIDs[m.ProviderID]; ok {
			delete(r.stopIDs, m.ProviderID)
			stop = append(stop, m.To)
		}
	}
	return stop
}

// sweep marks done the running campaigns of the runner's scope that have
// no unfinished conversation left, in case a crash came between a
// campaign's last conversation ending and the campaign being marked done.
func (r *Runner) sweep(ctx context.Context) {
	list, err := r.store.Campaigns(ctx)
	if err != nil {
		r.log.Warn("outreach: listing campaigns", "err", err)
		return
	}
	now := r.opts.Clock.Now()
	scope := r.Scope()
	for _, c := range list {
		if c.Status == CampaignRunning && scope.Holds(c) && !c.OpenEnded() {
			if _, err := r.store.FinishCampaignIfDone(ctx, c.ID, now); err != nil {
				r.log.Warn("outreach: finishing campaign", "campaign", c.ID, "err", err)
			}
		}
	}
}

func (r *Runner) finishCampaigns(ctx context.Context, items []*work, now time.Time) {
	done := map[int64]bool{}
	for _, w := range items {
		if w.conv.State.Done && !done[w.conv.CampaignID] {
			done[w.conv.CampaignID] = true
			if c, err := r.campaign(ctx, w.conv.CampaignID); err == nil && c.OpenEnded() {
				continue
			}
			if _, err := r.store.FinishCampaignIfDone(ctx, w.conv.CampaignID, now); err != nil {
				r.log.Warn("outreach: finishing campaign", "campaign", w.conv.CampaignID, "err", err)
			}
		}
	}
}
