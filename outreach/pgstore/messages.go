package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/outreach"
)

var _ outreach.BatchRecorder = (*Store)(nil)

// RecordInbound implements [outreach.Store]. A zero CreatedAt becomes
// SentAt (the time received), or the current time. A message matched to
// a conversation notifies the store's channel, so that a runner listening
// there handles the reply at once.
func (s *Store) RecordInbound(ctx context.Context, world string, m outreach.Message, event outreach.EventKind) (outreach.Message, bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return outreach.Message{}, false, wrap("record inbound", err)
	}
	defer rollback(ctx, tx)
	m, isNew, queued, err := recordInbound(ctx, tx, world, m, event)
	if err != nil || !isNew {
		return m, false, err
	}
	if queued {
		if err := s.notify(ctx, tx, NotifyInbound); err != nil {
			return outreach.Message{}, false, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return outreach.Message{}, false, wrap("record inbound", err)
	}
	return m, true, nil
}

// RecordInbounds implements [outreach.BatchRecorder]: RecordInbound for
// each item, in order, in one transaction, which notifies the store's
// channel once when any item was matched to a conversation.
//
// Before it writes anything, it takes the advisory locks of the items'
// provider ids (sorted) and locks the active conversations the items may
// match, in ID order: two batches at once then never wait for each other
// in a cycle, and a batch never waits for a conversation while holding
// a message that a RecordInbound of the same provider id waits for.
func (s *Store) RecordInbounds(ctx context.Context, world string, in []outreach.InboundRecord) ([]outreach.InboundResult, error) {
	if len(in) == 0 {
		return nil, nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, wrap("record inbound", err)
	}
	defer rollback(ctx, tx)
	if err := lockInbound(ctx, tx, world, in); err != nil {
		return nil, err
	}
	out := make([]outreach.InboundResult, len(in))
	notify := false
	for i, r := range in {
		m, isNew, queued, err := recordInbound(ctx, tx, world, r.Message, r.Event)
		if err != nil {
			return nil, err
		}
		out[i] = outreach.InboundResult{Message: m, New: isNew}
		notify = notify || queued
	}
	if notify {
		if err := s.notify(ctx, tx, NotifyInbound); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, wrap("record inbound", err)
	}
	return out, nil
}

// inboundLockSpace is the first key of the advisory locks that
// RecordInbounds takes on the provider ids of inbound messages (the
// second is hashtext of the id).
const inboundLockSpace int32 = 0x6f757473

// lockInbound takes, in tx, the advisory locks of the provider ids of in
// (sorted), then locks the active two-way conversations of world that
// its items with an event may match, in ID order.
func lockInbound(ctx context.Context, tx pgx.Tx, world string, in []outreach.InboundRecord) error {
	var ids, phones, froms []string
	for _, r := range in {
		if r.Message.ProviderID != "" {
			ids = append(ids, r.Message.ProviderID)
		}
		if r.Event != "" {
			phones, froms = append(phones, r.Message.From), append(froms, r.Message.To)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if err := lockProviderIDs(ctx, tx, inboundLockSpace, ids); err != nil {
		return err
	}
	if len(phones) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `SELECT count(*) FROM (SELECT id FROM conversations
		WHERE world = $1 AND (phone, from_number) IN (SELECT * FROM unnest($2::text[], $3::text[]))
			AND two_way AND status = 'active'
		ORDER BY id FOR UPDATE) AS locked`, world, phones, froms)
	return wrap("record inbound: lock conversations", err)
}

// recordInbound is RecordInbound in tx, which it leaves open: isNew is
// false when an inbound message with m's ProviderID is stored already
// (then returned, and tx changed in nothing), and queued says that it
// added an inbox event, for which the caller notifies the store's
// channel.
func recordInbound(ctx context.Context, tx pgx.Tx, world string, m outreach.Message, event outreach.EventKind) (stored outreach.Message, isNew, queued bool, err error) {
	if m.ProviderID != "" {
		old, err := inboundByProvider(ctx, tx, m.ProviderID)
		if err == nil {
			return old, false, false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return outreach.Message{}, false, false, wrap("record inbound", err)
		}
	}
	m = m.AsReceived()
	m.ConversationID, m.CampaignID = 0, 0
	m.CreatedAt = orNow(m.CreatedAt)
	if event != "" {
		// FOR UPDATE: the conversation cannot end between the match and
		// the event.
		err := tx.QueryRow(ctx, `SELECT id, campaign_id FROM conversations
			WHERE world = $1 AND phone = $2 AND from_number = $3 AND two_way AND status = 'active' FOR UPDATE`,
			world, m.From, m.To).Scan(&m.ConversationID, &m.CampaignID)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return outreach.Message{}, false, false, wrap("record inbound", err)
		}
	}
	// A concurrent transaction with the same ProviderID: the unique index
	// makes this one wait for it, then insert nothing.
	err = tx.QueryRow(ctx, insertMessageQuery+` ON CONFLICT (provider_id) WHERE direction = 'inbound' AND provider_id <> '' DO NOTHING RETURNING id`,
		nullID(m.ConversationID), nullID(m.CampaignID),
		string(m.Direction), 0, "", 0, m.From, m.To, m.Body, string(m.Status), m.ProviderID, m.DeliveryStatus, m.Error, m.Tries,
		ts(m.SendAfter), ts(m.IntentAt), ts(m.SentAt), ts(m.CreatedAt)).Scan(&m.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		// Read committed: this statement sees the row of the
		// transaction that committed meanwhile.
		old, err := inboundByProvider(ctx, tx, m.ProviderID)
		if err != nil {
			return outreach.Message{}, false, false, wrap("record inbound", err)
		}
		return old, false, false, nil
	}
	if err != nil {
		return outreach.Message{}, false, false, wrap("record inbound", err)
	}
	if m.ConversationID != 0 {
		_, err := tx.Exec(ctx, `INSERT INTO inbox (conversation_id, kind, message_id, body, key_conversation, key_step,
				key_attempt, error, at)
			VALUES ($1, $2, $3, $4, 0, '', 0, '', $5)`, m.ConversationID, string(event), m.ID, m.Body, ts(m.SentAt))
		if err != nil {
			return outreach.Message{}, false, false, wrap("record inbound", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE conversations SET inbox = inbox + 1 WHERE id = $1`, m.ConversationID); err != nil {
			return outreach.Message{}, false, false, wrap("record inbound", err)
		}
		queued = true
	}
	m.SendAfter, m.IntentAt, m.SentAt, m.CreatedAt = micro(m.SendAfter), micro(m.IntentAt), micro(m.SentAt), micro(m.CreatedAt)
	return m, true, queued, nil
}

// inboundByProvider returns the inbound message of providerID, or
// pgx.ErrNoRows.
func inboundByProvider(ctx context.Context, tx pgx.Tx, providerID string) (outreach.Message, error) {
	return scanMessage(tx.QueryRow(ctx, `SELECT `+msgCols+` FROM messages
		WHERE provider_id = $1 AND direction = 'inbound' AND provider_id <> ''`, providerID))
}

// UpdateDelivery implements [outreach.Store]. A non-empty errorCode is
// stored as the message's Error. A failure that adds an inbox event
// notifies the store's channel. The status of a provider id no message
// has is kept in pending_statuses.
func (s *Store) UpdateDelivery(ctx context.Context, providerID, status, errorCode string, at time.Time) (outreach.Message, error) {
	res, err := s.UpdateDeliveries(ctx, []outreach.DeliveryUpdate{{ProviderID: providerID, Status: status, ErrorCode: errorCode, At: at}})
	if err != nil {
		return outreach.Message{}, err
	}
	return res[0].Message, res[0].Err
}

// UpdateDeliveries implements [outreach.BatchRecorder]: UpdateDelivery
// for each item, in order, in one transaction, which notifies the store's
// channel once when any item added an inbox event. (UpdateDelivery is a
// batch of one.)
//
// Before it writes anything, it takes the advisory locks of the items'
// provider ids (sorted), as Commit does, and locks the conversations of
// the messages whose status is a failure, in ID order, as SetCampaignStatus
// does: two batches, or a batch and a Commit recording the same provider
// ids, never wait for each other in a cycle.
func (s *Store) UpdateDeliveries(ctx context.Context, updates []outreach.DeliveryUpdate) ([]outreach.DeliveryResult, error) {
	if len(updates) == 0 {
		return nil, nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, wrap("update delivery", err)
	}
	defer rollback(ctx, tx)
	var ids, failing []string
	for _, u := range updates {
		if u.ProviderID != "" {
			ids = append(ids, u.ProviderID)
			if addsFailure(u.Status) {
				failing = append(failing, u.ProviderID)
			}
		}
	}
	slices.Sort(ids)
	if err := lockProviderIDs(ctx, tx, pendingLockSpace, slices.Compact(ids)); err != nil {
		return nil, err
	}
	if len(failing) > 0 {
		if _, err := tx.Exec(ctx, `SELECT count(*) FROM (SELECT id FROM conversations WHERE id IN (
				SELECT conversation_id FROM messages
				WHERE provider_id = ANY($1) AND direction = 'outbound' AND provider_id <> '')
			ORDER BY id FOR UPDATE) AS locked`, failing); err != nil {
			return nil, wrap("update delivery: lock conversations", err)
		}
	}
	out := make([]outreach.DeliveryResult, len(updates))
	notify := false
	for i, u := range updates {
		m, found, queued, err := updateDelivery(ctx, tx, u.ProviderID, u.Status, u.ErrorCode, u.At)
		if err != nil {
			return nil, err
		}
		out[i].Message = m
		if !found {
			out[i].Err = notFoundDelivery(u.ProviderID)
		}
		notify = notify || queued
	}
	if notify {
		if err := s.notify(ctx, tx, NotifyDelivery); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, wrap("update delivery", err)
	}
	return out, nil
}

// notFoundDelivery is the error of a delivery status for providerID,
// which no outbound message has.
func notFoundDelivery(providerID string) error {
	return fmt.Errorf("pgstore: outbound message with provider id %q: %w", providerID, outreach.ErrNotFound)
}

// updateDelivery is UpdateDelivery in tx, which holds the advisory lock
// of providerID, and which it leaves open: found is false when no
// outbound message has providerID, whose status is then kept (unless
// providerID is empty); queued says that it added an inbox event, for
// which the caller notifies the store's channel.
func updateDelivery(ctx context.Context, tx pgx.Tx, providerID, status, errorCode string, at time.Time) (m outreach.Message, found, queued bool, err error) {
	m, found, queued, err = deliver(ctx, tx, providerID, status, errorCode, at)
	if err != nil || found {
		return m, found, queued, err
	}
	if providerID != "" {
		if err := keepPending(ctx, tx, providerID, status, errorCode, at); err != nil {
			return outreach.Message{}, false, false, err
		}
	}
	return outreach.Message{}, false, false, nil
}

// pendingLockSpace is the first key of the advisory locks that
// UpdateDelivery and Commit take on provider ids (the second is
// hashtext of the id).
const pendingLockSpace int32 = 0x6f757472

// addsFailure reports whether a delivery status, once stored, adds a
// delivery_failed event to the message's conversation (see deliver).
func addsFailure(status string) bool {
	return status == "undelivered" || status == "failed"
}

// deliver applies a delivery status to the outbound message of providerID
// in tx. found is false when no message has that provider id; queued says
// that it added an inbox event, for which the caller notifies the store's
// channel.
func deliver(ctx context.Context, tx pgx.Tx, providerID, status, errorCode string, at time.Time) (m outreach.Message, found, queued bool, err error) {
	replaceable := outreach.DeliveryStatusesUpTo(outreach.DeliveryRank(status))
	// $1 delivery status, $2 error code, $3 provider id, $4 the statuses
	// the new one may replace (see DeliveryRank).
	m, err = scanMessage(tx.QueryRow(ctx, `UPDATE messages SET
			error = CASE WHEN $2::text <> '' AND delivery_status = ANY($4) THEN $2::text ELSE error END,
			delivery_status = CASE WHEN delivery_status = ANY($4) THEN $1::text ELSE delivery_status END
		WHERE id = (SELECT id FROM messages
			WHERE provider_id = $3 AND direction = 'outbound' AND provider_id <> '' ORDER BY id LIMIT 1)
		RETURNING `+msgCols, status, errorCode, providerID, replaceable))
	if errors.Is(err, pgx.ErrNoRows) {
		return outreach.Message{}, false, false, nil
	}
	if err != nil {
		return outreach.Message{}, false, false, wrap("update delivery", err)
	}
	if addsFailure(status) && m.DeliveryStatus == status && m.ConversationID != 0 {
		tag, err := tx.Exec(ctx, `INSERT INTO inbox (conversation_id, kind, message_id, body, key_conversation, key_step,
				key_attempt, error, at)
			VALUES ($1, 'delivery_failed', $2, '', $3, $4, $5, $6, $7)
			ON CONFLICT (message_id, kind) DO NOTHING`, m.ConversationID, m.ID,
			m.Key.Conversation, m.Key.Step, m.Key.Attempt, errorCode, ts(at))
		if err != nil {
			return outreach.Message{}, false, false, wrap("update delivery", err)
		}
		if tag.RowsAffected() == 1 {
			if _, err := tx.Exec(ctx, `UPDATE conversations SET inbox = inbox + 1 WHERE id = $1`, m.ConversationID); err != nil {
				return outreach.Message{}, false, false, wrap("update delivery", err)
			}
			queued = true
		}
	}
	return m, true, queued, nil
}

// keepPending keeps the status of a provider id no message has yet, unless
// one of higher rank is kept already, and drops those older than
// outreach.PendingStatusFor.
func keepPending(ctx context.Context, tx pgx.Tx, providerID, status, errorCode string, at time.Time) error {
	if _, err := tx.Exec(ctx, `DELETE FROM pending_statuses WHERE at < $1`, micro(at.Add(-outreach.PendingStatusFor))); err != nil {
		return wrap("keep pending status", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO pending_statuses (provider_id, status, rank, error_code, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (provider_id) DO UPDATE SET status = EXCLUDED.status, rank = EXCLUDED.rank,
			error_code = EXCLUDED.error_code, at = EXCLUDED.at
		WHERE EXCLUDED.rank >= pending_statuses.rank`,
		providerID, status, outreach.DeliveryRank(status), errorCode, micro(at))
	return wrap("keep pending status", err)
}

// lockProviderIDs takes the advisory locks of providerIDs (sorted) in
// space, in the order given, in tx: first of all, before it locks any
// row, so that two transactions doing so cannot deadlock. Commit and
// UpdateDeliveries take those of pendingLockSpace, as UpdateDelivery
// does; RecordInbounds those of inboundLockSpace.
func lockProviderIDs(ctx context.Context, tx pgx.Tx, space int32, providerIDs []string) error {
	if len(providerIDs) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `SELECT count(pg_advisory_xact_lock($2, hashtext(k)))
		FROM (SELECT k FROM unnest($1::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n) s`, providerIDs, space)
	return wrap("lock provider ids", err)
}

// applyPending applies, in a Commit's tx, the statuses kept for
// providerIDs (see keepPending), unless they are older than
// outreach.PendingStatusFor at now.
func (s *Store) applyPending(ctx context.Context, tx pgx.Tx, now time.Time, providerIDs []string) error {
	if len(providerIDs) == 0 {
		return nil
	}
	type pending struct {
		id, status, code string
		at               time.Time
	}
	rows, err := tx.Query(ctx, `DELETE FROM pending_statuses WHERE provider_id = ANY($1)
		RETURNING provider_id, status, error_code, at`, providerIDs)
	ps, err := scanAll(rows, err, func(sc scanner) (pending, error) {
		var p pending
		err := sc.Scan(&p.id, &p.status, &p.code, &p.at)
		return p, err
	})
	if err != nil {
		return wrap("commit: pending statuses", err)
	}
	notify := false
	for _, p := range ps {
		if now.Sub(p.at) > outreach.PendingStatusFor {
			continue
		}
		_, _, queued, err := deliver(ctx, tx, p.id, p.status, p.code, p.at.UTC())
		if err != nil {
			return err
		}
		notify = notify || queued
	}
	if notify {
		return s.notify(ctx, tx, NotifyDelivery)
	}
	return nil
}

// Conversations implements [outreach.Store]. A limit of zero or less
// means no limit.
func (s *Store) Conversations(ctx context.Context, campaignID, after int64, limit int) ([]outreach.Conversation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+convCols+` FROM conversations c
		WHERE c.campaign_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3`, campaignID, after, noLimit(limit))
	cs, err := scanAll(rows, err, func(sc scanner) (outreach.Conversation, error) { return scanConv(sc) })
	return cs, wrap("conversations", err)
}

// Conversation implements [outreach.Store].
func (s *Store) Conversation(ctx context.Context, id int64) (outreach.Conversation, error) {
	c, err := scanConv(s.pool.QueryRow(ctx, `SELECT `+convCols+` FROM conversations c WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("pgstore: conversation %d: %w", id, outreach.ErrNotFound)
	}
	return c, wrap("conversation", err)
}

// Messages implements [outreach.Store].
func (s *Store) Messages(ctx context.Context, conversationID int64) ([]outreach.Message, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if conversationID == 0 {
		rows, err = s.pool.Query(ctx, `SELECT `+msgCols+` FROM messages WHERE conversation_id IS NULL ORDER BY id`)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT `+msgCols+` FROM messages WHERE conversation_id = $1 ORDER BY id`, conversationID)
	}
	ms, err := scanAll(rows, err, scanMessage)
	return ms, wrap("messages", err)
}

// Responses implements [outreach.Store]. The page ends at the last of the
// first page.Limit conversations with responses.
func (s *Store) Responses(ctx context.Context, campaignID int64, page outreach.ResponsePage) ([]outreach.Response, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+respCols+` FROM responses
		WHERE campaign_id = $1 AND conversation_id > $2 AND conversation_id <= (
			SELECT max(conversation_id) FROM (
				SELECT DISTINCT conversation_id FROM responses
				WHERE campaign_id = $1 AND conversation_id > $2
				ORDER BY conversation_id LIMIT $3) AS page)
		ORDER BY conversation_id, replied_at, id`, campaignID, page.AfterConversation, noLimit(page.Limit))
	rs, err := scanAll(rows, err, scanResponse)
	return rs, wrap("responses", err)
}
