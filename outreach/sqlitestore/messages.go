package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// RecordInbound implements [outreach.Store]. A zero CreatedAt becomes
// SentAt (the time received), or the current time.
func (s *Store) RecordInbound(ctx context.Context, world string, m outreach.Message, event outreach.EventKind) (outreach.Message, bool, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return outreach.Message{}, false, wrap("record inbound", err)
	}
	defer tx.Rollback()
	m, isNew, err := s.recordInbound(ctx, binder(ctx, tx), world, m, event)
	if err != nil || !isNew {
		return m, false, err
	}
	if err := tx.Commit(); err != nil {
		return outreach.Message{}, false, wrap("record inbound", err)
	}
	return m, true, nil
}

// RecordInbounds implements [outreach.BatchRecorder]: RecordInbound for
// each item, in one transaction.
func (s *Store) RecordInbounds(ctx context.Context, world string, in []outreach.InboundRecord) ([]outreach.InboundResult, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap("record inbound", err)
	}
	defer tx.Rollback()
	out := make([]outreach.InboundResult, len(in))
	stmt := binder(ctx, tx)
	for i, r := range in {
		m, isNew, err := s.recordInbound(ctx, stmt, world, r.Message, r.Event)
		if err != nil {
			return nil, err
		}
		out[i] = outreach.InboundResult{Message: m, New: isNew}
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap("record inbound", err)
	}
	return out, nil
}

// binder returns a function that binds statements to tx, each once.
func binder(ctx context.Context, tx *sql.Tx) func(*sql.Stmt) *sql.Stmt {
	bound := map[*sql.Stmt]*sql.Stmt{}
	return func(st *sql.Stmt) *sql.Stmt {
		b, ok := bound[st]
		if !ok {
			b = tx.StmtContext(ctx, st)
			bound[st] = b
		}
		return b
	}
}

// recordInbound is RecordInbound within a transaction (stmt binds a
// statement to it).
func (s *Store) recordInbound(ctx context.Context, stmt func(*sql.Stmt) *sql.Stmt, world string, m outreach.Message, event outreach.EventKind) (outreach.Message, bool, error) {
	if m.ProviderID != "" {
		old, err := scanMessage(stmt(s.st.inboundByProvider).QueryRowContext(ctx, m.ProviderID))
		if err == nil {
			return old, false, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return outreach.Message{}, false, wrap("record inbound", err)
		}
	}
	m = m.AsReceived()
	m.ConversationID, m.CampaignID = 0, 0
	m.CreatedAt = orNow(m.CreatedAt)
	if event != "" {
		err := stmt(s.st.matchConv).QueryRowContext(ctx, world, m.From, m.To).Scan(&m.ConversationID, &m.CampaignID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return outreach.Message{}, false, wrap("record inbound", err)
		}
	}
	err := stmt(s.st.insertMessage).QueryRowContext(ctx, nullID(m.ConversationID), nullID(m.CampaignID),
		m.Direction, 0, "", 0, m.From, m.To, m.Body, m.Status, m.ProviderID, m.DeliveryStatus, m.Error, m.Tries,
		nanos(m.SendAfter), nanos(m.IntentAt), nanos(m.SentAt), nanos(m.CreatedAt)).Scan(&m.ID)
	if err != nil {
		return outreach.Message{}, false, wrap("record inbound", err)
	}
	if m.ConversationID != 0 {
		_, err := stmt(s.st.insertEvent).ExecContext(ctx, m.ConversationID, event, m.ID, m.Body,
			0, "", 0, "", nanos(m.SentAt))
		if err != nil {
			return outreach.Message{}, false, wrap("record inbound", err)
		}
		if _, err := stmt(s.st.bumpInbox).ExecContext(ctx, m.ConversationID); err != nil {
			return outreach.Message{}, false, wrap("record inbound", err)
		}
	}
	m.SendAfter, m.IntentAt, m.SentAt, m.CreatedAt = utc(m.SendAfter), utc(m.IntentAt), utc(m.SentAt), utc(m.CreatedAt)
	return m, true, nil
}

// UpdateDelivery implements [outreach.Store]. A non-empty errorCode is
// stored as the message's Error. The status of a provider id no message
// has is kept in pending_statuses.
func (s *Store) UpdateDelivery(ctx context.Context, providerID, status, errorCode string, at time.Time) (outreach.Message, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return outreach.Message{}, wrap("update delivery", err)
	}
	defer tx.Rollback()
	m, found, err := s.updateDelivery(ctx, tx, binder(ctx, tx), providerID, status, errorCode, at)
	if err != nil {
		return outreach.Message{}, err
	}
	if !found && providerID == "" {
		return outreach.Message{}, notFoundDelivery(providerID)
	}
	if err := tx.Commit(); err != nil {
		return outreach.Message{}, wrap("update delivery", err)
	}
	if !found {
		return outreach.Message{}, notFoundDelivery(providerID)
	}
	return m, nil
}

// UpdateDeliveries implements [outreach.BatchRecorder]: UpdateDelivery
// for each item, in one transaction.
func (s *Store) UpdateDeliveries(ctx context.Context, updates []outreach.DeliveryUpdate) ([]outreach.DeliveryResult, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap("update delivery", err)
	}
	defer tx.Rollback()
	out := make([]outreach.DeliveryResult, len(updates))
	stmt := binder(ctx, tx)
	for i, u := range updates {
		m, found, err := s.updateDelivery(ctx, tx, stmt, u.ProviderID, u.Status, u.ErrorCode, u.At)
		if err != nil {
			return nil, err
		}
		out[i].Message = m
		if !found {
			out[i].Err = notFoundDelivery(u.ProviderID)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap("update delivery", err)
	}
	return out, nil
}

// updateDelivery is UpdateDelivery within tx (stmt binds a statement to
// it): found is false when no
// message has providerID, whose status is then kept (unless providerID
// is empty).
func (s *Store) updateDelivery(ctx context.Context, tx *sql.Tx, stmt func(*sql.Stmt) *sql.Stmt, providerID, status, errorCode string, at time.Time) (outreach.Message, bool, error) {
	m, found, err := s.st.deliver(ctx, stmt, providerID, status, errorCode, at)
	if err != nil || found {
		return m, found, err
	}
	if providerID != "" {
		if err := keepPending(ctx, tx, providerID, status, errorCode, at); err != nil {
			return outreach.Message{}, false, err
		}
	}
	return outreach.Message{}, false, nil
}

func notFoundDelivery(providerID string) error {
	return fmt.Errorf("sqlitestore: outbound message with provider id %q: %w", providerID, outreach.ErrNotFound)
}

// deliver applies a delivery status to the outbound message of providerID
// within a transaction (stmt binds a statement to it). found is false when
// no message has that provider id.
func (st *stmts) deliver(ctx context.Context, stmt func(*sql.Stmt) *sql.Stmt, providerID, status, errorCode string, at time.Time) (m outreach.Message, found bool, err error) {
	replaceable, err := json.Marshal(outreach.DeliveryStatusesUpTo(outreach.DeliveryRank(status)))
	if err != nil {
		return outreach.Message{}, false, wrap("update delivery", err)
	}
	m, err = scanMessage(stmt(st.updateDelivery).QueryRowContext(ctx, status, errorCode, providerID, string(replaceable)))
	if errors.Is(err, sql.ErrNoRows) {
		return outreach.Message{}, false, nil
	}
	if err != nil {
		return outreach.Message{}, false, wrap("update delivery", err)
	}
	if (status == "undelivered" || status == "failed") && m.DeliveryStatus == status && m.ConversationID != 0 {
		res, err := stmt(st.insertFailure).ExecContext(ctx, m.ConversationID, m.ID,
			m.Key.Conversation, m.Key.Step, m.Key.Attempt, errorCode, nanos(at))
		if err != nil {
			return outreach.Message{}, false, wrap("update delivery", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if _, err := stmt(st.bumpInbox).ExecContext(ctx, m.ConversationID); err != nil {
				return outreach.Message{}, false, wrap("update delivery", err)
			}
		}
	}
	return m, true, nil
}

// keepPending keeps the status of a provider id no message has yet, unless
// one of higher rank is kept already, and drops those older than
// outreach.PendingStatusFor.
func keepPending(ctx context.Context, tx *sql.Tx, providerID, status, errorCode string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM pending_statuses WHERE at < ?`, nanos(at.Add(-outreach.PendingStatusFor))); err != nil {
		return wrap("keep pending status", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO pending_statuses (provider_id, status, rank, error_code, at) VALUES (?1, ?2, ?3, ?4, ?5)
		ON CONFLICT (provider_id) DO UPDATE SET status = excluded.status, rank = excluded.rank,
			error_code = excluded.error_code, at = excluded.at
		WHERE excluded.rank >= pending_statuses.rank`,
		providerID, status, outreach.DeliveryRank(status), errorCode, nanos(at))
	return wrap("keep pending status", err)
}

// applyPending applies, within a Commit, the status kept for providerID
// (see keepPending), unless it is older than outreach.PendingStatusFor.
func (c *committer) applyPending(providerID string) error {
	if providerID == "" {
		return nil
	}
	if c.noPending == nil {
		// Nothing but applyPending changes the table in this
		// transaction: one look tells whether any lookup is needed.
		var any bool
		if err := c.stmt(c.st.anyPending).QueryRowContext(c.ctx).Scan(&any); err != nil {
			return wrap("apply pending status", err)
		}
		none := !any
		c.noPending = &none
	}
	if *c.noPending {
		return nil
	}
	var (
		status, code string
		at           int64
	)
	err := c.stmt(c.st.takePending).QueryRowContext(c.ctx, providerID).
		Scan(&status, &code, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return wrap("apply pending status", err)
	}
	if c.now.Sub(fromNanos(at)) > outreach.PendingStatusFor {
		return nil
	}
	_, _, err = c.st.deliver(c.ctx, c.stmt, providerID, status, code, fromNanos(at))
	return err
}

// SetOptOut implements [outreach.Store]. Of two changes at the same time,
// the later call wins.
func (s *Store) SetOptOut(ctx context.Context, world, phone string, optedOut bool, at time.Time) error {
	if phone == "" {
		return errors.New("sqlitestore: opt-out of an empty phone number")
	}
	// The last condition is outreach.OptInLifts: an opt-in lifts only an
	// opt-out of its own world, or a simulated one. An opt-out in force
	// keeps the world that can lift it, unless it was simulated.
	_, err := s.w.ExecContext(ctx, `INSERT INTO opt_outs (phone, opted_out, changed_at, world) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (phone) DO UPDATE SET opted_out = excluded.opted_out, changed_at = excluded.changed_at,
			world = CASE WHEN excluded.opted_out AND opt_outs.opted_out AND opt_outs.world NOT IN (?5, ?6)
				THEN opt_outs.world ELSE excluded.world END
		WHERE excluded.changed_at >= opt_outs.changed_at
		  AND (excluded.opted_out OR NOT opt_outs.opted_out OR opt_outs.world = excluded.world OR opt_outs.world IN (?5, ?6)
		       OR opt_outs.world = '' AND excluded.world NOT IN (?5, ?6))`,
		phone, optedOut, nanos(at), world, outreach.WorldDev, outreach.WorldSim)
	return wrap("set opt-out", err)
}

// OptedOut implements [outreach.Store].
func (s *Store) OptedOut(ctx context.Context, phones []string) (map[string]bool, error) {
	out := make(map[string]bool)
	if len(phones) == 0 {
		return out, ctx.Err()
	}
	list, err := marshal(phones)
	if err != nil {
		return nil, wrap("opted out", err)
	}
	rows, err := s.st.optedOut.QueryContext(ctx, list)
	if err != nil {
		return nil, wrap("opted out", err)
	}
	phonesOut, err := scanAll(rows, func(sc scanner) (string, error) {
		var p string
		return p, sc.Scan(&p)
	})
	if err != nil {
		return nil, wrap("opted out", err)
	}
	for _, p := range phonesOut {
		out[p] = true
	}
	return out, nil
}

// Conversations implements [outreach.Store]. A limit of zero or less
// means no limit.
func (s *Store) Conversations(ctx context.Context, campaignID, after int64, limit int) ([]outreach.Conversation, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.r.QueryContext(ctx, conversationsQuery, campaignID, after, limit)
	if err != nil {
		return nil, wrap("conversations", err)
	}
	cs, err := scanAll(rows, func(sc scanner) (outreach.Conversation, error) { return scanConv(sc) })
	return cs, wrap("conversations", err)
}

// Conversation implements [outreach.Store].
func (s *Store) Conversation(ctx context.Context, id int64) (outreach.Conversation, error) {
	c, err := scanConv(s.r.QueryRowContext(ctx, `SELECT `+convCols+` FROM conversations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("sqlitestore: conversation %d: %w", id, outreach.ErrNotFound)
	}
	return c, wrap("conversation", err)
}

// Messages implements [outreach.Store].
func (s *Store) Messages(ctx context.Context, conversationID int64) ([]outreach.Message, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if conversationID == 0 {
		rows, err = s.r.QueryContext(ctx, unmatchedQuery)
	} else {
		rows, err = s.r.QueryContext(ctx, messagesQuery, conversationID)
	}
	if err != nil {
		return nil, wrap("messages", err)
	}
	ms, err := scanAll(rows, scanMessage)
	return ms, wrap("messages", err)
}

// Responses implements [outreach.Store].
func (s *Store) Responses(ctx context.Context, campaignID int64, page outreach.ResponsePage) ([]outreach.Response, error) {
	limit := page.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.r.QueryContext(ctx, responsesQuery, campaignID, page.AfterConversation, limit)
	if err != nil {
		return nil, wrap("responses", err)
	}
	rs, err := scanAll(rows, scanResponse)
	return rs, wrap("responses", err)
}

// utc returns t in UTC; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
