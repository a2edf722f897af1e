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
	if m.ProviderID != "" {
		old, err := scanMessage(tx.StmtContext(ctx, s.st.inboundByProvider).QueryRowContext(ctx, m.ProviderID))
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
		err := tx.StmtContext(ctx, s.st.matchConv).QueryRowContext(ctx, world, m.From, m.To).Scan(&m.ConversationID, &m.CampaignID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return outreach.Message{}, false, wrap("record inbound", err)
		}
	}
	err = tx.StmtContext(ctx, s.st.insertMessage).QueryRowContext(ctx, nullID(m.ConversationID), nullID(m.CampaignID),
		m.Direction, 0, "", 0, m.From, m.To, m.Body, m.Status, m.ProviderID, m.DeliveryStatus, m.Error, m.Tries,
		nanos(m.SendAfter), nanos(m.IntentAt), nanos(m.SentAt), nanos(m.CreatedAt)).Scan(&m.ID)
	if err != nil {
		return outreach.Message{}, false, wrap("record inbound", err)
	}
	if m.ConversationID != 0 {
		_, err := tx.StmtContext(ctx, s.st.insertEvent).ExecContext(ctx, m.ConversationID, event, m.ID, m.Body,
			0, "", 0, "", nanos(m.SentAt))
		if err != nil {
			return outreach.Message{}, false, wrap("record inbound", err)
		}
		if _, err := tx.StmtContext(ctx, s.st.bumpInbox).ExecContext(ctx, m.ConversationID); err != nil {
			return outreach.Message{}, false, wrap("record inbound", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return outreach.Message{}, false, wrap("record inbound", err)
	}
	m.SendAfter, m.IntentAt, m.SentAt, m.CreatedAt = utc(m.SendAfter), utc(m.IntentAt), utc(m.SentAt), utc(m.CreatedAt)
	return m, true, nil
}

// UpdateDelivery implements [outreach.Store]. A non-empty errorCode is
// stored as the message's Error.
func (s *Store) UpdateDelivery(ctx context.Context, providerID, status, errorCode string, at time.Time) (outreach.Message, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return outreach.Message{}, wrap("update delivery", err)
	}
	defer tx.Rollback()
	replaceable, err := json.Marshal(outreach.DeliveryStatusesUpTo(outreach.DeliveryRank(status)))
	if err != nil {
		return outreach.Message{}, wrap("update delivery", err)
	}
	m, err := scanMessage(tx.StmtContext(ctx, s.st.updateDelivery).QueryRowContext(ctx, status, errorCode, providerID, string(replaceable)))
	if errors.Is(err, sql.ErrNoRows) {
		return outreach.Message{}, fmt.Errorf("sqlitestore: outbound message with provider id %q: %w", providerID, outreach.ErrNotFound)
	}
	if err != nil {
		return outreach.Message{}, wrap("update delivery", err)
	}
	if (status == "undelivered" || status == "failed") && m.DeliveryStatus == status && m.ConversationID != 0 {
		res, err := tx.StmtContext(ctx, s.st.insertFailure).ExecContext(ctx, m.ConversationID, m.ID,
			m.Key.Conversation, m.Key.Step, m.Key.Attempt, errorCode, nanos(at))
		if err != nil {
			return outreach.Message{}, wrap("update delivery", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if _, err := tx.StmtContext(ctx, s.st.bumpInbox).ExecContext(ctx, m.ConversationID); err != nil {
				return outreach.Message{}, wrap("update delivery", err)
			}
		}
	}
	return m, wrap("update delivery", tx.Commit())
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
