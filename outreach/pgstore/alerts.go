package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/outreach"
)

const alertCols = `id, world, campaign_id, conversation_id, message_id, patient_id, terms, at, tries, retry_at, notified_at, acked_at, acked_by`

// AddAlert implements [outreach.Store].
func (s *Store) AddAlert(ctx context.Context, a outreach.Alert) (outreach.Alert, bool, error) {
	terms, err := json.Marshal(a.Terms)
	if err != nil {
		return outreach.Alert{}, false, wrap("add alert", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO alerts (world, campaign_id, conversation_id, message_id, patient_id, terms, at, tries, retry_at, notified_at, acked_at, acked_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (message_id) DO NOTHING`,
		a.World, a.CampaignID, a.ConversationID, a.MessageID, a.PatientID, string(terms), ts(a.At),
		a.Tries, ts(a.RetryAt), ts(a.NotifiedAt), ts(a.AckedAt), a.AckedBy)
	if err != nil {
		return outreach.Alert{}, false, wrap("add alert", err)
	}
	got, err := scanAlert(s.pool.QueryRow(ctx, `SELECT `+alertCols+` FROM alerts WHERE message_id = $1`, a.MessageID))
	if err != nil {
		return outreach.Alert{}, false, wrap(fmt.Sprintf("add alert: read back the alert of message %d", a.MessageID), err)
	}
	return got, tag.RowsAffected() == 1, nil
}

// Alerts implements [outreach.Store].
func (s *Store) Alerts(ctx context.Context, campaignID int64) ([]outreach.Alert, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+alertCols+` FROM alerts WHERE campaign_id = $1 ORDER BY id`, campaignID)
	as, err := scanAll(rows, err, scanAlert)
	return as, wrap("alerts", err)
}

// ClaimAlerts implements [outreach.Store]. Alerts are picked with FOR
// UPDATE SKIP LOCKED: two notifiers never take the same alert at once.
func (s *Store) ClaimAlerts(ctx context.Context, world string, now time.Time, limit int, hold time.Duration) ([]outreach.Alert, error) {
	var lim any = limit
	if limit < 0 {
		lim = nil
	}
	rows, err := s.pool.Query(ctx, `WITH picked AS (
			SELECT id FROM alerts
			WHERE world = $2 AND notified_at IS NULL AND (retry_at IS NULL OR retry_at <= $3)
			ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED),
		claimed AS (
			UPDATE alerts a SET tries = tries + 1, retry_at = $1 FROM picked WHERE a.id = picked.id
			RETURNING a.*)
		SELECT `+alertCols+` FROM claimed ORDER BY id`, ts(now.Add(hold)), world, ts(now), lim)
	as, err := scanAll(rows, err, scanAlert)
	return as, wrap("claim alerts", err)
}

// AlertNotified implements [outreach.Store].
func (s *Store) AlertNotified(ctx context.Context, id int64, at time.Time) error {
	return s.changeAlert(ctx, "alert notified", id, `UPDATE alerts SET notified_at = $1 WHERE id = $2 AND notified_at IS NULL`, ts(at), id)
}

// AckAlert implements [outreach.Store].
func (s *Store) AckAlert(ctx context.Context, id int64, by string, at time.Time) error {
	return s.changeAlert(ctx, "acknowledge alert", id, `UPDATE alerts SET acked_at = $1, acked_by = $2 WHERE id = $3 AND acked_at IS NULL`, ts(at), by, id)
}

// changeAlert runs an update of alert id that may change nothing (the
// change was made before), and tells an unknown id by ErrNotFound.
func (s *Store) changeAlert(ctx context.Context, op string, id int64, query string, args ...any) error {
	if _, err := s.pool.Exec(ctx, query, args...); err != nil {
		return wrap(op, err)
	}
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM alerts WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: %s: alert %d: %w", op, id, outreach.ErrNotFound)
	}
	return wrap(op, err)
}

func scanAlert(sc scanner) (outreach.Alert, error) {
	var (
		a     outreach.Alert
		terms string
	)
	err := sc.Scan(&a.ID, &a.World, &a.CampaignID, &a.ConversationID, &a.MessageID, &a.PatientID, &terms,
		tp(&a.At), &a.Tries, tp(&a.RetryAt), tp(&a.NotifiedAt), tp(&a.AckedAt), &a.AckedBy)
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(terms), &a.Terms); err != nil {
		return a, fmt.Errorf("alert %d terms: %w", a.ID, err)
	}
	return a, nil
}
