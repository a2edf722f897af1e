package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/internal/convjson"
)

// CreateCampaign implements [outreach.Store]. An empty Status means draft;
// a zero CreatedAt means the current time.
func (s *Store) CreateCampaign(ctx context.Context, c outreach.Campaign, convs []outreach.Conversation) (outreach.Campaign, int, error) {
	flow, err := json.Marshal(c.Flow)
	if err != nil {
		return outreach.Campaign{}, 0, wrap("encode flow", err)
	}
	if c.Status == "" {
		c.Status = outreach.CampaignDraft
	}
	if !c.Status.Valid() {
		return outreach.Campaign{}, 0, fmt.Errorf("sqlitestore: unknown campaign status %q", c.Status)
	}
	c.CreatedAt = orNow(c.CreatedAt).UTC()
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	c.PurgedAt = time.Time{}

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return outreach.Campaign{}, 0, wrap("create campaign", err)
	}
	defer tx.Rollback()
	if c.Runtime == "" {
		c.Runtime = outreach.RuntimeEmbedded
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO campaigns (name, flow, from_number, default_zone, runtime, runtime_ref, world, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.Name, flow, c.From, c.DefaultZone, c.Runtime, c.RuntimeRef, c.World, c.Status, nanos(c.CreatedAt), nanos(c.UpdatedAt)).Scan(&c.ID)
	if err != nil {
		return outreach.Campaign{}, 0, wrap("create campaign", err)
	}
	added, err := s.insertConversations(ctx, tx, c.ID, c.World, c.From, convs, c.CreatedAt)
	if err != nil {
		return outreach.Campaign{}, 0, err
	}
	if err := tx.Commit(); err != nil {
		return outreach.Campaign{}, 0, wrap("create campaign", err)
	}
	// Return the flow as stored, not the caller's pointer.
	c.Flow = nil
	if err := json.Unmarshal(flow, &c.Flow); err != nil {
		return outreach.Campaign{}, 0, wrap("decode flow", err)
	}
	return c, added, nil
}

// AddConversations implements [outreach.Store].
func (s *Store) AddConversations(ctx context.Context, campaignID int64, convs []outreach.Conversation) (int, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, wrap("add conversations", err)
	}
	defer tx.Rollback()
	var from, world string
	err = tx.QueryRowContext(ctx, `SELECT from_number, world FROM campaigns WHERE id = ?`, campaignID).Scan(&from, &world)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlitestore: campaign %d: %w", campaignID, outreach.ErrNotFound)
	}
	if err != nil {
		return 0, wrap("add conversations", err)
	}
	added, err := s.insertConversations(ctx, tx, campaignID, world, from, convs, time.Now())
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, wrap("add conversations", err)
	}
	return added, nil
}

// insertConversations adds convs to a campaign (of world) within tx,
// skipping recipients it already has, insertRows to a statement.
func (s *Store) insertConversations(ctx context.Context, tx *sql.Tx, campaignID int64, world, from string, convs []outreach.Conversation, now time.Time) (int, error) {
	prepared := make([]outreach.Conversation, len(convs))
	for i, c := range convs {
		p, err := c.WithDefaults(from, now)
		if err != nil {
			return 0, fmt.Errorf("sqlitestore: conversation %d of the batch: %w", i, err)
		}
		prepared[i] = p
	}
	many := tx.StmtContext(ctx, s.st.insertConvs)
	args := make([]any, 0, insertRows*16)
	var enc convjson.Encoder
	added := 0
	for start := 0; start < len(prepared); start += insertRows {
		chunk := prepared[start:min(start+insertRows, len(prepared))]
		args = args[:0]
		for _, c := range chunk {
			row, err := convArgs(&enc, c, campaignID, world)
			if err != nil {
				return 0, err
			}
			args = append(args, row...)
		}
		var (
			res sql.Result
			err error
		)
		if len(chunk) == insertRows {
			res, err = many.ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, insertConvsQuery(len(chunk)), args...)
		}
		if isUniqueViolation(err) {
			return 0, fmt.Errorf("sqlitestore: conversations %d to %d of the batch: %w", start, start+len(chunk)-1, outreach.ErrPairBusy)
		}
		if err != nil {
			return 0, wrap("insert conversations", err)
		}
		n, _ := res.RowsAffected()
		added += int(n)
	}
	return added, nil
}

// convArgs returns the parameters of c's row in insertConvsQuery.
func convArgs(enc *convjson.Encoder, c outreach.Conversation, campaignID int64, world string) ([]any, error) {
	js, err := enc.Encode(c)
	if err != nil {
		return nil, wrap("encode conversation", err)
	}
	return []any{c.Recipient.ID, c.Recipient.FirstName, c.Recipient.Phone, c.Recipient.TimeZone, js.Attrs, c.From, c.TwoWay,
		js.Zones, c.Status, js.State, c.Outcome, nanos(c.NextAt), nanos(c.CreatedAt), nanos(c.UpdatedAt), campaignID, world}, nil
}

// Campaign implements [outreach.Store].
func (s *Store) Campaign(ctx context.Context, id int64) (outreach.Campaign, error) {
	c, err := scanCampaign(s.r.QueryRowContext(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("sqlitestore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	return c, wrap("campaign", err)
}

// CampaignStatus implements [outreach.CampaignStatusReader]: the
// runner reads it for every batch it sends.
func (s *Store) CampaignStatus(ctx context.Context, id int64) (outreach.CampaignStatus, error) {
	var st outreach.CampaignStatus
	err := s.st.campaignStatus.QueryRowContext(ctx, id).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("sqlitestore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	return st, wrap("campaign status", err)
}

// Campaigns implements [outreach.Store].
func (s *Store) Campaigns(ctx context.Context) ([]outreach.Campaign, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+campaignCols+` FROM campaigns ORDER BY id DESC`)
	if err != nil {
		return nil, wrap("campaigns", err)
	}
	cs, err := scanAll(rows, scanCampaign)
	return cs, wrap("campaigns", err)
}

// SetCampaignStatus implements [outreach.Store]. Cancelling leaves the
// leases of the conversations it ends: a worker midway still records its
// outcomes, but cannot bring a cancelled conversation back.
func (s *Store) SetCampaignStatus(ctx context.Context, id int64, to outreach.CampaignStatus, now time.Time) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap("set campaign status", err)
	}
	defer tx.Rollback()
	var from outreach.CampaignStatus
	err = tx.QueryRowContext(ctx, `SELECT status FROM campaigns WHERE id = ?`, id).Scan(&from)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlitestore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	if err != nil {
		return wrap("set campaign status", err)
	}
	if !from.CanChange(to) {
		return &outreach.TransitionError{Campaign: id, From: from, To: to}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET status = ?, updated_at = ? WHERE id = ?`, to, nanos(now), id); err != nil {
		return wrap("set campaign status", err)
	}
	if to == outreach.CampaignCancelled {
		if _, err := tx.ExecContext(ctx, cancelMessagesQuery, id); err != nil {
			return wrap("cancel messages", err)
		}
		_, err := tx.ExecContext(ctx, cancelConversationsQuery, outreach.OutcomeCancelled, nanos(now), id)
		if err != nil {
			return wrap("cancel conversations", err)
		}
	}
	return wrap("set campaign status", tx.Commit())
}

// FinishCampaignIfDone implements [outreach.Store].
func (s *Store) FinishCampaignIfDone(ctx context.Context, id int64, now time.Time) (bool, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, wrap("finish campaign", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, finishQuery, nanos(now), id)
	if err != nil {
		return false, wrap("finish campaign", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, wrap("finish campaign", tx.Commit())
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM campaigns WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("sqlitestore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	return false, wrap("finish campaign", err)
}

// Progress implements [outreach.Store].
func (s *Store) Progress(ctx context.Context, campaignID int64, now time.Time) (outreach.Progress, error) {
	p := outreach.NewProgress()
	// One read transaction, so that the counts agree with each other.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return p, wrap("progress", err)
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM campaigns WHERE id = ?`, campaignID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("sqlitestore: campaign %d: %w", campaignID, outreach.ErrNotFound)
	}
	if err != nil {
		return p, wrap("progress", err)
	}

	rows, err := tx.QueryContext(ctx, progressConversationsQuery, campaignID)
	if err != nil {
		return p, wrap("progress", err)
	}
	for rows.Next() {
		var (
			st      outreach.ConversationStatus
			outcome string
			n       int
		)
		if err := rows.Scan(&st, &outcome, &n); err != nil {
			rows.Close()
			return p, wrap("progress", err)
		}
		p.CountConversations(st, outcome, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return p, wrap("progress", err)
	}

	rows, err = tx.QueryContext(ctx, progressMessagesQuery, nanos(now), campaignID)
	if err != nil {
		return p, wrap("progress", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			dir         outreach.Direction
			st          outreach.MessageStatus
			delivery    string
			n, deferred int
		)
		if err := rows.Scan(&dir, &st, &delivery, &n, &deferred); err != nil {
			return p, wrap("progress", err)
		}
		p.CountMessages(dir, st, delivery, n, deferred)
	}
	return p, wrap("progress", rows.Err())
}
