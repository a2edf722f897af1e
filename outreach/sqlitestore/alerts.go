package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

const alertCols = `id, world, campaign_id, conversation_id, message_id, patient_id, terms, at, tries, retry_at, notified_at, acked_at, acked_by`

// AddAlert implements [outreach.Store].
func (s *Store) AddAlert(ctx context.Context, a outreach.Alert) (outreach.Alert, bool, error) {
	terms, err := json.Marshal(a.Terms)
	if err != nil {
		return outreach.Alert{}, false, wrap("add alert", err)
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO alerts (world, campaign_id, conversation_id, message_id, patient_id, terms, at, tries, retry_at, notified_at, acked_at, acked_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`,
		a.World, a.CampaignID, a.ConversationID, a.MessageID, a.PatientID, string(terms), nanos(a.At),
		a.Tries, nanos(a.RetryAt), nanos(a.NotifiedAt), nanos(a.AckedAt), a.AckedBy)
	if err != nil {
		return outreach.Alert{}, false, wrap("add alert", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return outreach.Alert{}, false, wrap("add alert", err)
	}
	rows, err := s.w.QueryContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE message_id = ?`, a.MessageID)
	if err != nil {
		return outreach.Alert{}, false, wrap("add alert", err)
	}
	got, err := scanAll(rows, scanAlert)
	if err != nil || len(got) != 1 {
		return outreach.Alert{}, false, wrap("add alert", fmt.Errorf("read back the alert of message %d: %d rows, %w", a.MessageID, len(got), err))
	}
	return got[0], n == 1, nil
}

// Alerts implements [outreach.Store].
func (s *Store) Alerts(ctx context.Context, campaignID int64) ([]outreach.Alert, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE campaign_id = ? ORDER BY id`, campaignID)
	if err != nil {
		return nil, wrap("alerts", err)
	}
	as, err := scanAll(rows, scanAlert)
	return as, wrap("alerts", err)
}

// ClaimAlerts implements [outreach.Store].
func (s *Store) ClaimAlerts(ctx context.Context, world string, now time.Time, limit int, hold time.Duration) ([]outreach.Alert, error) {
	rows, err := s.w.QueryContext(ctx, `UPDATE alerts SET tries = tries + 1, retry_at = ?
		WHERE id IN (SELECT id FROM alerts WHERE world = ? AND notified_at = 0 AND retry_at <= ? ORDER BY id LIMIT ?)
		RETURNING `+alertCols, nanos(now.Add(hold)), world, nanos(now), limit)
	if err != nil {
		return nil, wrap("claim alerts", err)
	}
	as, err := scanAll(rows, scanAlert)
	return as, wrap("claim alerts", err)
}

// AlertNotified implements [outreach.Store].
func (s *Store) AlertNotified(ctx context.Context, id int64, at time.Time) error {
	return s.changeAlert(ctx, "alert notified", id, `UPDATE alerts SET notified_at = ? WHERE id = ? AND notified_at = 0`, nanos(at), id)
}

// AckAlert implements [outreach.Store].
func (s *Store) AckAlert(ctx context.Context, id int64, by string, at time.Time) error {
	return s.changeAlert(ctx, "acknowledge alert", id, `UPDATE alerts SET acked_at = ?, acked_by = ? WHERE id = ? AND acked_at = 0`, nanos(at), by, id)
}

// changeAlert runs an update of alert id that may change nothing (the
// change was made before), and tells an unknown id by ErrNotFound.
func (s *Store) changeAlert(ctx context.Context, op string, id int64, query string, args ...any) error {
	if _, err := s.w.ExecContext(ctx, query, args...); err != nil {
		return wrap(op, err)
	}
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM alerts WHERE id = ?`, id).Scan(&one)
	if err == sql.ErrNoRows {
		return fmt.Errorf("sqlitestore: %s: alert %d: %w", op, id, outreach.ErrNotFound)
	}
	return wrap(op, err)
}

func scanAlert(sc scanner) (outreach.Alert, error) {
	var (
		a                                outreach.Alert
		terms                            string
		at, retryAt, notifiedAt, ackedAt int64
	)
	err := sc.Scan(&a.ID, &a.World, &a.CampaignID, &a.ConversationID, &a.MessageID, &a.PatientID, &terms,
		&at, &a.Tries, &retryAt, &notifiedAt, &ackedAt, &a.AckedBy)
	if err != nil {
		return a, err
	}
	a.At, a.RetryAt, a.NotifiedAt, a.AckedAt = fromNanos(at), fromNanos(retryAt), fromNanos(notifiedAt), fromNanos(ackedAt)
	if err := json.Unmarshal([]byte(terms), &a.Terms); err != nil {
		return a, fmt.Errorf("alert %d terms: %w", a.ID, err)
	}
	return a, nil
}
