package outreach

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// NewCampaign describes a campaign to create.
type NewCampaign struct {
	Name string
	// Flow is copied: the campaign keeps its own snapshot.
	Flow *Flow
	// From is the sending number; empty means RunnerOptions.From.
	From string
	// DefaultZone is the IANA zone for recipients whose zone cannot be told;
	// empty means RunnerOptions.DefaultZone.
	DefaultZone string
}

// CreateCampaign validates the flow and stores a draft campaign with one
// conversation per recipient, in one transaction. Recipients whose ID
// repeats an earlier one are refused with a *[DuplicateRecipientsError]
// and nothing is stored. Each recipient's quiet-hours zones are resolved
// now ([RecipientZones]). A campaign of a flow with a [Trigger] may have
// no recipients: patients start its conversations.
func (r *Runner) CreateCampaign(ctx context.Context, nc NewCampaign, recipients []Recipient) (Campaign, int, error) {
	if nc.Flow == nil {
		return Campaign{}, 0, errors.New("outreach: new campaign has no flow")
	}
	if err := nc.Flow.Validate(); err != nil {
		return Campaign{}, 0, err
	}
	if len(recipients) == 0 && nc.Flow.Trigger == nil {
		return Campaign{}, 0, ErrNoRecipients
	}
	if err := CheckRecipients(recipients); err != nil {
		return Campaign{}, 0, err
	}
	c := Campaign{Name: nc.Name, Flow: nc.Flow.Clone(), From: nc.From, DefaultZone: nc.DefaultZone, Status: CampaignDraft}
	if c.From == "" {
		c.From = r.opts.From
	}
	if c.From == "" {
		return Campaign{}, 0, errors.New("outreach: new campaign has no sending number: set NewCampaign.From or RunnerOptions.From")
	}
	// The campaign's clock, as for its later times: a store would take
	// the system clock's.
	c.CreatedAt = r.opts.Clock.Now()
	if c.DefaultZone == "" {
		c.DefaultZone = r.opts.DefaultZone
	}
	if _, err := time.LoadLocation(c.DefaultZone); err != nil {
		return Campaign{}, 0, fmt.Errorf("outreach: new campaign: default zone: %w", err)
	}
	if err := checkNumber(ctx, r.store, c.From, RuntimeEmbedded); err != nil {
		return Campaign{}, 0, err
	}
	c.Runtime, c.World = RuntimeEmbedded, r.opts.World
	created, added, err := r.store.CreateCampaign(ctx, c, r.conversations(c, recipients))
	if err != nil {
		return Campaign{}, 0, fmt.Errorf("outreach: create campaign: %w", err)
	}
	return created, added, nil
}

// AddRecipients adds recipients to a campaign that is not finished;
// recipients it already has (by ID) are skipped, so uploading the same file
// twice adds nothing. Recipients that repeat an ID within recipients are
// refused as by CreateCampaign; a campaign of another world is refused
// with a *[WorldError].
func (r *Runner) AddRecipients(ctx context.Context, campaignID int64, recipients []Recipient) (int, error) {
	if err := CheckRecipients(recipients); err != nil {
		return 0, err
	}
	c, err := r.store.Campaign(ctx, campaignID)
	if err != nil {
		return 0, err
	}
	if err := CheckWorld(c, r.opts.World); err != nil {
		return 0, err
	}
	if c.Status.Finished() {
		return 0, &TransitionError{Campaign: campaignID, From: c.Status, To: c.Status}
	}
	n, err := r.store.AddConversations(ctx, campaignID, r.conversations(c, recipients))
	if err == nil && n > 0 {
		r.Wake()
	}
	return n, err
}

func (r *Runner) conversations(c Campaign, recipients []Recipient) []Conversation {
	return NewConversations(c, recipients, r.opts.Window, r.opts.Clock.Now())
}

// NewConversations returns one pending conversation of campaign c per
// recipient, due at now, with the recipient's quiet-hours zones for window
// w resolved ([RecipientZones]), created at now (the runtime's clock, not
// the store's). Runtimes use it to create campaigns.
func NewConversations(c Campaign, recipients []Recipient, w Window, now time.Time) []Conversation {
	twoWay := c.Flow.TwoWay()
	convs := make([]Conversation, len(recipients))
	for i, rec := range recipients {
		convs[i] = Conversation{
			Recipient: rec, From: c.From, TwoWay: twoWay,
			Zones:  RecipientZones(rec, w),
			Status: ConversationPending, NextAt: now,
			CreatedAt: now, UpdatedAt: now,
		}
	}
	return convs
}

// StartCampaign moves a draft (or paused) campaign to running. It fails
// with a *[NumberConflictError] while another runtime owns the campaign's
// sending number (see [NumberOwner]), and with a *[WorldError] for a
// campaign of another world than the runner's (as do PauseCampaign,
// ResumeCampaign and CancelCampaign).
func (r *Runner) StartCampaign(ctx context.Context, id int64) error {
	c, err := r.store.Campaign(ctx, id)
	if err != nil {
		return err
	}
	if err := CheckWorld(c, r.opts.World); err != nil {
		return err
	}
	if err := checkNumber(ctx, r.store, c.From, RuntimeEmbedded); err != nil {
		return err
	}
	return r.setStatus(ctx, id, CampaignRunning)
}

// checkNumber fails with a *NumberConflictError when a runtime other than
// runtime owns number.
func checkNumber(ctx context.Context, s Store, number, runtime string) error {
	o, ok, err := s.NumberOwner(ctx, number)
	if err != nil {
		return fmt.Errorf("outreach: sending number owner: %w", err)
	}
	if ok && o.Runtime != runtime {
		return &NumberConflictError{Number: number, Owner: o, Wanted: NumberOwner{Number: number, Runtime: runtime}}
	}
	return nil
}

// PauseCampaign stops sending for a running campaign; replies keep arriving
// and are handled on resume.
func (r *Runner) PauseCampaign(ctx context.Context, id int64) error {
	return r.setStatus(ctx, id, CampaignPaused)
}

// ResumeCampaign restarts a paused campaign, with the checks of
// StartCampaign.
func (r *Runner) ResumeCampaign(ctx context.Context, id int64) error {
	return r.StartCampaign(ctx, id)
}

// CancelCampaign ends a campaign: every unfinished conversation ends with
// outcome "cancelled" and nothing more is sent.
func (r *Runner) CancelCampaign(ctx context.Context, id int64) error {
	return r.setStatus(ctx, id, CampaignCancelled)
}

// campaignStatus returns campaign id's status (see [ReadCampaignStatus]).
func (r *Runner) campaignStatus(ctx context.Context, id int64) (CampaignStatus, error) {
	return ReadCampaignStatus(ctx, r.store, id)
}

// ReadCampaignStatus returns campaign id's status, through store's
// [CampaignStatusReader] when it has one, else from [Store.Campaign].
func ReadCampaignStatus(ctx context.Context, store Store, id int64) (CampaignStatus, error) {
	if sr, ok := store.(CampaignStatusReader); ok {
		return sr.CampaignStatus(ctx, id)
	}
	c, err := store.Campaign(ctx, id)
	return c.Status, err
}

func (r *Runner) setStatus(ctx context.Context, id int64, to CampaignStatus) error {
	c, err := r.store.Campaign(ctx, id)
	if err != nil {
		return err
	}
	if err := CheckWorld(c, r.opts.World); err != nil {
		return err
	}
	if err := r.store.SetCampaignStatus(ctx, id, to, r.opts.Clock.Now()); err != nil {
		return err
	}
	r.mu.Lock()
	if to == CampaignRunning {
		delete(r.stopped, id)
	} else {
		r.stopped[id] = true // sends of a batch under way stop at once
		// Its conversations give up the send slots they were handed.
		clear(r.queued)
	}
	r.mu.Unlock()
	r.Wake()
	return nil
}

// Preview returns the messages a recipient would receive first when the
// flow starts (up to its first question), rendered, without sending
// anything or touching a store.
func Preview(f *Flow, rec Recipient) ([]string, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	_, acts, err := Advance(f, 0, rec, State{}, Event{Type: EventStart})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range acts {
		if s, ok := a.(Send); ok {
			out = append(out, s.Body)
		}
	}
	return out, nil
}

// RecipientPreview is what one recipient of a campaign would receive first.
type RecipientPreview struct {
	Recipient Recipient
	// Zones are the time zones whose sending windows apply (empty: the
	// campaign's default zone).
	Zones []string
	// Messages are the first messages, rendered, up to the first question.
	Messages []string
}

// PreviewCampaign renders what the first n recipients of a campaign (a
// draft, typically, before it is started) would receive first, without
// sending anything.
func (r *Runner) PreviewCampaign(ctx context.Context, id int64, n int) ([]RecipientPreview, error) {
	c, err := r.campaign(ctx, id)
	if err != nil {
		return nil, err
	}
	convs, err := r.store.Conversations(ctx, id, 0, n)
	if err != nil {
		return nil, fmt.Errorf("outreach: preview campaign %d: %w", id, err)
	}
	out := make([]RecipientPreview, 0, len(convs))
	for _, cv := range convs {
		msgs, err := Preview(c.Flow, cv.Recipient)
		if err != nil {
			return nil, fmt.Errorf("outreach: preview campaign %d: %w", id, err)
		}
		out = append(out, RecipientPreview{Recipient: cv.Recipient, Zones: cv.Zones, Messages: msgs})
	}
	return out, nil
}

// Keyword is a carrier-standard SMS keyword.
type Keyword int

// Keywords recognised in inbound messages.
const (
	NoKeyword Keyword = iota
	KeywordStop
	KeywordStart
	KeywordHelp
)

// ParseKeyword reads a message as a keyword. Every message that
// [ClassifyOptOut] reads as an opt-out is KeywordStop: STOP, STOPALL,
// UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT in any case, spacing,
// punctuation or Unicode form, and clear English and Spanish phrases such as
// "please stop texting me" or "no más mensajes". START and UNSTOP opt back
// in and HELP, INFO and AYUDA ask for help, as whole messages only. An
// ambiguous message ([OptOutAmbiguous]) is NoKeyword here: callers that
// route those to a person call ClassifyOptOut.
func ParseKeyword(body string) Keyword {
	if ClassifyOptOut(body) == OptOut {
		return KeywordStop
	}
	return parseOptInHelp(body)
}

// HandleInbound handles a message from a patient and returns the text to
// answer with immediately, if any (for keywords). It is idempotent on
// ProviderID: a webhook delivered twice has one effect.
//
// STOP and its synonyms opt the number out of every campaign at once;
// START opts it back in; HELP gets the help reply. START and HELP also
// reach the patient's active conversation (as [EventKeyword]): the engine
// asks its question again (a re-ask, with the hint), as a Studio
// execution does when Twilio passes them on, and records no answer; a
// [Machine] gets them as replies. Any other message is a
// reply for the patient's active two-way conversation with that sending
// number in a campaign of the runner's world, handled by the runner at
// once (Run is woken); a message with no such conversation, or one that
// came before the question it would answer was sent, is stored, never
// lost, but answers nothing. A message whose (phone, number) pair has an
// active conversation in another world only (see [Campaign.World]) is
// such a message: it is stored unmatched and reaches no conversation,
// since it came from this runner's world (its webhook, its simulated
// phones), not from the other's. A message that reaches no conversation
// and that the [Trigger] of a running campaign sending from the number
// texted matches starts a conversation of that campaign (the newest such
// campaign of the runner's world run by the embedded runtime) with the
// sender, unless they opted out: the message is then the flow's trigger
// ([Event] Body of its start), not a reply.
func (r *Runner) HandleInbound(ctx context.Context, in InboundMessage) (string, error) {
	m, kw, event, reply, err := r.inboundMessage(in)
	if err != nil {
		return "", err
	}
	stored, isNew, err := r.store.RecordInbound(ctx, r.opts.World, m, event)
	if err != nil {
		return "", fmt.Errorf("outreach: record inbound message: %w", err)
	}
	wake, err := r.afterInbound(ctx, in, kw, event, stored, isNew)
	if err != nil {
		return "", err
	}
	if wake {
		r.Wake()
	}
	return reply, nil
}

// inboundMessage checks in and returns the message to store, its keyword,
// the inbox event it makes and the text to answer it with.
func (r *Runner) inboundMessage(in InboundMessage) (m Message, kw Keyword, event EventKind, reply string, err error) {
	if in.From == "" || in.To == "" {
		return m, kw, event, "", fmt.Errorf("outreach: inbound message needs From and To")
	}
	if in.ProviderID == "" {
		return m, kw, event, "", fmt.Errorf("outreach: inbound message needs a ProviderID, which makes it idempotent")
	}
	at := in.ReceivedAt
	if at.IsZero() {
		at = r.opts.Clock.Now()
	}
	m = Message{Direction: Inbound, From: in.From, To: in.To, Body: in.Body, ProviderID: in.ProviderID, Status: MessageReceived, SentAt: at, CreatedAt: r.opts.Clock.Now()}
	kw = ParseKeyword(in.Body)
	switch kw {
	case KeywordStop:
		event, reply = EventOptOut, r.opts.StopReply
	case KeywordStart:
		event, reply = EventKeyword, r.opts.StartReply
	case KeywordHelp:
		event, reply = EventKeyword, r.opts.HelpReply
	default:
		event = EventReply
	}
	return m, kw, event, reply, nil
}

// afterInbound does what follows the storing of an inbound message
// (stored; isNew when it was not stored before): alerts, opt-outs and a
// triggered conversation. wake says whether Run has work to look at.
func (r *Runner) afterInbound(ctx context.Context, in InboundMessage, kw Keyword, event EventKind, stored Message, isNew bool) (wake bool, err error) {
	// Urgent words raise an alert whatever the message is (a STOP too).
	// Not only when isNew: a webhook retried after a failure here adds it
	// then, once (alerts are kept once per message).
	if err := r.raiseAlert(ctx, stored); err != nil {
		return false, err
	}
	if kw == KeywordStop || kw == KeywordStart {
		if isNew {
			r.noteStop(in.From, kw == KeywordStop, r.opts.Clock.Now())
		}
		// Stamped with the time the message was first received: a retried
		// webhook (or one retried after a crash right here) repeats the
		// same change at the same time, and never overrides a newer one.
		if err := r.store.SetOptOut(ctx, r.opts.World, in.From, kw == KeywordStop, stored.SentAt); err != nil {
			return false, fmt.Errorf("outreach: record opt-out: %w", err)
		}
	}
	started := int64(0)
	if event == EventReply && stored.ConversationID == 0 {
		// Also when not new: a webhook retried after a failure here
		// starts the conversation then, once (see TriggeredRecipientID).
		if started, err = r.startTriggered(ctx, stored); err != nil {
			return false, err
		}
	}
	return event != "" && isNew || started != 0, nil
}

// StatusUpdate is a provider's report on an outbound message (a Twilio
// status callback).
type StatusUpdate struct {
	// ProviderID is the message's id (Twilio's MessageSid).
	ProviderID string
	// To is the recipient's number.
	To string
	// Status is the provider's status: queued, sent, delivered,
	// undelivered, failed, ...
	Status string
	// ErrorCode is the provider's error code, if any ("30003", "21610").
	ErrorCode string
}

// stopWhenRecorded opts out the number of the message with that provider
// id, in flight in this runner, once its outcome is recorded.
func (r *Runner) stopWhenRecorded(providerID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sentIDs[providerID]; !ok {
		return
	}
	if r.stopIDs == nil {
		r.stopIDs = map[string]struct{}{}
	}
	r.stopIDs[providerID] = struct{}{}
}

// HandleStatus records a provider's delivery status for a message (a
// status callback). "undelivered" and "failed" take the conversation's
// failure path when the message is the question it awaits (see
// Step.OnFailure). Error 21610 opts the number out, whether or not the
// message is known (give u.To: without it, the opt-out of a message not
// recorded yet is made only by the runner that is sending it). An update
// for a message not recorded yet is kept by the store for
// PendingStatusFor and applied when any process records the message's
// provider id (see Store.UpdateDelivery): HandleStatus returns nil if
// this runner is sending that message, else an error matching
// ErrNotFound, as for a message no one knows.
func (r *Runner) HandleStatus(ctx context.Context, u StatusUpdate) error {
	now := r.opts.Clock.Now()
	if err := r.beforeStatus(ctx, u, now); err != nil {
		return err
	}
	m, err := r.store.UpdateDelivery(ctx, u.ProviderID, u.Status, u.ErrorCode, now)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("outreach: delivery status: %w", err)
	}
	wake, err := r.afterStatus(ctx, u, m, err, now)
	if wake {
		r.Wake()
	}
	return err
}

// beforeStatus records the opt-out of a 21610 update that gives its To.
func (r *Runner) beforeStatus(ctx context.Context, u StatusUpdate, now time.Time) error {
	if u.ErrorCode == "21610" && u.To != "" {
		r.noteStop(u.To, true, now) // for the batches under way
		if err := r.store.SetOptOut(ctx, r.opts.World, u.To, true, now); err != nil {
			return fmt.Errorf("outreach: record opt-out: %w", err)
		}
	}
	return nil
}

// afterStatus does what follows the storing of u, whose message is m or
// whose store error is found (nil, or matching ErrNotFound): it returns
// what HandleStatus returns, and whether Run has work to look at.
func (r *Runner) afterStatus(ctx context.Context, u StatusUpdate, m Message, found error, now time.Time) (wake bool, err error) {
	if errors.Is(found, ErrNotFound) && u.ProviderID != "" && r.inFlight(u.ProviderID) {
		// Sent by this runner and not recorded yet: the store keeps the
		// update and applies it when the provider id is recorded.
		if u.ErrorCode == "21610" && u.To == "" {
			r.stopWhenRecorded(u.ProviderID)
		}
		return false, nil
	}
	if found != nil {
		return false, fmt.Errorf("outreach: delivery status: %w", found)
	}
	if u.ErrorCode == "21610" && u.To == "" {
		r.noteStop(m.To, true, now)
		if err := r.store.SetOptOut(ctx, r.opts.World, m.To, true, now); err != nil {
			return false, fmt.Errorf("outreach: record opt-out: %w", err)
		}
	}
	return u.Status == "undelivered" || u.Status == "failed", nil
}
