package sqlitestore

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// ClaimDue implements [outreach.Store]. Conversations with unprocessed
// inbox events come first, then the others in NextAt order; ties go to the
// lower ID.
//
// It is one write transaction of three statements whatever the batch size:
// one UPDATE ... RETURNING leases the conversations, then one query each
// fetches their pending messages and their inbox events.
func (s *Store) ClaimDue(ctx context.Context, scope outreach.Scope, now time.Time, limit int, lease time.Duration) ([]outreach.Claim, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("sqlitestore: lease duration %v is not positive", lease)
	}
	if limit <= 0 {
		return nil, ctx.Err()
	}
	// Each claim gets a random prefix; a conversation's token is the
	// prefix and its ID, unique and unguessable.
	b := make([]byte, 16)
	rand.Read(b)
	prefix := hex.EncodeToString(b) + "-"
	until := now.Add(lease)

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap("claim", err)
	}
	defer tx.Rollback()
	rows, err := tx.StmtContext(ctx, s.st.claim).QueryContext(ctx, prefix, nanos(until), nanos(now), limit, runtimeOf(scope), scope.World)
	if err != nil {
		return nil, wrap("claim", err)
	}
	type claimed struct {
		due   int64
		claim outreach.Claim
	}
	cs, err := scanAll(rows, func(sc scanner) (claimed, error) {
		var c claimed
		conv, err := scanConv(sc, &c.claim.Lease.Token, &c.due)
		c.claim.Conversation = conv
		c.claim.Lease.ConversationID = conv.ID
		c.claim.Lease.Expires = until.UTC()
		return c, err
	})
	if err != nil {
		return nil, wrap("claim", err)
	}
	if len(cs) == 0 {
		return nil, wrap("claim", tx.Commit())
	}
	// RETURNING gives no order: sort as selected.
	slices.SortFunc(cs, func(a, b claimed) int {
		return cmp.Or(cmp.Compare(a.due, b.due), cmp.Compare(a.claim.Conversation.ID, b.claim.Conversation.ID))
	})
	claims := make([]outreach.Claim, len(cs))
	var withInbox []int64
	for i, c := range cs {
		claims[i] = c.claim
		if c.due == 1 { // unprocessed inbox events (see the column due)
			withInbox = append(withInbox, c.claim.Conversation.ID)
		}
	}
	if err := s.fillClaims(ctx, tx, claims, withInbox); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap("claim", err)
	}
	return claims, nil
}

// fillClaims reads the pending messages of claims, and the inbox events
// of those of them whose ids withInbox lists: the conversations whose
// count of unprocessed events (the column inbox) is not zero.
func (s *Store) fillClaims(ctx context.Context, tx *sql.Tx, claims []outreach.Claim, withInbox []int64) error {
	index := make(map[int64]int, len(claims))
	ids := make([]int64, len(claims))
	for i, c := range claims {
		index[c.Conversation.ID] = i
		ids[i] = c.Conversation.ID
	}
	idsJSON, err := marshal(ids)
	if err != nil {
		return wrap("claim", err)
	}
	rows, err := tx.StmtContext(ctx, s.st.claimPending).QueryContext(ctx, idsJSON)
	if err != nil {
		return wrap("claim", err)
	}
	msgs, err := scanAll(rows, scanMessage)
	if err != nil {
		return wrap("claim", err)
	}
	for _, m := range msgs {
		cl := &claims[index[m.ConversationID]]
		cl.Pending = append(cl.Pending, m)
	}
	if len(withInbox) == 0 {
		return nil
	}
	if len(withInbox) < len(ids) {
		if idsJSON, err = marshal(withInbox); err != nil {
			return wrap("claim", err)
		}
	}
	rows, err = tx.StmtContext(ctx, s.st.claimInbox).QueryContext(ctx, idsJSON)
	if err != nil {
		return wrap("claim", err)
	}
	events, err := scanAll(rows, scanEvent)
	if err != nil {
		return wrap("claim", err)
	}
	for _, e := range events {
		cl := &claims[index[e.ConversationID]]
		cl.Inbox = append(cl.Inbox, e)
	}
	return nil
}

// ClaimConversation implements [outreach.Store].
func (s *Store) ClaimConversation(ctx context.Context, id int64, now time.Time, lease time.Duration) (outreach.Claim, error) {
	if lease <= 0 {
		return outreach.Claim{}, fmt.Errorf("sqlitestore: lease duration %v is not positive", lease)
	}
	b := make([]byte, 16)
	rand.Read(b)
	until := now.Add(lease)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return outreach.Claim{}, wrap("claim conversation", err)
	}
	defer tx.Rollback()
	cl := outreach.Claim{Lease: outreach.Lease{ConversationID: id, Expires: until.UTC()}}
	cl.Conversation, err = scanConv(tx.QueryRowContext(ctx, `UPDATE conversations SET lease_token = ?1 || id, lease_until = ?2
		WHERE id = ?3 AND lease_until <= ?4 RETURNING lease_token, `+convCols,
		hex.EncodeToString(b)+"-", nanos(until), id, nanos(now)), &cl.Lease.Token)
	if errors.Is(err, sql.ErrNoRows) {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM conversations WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return outreach.Claim{}, fmt.Errorf("sqlitestore: conversation %d: %w", id, outreach.ErrNotFound)
		}
		return outreach.Claim{}, fmt.Errorf("sqlitestore: conversation %d: %w", id, outreach.ErrLeaseLost)
	}
	if err != nil {
		return outreach.Claim{}, wrap("claim conversation", err)
	}
	claims := []outreach.Claim{cl}
	if err := s.fillClaims(ctx, tx, claims, []int64{id}); err != nil {
		return outreach.Claim{}, err
	}
	if err := tx.Commit(); err != nil {
		return outreach.Claim{}, wrap("claim conversation", err)
	}
	return claims[0], nil
}

// NextDue implements [outreach.Store]. It considers the conversations
// ClaimDue would consider: one under an unexpired lease counts from the
// lease's expiry, and a pending two-way conversation waiting for its pair
// is left out (it becomes due when the active one ends).
func (s *Store) NextDue(ctx context.Context, scope outreach.Scope, now time.Time) (time.Time, bool, error) {
	var free, leased sql.NullInt64
	runtime := runtimeOf(scope)
	err := s.st.nextDueFree.QueryRowContext(ctx, nanos(now), runtime, scope.World).Scan(&free)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, wrap("next due", err)
	}
	if err := s.st.nextDueLeased.QueryRowContext(ctx, nanos(now), runtime, scope.World).Scan(&leased); err != nil {
		return time.Time{}, false, wrap("next due", err)
	}
	switch {
	case free.Valid && (!leased.Valid || free.Int64 <= leased.Int64):
		return fromNanos(free.Int64), true, nil
	case leased.Valid:
		return fromNanos(leased.Int64), true, nil
	}
	return time.Time{}, false, nil
}

// runtimeOf is the runtime column value of scope's campaigns: an empty
// Runtime is stored as the embedded runtime.
func runtimeOf(scope outreach.Scope) string {
	return cmp.Or(scope.Runtime, outreach.RuntimeEmbedded)
}

// ExtendLease implements [outreach.Store]. A lease that expired but that
// no one claimed since is still held, and can be extended.
func (s *Store) ExtendLease(ctx context.Context, l outreach.Lease, until time.Time) (outreach.Lease, error) {
	if l.Token == "" {
		return outreach.Lease{}, fmt.Errorf("sqlitestore: conversation %d: empty lease token: %w", l.ConversationID, outreach.ErrLeaseLost)
	}
	res, err := s.st.extendLease.ExecContext(ctx, nanos(until), l.ConversationID, l.Token)
	if err != nil {
		return outreach.Lease{}, wrap("extend lease", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return outreach.Lease{}, fmt.Errorf("sqlitestore: conversation %d: %w", l.ConversationID, outreach.ErrLeaseLost)
	}
	l.Expires = until.UTC()
	return l, nil
}

// errUpdate marks a failure of one update of a Commit, as opposed to a
// failure of the whole transaction.
type errUpdate struct{ err error }

func (e errUpdate) Error() string { return e.err.Error() }

// Commit implements [outreach.Store]. Each update runs inside a savepoint,
// so that a failed update is undone alone. Most commits have no failing
// update: they are first tried without savepoints, with the
// conversations, the new messages and the messages' updates written
// several to a statement (commitbatch.go); when an update would fail
// alone, that transaction is rolled back and the updates applied again,
// one by one, each in its savepoint.
func (s *Store) Commit(ctx context.Context, now time.Time, updates []outreach.Update) ([]error, error) {
	results, again, err := s.commit(ctx, now, updates, false)
	if again {
		results, _, err = s.commit(ctx, now, updates, true)
	}
	return results, err
}

// commit is Commit in one transaction, each update in a savepoint if
// savepoints is set; without, an update that fails alone rolls everything
// back and again is set.
func (s *Store) commit(ctx context.Context, now time.Time, updates []outreach.Update, savepoints bool) (results []error, again bool, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, wrap("commit", err)
	}
	defer tx.Rollback()
	c := committer{ctx: ctx, now: now, tx: tx, st: &s.st, stmt: binder(ctx, tx)}
	results = make([]error, len(updates))
	ids := make([][]int64, len(updates))
	if savepoints {
		for i, u := range updates {
			ids[i], err = c.apply(u)
			var ue errUpdate
			if errors.As(err, &ue) {
				results[i] = ue.err
				continue
			}
			if err != nil {
				return nil, false, err
			}
		}
	} else {
		rows, ok, err := c.updateConvs(updates)
		if err == nil && ok {
			ids, ok, err = c.insertEnqueued(updates, rows)
		}
		if err == nil && ok {
			ok, err = c.updateMessages(updates, rows)
		}
		if err != nil || !ok {
			return nil, !ok && err == nil, err
		}
		for i, u := range updates {
			if err := c.applyRest(u, rows[i]); err != nil {
				// applyRest's own failures are never an update's alone.
				return nil, false, err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, false, wrap("commit", err)
	}
	for i, u := range updates {
		for j, id := range ids[i] {
			u.Enqueue[j].ID = id
		}
	}
	return results, false, nil
}

// committer applies the updates of one Commit transaction.
type committer struct {
	ctx context.Context
	now time.Time
	tx  *sql.Tx
	st  *stmts
	// stmt binds a prepared statement to tx, once (see binder).
	stmt func(*sql.Stmt) *sql.Stmt
	// noPending, once looked up, says that pending_statuses is empty
	// (see applyPending).
	noPending *bool
	// purgedCampaigns caches campaignPurged for the commit.
	purgedCampaigns map[int64]bool
}

// purged reports whether u's texts are not to be kept: they come to a
// campaign already purged (a Studio execution's replies collected
// late). Only a done conversation can be in a finished campaign.
func (c *committer) purged(u outreach.Update, row convRow) (bool, error) {
	if row.status != outreach.ConversationDone || len(u.Enqueue)+len(u.Received)+len(u.Responses) == 0 {
		return false, nil
	}
	if p, ok := c.purgedCampaigns[row.campaignID]; ok {
		return p, nil
	}
	var p bool
	if err := c.stmt(c.st.campaignPurged).QueryRowContext(c.ctx, row.campaignID).Scan(&p); err != nil {
		return false, wrap("commit: campaign purged", err)
	}
	if c.purgedCampaigns == nil {
		c.purgedCampaigns = map[int64]bool{}
	}
	c.purgedCampaigns[row.campaignID] = p
	return p, nil
}

// enqueueArgs are the parameters of insertMessage for m, which u
// enqueues.
func (c *committer) enqueueArgs(u outreach.Update, row convRow, purged bool, m outreach.Message) []any {
	m = m.AsEnqueued(row.from, row.phone, row.status == outreach.ConversationDone, purged)
	return []any{u.Lease.ConversationID, row.campaignID, m.Direction,
		m.Key.Conversation, m.Key.Step, m.Key.Attempt, m.From, m.To, m.Body, m.Status, m.ProviderID,
		m.DeliveryStatus, m.Error, m.Tries, nanos(m.SendAfter), nanos(m.IntentAt), nanos(m.SentAt),
		nanos(c.now)}
}

// messageArgs are the parameters of updateMessage for m, one of u's
// messages.
func messageArgs(u outreach.Update, row convRow, m outreach.Message) []any {
	if row.status == outreach.ConversationDone {
		m.Status = outreach.EndedStatus(m.Status)
	}
	return []any{m.Status, m.ProviderID, m.Error, m.Tries,
		nanos(m.SendAfter), nanos(m.IntentAt), nanos(m.SentAt), m.ID, u.Lease.ConversationID}
}

func (c *committer) exec(st *sql.Stmt, args ...any) (sql.Result, error) {
	return c.stmt(st).ExecContext(c.ctx, args...)
}

// apply applies one update in a savepoint and returns the IDs of its
// enqueued messages. An error of that update alone is an errUpdate, and
// nothing of the update remains; any other error fails the whole commit.
func (c *committer) apply(u outreach.Update) ([]int64, error) {
	if _, err := c.exec(c.st.savepoint); err != nil {
		return nil, wrap("commit", err)
	}
	ids, err := c.applyInSavepoint(u)
	if err != nil {
		if _, rerr := c.exec(c.st.rollbackSavepoint); rerr != nil {
			return nil, wrap("commit", rerr)
		}
	}
	if _, rerr := c.exec(c.st.releaseSavepoint); rerr != nil {
		return nil, wrap("commit", rerr)
	}
	return ids, err
}

func (c *committer) applyInSavepoint(u outreach.Update) ([]int64, error) {
	row, err := c.updateConv(u)
	if err != nil {
		return nil, err
	}
	ids, err := c.writeMessages(u, row)
	if err != nil {
		return nil, err
	}
	return ids, c.applyRest(u, row)
}

// updateConv applies the conversation part of u (commitConv) and returns
// its row.
func (c *committer) updateConv(u outreach.Update) (convRow, error) {
	id := u.Lease.ConversationID
	conv := u.Conversation
	if err := u.Check(); err != nil {
		return convRow{}, errUpdate{fmt.Errorf("sqlitestore: %w", err)}
	}
	state, err := marshal(conv.State)
	if err != nil {
		return convRow{}, errUpdate{fmt.Errorf("sqlitestore: conversation %d: encode state: %w", id, err)}
	}
	var r convRow
	err = c.stmt(c.st.commitConv).QueryRowContext(c.ctx, conv.Status, state, conv.Outcome, nanos(conv.NextAt),
		nanos(c.now), u.Release, id, u.Lease.Token).Scan(&r.campaignID, &r.patient, &r.phone, &r.from, &r.inbox, &r.status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return convRow{}, errUpdate{fmt.Errorf("sqlitestore: conversation %d: %w", id, outreach.ErrLeaseLost)}
	case isUniqueViolation(err):
		return convRow{}, errUpdate{fmt.Errorf("sqlitestore: conversation %d: %w", id, outreach.ErrPairBusy)}
	case err != nil:
		return convRow{}, wrap("commit conversation", err)
	}
	return r, nil
}

// writeMessages inserts the messages u enqueues, one by one, and returns
// their ids, then updates u's messages; the batched path of a Commit
// does the same with insertEnqueued and updateMessages.
func (c *committer) writeMessages(u outreach.Update, row convRow) (ids []int64, err error) {
	id := u.Lease.ConversationID
	purged, err := c.purged(u, row)
	if err != nil {
		return nil, err
	}
	for _, m := range u.Enqueue {
		var mid int64
		err := c.stmt(c.st.insertMessage).QueryRowContext(c.ctx, c.enqueueArgs(u, row, purged, m)...).Scan(&mid)
		if isUniqueViolation(err) {
			return nil, errUpdate{fmt.Errorf("sqlitestore: conversation %d already has a message with key %s", id, m.Key)}
		}
		if err != nil {
			return nil, wrap("enqueue message", err)
		}
		ids = append(ids, mid)
	}
	for _, m := range u.Messages {
		res, err := c.exec(c.st.updateMessage, messageArgs(u, row, m)...)
		if err != nil {
			return nil, wrap("update message", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, errUpdate{fmt.Errorf("sqlitestore: conversation %d has no outbound message %d: %w", id, m.ID, outreach.ErrNotFound)}
		}
	}
	return ids, nil
}

// applyRest applies what u does besides its conversation's row and its
// messages (writeMessages), once those are written: its inbox, the
// statuses that came before its messages' provider ids, its received
// messages and its responses.
func (c *committer) applyRest(u outreach.Update, row convRow) error {
	id := u.Lease.ConversationID
	campaignID, patient, inbox := row.campaignID, row.patient, row.inbox
	if inbox > 0 {
		for _, eid := range u.Processed {
			if _, err := c.exec(c.st.processEvent, nanos(c.now), eid, id); err != nil {
				return wrap("commit inbox", err)
			}
		}
		if _, err := c.exec(c.st.fixInbox, nanos(c.now), id); err != nil {
			return wrap("commit inbox", err)
		}
	}
	purged, err := c.purged(u, row)
	if err != nil {
		return err
	}
	// Statuses that came before their messages' provider ids.
	for _, m := range u.Enqueue {
		if err := c.applyPending(m.ProviderID); err != nil {
			return err
		}
	}
	for _, m := range u.Messages {
		if err := c.applyPending(m.ProviderID); err != nil {
			return err
		}
	}
	for _, m := range u.Received {
		if m.ProviderID != "" {
			_, err := scanMessage(c.stmt(c.st.inboundByProvider).QueryRowContext(c.ctx, m.ProviderID))
			if err == nil {
				continue // stored already
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return wrap("add received message", err)
			}
		}
		m = m.AsReceived()
		if purged {
			m.Body = ""
		}
		_, err := c.exec(c.st.insertMessage, id, campaignID, m.Direction, 0, "", 0, m.From, m.To, m.Body,
			m.Status, m.ProviderID, m.DeliveryStatus, m.Error, 0, 0, 0, nanos(m.SentAt), nanos(orNow(m.CreatedAt)))
		if err != nil {
			return wrap("add received message", err)
		}
	}
	for _, r := range u.Responses {
		if r.PatientID == "" {
			r.PatientID = patient
		}
		if purged {
			r.Raw = ""
		}
		_, err := c.exec(c.st.insertResponse, campaignID, id, r.PatientID, r.QuestionID, r.Raw, r.Answer, nanos(r.RepliedAt), string(r.Doubt))
		if err != nil {
			return wrap("add response", err)
		}
	}
	return nil
}
