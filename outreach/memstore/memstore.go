package memstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// ErrClosed is returned by every method called after [Store.Close].
var ErrClosed = errors.New("memstore: store is closed")

// Store is an in-memory [outreach.Store]. It is safe for concurrent use.
// Create one with [New].
type Store struct {
	mu     sync.Mutex
	closed bool

	lastCampaign, lastConv, lastMessage, lastEvent int64

	campaigns map[int64]*campaign
	convs     map[int64]*conversation
	messages  map[int64]*outreach.Message
	events    map[int64]*outreach.InboxEvent
	// convMessages lists message IDs per conversation in ID order; key 0
	// holds the inbound messages that matched no conversation.
	convMessages map[int64][]int64
	// inbound and outbound find messages by provider id.
	inbound  map[string]int64
	outbound map[string]int64
	// pending holds the delivery statuses of provider ids not recorded
	// yet, by provider id.
	pending map[string]pendingStatus
	// failedEvent holds the outbound messages that already have a
	// delivery-failed inbox event.
	failedEvent map[int64]bool
	// active is the active two-way conversation of each pair.
	active  map[pair]int64
	optOuts map[string]optOut
	// owners holds the sending numbers' owners (see numbers.go).
	owners map[string]outreach.NumberOwner
	// logins holds failed login attempts (see attempts.go).
	logins map[string]loginFailures
	// alerts holds the alerts in ID order (see alerts.go).
	alerts []outreach.Alert
	// audit holds the audit trail in ID order (see audit.go).
	audit []outreach.AuditEntry
}

// optOut is the latest opt-out change of a phone.
type optOut struct {
	out   bool
	at    time.Time
	world string
}

type campaign struct {
	c         outreach.Campaign // Flow is kept as JSON in flow
	flow      []byte
	convs     []int64 // conversation IDs in ID order
	patients  map[string]int64
	responses []outreach.Response // in the order they were added
}

type conversation struct {
	c          outreach.Conversation
	leaseToken string
	leaseUntil time.Time
	inbox      []int64 // unprocessed inbox events in ID order
	world      string  // its campaign's world
}

// pair is a (patient phone, sending number) pair in a world: the pair
// rule holds in each world apart.
type pair struct{ world, phone, from string }

func (c *conversation) pair() pair { return pair{c.world, c.c.Recipient.Phone, c.c.From} }

// New returns an empty store.
func New() *Store {
	return &Store{
		campaigns:    make(map[int64]*campaign),
		convs:        make(map[int64]*conversation),
		messages:     make(map[int64]*outreach.Message),
		events:       make(map[int64]*outreach.InboxEvent),
		convMessages: make(map[int64][]int64),
		inbound:      make(map[string]int64),
		outbound:     make(map[string]int64),
		pending:      make(map[string]pendingStatus),
		failedEvent:  make(map[int64]bool),
		active:       make(map[pair]int64),
		optOuts:      make(map[string]optOut),
		owners:       make(map[string]outreach.NumberOwner),
		logins:       make(map[string]loginFailures),
	}
}

var _ outreach.Store = (*Store)(nil)
var _ outreach.BatchRecorder = (*Store)(nil)

// lock takes the mutex after checking ctx and that the store is open. The
// caller must unlock when err is nil.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// Close empties the store; every later call fails with [ErrClosed].
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.campaigns, s.convs, s.messages, s.events = nil, nil, nil, nil
	s.convMessages, s.inbound, s.outbound, s.pending = nil, nil, nil, nil
	s.failedEvent, s.active, s.optOuts = nil, nil, nil
	return nil
}

// CreateCampaign implements [outreach.Store]. An empty Status means draft;
// a zero CreatedAt means the current time.
func (s *Store) CreateCampaign(ctx context.Context, c outreach.Campaign, convs []outreach.Conversation) (outreach.Campaign, int, error) {
	flow, err := json.Marshal(c.Flow)
	if err != nil {
		return outreach.Campaign{}, 0, fmt.Errorf("memstore: encode flow: %w", err)
	}
	if c.Status == "" {
		c.Status = outreach.CampaignDraft
	}
	if !c.Status.Valid() {
		return outreach.Campaign{}, 0, fmt.Errorf("memstore: unknown campaign status %q", c.Status)
	}
	c.CreatedAt = orNow(c.CreatedAt)
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.UpdatedAt = utc(c.UpdatedAt)
	c.PurgedAt = time.Time{}
	c.Flow = nil
	if c.Runtime == "" {
		c.Runtime = outreach.RuntimeEmbedded
	}

	if err := s.lock(ctx); err != nil {
		return outreach.Campaign{}, 0, err
	}
	defer s.mu.Unlock()

	camp := &campaign{c: c, flow: flow, patients: make(map[string]int64)}
	add, err := s.prepare(camp, convs, c.CreatedAt)
	if err != nil {
		return outreach.Campaign{}, 0, err
	}
	s.lastCampaign++
	camp.c.ID = s.lastCampaign
	s.campaigns[camp.c.ID] = camp
	s.insert(camp, add)
	out, err := camp.campaign()
	return out, len(add), err
}

// AddConversations implements [outreach.Store].
func (s *Store) AddConversations(ctx context.Context, campaignID int64, convs []outreach.Conversation) (int, error) {
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	camp, ok := s.campaigns[campaignID]
	if !ok {
		return 0, fmt.Errorf("memstore: campaign %d: %w", campaignID, outreach.ErrNotFound)
	}
	add, err := s.prepare(camp, convs, time.Now())
	if err != nil {
		return 0, err
	}
	s.insert(camp, add)
	return len(add), nil
}

// prepare validates and copies the conversations to add to camp, skipping
// recipients the campaign (or the batch) already has. It changes nothing.
func (s *Store) prepare(camp *campaign, convs []outreach.Conversation, now time.Time) ([]*conversation, error) {
	seen := make(map[string]bool)
	busy := make(map[pair]bool)
	var add []*conversation
	for i, c := range convs {
		if c.Recipient.ID == "" {
			return nil, fmt.Errorf("memstore: conversation %d of the batch has no recipient id", i)
		}
		if _, ok := camp.patients[c.Recipient.ID]; ok || seen[c.Recipient.ID] {
			continue
		}
		seen[c.Recipient.ID] = true
		c, err := c.WithDefaults(camp.c.From, now)
		if err != nil {
			return nil, fmt.Errorf("memstore: conversation %d of the batch: %w", i, err)
		}
		state, err := roundTrip(c.State)
		if err != nil {
			return nil, fmt.Errorf("memstore: conversation %d of the batch: %w", i, err)
		}
		c.State = state
		c.Recipient = copyRecipient(c.Recipient)
		c.Zones = slices.Clone(c.Zones)
		c.NextAt, c.CreatedAt, c.UpdatedAt = utc(c.NextAt), utc(c.CreatedAt), utc(c.UpdatedAt)
		conv := &conversation{c: c, world: camp.c.World}
		if c.TwoWay && c.Status == outreach.ConversationActive {
			p := conv.pair()
			if _, ok := s.active[p]; ok || busy[p] {
				return nil, fmt.Errorf("memstore: conversation %d of the batch: %w", i, outreach.ErrPairBusy)
			}
			busy[p] = true
		}
		add = append(add, conv)
	}
	return add, nil
}

// insert stores conversations returned by prepare.
func (s *Store) insert(camp *campaign, add []*conversation) {
	for _, conv := range add {
		s.lastConv++
		conv.c.ID = s.lastConv
		conv.c.CampaignID = camp.c.ID
		s.convs[conv.c.ID] = conv
		camp.convs = append(camp.convs, conv.c.ID)
		camp.patients[conv.c.Recipient.ID] = conv.c.ID
		if conv.c.TwoWay && conv.c.Status == outreach.ConversationActive {
			s.active[conv.pair()] = conv.c.ID
		}
	}
}

// Campaign implements [outreach.Store].
func (s *Store) Campaign(ctx context.Context, id int64) (outreach.Campaign, error) {
	if err := s.lock(ctx); err != nil {
		return outreach.Campaign{}, err
	}
	defer s.mu.Unlock()
	camp, ok := s.campaigns[id]
	if !ok {
		return outreach.Campaign{}, fmt.Errorf("memstore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	return camp.campaign()
}

// Campaigns implements [outreach.Store].
func (s *Store) Campaigns(ctx context.Context) ([]outreach.Campaign, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]outreach.Campaign, 0, len(s.campaigns))
	for _, camp := range s.campaigns {
		c, err := camp.campaign()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b outreach.Campaign) int { return cmp.Compare(b.ID, a.ID) })
	return out, nil
}

// SetCampaignStatus implements [outreach.Store]. Cancelling leaves the
// leases of the conversations it ends: a worker midway still records its
// outcomes, but cannot bring a cancelled conversation back.
func (s *Store) SetCampaignStatus(ctx context.Context, id int64, to outreach.CampaignStatus, now time.Time) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	camp, ok := s.campaigns[id]
	if !ok {
		return fmt.Errorf("memstore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	if !camp.c.Status.CanChange(to) {
		return &outreach.TransitionError{Campaign: id, From: camp.c.Status, To: to}
	}
	now = utc(now)
	camp.c.Status = to
	camp.c.UpdatedAt = now
	if to != outreach.CampaignCancelled {
		return nil
	}
	for _, cid := range camp.convs {
		conv := s.convs[cid]
		if conv.c.Status == outreach.ConversationDone {
			continue
		}
		s.setStatus(conv, outreach.ConversationDone)
		conv.c.Outcome = outreach.OutcomeCancelled
		conv.c.NextAt = time.Time{}
		conv.c.UpdatedAt = now
		for _, mid := range s.convMessages[cid] {
			if m := s.messages[mid]; m.Direction == outreach.Outbound && m.Status == outreach.MessageQueued {
				m.Status = outreach.MessageCancelled
			}
		}
	}
	return nil
}

// setStatus changes a conversation's status, keeping the active pairs.
func (s *Store) setStatus(conv *conversation, to outreach.ConversationStatus) {
	if conv.c.TwoWay && conv.c.Status == outreach.ConversationActive && to != outreach.ConversationActive {
		delete(s.active, conv.pair())
	}
	if conv.c.TwoWay && to == outreach.ConversationActive {
		s.active[conv.pair()] = conv.c.ID
	}
	conv.c.Status = to
}

// FinishCampaignIfDone implements [outreach.Store].
func (s *Store) FinishCampaignIfDone(ctx context.Context, id int64, now time.Time) (bool, error) {
	if err := s.lock(ctx); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	camp, ok := s.campaigns[id]
	if !ok {
		return false, fmt.Errorf("memstore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	if camp.c.Status != outreach.CampaignRunning {
		return false, nil
	}
	for _, cid := range camp.convs {
		if s.convs[cid].c.Status != outreach.ConversationDone {
			return false, nil
		}
	}
	camp.c.Status = outreach.CampaignDone
	camp.c.UpdatedAt = utc(now)
	return true, nil
}

// Progress implements [outreach.Store].
func (s *Store) Progress(ctx context.Context, campaignID int64, now time.Time) (outreach.Progress, error) {
	if err := s.lock(ctx); err != nil {
		return outreach.Progress{}, err
	}
	defer s.mu.Unlock()
	camp, ok := s.campaigns[campaignID]
	if !ok {
		return outreach.Progress{}, fmt.Errorf("memstore: campaign %d: %w", campaignID, outreach.ErrNotFound)
	}
	p := outreach.NewProgress()
	for _, cid := range camp.convs {
		conv := s.convs[cid]
		p.CountConversations(conv.c.Status, conv.c.Outcome, 1)
		for _, mid := range s.convMessages[cid] {
			m := s.messages[mid]
			deferred := 0
			if m.Direction == outreach.Outbound && m.Status == outreach.MessageQueued && m.SendAfter.After(now) {
				deferred = 1
			}
			p.CountMessages(m.Direction, m.Status, m.DeliveryStatus, 1, deferred)
		}
	}
	return p, nil
}

// ClaimDue implements [outreach.Store]. Conversations with unprocessed
// inbox events come first, then the others in NextAt order; ties go to the
// lower ID.
func (s *Store) ClaimDue(ctx context.Context, scope outreach.Scope, now time.Time, limit int, lease time.Duration) ([]outreach.Claim, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("memstore: lease duration %v is not positive", lease)
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if limit <= 0 {
		return nil, nil
	}
	now = utc(now)
	type candidate struct {
		conv *conversation
		due  int64
	}
	var due []candidate
	for _, conv := range s.convs {
		if !s.claimable(conv, scope) || conv.leaseUntil.After(now) {
			continue
		}
		switch {
		case len(conv.inbox) > 0:
			due = append(due, candidate{conv, 1})
		case !conv.c.NextAt.IsZero() && !conv.c.NextAt.After(now):
			due = append(due, candidate{conv, conv.c.NextAt.UnixNano()})
		}
	}
	slices.SortFunc(due, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.due, b.due), cmp.Compare(a.conv.c.ID, b.conv.c.ID))
	})
	if len(due) > limit {
		due = due[:limit]
	}
	claims := make([]outreach.Claim, 0, len(due))
	for _, d := range due {
		claims = append(claims, s.lease(d.conv, now, lease))
	}
	return claims, nil
}

// lease leases conv until now+lease and returns its claim.
func (s *Store) lease(conv *conversation, now time.Time, lease time.Duration) outreach.Claim {
	conv.leaseToken = newToken()
	conv.leaseUntil = now.Add(lease)
	cl := outreach.Claim{
		Lease:        outreach.Lease{ConversationID: conv.c.ID, Token: conv.leaseToken, Expires: conv.leaseUntil},
		Conversation: copyConversation(conv.c),
	}
	for _, mid := range s.convMessages[conv.c.ID] {
		m := s.messages[mid]
		if m.Direction == outreach.Outbound && m.Status.Pending() {
			cl.Pending = append(cl.Pending, *m)
		}
	}
	for _, eid := range conv.inbox {
		cl.Inbox = append(cl.Inbox, *s.events[eid])
	}
	return cl
}

// ClaimConversation implements [outreach.Store].
func (s *Store) ClaimConversation(ctx context.Context, id int64, now time.Time, lease time.Duration) (outreach.Claim, error) {
	if lease <= 0 {
		return outreach.Claim{}, fmt.Errorf("memstore: lease duration %v is not positive", lease)
	}
	if err := s.lock(ctx); err != nil {
		return outreach.Claim{}, err
	}
	defer s.mu.Unlock()
	now = utc(now)
	conv, ok := s.convs[id]
	switch {
	case !ok:
		return outreach.Claim{}, fmt.Errorf("memstore: conversation %d: %w", id, outreach.ErrNotFound)
	case conv.leaseUntil.After(now):
		return outreach.Claim{}, fmt.Errorf("memstore: conversation %d: %w", id, outreach.ErrLeaseLost)
	}
	return s.lease(conv, now, lease), nil
}

// claimable reports whether conv may be claimed once its work is due and
// its lease, if any, has expired: it is unfinished, its campaign is
// running in scope, and it is not a pending two-way conversation whose
// pair is busy.
func (s *Store) claimable(conv *conversation, scope outreach.Scope) bool {
	camp := s.campaigns[conv.c.CampaignID].c
	if conv.c.Status == outreach.ConversationDone ||
		camp.Status != outreach.CampaignRunning || !scope.Holds(camp) {
		return false
	}
	if conv.c.TwoWay && conv.c.Status == outreach.ConversationPending {
		if _, busy := s.active[conv.pair()]; busy {
			return false
		}
	}
	return true
}

// NextDue implements [outreach.Store]. It considers the conversations
// ClaimDue would consider: a conversation under an unexpired lease counts
// from the lease's expiry, and a pending two-way conversation waiting for
// its pair is left out (it becomes due when the active one ends).
func (s *Store) NextDue(ctx context.Context, scope outreach.Scope, now time.Time) (time.Time, bool, error) {
	if err := s.lock(ctx); err != nil {
		return time.Time{}, false, err
	}
	defer s.mu.Unlock()
	now = utc(now)
	var next time.Time
	for _, conv := range s.convs {
		if !s.claimable(conv, scope) {
			continue
		}
		at := conv.c.NextAt
		if len(conv.inbox) > 0 {
			at = now
		}
		if at.IsZero() {
			continue
		}
		if conv.leaseUntil.After(at) {
			at = conv.leaseUntil
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next, !next.IsZero(), nil
}

// ExtendLease implements [outreach.Store]. A lease that expired but that
// no one claimed since is still held, and can be extended.
func (s *Store) ExtendLease(ctx context.Context, l outreach.Lease, until time.Time) (outreach.Lease, error) {
	if err := s.lock(ctx); err != nil {
		return outreach.Lease{}, err
	}
	defer s.mu.Unlock()
	conv, err := s.leased(l)
	if err != nil {
		return outreach.Lease{}, err
	}
	conv.leaseUntil = utc(until)
	l.Expires = conv.leaseUntil
	return l, nil
}

// leased returns the conversation l covers, or an error matching
// ErrLeaseLost when l is no longer held.
func (s *Store) leased(l outreach.Lease) (*conversation, error) {
	conv, ok := s.convs[l.ConversationID]
	if !ok || l.Token == "" || conv.leaseToken != l.Token {
		return nil, fmt.Errorf("memstore: conversation %d: %w", l.ConversationID, outreach.ErrLeaseLost)
	}
	return conv, nil
}

// Commit implements [outreach.Store].
func (s *Store) Commit(ctx context.Context, now time.Time, updates []outreach.Update) ([]error, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now = utc(now)
	results := make([]error, len(updates))
	for i, u := range updates {
		results[i] = s.apply(now, u)
	}
	return results, nil
}

// apply checks everything about one update, then applies all of it; on
// error it changes nothing.
func (s *Store) apply(now time.Time, u outreach.Update) error {
	conv, err := s.leased(u.Lease)
	if err != nil {
		return err
	}
	if err := u.Check(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	id := conv.c.ID
	c := u.Conversation
	if conv.c.Status == outreach.ConversationDone {
		// Cancelled while leased: it stays as it is; only the outcomes
		// of what the worker did are recorded.
		c.Status, c.State, c.Outcome, c.NextAt = conv.c.Status, conv.c.State, conv.c.Outcome, time.Time{}
	}
	state, err := roundTrip(c.State)
	if err != nil {
		return fmt.Errorf("memstore: conversation %d: %w", id, err)
	}
	if conv.c.TwoWay && c.Status == outreach.ConversationActive && conv.c.Status != outreach.ConversationActive {
		if other, busy := s.active[conv.pair()]; busy && other != id {
			return fmt.Errorf("memstore: conversation %d (conversation %d is active): %w", id, other, outreach.ErrPairBusy)
		}
	}
	keys := make(map[outreach.SendKey]bool)
	for _, mid := range s.convMessages[id] {
		if m := s.messages[mid]; m.Direction == outreach.Outbound {
			keys[m.Key] = true
		}
	}
	for _, m := range u.Enqueue {
		if keys[m.Key] {
			return fmt.Errorf("memstore: conversation %d already has a message with key %s", id, m.Key)
		}
		keys[m.Key] = true
	}
	for _, m := range u.Messages {
		if old, ok := s.messages[m.ID]; !ok || old.ConversationID != id || old.Direction != outreach.Outbound {
			return fmt.Errorf("memstore: conversation %d has no outbound message %d: %w", id, m.ID, outreach.ErrNotFound)
		}
	}

	// Everything checked: apply.
	s.setStatus(conv, c.Status)
	conv.c.State = state
	conv.c.Outcome = c.Outcome
	conv.c.NextAt = utc(c.NextAt)
	conv.c.UpdatedAt = now
	for _, eid := range u.Processed {
		if i := slices.Index(conv.inbox, eid); i >= 0 {
			conv.inbox = slices.Delete(conv.inbox, i, i+1)
		}
	}
	if len(conv.inbox) > 0 && conv.c.Status != outreach.ConversationDone &&
		(conv.c.NextAt.IsZero() || conv.c.NextAt.After(now)) {
		conv.c.NextAt = now
	}
	// Texts that come to a campaign already purged (a Studio execution's
	// replies collected late) are not kept either.
	camp := s.campaigns[conv.c.CampaignID]
	purged := !camp.c.PurgedAt.IsZero()
	for j, m := range u.Enqueue {
		m = m.AsEnqueued(conv.c.From, conv.c.Recipient.Phone, c.Status == outreach.ConversationDone, purged)
		m.ConversationID = id
		m.CampaignID = conv.c.CampaignID
		m.CreatedAt = now
		u.Enqueue[j].ID = s.addMessage(normMessage(m)).ID
	}
	for _, m := range u.Messages {
		old := s.messages[m.ID]
		old.Status = m.Status
		if c.Status == outreach.ConversationDone {
			old.Status = outreach.EndedStatus(m.Status)
		}
		old.ProviderID = m.ProviderID
		old.Error = m.Error
		old.Tries = m.Tries
		old.SendAfter = utc(m.SendAfter)
		old.IntentAt = utc(m.IntentAt)
		old.SentAt = utc(m.SentAt)
		s.indexOutbound(old)
	}
	// Statuses that came before their messages' provider ids.
	for _, m := range u.Enqueue {
		s.applyPending(now, m.ProviderID)
	}
	for _, m := range u.Messages {
		s.applyPending(now, m.ProviderID)
	}
	for _, m := range u.Received {
		if _, dup := s.inbound[m.ProviderID]; dup && m.ProviderID != "" {
			continue
		}
		m = m.AsReceived()
		if purged {
			m.Body = ""
		}
		m.ConversationID, m.CampaignID = id, conv.c.CampaignID
		m.CreatedAt = orNow(m.CreatedAt)
		s.addMessage(normMessage(m))
	}
	for _, r := range u.Responses {
		if purged {
			r.Raw = ""
		}
		r.CampaignID = conv.c.CampaignID
		r.ConversationID = id
		if r.PatientID == "" {
			r.PatientID = conv.c.Recipient.ID
		}
		r.RepliedAt = utc(r.RepliedAt)
		camp.responses = append(camp.responses, r)
	}
	if u.Release {
		conv.leaseToken, conv.leaseUntil = "", time.Time{}
	}
	return nil
}

// addMessage assigns m an ID and stores it.
func (s *Store) addMessage(m outreach.Message) *outreach.Message {
	s.lastMessage++
	m.ID = s.lastMessage
	p := &m
	s.messages[m.ID] = p
	s.convMessages[m.ConversationID] = append(s.convMessages[m.ConversationID], m.ID)
	if m.Direction == outreach.Inbound {
		if m.ProviderID != "" {
			s.inbound[m.ProviderID] = m.ID
		}
	} else {
		s.indexOutbound(p)
	}
	return p
}

// indexOutbound records an outbound message's provider id, keeping the
// first message that had it.
func (s *Store) indexOutbound(m *outreach.Message) {
	if m.ProviderID == "" {
		return
	}
	if _, ok := s.outbound[m.ProviderID]; !ok {
		s.outbound[m.ProviderID] = m.ID
	}
}

// addEvent adds an unprocessed inbox event to a conversation.
func (s *Store) addEvent(conv *conversation, ev outreach.InboxEvent) {
	s.lastEvent++
	ev.ID = s.lastEvent
	ev.ConversationID = conv.c.ID
	ev.At = utc(ev.At)
	s.events[ev.ID] = &ev
	conv.inbox = append(conv.inbox, ev.ID)
}

// RecordInbound implements [outreach.Store]. A zero CreatedAt becomes
// SentAt (the time received), or the current time.
func (s *Store) RecordInbound(ctx context.Context, world string, m outreach.Message, event outreach.EventKind) (outreach.Message, bool, error) {
	if err := s.lock(ctx); err != nil {
		return outreach.Message{}, false, err
	}
	defer s.mu.Unlock()
	m, isNew := s.recordInbound(world, m, event)
	return m, isNew, nil
}

// recordInbound is RecordInbound with s.mu held.
func (s *Store) recordInbound(world string, m outreach.Message, event outreach.EventKind) (outreach.Message, bool) {
	if m.ProviderID != "" {
		if id, ok := s.inbound[m.ProviderID]; ok {
			return *s.messages[id], false
		}
	}
	m = m.AsReceived()
	m.ConversationID, m.CampaignID = 0, 0
	m.CreatedAt = orNow(m.CreatedAt)
	var conv *conversation
	if event != "" {
		if id, ok := s.active[pair{world, m.From, m.To}]; ok {
			conv = s.convs[id]
			m.ConversationID, m.CampaignID = conv.c.ID, conv.c.CampaignID
		}
	}
	stored := s.addMessage(normMessage(m))
	if conv != nil {
		s.addEvent(conv, outreach.InboxEvent{Kind: event, MessageID: stored.ID, Body: stored.Body, At: stored.SentAt})
	}
	return *stored, true
}

// RecordInbounds implements [outreach.BatchRecorder]: RecordInbound for
// each item, under one hold of the store's lock.
func (s *Store) RecordInbounds(ctx context.Context, world string, in []outreach.InboundRecord) ([]outreach.InboundResult, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]outreach.InboundResult, len(in))
	for i, r := range in {
		out[i].Message, out[i].New = s.recordInbound(world, r.Message, r.Event)
	}
	return out, nil
}

// UpdateDeliveries implements [outreach.BatchRecorder]: UpdateDelivery
// for each item, under one hold of the store's lock.
func (s *Store) UpdateDeliveries(ctx context.Context, updates []outreach.DeliveryUpdate) ([]outreach.DeliveryResult, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]outreach.DeliveryResult, len(updates))
	for i, u := range updates {
		out[i].Message, out[i].Err = s.updateDelivery(u.ProviderID, u.Status, u.ErrorCode, u.At)
	}
	return out, nil
}

// UpdateDelivery implements [outreach.Store]. A non-empty errorCode is
// stored as the message's Error.
func (s *Store) UpdateDelivery(ctx context.Context, providerID, status, errorCode string, at time.Time) (outreach.Message, error) {
	if err := s.lock(ctx); err != nil {
		return outreach.Message{}, err
	}
	defer s.mu.Unlock()
	return s.updateDelivery(providerID, status, errorCode, at)
}

// updateDelivery is UpdateDelivery with s.mu held. A status of a message
// not recorded yet is kept (see applyPending).
func (s *Store) updateDelivery(providerID, status, errorCode string, at time.Time) (outreach.Message, error) {
	id, ok := s.outbound[providerID]
	if !ok || providerID == "" {
		if providerID != "" {
			s.keepPending(providerID, status, errorCode, at)
		}
		return outreach.Message{}, fmt.Errorf("memstore: outbound message with provider id %q: %w", providerID, outreach.ErrNotFound)
	}
	m := s.messages[id]
	if outreach.DeliveryRank(status) < outreach.DeliveryRank(m.DeliveryStatus) {
		return *m, nil // a late callback: the stored status is further along
	}
	m.DeliveryStatus = status
	if errorCode != "" {
		m.Error = errorCode
	}
	if (status == "undelivered" || status == "failed") && !s.failedEvent[id] {
		if conv, ok := s.convs[m.ConversationID]; ok {
			s.failedEvent[id] = true
			s.addEvent(conv, outreach.InboxEvent{Kind: outreach.EventDeliveryFailed, MessageID: id, Key: m.Key, Error: errorCode, At: at})
		}
	}
	return *m, nil
}

// pendingStatus is a delivery status that came before its message's
// provider id was recorded.
type pendingStatus struct {
	status, errorCode string
	at                time.Time
}

// keepPending keeps a status of an unknown provider id for
// outreach.PendingStatusFor, the one that ranks highest (the latest of
// equal rank), and forgets the expired ones.
func (s *Store) keepPending(providerID, status, errorCode string, at time.Time) {
	for id, p := range s.pending {
		if at.Sub(p.at) > outreach.PendingStatusFor {
			delete(s.pending, id)
		}
	}
	if p, ok := s.pending[providerID]; ok && outreach.DeliveryRank(p.status) > outreach.DeliveryRank(status) {
		return
	}
	s.pending[providerID] = pendingStatus{status: status, errorCode: errorCode, at: utc(at)}
}

// applyPending applies the status kept for providerID, unless it has
// expired at now, once the provider id is recorded.
func (s *Store) applyPending(now time.Time, providerID string) {
	p, ok := s.pending[providerID]
	if !ok || providerID == "" {
		return
	}
	delete(s.pending, providerID)
	if now.Sub(p.at) > outreach.PendingStatusFor {
		return
	}
	_, _ = s.updateDelivery(providerID, p.status, p.errorCode, p.at)
}

// SetOptOut implements [outreach.Store]. Of two changes at the same time,
// the later call wins.
func (s *Store) SetOptOut(ctx context.Context, world, phone string, optedOut bool, at time.Time) error {
	if phone == "" {
		return errors.New("memstore: opt-out of an empty phone number")
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	old, ok := s.optOuts[phone]
	if ok && (at.Before(old.at) || !optedOut && old.out && !outreach.OptInLifts(world, old.world)) {
		return nil
	}
	if ok && optedOut && old.out && !outreach.Simulated(old.world) {
		world = old.world // an opt-out in force keeps the world that can lift it
	}
	s.optOuts[phone] = optOut{out: optedOut, at: utc(at), world: world}
	return nil
}

// OptedOut implements [outreach.Store].
func (s *Store) OptedOut(ctx context.Context, phones []string) (map[string]bool, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make(map[string]bool)
	for _, p := range phones {
		if s.optOuts[p].out {
			out[p] = true
		}
	}
	return out, nil
}

// Conversations implements [outreach.Store]. A limit of zero or less
// means no limit.
func (s *Store) Conversations(ctx context.Context, campaignID, after int64, limit int) ([]outreach.Conversation, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	camp, ok := s.campaigns[campaignID]
	if !ok {
		return nil, nil
	}
	i, _ := slices.BinarySearch(camp.convs, after+1)
	var out []outreach.Conversation
	for _, id := range camp.convs[i:] {
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, copyConversation(s.convs[id].c))
	}
	return out, nil
}

// Conversation implements [outreach.Store].
func (s *Store) Conversation(ctx context.Context, id int64) (outreach.Conversation, error) {
	if err := s.lock(ctx); err != nil {
		return outreach.Conversation{}, err
	}
	defer s.mu.Unlock()
	conv, ok := s.convs[id]
	if !ok {
		return outreach.Conversation{}, fmt.Errorf("memstore: conversation %d: %w", id, outreach.ErrNotFound)
	}
	return copyConversation(conv.c), nil
}

// Messages implements [outreach.Store].
func (s *Store) Messages(ctx context.Context, conversationID int64) ([]outreach.Message, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []outreach.Message
	for _, id := range s.convMessages[conversationID] {
		out = append(out, *s.messages[id])
	}
	return out, nil
}

// Responses implements [outreach.Store].
func (s *Store) Responses(ctx context.Context, campaignID int64, page outreach.ResponsePage) ([]outreach.Response, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	camp, ok := s.campaigns[campaignID]
	if !ok {
		return nil, nil
	}
	var out []outreach.Response
	for _, r := range camp.responses {
		if r.ConversationID > page.AfterConversation {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b outreach.Response) int {
		return cmp.Or(cmp.Compare(a.ConversationID, b.ConversationID), a.RepliedAt.Compare(b.RepliedAt))
	})
	if page.Limit > 0 {
		n, convs := 0, 0
		for n < len(out) {
			if n == 0 || out[n].ConversationID != out[n-1].ConversationID {
				if convs == page.Limit {
					break
				}
				convs++
			}
			n++
		}
		out = out[:n]
	}
	return out, nil
}

// campaign returns a deep copy of the stored campaign.
func (c *campaign) campaign() (outreach.Campaign, error) {
	out := c.c
	if err := json.Unmarshal(c.flow, &out.Flow); err != nil {
		return outreach.Campaign{}, fmt.Errorf("memstore: campaign %d: decode flow: %w", c.c.ID, err)
	}
	return out, nil
}

func copyRecipient(r outreach.Recipient) outreach.Recipient {
	if r.Attrs != nil {
		attrs := make(map[string]string, len(r.Attrs))
		for k, v := range r.Attrs {
			attrs[k] = v
		}
		r.Attrs = attrs
	}
	return r
}

func copyConversation(c outreach.Conversation) outreach.Conversation {
	c.Recipient = copyRecipient(c.Recipient)
	c.Zones = slices.Clone(c.Zones)
	c.State = copyState(c.State)
	return c
}

func copyState(s outreach.State) outreach.State {
	if s.Attempts != nil {
		m := make(map[string]int, len(s.Attempts))
		for k, v := range s.Attempts {
			m[k] = v
		}
		s.Attempts = m
	}
	if s.Answers != nil {
		m := make(map[string]string, len(s.Answers))
		for k, v := range s.Answers {
			m[k] = v
		}
		s.Answers = m
	}
	s.Machine = slices.Clone(s.Machine)
	return s
}

// roundTrip returns a copy of s as it reads back from JSON, which is how
// database stores keep it (empty maps come back nil, for instance).
func roundTrip(s outreach.State) (outreach.State, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return outreach.State{}, fmt.Errorf("encode state: %w", err)
	}
	var out outreach.State
	if err := json.Unmarshal(b, &out); err != nil {
		return outreach.State{}, fmt.Errorf("decode state: %w", err)
	}
	return out, nil
}

func normMessage(m outreach.Message) outreach.Message {
	m.SendAfter = utc(m.SendAfter)
	m.IntentAt = utc(m.IntentAt)
	m.SentAt = utc(m.SentAt)
	m.CreatedAt = utc(m.CreatedAt)
	return m
}

// utc returns t in UTC with no monotonic reading; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// orNow returns utc(t), or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
