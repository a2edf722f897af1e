package outreach

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store keeps campaigns, conversations, messages and responses. It is shaped
// by what the [Runner] needs; implementations live in packages of their own
// (memstore, sqlitestore, ...) and all pass the conformance suite in
// outreach/storetest.
//
// Work is claimed with a lease: [Store.ClaimDue] returns conversations with
// work due, each with a [Lease] (a token and an expiry). Committing or
// extending checks the token; an expired lease is claimable again by anyone,
// which lets many processes share one database.
type Store interface {
	// CreateCampaign stores c (ID and timestamps are assigned; an empty
	// Runtime is stored as [RuntimeEmbedded]; World is kept as given) with one
	// conversation per recipient, in one transaction. Conversations whose
	// Recipient.ID repeats one already in the campaign are skipped: added
	// counts those stored.
	CreateCampaign(ctx context.Context, c Campaign, convs []Conversation) (created Campaign, added int, err error)
	// AddConversations adds conversations to an existing campaign in one
	// transaction, skipping any whose Recipient.ID the campaign already has,
	// so re-uploading the same rows adds nothing.
	AddConversations(ctx context.Context, campaignID int64, convs []Conversation) (added int, err error)
	// Campaign returns one campaign, or an error matching ErrNotFound.
	Campaign(ctx context.Context, id int64) (Campaign, error)
	// Campaigns lists every campaign, newest first.
	Campaigns(ctx context.Context) ([]Campaign, error)
	// SetCampaignStatus moves a campaign along its lifecycle (see
	// [CampaignStatus.CanChange]; otherwise a *TransitionError). Cancelling
	// ends every unfinished conversation with outcome "cancelled" and
	// cancels their queued messages. Leases are kept: a worker midway can
	// still Commit the outcomes of sends it made, but a conversation that
	// is done stays done (Commit ignores the update's Status, State,
	// Outcome and NextAt for it, and stores as cancelled any message the
	// update would leave queued or sending: see [EndedStatus]).
	SetCampaignStatus(ctx context.Context, id int64, to CampaignStatus, now time.Time) error
	// FinishCampaignIfDone marks a running campaign done when it has no
	// unfinished conversation, and reports whether it did.
	FinishCampaignIfDone(ctx context.Context, id int64, now time.Time) (bool, error)
	// Progress counts a campaign's conversations and messages as of now.
	Progress(ctx context.Context, campaignID int64, now time.Time) (Progress, error)

	// ClaimDue leases up to limit conversations of running campaigns that
	// have work due: NextAt at or before now, or an unprocessed inbox event.
	// A pending two-way conversation is not due while another two-way
	// conversation for the same (phone, From) in a campaign of the same
	// world is active. Conversations are claimed in NextAt order; none is
	// held by two unexpired leases.
	//
	// Only conversations of campaigns of scope (their Runtime is
	// scope.Runtime and their World is scope.World) are claimed: each
	// runtime works on its own campaigns, in its own world.
	ClaimDue(ctx context.Context, scope Scope, now time.Time, limit int, lease time.Duration) ([]Claim, error)
	// ClaimConversation leases one conversation whatever its status, its
	// campaign's status and when its work is due, to record what a
	// runtime learned about it (the Studio runtime collects a cancelled
	// campaign's executions this way). It fails with an error matching
	// ErrNotFound for an unknown conversation and ErrLeaseLost when an
	// unexpired lease holds it.
	ClaimConversation(ctx context.Context, id int64, now time.Time, lease time.Duration) (Claim, error)
	// NextDue returns the earliest NextAt among unfinished conversations of
	// running campaigns, or now when one has an unprocessed inbox event;
	// ok is false when nothing is scheduled. Runners sleep until then.
	// Like ClaimDue, it looks only at campaigns of scope.
	NextDue(ctx context.Context, scope Scope, now time.Time) (at time.Time, ok bool, err error)
	// ExtendLease moves a lease's expiry, or fails with ErrLeaseLost.
	ExtendLease(ctx context.Context, l Lease, until time.Time) (Lease, error)
	// Commit applies updates of claimed conversations in one transaction.
	// The result has one entry per update: nil, an error matching
	// ErrLeaseLost (nothing of that update was applied) or ErrPairBusy (a
	// pending two-way conversation could not become active; nothing of that
	// update was applied). err reports a failure of the whole commit.
	Commit(ctx context.Context, now time.Time, updates []Update) (results []error, err error)

	// RecordInbound stores an inbound message once per ProviderID: a second
	// call with the same ProviderID returns the first message and
	// isNew=false. When event is not empty, the message is matched to the
	// active two-way conversation for (From = patient phone, To = sending
	// number) in a campaign of world, if any, and an inbox event of that
	// kind is added to it: a message never reaches another world's
	// conversation. An unmatched message is stored with ConversationID 0,
	// never lost.
	RecordInbound(ctx context.Context, world string, m Message, event EventKind) (stored Message, isNew bool, err error)
	// UpdateDelivery records a provider's delivery status for the outbound
	// message with that ProviderID, unless the stored status ranks higher
	// ([DeliveryRank]: callbacks arrive out of order). A status of "undelivered" or "failed"
	// adds an EventDeliveryFailed inbox event to its conversation (once).
	// It returns ErrNotFound when no message has that ProviderID; the
	// status is then kept (the one of highest rank, for each provider id)
	// for [PendingStatusFor], and applied as if UpdateDelivery were called
	// again by the Commit, from any process, that records an outbound
	// message with that ProviderID within that time: a status callback
	// may come before the sender's answer is recorded.
	UpdateDelivery(ctx context.Context, providerID, status, errorCode string, at time.Time) (Message, error)

	// SetOptOut records that phone opted out (true) or back in (false) at
	// the given time, in world (the world of the runtime or program that
	// learned it: see [Campaign.World]). A change older than the one
	// stored is ignored, so a retried webhook cannot undo a newer STOP or
	// START; an opt-in that [OptInLifts] says cannot lift the stored
	// opt-out is ignored too. An opt-out holds in every world; one made
	// while another is in force keeps the world of the first, unless that
	// was simulated (so a later START must come from that world).
	SetOptOut(ctx context.Context, world, phone string, optedOut bool, at time.Time) error
	// OptedOut returns the subset of phones that are opted out.
	OptedOut(ctx context.Context, phones []string) (map[string]bool, error)
	// OptOuts lists the latest opt-out change of each phone ever recorded
	// (opted out or back in, and when), for phones greater than after, in
	// phone order, at most limit of them (zero or less: no limit). Call
	// again with after set to the last Phone seen to page through them.
	OptOuts(ctx context.Context, after string, limit int) ([]OptOutRecord, error)

	// Conversations lists a campaign's conversations with ID > after, in ID
	// order, at most limit of them.
	Conversations(ctx context.Context, campaignID, after int64, limit int) ([]Conversation, error)
	// Conversation returns one conversation, or an error matching ErrNotFound.
	Conversation(ctx context.Context, id int64) (Conversation, error)
	// Messages returns a conversation's messages in ID order (conversation 0:
	// the unmatched inbound messages).
	Messages(ctx context.Context, conversationID int64) ([]Message, error)
	// Responses lists a page of a campaign's responses in (conversation ID,
	// reply time) order. Call again with AfterConversation set to the last
	// ConversationID seen to stream a large campaign.
	Responses(ctx context.Context, campaignID int64, page ResponsePage) ([]Response, error)

	// ClaimNumber records o as the owner of o.Number (o.Since is set to
	// now when zero). It fails with a *[NumberConflictError] when another
	// (Runtime, Flow) owns the number, or when a campaign of another
	// runtime has an unfinished two-way conversation from it. Claiming a
	// number one already owns succeeds.
	ClaimNumber(ctx context.Context, o NumberOwner) error
	// ReleaseNumber removes the owner of number if it is (runtime, flow);
	// releasing a number one does not own does nothing.
	ReleaseNumber(ctx context.Context, number, runtime, flow string) error
	// NumberOwner returns the owner of number; ok is false when none is
	// recorded (the embedded runtime then receives its replies).
	NumberOwner(ctx context.Context, number string) (o NumberOwner, ok bool, err error)

	// AlertStore keeps the alerts raised by urgent replies.
	AlertStore
	AuditStore // the append-only audit trail of who did what (audit.go)
	RetentionStore

	// Close releases the store's resources.
	Close() error
}

// CampaignStatusReader is implemented by a [Store] that reads a
// campaign's status alone, for less than [Store.Campaign] costs (which
// decodes the campaign's flow). The runner looks at the status of the
// campaigns of every batch it sends, through this when the store has it.
// It returns an error wrapping [ErrNotFound] for an unknown campaign.
type CampaignStatusReader interface {
	CampaignStatus(ctx context.Context, id int64) (CampaignStatus, error)
}

// ResponsePage selects a page of responses: those of conversations with
// ID > AfterConversation, of at most Limit conversations (zero: no limit).
type ResponsePage struct {
	AfterConversation int64
	Limit             int
}

// Lease is a claim on one conversation, valid until Expires.
type Lease struct {
	ConversationID int64     `json:"conversation_id"`
	Token          string    `json:"token"`
	Expires        time.Time `json:"expires"`
}

// Claim is a leased conversation with what the runner needs to advance it.
type Claim struct {
	Lease        Lease
	Conversation Conversation
	// Pending are its outbound messages with status queued, sending or
	// unknown, in ID order.
	Pending []Message
	// Inbox are its unprocessed events, in ID order.
	Inbox []InboxEvent
}

// EventKind says what an inbox event is.
type EventKind string

// Inbox event kinds.
// PendingStatusFor is how long a store keeps a delivery status whose
// message's provider id is not recorded yet (see Store.UpdateDelivery):
// long enough for a send whose outcome is being recorded or reconciled; a
// status of a message nobody ever records is dropped after it.
const PendingStatusFor = 10 * time.Minute

const (
	EventReply          EventKind = "reply"
	EventOptOut         EventKind = "opt_out"
	EventDeliveryFailed EventKind = "delivery_failed"
	// EventKeyword is a HELP or START text ([ParseKeyword]) from a number
	// in a conversation: never an answer for [Advance], which asks its
	// question again, but a reply like any other for a [Machine] (Twilio
	// passes every text on to a Studio flow, keywords included).
	EventKeyword EventKind = "keyword"
)

// InboxEvent is something that happened to a conversation from outside (a
// reply, an opt-out, a delivery failure) and waits for the runner.
type InboxEvent struct {
	ID             int64     `json:"id"`
	ConversationID int64     `json:"conversation_id"`
	Kind           EventKind `json:"kind"`
	// MessageID is the inbound message (reply, opt-out) or the outbound
	// message that failed (delivery failure).
	MessageID int64 `json:"message_id"`
	// Body is the reply's text (reply).
	Body string `json:"body,omitempty"`
	// Key is the failed message's key (delivery failure).
	Key SendKey `json:"key"`
	// Error is the provider's error code (delivery failure).
	Error string    `json:"error,omitempty"`
	At    time.Time `json:"at"`
}

// Update is what the runner changes on one claimed conversation.
type Update struct {
	// Lease must still be held.
	Lease Lease
	// Conversation replaces the stored conversation's Status, State,
	// Outcome and NextAt. If the conversation has unprocessed inbox events
	// other than those in Processed, the store keeps NextAt no later than now.
	Conversation Conversation
	// Release gives the lease up.
	Release bool
	// Processed are inbox events now handled.
	Processed []int64
	// Enqueue adds outbound messages with the Status given (queued, or
	// sending when the intent is recorded in the same commit). The store
	// assigns their IDs in place: after a successful Commit,
	// updates[i].Enqueue[j].ID is set.
	Enqueue []Message
	// Messages replaces Status, ProviderID, Error, Tries, SendAfter,
	// IntentAt and SentAt of existing messages of this conversation.
	Messages []Message
	// Responses adds recorded answers.
	Responses []Response
	// Received adds inbound messages of this conversation that did not
	// come through RecordInbound, such as the replies a Studio execution
	// received, which the Studio runtime collects: stored as received,
	// once per ProviderID (one already stored is skipped), with no inbox
	// event.
	Received []Message
}

// Progress counts where a campaign stands.
type Progress struct {
	// Status is the campaign's status. Runtimes set it ([CampaignProgress]);
	// a Store's Progress leaves it empty.
	Status   CampaignStatus `json:"status,omitempty"`
	Total    int            `json:"total"`
	Pending  int            `json:"pending"`
	Active   int            `json:"active"`
	Done     int            `json:"done"`
	Outcomes map[string]int `json:"outcomes"`
	// Messages counts outbound messages by status.
	Messages map[MessageStatus]int `json:"messages"`
	// Delivery counts outbound messages by provider delivery status.
	Delivery map[string]int `json:"delivery"`
	// Deferred counts queued messages whose SendAfter is in the future
	// (quiet hours or retry backoff) as of the call.
	Deferred int `json:"deferred"`
	// Replies counts inbound messages matched to the campaign.
	Replies int `json:"replies"`
}

// NewProgress returns an empty Progress with its maps made, for stores
// to count into with [Progress.CountConversations] and
// [Progress.CountMessages].
func NewProgress() Progress {
	return Progress{Outcomes: map[string]int{}, Messages: map[MessageStatus]int{}, Delivery: map[string]int{}}
}

// CountConversations adds n conversations of status st (and, for done
// ones, outcome) to p.
func (p *Progress) CountConversations(st ConversationStatus, outcome string, n int) {
	p.Total += n
	switch st {
	case ConversationPending:
		p.Pending += n
	case ConversationActive:
		p.Active += n
	case ConversationDone:
		p.Done += n
		p.Outcomes[outcome] += n
	}
}

// CountMessages adds n messages of direction dir, status st and
// provider delivery status delivery to p, deferred of them queued for
// later (outbound ones): inbound ones count as replies.
func (p *Progress) CountMessages(dir Direction, st MessageStatus, delivery string, n, deferred int) {
	if dir == Inbound {
		p.Replies += n
		return
	}
	p.Messages[st] += n
	if delivery != "" {
		p.Delivery[delivery] += n
	}
	p.Deferred += deferred
}

// WithDefaults returns c as a store adds it to a campaign that sends from
// from, at now: Status pending when empty, From the campaign's when
// empty, CreatedAt now when zero and UpdatedAt CreatedAt when zero. It
// fails when the recipient has no ID or the status is unknown.
func (c Conversation) WithDefaults(from string, now time.Time) (Conversation, error) {
	if c.Recipient.ID == "" {
		return c, errors.New("no recipient id")
	}
	if c.Status == "" {
		c.Status = ConversationPending
	}
	if !c.Status.Valid() {
		return c, fmt.Errorf("unknown status %q", c.Status)
	}
	if c.From == "" {
		c.From = from
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	return c, nil
}

// Check reports what makes u unusable whatever the store holds: an empty
// lease token, or a Conversation whose ID is not the lease's (errors
// matching ErrLeaseLost), or an unknown status. Stores check it before
// applying u.
func (u Update) Check() error {
	id := u.Lease.ConversationID
	switch c := u.Conversation; {
	case u.Lease.Token == "":
		return fmt.Errorf("conversation %d: empty lease token: %w", id, ErrLeaseLost)
	case c.ID != 0 && c.ID != id:
		return fmt.Errorf("update of conversation %d under the lease of conversation %d: %w", c.ID, id, ErrLeaseLost)
	case !c.Status.Valid():
		return fmt.Errorf("conversation %d: unknown status %q", id, c.Status)
	}
	return nil
}
